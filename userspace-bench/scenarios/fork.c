// SPDX-License-Identifier: GPL-2.0
/*
 * fork: the cost of fork() itself and of what the child does next, with and
 * without on-demand fork (ODF: fork shares the last-level page tables of
 * private anonymous 2 MiB ranges read-only, and a table is copied on the
 * first fault or page-table change in its range). Per rep: populate, set
 * prctl(PR_SET_COW_ODF) from --odf, fork, and the child exits, execs, or
 * writes --touch-frac of the pattern (each write timed, as in cow). The
 * parent times fork() and fork() to waitpid() return. Page-table memory:
 * VmPTE of both sides (the child reads its own right after fork and after
 * writing, and sends it over a pipe) and nr_page_table_pages before fork,
 * after fork, after the writes and after waitpid; the vmstat deltas of the
 * rep (cow_odf_* among them) from fork() to waitpid() return.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cowbench.h"
#include "../procfs.h"
#include "../cowlab_uapi.h"


#define MSG_MAGIC 0x6f646621u /* "odf!" */

/* what the child measured about itself; one write() on a pipe */
struct child_msg {
	uint32_t magic;
	int32_t pad;
	int64_t vmpte_fork_kb;
	int64_t vmpte_write_kb;
	int64_t sys_pt_kb_fork;
	int64_t sys_pt_kb_write;
	uint64_t overhead_ns;
	int32_t pt_exact;
	int32_t pad2;
};

static bool pt_refresh; /* root: fold the per-cpu vmstat diffs first */
static uint64_t vm0[MAX_VMSTAT], vm1[MAX_VMSTAT];

/* VmPTE of this process in kB, NA_I64 if /proc/self/status lacks it */
static int64_t vmpte_kb(void)
{
	char buf[8192], *p;
	ssize_t n, got = 0;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NA_I64;
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	p = strstr(buf, "\nVmPTE:");
	return p ? strtoll(p + 7, NULL, 10) : NA_I64;
}

/*
 * nr_page_table_pages in kB (system-wide, every process's page tables),
 * NA_I64 without it. As root, /proc/sys/vm/stat_refresh folds the per-cpu
 * deltas in first; otherwise the value may lag by those (*exact = false).
 */
static int64_t sys_pt_kb(bool *exact)
{
	long long v;
	bool ok = false;
	int fd;

	if (pt_refresh) {
		fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			ok = write(fd, "1\n", 2) == 2;
			close(fd);
		}
	}
	if (!ok)
		*exact = false;
	v = proc_vmstat("nr_page_table_pages");
	return v < 0 ? NA_I64 : v * (sysconf(_SC_PAGESIZE) / 1024);
}

static void __attribute__((noreturn))
child(struct bench *b, struct region *r, int wfd)
{
	struct side_result *me = &b->sh->r[SIDE_CHILD];
	struct child_msg m;
	char *const argv[] = { (char *)b->cfg.exec_path, NULL };
	char *const envp[] = { NULL };
	uint64_t t0, t1;
	bool exact = true;
	int code = 0;

	t0 = now_ns();
	memset(&m, 0, sizeof(m));
	m.magic = MSG_MAGIC;
	m.vmpte_write_kb = NA_I64;
	m.sys_pt_kb_write = NA_I64;
	m.vmpte_fork_kb = vmpte_kb();
	m.sys_pt_kb_fork = sys_pt_kb(&exact);
	m.overhead_ns = now_ns() - t0;
	if (b->cfg.child == CHILD_WRITE) {
		t0 = now_ns();
		writer_run(b, r, me, "child", XOR_CHILD);
		t1 = now_ns();
		/* the writer's set-up and tail; the loop itself is wall_ns */
		m.overhead_ns += t1 - t0 - me->wall_ns;
		if (b->cfg.verify) {
			verify_side(b, r, me, XOR_CHILD);
			code = me->verify_ok ? 0 : 1;
		}
		m.vmpte_write_kb = vmpte_kb();
		m.sys_pt_kb_write = sys_pt_kb(&exact);
		m.overhead_ns += now_ns() - t1;
	}
	m.pt_exact = exact;
	if (write(wfd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(3);
	if (b->cfg.child == CHILD_EXEC) {
		execve(b->cfg.exec_path, argv, envp);
		_exit(127);
	}
	_exit(code);
}

/* set --odf for the next fork; the mode read back, or -1 */
static int odf_apply(struct bench *b)
{
	int v;

	if (b->odf_supported <= 0)
		return -1;
	if (prctl(PR_SET_COW_ODF, odf_prctl_arg(b->cfg.odf), 0, 0, 0)) {
		perror("cowbench: prctl(PR_SET_COW_ODF)");
		return -2;
	}
	v = prctl(PR_GET_COW_ODF, 0, 0, 0, 0);
	return v < 0 ? -1 : v;
}

static int fork_prepare(struct bench *b, char *reason, size_t len)
{
	uint64_t v;

	b->odf_sysctl = read_u64("/proc/sys/vm/cow_odf", &v) ? -1 :
							       (long long)v;
	pt_refresh = !access("/proc/sys/vm/stat_refresh", W_OK);
	if (!prctl(PR_SET_COW_ODF, odf_prctl_arg(b->cfg.odf), 0, 0, 0)) {
		b->odf_supported = 1;
		return 0;
	}
	if (errno != EINVAL) {
		snprintf(reason, len, "prctl(PR_SET_COW_ODF, %d): %s",
			 odf_prctl_arg(b->cfg.odf), strerror(errno));
		return -1;
	}
	b->odf_supported = 0;
	if (b->cfg.odf == ODF_ON) {
		snprintf(
			reason, len,
			"--odf on: this kernel has no on-demand fork (prctl PR_SET_COW_ODF: EINVAL)");
		return 1;
	}
	return 0; /* off, sysctl: a vanilla fork */
}

static int child_status(struct bench *b, int st)
{
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "cowbench: child killed by signal %d\n",
			WTERMSIG(st));
		return -1;
	}
	if (!WEXITSTATUS(st))
		return 0;
	/* a verify mismatch: reported by the child, then by the driver */
	if (WEXITSTATUS(st) == 1 && b->sh->r[SIDE_CHILD].verified &&
	    !b->sh->r[SIDE_CHILD].verify_ok)
		return 0;
	if (b->cfg.child != CHILD_EXEC)
		fprintf(stderr, "cowbench: child failed (exit %d)\n",
			WEXITSTATUS(st));
	else if (WEXITSTATUS(st) == 127)
		fprintf(stderr,
			"cowbench: the child could not execve %s (exit 127)\n",
			b->cfg.exec_path);
	else
		fprintf(stderr, "cowbench: the exec'd %s exited %d\n",
			b->cfg.exec_path, WEXITSTATUS(st));
	return -1;
}

static int fork_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	struct fork_out *k = &out->fk;
	struct child_msg m;
	char err[MSG_LEN];
	struct region r;
	uint64_t t0, t1, t2;
	int fds[2], st, ret = 0, i;
	bool exact = true;
	ssize_t n;
	pid_t pid;

	(void)rep;
	if (region_create(b, &r, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	region_populate(b, &r, &out->pc);
	k->odf_prctl = odf_apply(b);
	if (k->odf_prctl == -2 || pipe2(fds, O_CLOEXEC)) {
		if (k->odf_prctl != -2)
			perror("cowbench: pipe");
		region_destroy(&r);
		return -1;
	}
	k->parent_vmpte_kb = vmpte_kb();
	k->sys_pt_kb_before = sys_pt_kb(&exact);
	k->vm_valid = vmstat_snapshot(vm0) == 0;
	fflush(NULL);

	t0 = now_ns();
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child(b, &r, fds[1]);
	}
	t1 = now_ns();
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	t2 = now_ns();

	close(fds[1]);
	if (pid < 0) {
		perror("cowbench: fork");
		close(fds[0]);
		region_destroy(&r);
		return -1;
	}
	k->vm_valid = k->vm_valid && vmstat_snapshot(vm1) == 0;
	k->sys_pt_kb_after = sys_pt_kb(&exact);
	k->parent_vmpte_after_kb = vmpte_kb();
	do
		n = read(fds[0], &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	close(fds[0]);

	ret = child_status(b, st);
	if (!ret && (n != (ssize_t)sizeof(m) || m.magic != MSG_MAGIC)) {
		fprintf(stderr,
			"cowbench: the child sent no measurements (%zd bytes)\n",
			n);
		ret = -1;
	}
	if (!ret) {
		out->has_fork = true;
		out->fork_ns = t1 - t0;
		k->valid = true;
		k->total_raw_ns = t2 - t0;
		k->child_overhead_ns = m.overhead_ns;
		k->total_ns = k->total_raw_ns > m.overhead_ns ?
				      k->total_raw_ns - m.overhead_ns :
				      0;
		k->child_vmpte_fork_kb = m.vmpte_fork_kb;
		k->child_vmpte_write_kb = m.vmpte_write_kb;
		k->sys_pt_kb_fork = m.sys_pt_kb_fork;
		k->sys_pt_kb_write = m.sys_pt_kb_write;
		k->sys_pt_exact = exact && m.pt_exact;
		for (i = 0; i < vmstat_count(); i++)
			k->vm_delta[i] = (int64_t)(vm1[i] - vm0[i]);
	}
	/* the child has exited: the parent's view must be the original */
	if (!ret && b->cfg.verify)
		verify_side(b, &r, &b->sh->r[SIDE_PARENT], 0);
	region_destroy(&r);
	return ret;
}

static const struct scenario fork_scn = {
	.name = "fork",
	.help = "populate, fork (--odf), the child exits/execs/writes (--child); page tables",
	.populates = true,
	.fork_child = true,
	.prepare = fork_prepare,
	.run = fork_run,
};
SCENARIO(fork_scn);
