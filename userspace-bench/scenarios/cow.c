// SPDX-License-Identifier: GPL-2.0
/*
 * cow: populate, fork, then the child and/or the parent write every page of
 * the pattern once (the will-it-scale page_fault pattern with a fork in front).
 * The side that does not write waits on a pipe, keeping the pages shared.
 * --exit-early: the child exits right after fork and the parent writes after
 * reaping it (fork-then-exit: the pages are exclusive again, writes reuse).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cowbench.h"

static int put(int fd, char c)
{
	return write(fd, &c, 1) == 1 ? 0 : -1;
}

static char get(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? c : 0;
}

static void __attribute__((noreturn))
child(struct bench *b, struct region *r, int in, int out)
{
	struct side_result *me = &b->sh->r[SIDE_CHILD];
	const bool writes = b->cfg.who != WHO_PARENT;

	if (b->cfg.exit_early)
		_exit(0);
	if (writes) {
		if (get(in) != 'g')
			_exit(3);
		writer_run(b, r, me, "child", XOR_CHILD);
		put(out, 'd');
	}
	if (get(in) != 'v')
		_exit(3);
	if (b->cfg.verify)
		verify_side(b, r, me, writes ? XOR_CHILD : 0);
	_exit(me->verified && !me->verify_ok ? 1 : 0);
}

static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "cowbench: child killed by signal %d\n",
			WTERMSIG(st));
		return -1;
	}
	if (WEXITSTATUS(st) > 1) {
		fprintf(stderr, "cowbench: child failed (exit %d)\n",
			WEXITSTATUS(st));
		return -1;
	}
	return 0;
}

static int cow_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	struct side_result *pr = &b->sh->r[SIDE_PARENT];
	const enum who who = b->cfg.who;
	int p2c[2], c2p[2], ret = 0;
	char err[MSG_LEN];
	struct region r;
	uint64_t t0;
	pid_t pid;

	(void)rep;
	ret = region_create(b, &r, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	region_populate(b, &r, &out->pc);
	result_reset(&b->sh->r[SIDE_CHILD], "child");
	result_reset(pr, "parent");
	if (pipe(p2c) || pipe(c2p)) {
		perror("cowbench: pipe");
		region_destroy(&r);
		return -1;
	}
	fflush(NULL);
	t0 = now_ns();
	pid = fork();
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		child(b, &r, p2c[0], c2p[1]);
	}
	out->fork_ns = now_ns() - t0;
	out->has_fork = true;
	close(p2c[0]);
	close(c2p[1]);
	if (pid < 0) {
		perror("cowbench: fork");
		ret = -1;
		goto out;
	}

	if (b->cfg.exit_early) {
		if (reap(pid))
			ret = -1;
		pid = 0;
		writer_run(b, &r, pr, "parent", XOR_PARENT);
		if (b->cfg.verify)
			verify_side(b, &r, pr, XOR_PARENT);
		goto out;
	}
	if (who != WHO_PARENT && put(p2c[1], 'g'))
		goto died;
	if (who != WHO_CHILD)
		writer_run(b, &r, pr, "parent", XOR_PARENT);
	if (who != WHO_PARENT && get(c2p[0]) != 'd')
		goto died;
	if (b->cfg.verify)
		verify_side(b, &r, pr, who == WHO_CHILD ? 0 : XOR_PARENT);
	if (put(p2c[1], 'v'))
		goto died;
	goto reaped;
died:
	fprintf(stderr, "cowbench: child stopped talking\n");
	ret = -1;
reaped:
	close(p2c[1]); /* a child still waiting sees EOF and exits */
	p2c[1] = -1;
	if (reap(pid))
		ret = -1;
out:
	if (p2c[1] >= 0)
		close(p2c[1]);
	close(c2p[0]);
	region_destroy(&r);
	return ret;
}

static const struct scenario cow = {
	.name = "cow",
	.help = "populate, fork, then --who writes every page once (default)",
	.forks = true,
	.populates = true,
	.run = cow_run,
};
SCENARIO(cow);
