// SPDX-License-Identifier: GPL-2.0
/*
 * populate: COW broken in the kernel, without a trap per page. Populate,
 * fork; the child calls madvise(MADV_POPULATE_WRITE) on --window pages at a
 * time, in order, each call timed alone (one histogram entry a window; the
 * JSON's "window" turns it into ns per page). The kernel takes each page's
 * write fault itself (GUP), so the per-page hardware trap and return to user
 * space are gone while the copy stays: the most a COW pre-copy that batches
 * neighbours could save. The parent waits and keeps the pages shared.
 * Skipped (exit 4) on a kernel without MADV_POPULATE_WRITE (before 5.14).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cowbench.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct window_ctx {
	char *base;
	size_t len; /* bytes a window */
};

static int populate_one(void *ctx, uint64_t k)
{
	const struct window_ctx *c = ctx;

	return madvise(c->base + k * c->len, c->len, MADV_POPULATE_WRITE) ?
		       errno :
		       0;
}

static int populate_check(struct cfg *c, char *err, size_t len)
{
	if (c->write_opt) {
		snprintf(
			err, len,
			"%s does not apply to --scenario populate (the child populates every window in order)",
			c->write_opt);
		return -1;
	}
	if (c->who != WHO_CHILD || c->exit_early) {
		snprintf(
			err, len,
			"--scenario populate: the child populates, the parent waits (--who child only, no --exit-early)");
		return -1;
	}
	if (c->unit != 4096) {
		snprintf(
			err, len,
			"--scenario populate: --window counts 4K pages (no --unit)");
		return -1;
	}
	if (c->size % (c->window * c->unit)) {
		snprintf(
			err, len,
			"--size must be a multiple of the window (%llu pages = %llu bytes)",
			(unsigned long long)c->window,
			(unsigned long long)(c->window * c->unit));
		return -1;
	}
	return 0;
}

static int populate_prepare(struct bench *b, char *reason, size_t len)
{
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int e;

	if (m == MAP_FAILED) {
		snprintf(reason, len, "mmap: %s", strerror(errno));
		return -1;
	}
	e = madvise(m, 4096, MADV_POPULATE_WRITE) ? errno : 0;
	munmap(m, 4096);
	if (e == EINVAL || e == ENOSYS) {
		snprintf(
			reason, len,
			"this kernel has no MADV_POPULATE_WRITE (madvise: %s; Linux >= 5.14%s)",
			strerror(e),
			e == ENOSYS ? " with CONFIG_ADVISE_SYSCALLS" : "");
		return 1;
	}
	if (e) {
		snprintf(reason, len, "madvise(MADV_POPULATE_WRITE): %s",
			 strerror(e));
		return -1;
	}
	b->nwrites = b->npages / b->cfg.window; /* timed calls a rep */
	return 0;
}

static void __attribute__((noreturn)) child(struct bench *b, struct region *r)
{
	struct side_result *me = &b->sh->r[SIDE_CHILD];
	struct window_ctx c = { r->base, b->cfg.window * b->cfg.unit };
	int e;

	e = timed_run(me, "child", b->nwrites, populate_one, &c);
	if (e) {
		snprintf(me->msg, sizeof(me->msg),
			 "madvise(MADV_POPULATE_WRITE) of window %llu: %s",
			 (unsigned long long)me->writes, strerror(e));
		_exit(3);
	}
	if (b->cfg.verify) /* populating changes no byte */
		verify_side(b, r, me, 0);
	_exit(me->verified && !me->verify_ok ? 1 : 0);
}

static int populate_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	struct side_result *me = &b->sh->r[SIDE_CHILD];
	char err[MSG_LEN];
	struct region r;
	uint64_t t0;
	int st, ret = 0;
	pid_t pid;

	(void)rep;
	if (region_create(b, &r, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	region_populate(b, &r, &out->pc);
	fflush(NULL);
	t0 = now_ns();
	pid = fork();
	if (pid == 0)
		child(b, &r);
	out->fork_ns = now_ns() - t0;
	out->has_fork = pid > 0;
	if (pid < 0) {
		perror("cowbench: fork");
		region_destroy(&r);
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("cowbench: waitpid");
			ret = -1;
			break;
		}
	if (!ret && WIFSIGNALED(st)) {
		fprintf(stderr, "cowbench: child killed by signal %d\n",
			WTERMSIG(st));
		ret = -1;
	} else if (!ret && WEXITSTATUS(st) > 1) {
		fprintf(stderr, "cowbench: child failed (exit %d)%s%s\n",
			WEXITSTATUS(st), me->msg[0] ? ": " : "", me->msg);
		ret = -1;
	}
	/* the child has exited: the parent's view must be the original */
	if (!ret && b->cfg.verify)
		verify_side(b, &r, &b->sh->r[SIDE_PARENT], 0);
	region_destroy(&r);
	return ret;
}

static const struct scenario populate = {
	.name = "populate",
	.help = "populate, fork; child: MADV_POPULATE_WRITE over --window pages a call",
	.forks = true,
	.populates = true,
	.windows = true,
	.kinds = KIND_BIT(KIND_4K),
	.check = populate_check,
	.prepare = populate_prepare,
	.run = populate_run,
};
SCENARIO(populate);
