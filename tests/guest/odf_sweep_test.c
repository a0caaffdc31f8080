// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab guest test: fail-nth sweeps over every on-demand fork unshare
 * trigger (issue 16). Each operation runs in a child that shares a 4 MiB
 * region with a grandchild through on-demand fork; /proc/thread-self/
 * fail-nth fails its n-th page or slab allocation, n = 1, 2, ... until the
 * operation reaches no n-th allocation. Every run must end in success or
 * the operation's documented errno, with the region as the operation
 * leaves it and the grandchild's copy intact; any splat fails the boot.
 *
 * The same sweep runs over a child's COW write fault after a plain fork
 * under each COW policy (pre-copy fixed and adaptive, THP copy and
 * adaptive): their extra allocations may fail, never the data.
 *
 * Needs the debug kernel (fault injection); skips elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "region.h"
#include "inject.h"
#include "cowlab.h"

/*
 * Each operation runs in a child whose 4 MiB region (page HOLE never
 * touched) is shared with a grandchild by on-demand fork, with fail-nth
 * set to n. It returns 0 or -errno; after it, every word of the region
 * that is still mapped must be the original one or (after a zap) zero, the
 * moved copy of mremap the original, and the grandchild's copy intact.
 */
#define SW_LEN (2 * PMD_SZ)
#define HOLE 300
/*
 * n = 1..SW_DENSE, then every SW_STRIDE-th n up to SW_MAX: the first
 * allocations of an operation are its distinct ones (tables, VMAs, the
 * copy); past them most are the same allocation for the next page, and
 * a debug (KASAN) guest under TCG needs about a second per run.
 */
#define SW_DENSE 16
#define SW_STRIDE 16
#define SW_MAX 250

struct sw_op {
	const char *name;
	int (*run)(char *p, char *spare);
	int errnos[3];	/* documented failures besides 0 */
};

static int sw_write(char *p, char *spare)
{
	volatile char *v = p + PMD_SZ + 8 * PG;

	*v = *v; /* a write fault on a present page of a shared table */
	return 0;
}

static int sw_read_hole(char *p, char *spare)
{
	return *(volatile char *)(p + HOLE * PG) ? -EIO : 0;
}

static int sw_mprotect(char *p, char *spare)
{
	return mprotect(p, SW_LEN, PROT_READ) ? -errno : 0;
}

static int sw_munmap_part(char *p, char *spare)
{
	return munmap(p + 10 * PG, 10 * PG) ? -errno : 0;
}

static int sw_mmap_fixed_part(char *p, char *spare)
{
	return mmap(p + 10 * PG, 10 * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
			       p + 10 * PG ? 0 : -errno;
}

static int sw_dontneed_part(char *p, char *spare)
{
	return madvise(p + 10 * PG, 10 * PG, MADV_DONTNEED) ? -errno : 0;
}

static int sw_mremap(char *p, char *spare)
{
	return mremap(p, PMD_SZ, PMD_SZ, MREMAP_MAYMOVE | MREMAP_FIXED,
		      spare) == spare ? 0 : -errno;
}

static int sw_mlock(char *p, char *spare)
{
	return mlock(p, SW_LEN) ? -errno : 0;
}

static int sw_vm_readv(char *p, char *spare)
{
	struct iovec local = { spare, 64 * PG }, remote = { p, 64 * PG };
	ssize_t n = syscall(__NR_process_vm_readv, getpid(), &local, 1,
			    &remote, 1, 0);

	if (n < 0)
		return -errno;
	return memcmp(spare, p, n) ? -EIO : 0;
}

static int sw_pagemap_fd = -1; /* opened before fail-nth is armed */

static int sw_pagemap(char *p, char *spare)
{
	ssize_t n = pread(sw_pagemap_fd, spare, SW_LEN / PG * 8,
			  (uintptr_t)p / PG * 8);

	return n < 0 ? -errno : 0;
}

static int sw_fork(char *p, char *spare)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(intact(p, HOLE * PG, 41) ? 0 : 1);
	if (waitpid(pid, &status, 0) != pid)
		return -ECHILD;
	return status ? -EIO : 0;
}

static const struct sw_op sw_ops[] = {
	{ "write_fault", sw_write, { 0 } },
	{ "read_fault_hole", sw_read_hole, { 0 } },
	{ "mprotect", sw_mprotect, { ENOMEM } },
	{ "munmap_part", sw_munmap_part, { ENOMEM } },
	{ "mmap_fixed_part", sw_mmap_fixed_part, { ENOMEM } },
	{ "dontneed_part", sw_dontneed_part, { ENOMEM } },
	{ "mremap_move", sw_mremap, { ENOMEM, EFAULT } },
	{ "mlock", sw_mlock, { ENOMEM, EAGAIN } },
	{ "process_vm_readv", sw_vm_readv, { ENOMEM, EFAULT } },
	{ "pagemap", sw_pagemap, { ENOMEM } },
	{ "fork", sw_fork, { ENOMEM, EAGAIN } },
};

static void sw_fill(char *p)
{
	fill(p, SW_LEN, 41);
	memset(p + HOLE * PG, 0, PG);
	madvise(p + HOLE * PG, PG, MADV_DONTNEED);
}

/* The region after an operation: original words or zeros, where mapped. */
static int sw_check(char *p, char *spare, const struct sw_op *op, int ret)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < SW_LEN / 8; i++) {
		size_t page = i * 8 / PG;

		if (page == HOLE)
			continue;
		if (!strcmp(op->name, "munmap_part") && !ret &&
		    page >= 10 && page < 20)
			continue;
		if (!strcmp(op->name, "mmap_fixed_part") &&
		    page >= 10 && page < 20) {
			/*
			 * The new mapping reads zeros. A failed
			 * MAP_FIXED may leave the old range unmapped
			 * (as upstream: its PTEs were already cleared),
			 * so only a success is looked at.
			 */
			if (!ret && w[i])
				return 3;
			continue;
		}
		if (!strcmp(op->name, "mremap_move") && !ret &&
		    page < PMD_SZ / PG) {
			if (((uint64_t *)spare)[i] != word(41, i))
				return 2;
			continue;
		}
		if (w[i] != word(41, i) &&
		    !(w[i] == 0 && !strcmp(op->name, "dontneed_part") &&
		      page >= 10 && page < 20))
			return 1;
	}
	return 0;
}

/*
 * One run at fail-nth @n: 0 clean, 1 and the call reached no injection
 * point (the sweep is over), or 10+ a failure step.
 */
/* How the region is shared: on-demand fork (1) or a plain fork (0). */
static int sw_odf = 1;
/* The region is THP (MADV_HUGEPAGE), not 4K pages (MADV_NOHUGEPAGE). */
static int sw_thp;

static int sw_run(const struct sw_op *op, int n)
{
	char *p = map_aligned(SW_LEN), *spare = map_aligned(PMD_SZ), buf[16];
	int go[2], status, fd, ret, left;
	pid_t gpid;
	char c;

	if (!p || !spare || pipe(go))
		return 10;
	if (sw_odf ? !have_odf() :
	    prctl(PR_SET_COW_ODF, PR_COW_ODF_NEVER, 0, 0, 0) && errno != EINVAL)
		return 10;
	madvise(p, SW_LEN, sw_thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	madvise(spare, PMD_SZ, MADV_NOHUGEPAGE);
	sw_fill(p);
	gpid = fork();
	if (gpid < 0)
		return 11;
	if (!gpid) {
		orphan_guard(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(intact(p, HOLE * PG, 41) &&
		      intact_at(p + (HOLE + 1) * PG, (HOLE + 1) * PG,
				SW_LEN - (HOLE + 1) * PG, 41) ? 0 : 2);
	}
	if (!strcmp(op->name, "mremap_move"))
		munmap(spare, PMD_SZ);
	sw_pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fd < 0)
		return 12;
	snprintf(buf, sizeof(buf), "%d", n);
	if (write(fd, buf, strlen(buf)) < 0)
		return 13;
	ret = op->run(p, spare);
	if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
		return 14;
	buf[sizeof(buf) - 1] = '\0';
	left = atoi(buf);
	if (write(fd, "0", 1) < 0)
		return 13;
	close(fd);
	if (ret && ret != -op->errnos[0] && ret != -op->errnos[1] &&
	    ret != -op->errnos[2]) {
		fprintf(stderr, "# %s n=%d: returned %d\n", op->name, n, ret);
		return 15;
	}
	if (!strcmp(op->name, "mprotect") && !ret)
		mprotect(p, SW_LEN, PROT_READ | PROT_WRITE);
	if (sw_check(p, spare, op, ret)) {
		fprintf(stderr, "# %s n=%d (ret %d): the region changed\n",
			op->name, n, ret);
		return 16;
	}
	if (write(go[1], "g", 1) != 1 || waitpid(gpid, &status, 0) != gpid)
		return 17;
	if (status) {
		fprintf(stderr, "# %s n=%d: the grandchild's copy changed\n",
			op->name, n);
		return 18;
	}
	return left ? 1 : 0;
}

FIXTURE(sweep) {
	int unused;
};

FIXTURE_VARIANT(sweep) {
	int op;
};

#define SWEEP(i, name) FIXTURE_VARIANT_ADD(sweep, name) { .op = i };
SWEEP(0, write_fault)
SWEEP(1, read_fault_hole)
SWEEP(2, mprotect)
SWEEP(3, munmap_part)
SWEEP(4, mmap_fixed_part)
SWEEP(5, dontneed_part)
SWEEP(6, mremap_move)
SWEEP(7, mlock)
SWEEP(8, process_vm_readv)
SWEEP(9, pagemap)
SWEEP(10, fork)

FIXTURE_SETUP(sweep)
{
}

FIXTURE_TEARDOWN(sweep)
{
}

/*
 * fail-nth n = 1, 2, ... over one operation until it reaches no injection
 * point: every failure is a documented errno (or a retried fault) with the
 * region and the grandchild's copy as they were.
 */
static void sweep(struct __test_metadata *_metadata, const struct sw_op *op,
		  const char *what)
{
	int points = 0, n;

	for (n = 1; n <= SW_MAX; n += n < SW_DENSE ? 1 : SW_STRIDE) {
		int status;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid)
			_exit(sw_run(op, n));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (!WIFEXITED(status)) {
			inject_setup(0, 0);
			ASSERT_TRUE(WIFEXITED(status))
				TH_LOG("%s n=%d: killed by signal %d", op->name,
				       n, WTERMSIG(status));
		}
		if (WEXITSTATUS(status) == 1)
			break;
		if (WEXITSTATUS(status)) {
			inject_setup(0, 0);
			ASSERT_EQ(0, WEXITSTATUS(status))
				TH_LOG("%s n=%d: step %d", op->name, n,
				       WEXITSTATUS(status));
		}
		points++;
	}
	inject_setup(0, 0);
	TH_LOG("%s%s: %d allocation points failed (n = 1..%d, then every %d-th; %s %d), each cleanly",
	       op->name, what, points, SW_DENSE, SW_STRIDE,
	       n > SW_MAX ? "stopped at" : "none left past", n > SW_MAX ? SW_MAX : n);
	ASSERT_LT(0, points);
}

TEST_F_TIMEOUT(sweep, odf_fail_nth, 300)
{
	NEED_ODF();
	NEED_INJECTION(0);
	sweep(_metadata, &sw_ops[variant->op], "");
}

/*
 * The COW write fault of a child after a plain fork, under each COW
 * policy's feature set (guest/features), swept the same way: pre-copy's
 * window allocations, the THP policies' 2 MiB copy, re-collapse and their
 * fallbacks. A failure may only retry the fault; the data stay.
 */
FIXTURE(policy) {
	int unused;
};

FIXTURE_VARIANT(policy) {
	const char *set;
	int thp;
};

FIXTURE_VARIANT_ADD(policy, precopy) { .set = "precopy", .thp = 0 };
FIXTURE_VARIANT_ADD(policy, precopy_adaptive) { .set = "precopy-adaptive", .thp = 0 };
FIXTURE_VARIANT_ADD(policy, thp_copy) { .set = "thp-copy", .thp = 1 };
FIXTURE_VARIANT_ADD(policy, thp_adaptive) { .set = "thp-adaptive", .thp = 1 };

FIXTURE_SETUP(policy)
{
}

FIXTURE_TEARDOWN(policy)
{
	feature_set("off");
}

TEST_F_TIMEOUT(policy, write_fault_fail_nth, 300)
{
	char what[64];

	NEED_INJECTION(0);
	if (feature_set(variant->set))
		SKIP(return, "feature set %s: not on this kernel", variant->set);
	sw_odf = 0;
	sw_thp = variant->thp;
	snprintf(what, sizeof(what), " (plain fork, %s)", variant->set);
	sweep(_metadata, &sw_ops[0], what);
}

TEST_HARNESS_MAIN
