// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab guest tests of what an adversarial review of the series found
 * (issue 16): each case reproduces one finding as an unprivileged program
 * would and fails on a kernel without its fix.
 *
 *  mdup (patches 0009-0010):
 *   - devzero_private_refused: a private /dev/zero mapping is anonymous
 *     but holds a file; mdup() duplicated it without a file reference
 *     (refcount underflow, "VFS: Close: file count is 0").
 *   - sealed_source_failure_undone: a sealed two-VMA source whose second
 *     piece fails (RLIMIT_AS) must leave nothing mapped; the copy of a
 *     sealed source must be unmappable.
 *   - failed_copy_frees_page_tables (fault injection, debug kernel): a
 *     fail-nth sweep over mdup(); after every failure VmPTE, the maps and
 *     the source are as before (page tables under no VMA were leaked).
 *   - mdup_ksm_in_swap_cache_copied: a KSM folio still in the swap cache
 *     behind a swap PTE was mapped at the destination, where rmap never
 *     finds it (finding 7e).
 *   - ksm_never_promotes_an_mdup_shared_page, mdup_counts_ksm_zero_pages:
 *     a page mdup() shares turned KSM in place by ksmd, and KSM zero
 *     pages copied uncounted (review 4).
 *  on-demand fork (patches 0013-0014):
 *   - exit_of_split_range_copies_nothing: a shared 2 MiB range split into
 *     several VMAs (madvise(MADV_DONTDUMP), no page-table change) must be
 *     dropped at exit, not copied (exit allocated page tables).
 *   - dontneed_when_unshare_fails (debug kernel): a partial MADV_DONTNEED
 *     whose unshare cannot allocate must fail cleanly or stay killable (it
 *     retried forever, unkillable).
 *   - mprotect_failure_changes_nothing (debug kernel): mprotect(PROT_NONE)
 *     whose unshare cannot allocate returned 0 and left the pages readable.
 *   - oom_kill_of_sharers_recovers: a family sharing tables, ranges split
 *     inside a PMD, OOM-killed in a memory cgroup (all at once and one by
 *     one, the reaper racing exit): all gone in bounded time, memory back.
 *
 * The fault-injection cases need CONFIG_FAULT_INJECTION (fail_page_alloc,
 * failslab, /proc/thread-self/fail-nth) and skip elsewhere. The fail-nth
 * sweeps over every on-demand fork operation are odf_sweep_test.c; every
 * mapping kind against mdup() and on-demand fork is kinds_test.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "region.h"
#include "inject.h"
#include "cowlab.h"

#ifndef __NR_mseal
#define __NR_mseal 462
#endif

static sigjmp_buf segv_env;

static void on_segv(int sig)
{
	siglongjmp(segv_env, 1);
}

/* 1 if reading @p faults, 0 if it reads. */
static int read_faults(const volatile char *p)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	int faulted = 0;

	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(segv_env, 1))
		faulted = 1;
	else
		(void)*p;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

/* Wait up to @ms for @pid: its status, or -1 if it is still running. */
static int wait_ms(pid_t pid, int ms)
{
	int status;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	return -1;
}

/* long cases: the harness's default 30 s is not enough under TCG */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

/* ---- mdup ---- */

/*
 * A private /dev/zero mapping: vma_is_anonymous() but vm_file set. mdup()
 * must refuse it (EINVAL) and change nothing; the old kernel copied it
 * without a file reference, and every cycle underflowed the file's count.
 */
TEST(devzero_private_refused)
{
	NEED_MDUP();
	for (int cycle = 0; cycle < 20; cycle++) {
		int fd = open("/dev/zero", O_RDWR);
		int maps;
		char *p, *q;

		ASSERT_LE(0, fd);
		p = mmap(NULL, PMD_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			 fd, 0);
		ASSERT_NE(MAP_FAILED, p);
		fill(p, PMD_SZ, cycle);
		maps = count_maps();
		q = mdup(p, PMD_SZ, NULL, 0);
		if (q != MAP_FAILED)
			munmap(q, PMD_SZ);
		ASSERT_EQ(MAP_FAILED, q)
			TH_LOG("mdup of a private /dev/zero mapping succeeded");
		ASSERT_EQ(EINVAL, errno);
		ASSERT_EQ(maps, count_maps());
		ASSERT_TRUE(intact(p, PMD_SZ, cycle));
		ASSERT_EQ(0, munmap(p, PMD_SZ));
		ASSERT_EQ(0, close(fd));
	}
}

static int mseal_works(void)
{
	char *p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p != MAP_FAILED && !syscall(__NR_mseal, p, PG, 0);
}

/*
 * Two sealed VMAs (the second read-only), RLIMIT_AS with room for the
 * first piece's copy only: mdup() fails with ENOMEM and must leave the
 * address space as it was. The old kernel kept a sealed, unmappable copy
 * of the first piece and warned. Then, without the limit, the copy of a
 * sealed source is an ordinary mapping: munmap() works.
 */
TEST(sealed_source_failure_undone)
{
	size_t len = 2 * PMD_SZ;
	int status;
	pid_t pid;

	NEED_MDUP();
	if (!mseal_works())
		SKIP(return, "no mseal() (ENOSYS or not 64-bit)");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *p = map_aligned(len), *q;
		struct rlimit rl;
		long vm;
		int maps;

		if (!p)
			_exit(10);
		fill(p, len, 7);
		if (mprotect(p + PMD_SZ, PMD_SZ, PROT_READ))
			_exit(11);
		if (syscall(__NR_mseal, p, len, 0))
			_exit(12);
		maps = count_maps();
		vm = status_kb("VmSize:");
		/* room for one 2 MiB piece, not two */
		rl.rlim_cur = rl.rlim_max = vm * 1024 + PMD_SZ + PMD_SZ / 2;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(13);
		q = mdup(p, len, NULL, 0);
		if (q != MAP_FAILED) {
			fprintf(stderr, "# mdup over RLIMIT_AS succeeded\n");
			_exit(1);
		}
		if (errno != ENOMEM) {
			fprintf(stderr, "# errno %d, not ENOMEM\n", errno);
			_exit(2);
		}
		if (maps != count_maps() || vm != status_kb("VmSize:")) {
			fprintf(stderr, "# maps %d -> %d, VmSize %ld -> %ld kB: a copy stayed\n",
				maps, count_maps(), vm, status_kb("VmSize:"));
			_exit(3);
		}
		if (!intact(p, len, 7))
			_exit(4);
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(13);
		q = mdup(p, len, NULL, 0);
		if (q == MAP_FAILED || !intact(q, len, 7))
			_exit(5);
		if (munmap(q, len)) {
			fprintf(stderr, "# munmap of the copy: errno %d\n", errno);
			_exit(6);
		}
		_exit(maps == count_maps() ? 0 : 7);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed at step %d", WEXITSTATUS(status));
}

/*
 * fail-nth over mdup() of 32 pages to a fresh 1 GiB-aligned destination
 * (its PUD, PMD and PTE tables must be allocated): n = 1, 2, ... until the
 * call succeeds. After every failure: ENOMEM, and VmPTE, the maps and the
 * source as before (the old kernel left the destination's page tables,
 * under no VMA, until exit). Each call runs in its own child, so that
 * nothing it leaked can hide in the next.
 */
TEST_F_TIMEOUT(slow, failed_copy_frees_page_tables, 300)
{
	size_t len = 32 * PG;
	int points = 0, done = 0;

	NEED_MDUP();
	NEED_INJECTION(0);
	for (int n = 1; n <= 200 && !done; n++) {
		int status;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid) {
			char *raw, *want, *src, *q, buf[16];
			long pte0, vm0;
			int maps0, fd, e;

			src = mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (src == MAP_FAILED)
				_exit(20);
			madvise(src, len, MADV_NOHUGEPAGE);
			fill(src, len, 3);
			raw = mmap(NULL, 2UL << 30, PROT_NONE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				   -1, 0);
			if (raw == MAP_FAILED)
				_exit(21);
			want = (char *)(((uintptr_t)raw + (1UL << 30)) &
					~((1UL << 30) - 1));
			munmap(raw, 2UL << 30);
			maps0 = count_maps();
			pte0 = status_kb("VmPTE:");
			vm0 = status_kb("VmSize:");
			fd = open("/proc/thread-self/fail-nth", O_RDWR);
			if (fd < 0)
				_exit(22);
			snprintf(buf, sizeof(buf), "%d", n);
			if (write(fd, buf, strlen(buf)) < 0)
				_exit(23);
			q = mdup(src, len, want, MDUP_FIXED);
			e = errno;
			/* what is left: 0 if the n-th allocation was reached */
			if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
				_exit(24);
			buf[1] = '\0';
			if (write(fd, "0", 1) < 0)
				_exit(23);
			close(fd);
			if (q != MAP_FAILED) {
				if (!intact(q, len, 3) || !intact(src, len, 3))
					_exit(30);
				if (munmap(q, len) || status_kb("VmPTE:") != pte0)
					_exit(31);
				_exit(atoi(buf) ? 40 : 41); /* 40: no point left */
			}
			if (e != ENOMEM) {
				fprintf(stderr, "# n=%d: errno %d\n", n, e);
				_exit(32);
			}
			if (status_kb("VmPTE:") != pte0) {
				fprintf(stderr, "# n=%d: VmPTE %ld -> %ld kB after the failed call\n",
					n, pte0, status_kb("VmPTE:"));
				_exit(33);
			}
			if (count_maps() != maps0 || status_kb("VmSize:") != vm0)
				_exit(34);
			if (!intact(src, len, 3))
				_exit(35);
			/* the destination is free again: a fixed mapping fits */
			if (mmap(want, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
				 MAP_FIXED_NOREPLACE, -1, 0) != want)
				_exit(36);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		switch (WEXITSTATUS(status)) {
		case 0:		/* failed cleanly */
		case 41:	/* an allocation failed, and was coped with */
			points++;
			break;
		case 40:	/* no n-th allocation: the sweep is over */
			done = 1;
			break;
		default:
			inject_setup(0, 0);
			ASSERT_EQ(0, WEXITSTATUS(status))
				TH_LOG("fail-nth %d: step %d", n, WEXITSTATUS(status));
		}
	}
	inject_setup(0, 0);
	TH_LOG("%d allocation points of mdup() failed, each handled", points);
	ASSERT_TRUE(done);
	ASSERT_LT(0, points);
}

/*
 * Finding 7e: rmap finds a KSM folio only at the addresses its stable-tree
 * items record, so mdup() copies KSM pages rather than share them; but a
 * KSM folio that was swapped out while something still holds it (here a
 * pipe, via vmsplice) stays in the swap cache behind a swap PTE, and the
 * old kernel copied that swap PTE to the destination, whose first read
 * mapped the KSM folio there (ksm_might_need_to_copy()): a mapping no rmap
 * walk finds (unreclaimable, unmigratable, and the stable node's removal
 * WARNs while it is mapped). The destination must get a page of its own.
 */
TEST(mdup_ksm_in_swap_cache_copied)
{
	size_t len = 2 * PG;
	struct iovec iov;
	int fds[2], merged;
	uint64_t ksm_pfn;
	char *src, *dst, buf[64];

	NEED_MDUP();
	if (kb_field("/proc/meminfo", "SwapTotal:") <= 0)
		SKIP(return, "no swap");
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memset(src, 0x3c, len);
	ASSERT_EQ(0, madvise(src, len, MADV_MERGEABLE));
	merged = ksm_merge(src, src + PG);
	if (merged <= 0) {
		munmap(src, len);
		SKIP(return, "%s", merged < 0 ? "no KSM" :
		     "KSM did not merge within 6 s");
	}
	ksm_pfn = pfn(src);
	/* one mapping left, so MADV_PAGEOUT takes it */
	ASSERT_EQ(0, madvise(src + PG, PG, MADV_DONTNEED));
	ASSERT_EQ(0, pipe(fds));
	iov.iov_base = src;
	iov.iov_len = PG;
	ASSERT_EQ((ssize_t)PG, vmsplice(fds[1], &iov, 1, 0));
	ASSERT_EQ(0, madvise(src, PG, MADV_PAGEOUT));
	/* (6.12's /proc/kpageflags sets KPF_KSM on every anonymous page) */
	if (pfn(src) || kpageflag(ksm_pfn, KPF_SWAPCACHE) != 1) {
		close(fds[0]);
		close(fds[1]);
		munmap(src, len);
		SKIP(return, "could not leave a KSM folio in the swap cache");
	}
	dst = mdup(src, PG, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	/* copied at the call, as a present KSM page is */
	EXPECT_NE(0, pfn(dst)) TH_LOG("the copy got the KSM page's swap entry");
	ASSERT_EQ(0x3c, dst[100]);
	ASSERT_NE(ksm_pfn, pfn(dst)) TH_LOG("the copy maps the KSM folio");
	for (size_t i = 0; i < PG; i++)
		ASSERT_EQ(0x3c, (unsigned char)dst[i]);
	ASSERT_EQ(0x3c, src[7]);
	dst[0] = 1;
	ASSERT_EQ(0x3c, src[0]);
	ASSERT_EQ(64, read(fds[0], buf, sizeof(buf)));
	ASSERT_EQ(0x3c, (unsigned char)buf[63]);
	close(fds[0]);
	close(fds[1]);
	munmap(src, len);
	munmap(dst, PG);
}

/*
 * Review 4, finding 1: ksmd could turn a folio that mdup() shares between
 * the source and the copy into a KSM folio in place (a merge accepts a
 * folio mapped more than once: fork maps it at the same address), after
 * which the copy mapped a KSM folio at an address no stable-tree item
 * records. Three identical pages, duplicated; the copy's first page
 * written (so the source's first page is its own); only the source made
 * mergeable; ksmd runs flat out for 6 s (at least two full scans). The
 * copy's second page must never map a KSM page. (KSM now leaves such
 * shared pages unmerged; the old kernel merged them.)
 */
TEST(ksm_never_promotes_an_mdup_shared_page)
{
	size_t len = 3 * PG;
	char *src, *dst;
	long scans;
	int merged;

	NEED_MDUP();
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memset(src, 0x5a, len);
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	dst[0] = 0x5a;	/* a copy of its own: src's first page is src's */
	ASSERT_EQ(0, madvise(src, len, MADV_MERGEABLE));
	scans = knob_long(KSM_KNOBS "full_scans");
	merged = ksm_merge(src, src + PG);
	if (merged < 0) {
		munmap(src, len);
		munmap(dst, len);
		SKIP(return, "no KSM");
	}
	scans = knob_long(KSM_KNOBS "full_scans") - scans;
	TH_LOG("KSM %s the source's pages in %ld full scans",
	       merged ? "merged" : "did not merge", scans);
	/*
	 * ksmd merges the page it scans into the tree's: the source's second
	 * page, shared with the copy, may only be replaced, never become
	 * the KSM page itself (then no merge happens here at all).
	 */
	if (merged) {
		ASSERT_NE(pfn(src + PG), pfn(dst + PG))
			TH_LOG("the copy maps the KSM page its source's page became");
	} else {
		ASSERT_LE(2, scans);
	}
	for (size_t i = 0; i < len; i++)
		ASSERT_EQ(0x5a, (unsigned char)dst[i]);
	madvise(src, len, MADV_UNMERGEABLE);
	munmap(src, len);
	munmap(dst, len);
}

/* This process's KSM zero pages (/proc/self/ksm_stat), or LONG_MIN. */
static long ksm_zero_pages_self(void)
{
	FILE *f = fopen("/proc/self/ksm_stat", "r");
	char key[64];
	long v, r = LONG_MIN;

	if (!f)
		return r;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, "ksm_zero_pages"))
			r = v;
	fclose(f);
	return r;
}

/*
 * Review 4, finding 2: with use_zero_pages, KSM maps empty pages to the
 * zero page and counts them per mm; mdup() copied those PTEs without
 * counting them, so unmapping both ranges drove the count negative.
 */
TEST(mdup_counts_ksm_zero_pages)
{
	size_t len = 4 * PG;
	char uzp[16], *src, *dst;
	long before, copied, after;
	int merged;

	NEED_MDUP();
	if (knob_read(KSM_KNOBS "use_zero_pages", uzp, sizeof(uzp)) ||
	    ksm_zero_pages_self() == LONG_MIN)
		SKIP(return, "no KSM zero pages");
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memset(src, 1, len);
	memset(src, 0, len);
	ASSERT_EQ(0, madvise(src, len, MADV_MERGEABLE));
	before = ksm_zero_pages_self();
	knob_write(KSM_KNOBS "use_zero_pages", "1");
	merged = ksm_merge(src, src + 3 * PG);
	knob_write(KSM_KNOBS "use_zero_pages", uzp);
	if (merged <= 0 || ksm_zero_pages_self() - before != 4) {
		madvise(src, len, MADV_UNMERGEABLE);
		munmap(src, len);
		SKIP(return, "KSM did not map the zero page within 6 s");
	}
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	copied = ksm_zero_pages_self() - before;
	ASSERT_EQ(0, munmap(dst, len));
	ASSERT_EQ(0, munmap(src, len));
	after = ksm_zero_pages_self() - before;
	TH_LOG("KSM zero pages: 4 merged, %ld after mdup(), %ld after munmap of both",
	       copied, after);
	EXPECT_EQ(8, copied);
	EXPECT_EQ(0, after);
}

/* ---- on-demand fork ---- */

/*
 * A child shares a 4 MiB region's two tables, then splits the first range
 * into three VMAs with madvise(MADV_DONTDUMP) (no page-table change) and
 * exits. Exit must drop both tables (cow_odf_freed +2) without copying one
 * (cow_odf_copied +0): the old kernel unshared, i.e. allocated memory and
 * copied, in the middle of exit_mmap(). The parent's data stays.
 */
TEST(exit_of_split_range_copies_nothing)
{
	size_t len = 2 * PMD_SZ;
	long copied, freed;
	int status;
	char *p;
	pid_t pid;

	NEED_ODF();
	ASSERT_TRUE(have_odf());
	p = map_aligned(len);
	ASSERT_NE(NULL, p);
	madvise(p, len, MADV_NOHUGEPAGE);
	fill(p, len, 11);
	copied = vmstat_get("cow_odf_copied");
	freed = vmstat_get("cow_odf_freed");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (madvise(p + 100 * PG, 10 * PG, MADV_DONTDUMP))
			_exit(1);
		_exit(intact(p, len, 11) ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, vmstat_get("cow_odf_copied") - copied)
		TH_LOG("exit copied shared tables");
	EXPECT_EQ(2, vmstat_get("cow_odf_freed") - freed);
	ASSERT_TRUE(intact(p, len, 11));
	munmap(p, len);
}

/*
 * A child shares a region with a sleeping grandchild, then fails every
 * allocation of its own and calls MADV_DONTNEED on part of a shared range:
 * the unshare that must come first cannot allocate. madvise() must either
 * fail (ENOMEM) having zapped nothing, or, while it waits, stay killable;
 * the old kernel retried forever, unkillable. The grandchild's memory must
 * be intact afterwards.
 */
TEST_F_TIMEOUT(slow, dontneed_when_unshare_fails, 120)
{
	size_t len = 2 * PMD_SZ;
	int go[2], ready[2], status, st;
	pid_t pid, gpid = 0;
	char c;

	NEED_ODF();
	NEED_INJECTION(100);
	/* the grandchild is reparented to us when the child dies */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *p = map_aligned(len);
		int r, e;

		if (!p || !have_odf())
			_exit(10);
		madvise(p, len, MADV_NOHUGEPAGE);
		fill(p, len, 5);
		gpid = fork();
		if (gpid < 0)
			_exit(11);
		if (!gpid) {
			/* keeps the tables shared until told to check; */
			/* outlives the child, which is killed */
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(12);
			_exit(intact(p, len, 5) ? 0 : 13);
		}
		if (write(ready[1], &gpid, sizeof(gpid)) != sizeof(gpid))
			_exit(14);
		if (make_it_fail(0) || make_it_fail(1))
			_exit(15);
		r = madvise(p + 10 * PG, 10 * PG, MADV_DONTNEED);
		e = errno;
		make_it_fail(0);
		if (!r) {
			fprintf(stderr, "# MADV_DONTNEED worked without memory\n");
			_exit(1);
		}
		if (e != ENOMEM) {
			fprintf(stderr, "# MADV_DONTNEED: errno %d\n", e);
			_exit(2);
		}
		_exit(intact(p, len, 5) ? 0 : 3);
	}
	ASSERT_EQ(sizeof(gpid), read(ready[0], &gpid, sizeof(gpid)));
	st = wait_ms(pid, 2000);
	if (st == -1) {
		/* still in madvise(), retrying the unshare: must be killable */
		kill(pid, SIGKILL);
		st = wait_ms(pid, 20000);
		inject_setup(0, 0);
		/* an unkillable child stays behind; the grandchild with it */
		ASSERT_NE(-1, st) TH_LOG("the child is not killable");
		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			TH_LOG("child status %#x", st);
	} else {
		inject_setup(0, 0);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
			TH_LOG("child status %#x (step %d)", st, WEXITSTATUS(st));
	}
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(gpid, waitpid(gpid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("the grandchild's memory changed: step %d", WEXITSTATUS(status));
}

/*
 * A child shares a region with a sleeping grandchild, then fails every
 * allocation of its own and calls mprotect(PROT_NONE) on it. Either the
 * call fails (ENOMEM) with the region still rw-p and intact, or it works
 * and reading the region faults. The old kernel returned 0 and left the
 * shared table mapped: PROT_NONE memory that could still be read.
 */
TEST_F_TIMEOUT(slow, mprotect_failure_changes_nothing, 120)
{
	size_t len = 2 * PMD_SZ;
	int status;
	pid_t pid;

	NEED_ODF();
	NEED_INJECTION(100);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *p = map_aligned(len), perms[5];
		int go[2], r, e;
		pid_t gpid;
		char c;

		if (!p || !have_odf() || pipe(go))
			_exit(10);
		madvise(p, len, MADV_NOHUGEPAGE);
		fill(p, len, 9);
		gpid = fork();
		if (gpid < 0)
			_exit(11);
		if (!gpid) {
			orphan_guard(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(12);
			_exit(intact(p, len, 9) ? 0 : 13);
		}
		if (make_it_fail(0) || make_it_fail(1))
			_exit(15);
		r = mprotect(p, len, PROT_NONE);
		e = errno;
		make_it_fail(0);
		if (write(go[1], "g", 1) != 1 || waitpid(gpid, &status, 0) != gpid)
			_exit(16);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			_exit(17); /* the grandchild's copy changed */
		vma_perms(p, perms);
		if (r == 0) {
			if (!read_faults(p) || !read_faults(p + PMD_SZ)) {
				fprintf(stderr, "# mprotect(PROT_NONE) returned 0, the memory still reads (%s)\n",
					perms);
				_exit(1);
			}
			_exit(0);
		}
		if (e != ENOMEM) {
			fprintf(stderr, "# mprotect: errno %d\n", e);
			_exit(2);
		}
		if (strcmp(perms, "rw-p")) {
			fprintf(stderr, "# failed mprotect left %s\n", perms);
			_exit(3);
		}
		_exit(intact(p, len, 9) ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	inject_setup(0, 0);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed at step %d", WEXITSTATUS(status));
}

#define OOM_CG "/sys/fs/cgroup/cowlab-oom"
#define OOM_LEN (8 * PMD_SZ)
#define OOM_SHARERS 3

/*
 * One process of the OOM family: split a shared range into VMAs inside one
 * PMD (no page-table change), then write everything three times (each
 * first write unshares a table and copies pages, charged to the cgroup):
 * the four together need more than the cgroup has, so the OOM killer
 * comes; a process it spares (memory.oom.group = 0) ends by itself once
 * the others' memory has made room.
 */
static void oom_sharer(char *p, int k)
{
	madvise(p + (k % 8) * PMD_SZ + 100 * PG, 10 * PG, MADV_DONTDUMP);
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i < OOM_LEN; i += PG)
			p[i] ^= 1;
	_exit(0);
}

/*
 * The OOM family, in its own process: join the cgroup, opt in to on-demand
 * fork, fill 16 MiB (8 tables), leave room for 8 MiB more, fork
 * OOM_SHARERS children (which share the 8 tables), and write.
 */
static void oom_family(void)
{
	char buf[64], *p;

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (knob_write(OOM_CG "/cgroup.procs", buf) || !have_odf())
		_exit(4);
	p = map_aligned(OOM_LEN);
	if (!p || madvise(p, OOM_LEN, MADV_NOHUGEPAGE))
		_exit(4);
	fill(p, OOM_LEN, 61);
	if (knob_read(OOM_CG "/memory.current", buf, sizeof(buf)))
		_exit(4);
	snprintf(buf, sizeof(buf), "%ld", atol(buf) + (long)OOM_LEN / 2);
	if (knob_write(OOM_CG "/memory.max", buf))
		_exit(4);
	for (int k = 0; k < OOM_SHARERS; k++)
		if (!fork())
			oom_sharer(p, k + 1);
	oom_sharer(p, 0);
}

/*
 * OOM and the on-demand fork tables: a family of four processes sharing
 * the PTE tables of 16 MiB, each with a range split inside one PMD, writes
 * in a memory cgroup without swap that has room for half of it. With
 * memory.oom.group = 1 the OOM killer kills them all at once (each exit and
 * the OOM reaper, 2 s later, race on the shared tables); with 0 it kills
 * them one by one while the others keep unsharing. Either way every
 * process must be gone (killed, or done) within 120 s, the cgroup must record the OOM kill,
 * its memory must return (no page table stays charged) and it must be
 * removable. An exit or reaper that allocates or sleeps on another mm's
 * lock hangs here.
 */
TEST_F_TIMEOUT(slow, oom_kill_of_sharers_recovers, 300)
{
	const char *why;
	long shared0, ooms, mem;
	int status, left;
	time_t end;
	pid_t pid;

	NEED_ODF();
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	for (int group = 1; group >= 0; group--) {
		why = memcg_fresh(OOM_CG);
		if (why)
			SKIP(return, "%s", why);
		ASSERT_EQ(0, knob_write(OOM_CG "/memory.oom.group",
					group ? "1" : "0"));
		shared0 = vmstat_get("cow_odf_shared");
		fflush(NULL);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			oom_family();
		/* reap the family (the sharers are reparented here) */
		end = time(NULL) + 120;
		left = 1;
		while (time(NULL) < end) {
			pid = waitpid(-1, &status, WNOHANG);
			if (pid < 0 && errno == ECHILD) {
				left = 0;
				break;
			}
			if (pid > 0 && WIFEXITED(status) &&
			    WEXITSTATUS(status) == 4) {
				rmdir(OOM_CG);
				SKIP(return, "could not set the family up");
			}
			if (pid <= 0)
				usleep(100000);
		}
		if (left)
			knob_write(OOM_CG "/cgroup.kill", "1");
		ASSERT_EQ(0, left) TH_LOG("oom.group %d: the family still runs after 120 s",
					  group);
		for (int i = 0; i < 50 && cg_key(OOM_CG, "cgroup.events",
						  "populated") != 0; i++)
			usleep(100000);
		ooms = cg_key(OOM_CG, "memory.events", "oom_kill");
		/* freed pages are uncharged in per-CPU batches: let them drain */
		for (int i = 0; i < 50; i++) {
			mem = cg_key(OOM_CG, "memory.stat", "anon") +
			      cg_key(OOM_CG, "memory.stat", "kernel");
			if (mem < 1L << 20)
				break;
			usleep(100000);
		}
		TH_LOG("oom.group %d: %ld OOM kills, tables shared +%ld, anon + kernel left %ld kB",
		       group, ooms, vmstat_get("cow_odf_shared") - shared0,
		       mem >> 10);
		EXPECT_LE(1, ooms);
		EXPECT_LE(8, vmstat_get("cow_odf_shared") - shared0);
		EXPECT_GT(1L << 20, mem);
		EXPECT_EQ(0, rmdir(OOM_CG)) TH_LOG("rmdir: %s", strerror(errno));
	}
}

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_process_mrelease
#define __NR_process_mrelease 448
#endif

/*
 * process_mrelease() (a user-space OOM killer's reaper: it zaps another
 * task's mm as the OOM reaper does, MMF_UNSTABLE, the mm lock only tried)
 * right after SIGKILL, racing each exit, on a family of four processes that
 * share the PTE tables of 16 MiB with a range split inside one PMD; 20
 * rounds. Every process must be gone within 60 s of its kill, with no
 * splat (the host scans the log); the dropped tables are counted.
 */
TEST_F_TIMEOUT(slow, mrelease_races_exit_of_sharers, 300)
{
	int released = 0, rounds = 20, status;
	long freed0 = vmstat_get("cow_odf_freed");
	time_t end;

	NEED_ODF();
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	for (int r = 0; r < rounds; r++) {
		pid_t pids[OOM_SHARERS + 1];
		int fds[2], pfd, n = 0;
		char *p;

		ASSERT_EQ(0, pipe(fds));
		fflush(NULL);
		pids[0] = fork();
		ASSERT_LE(0, pids[0]);
		if (!pids[0]) {
			close(fds[0]);
			if (!have_odf())
				_exit(4);
			p = map_aligned(OOM_LEN);
			if (!p || madvise(p, OOM_LEN, MADV_NOHUGEPAGE))
				_exit(4);
			fill(p, OOM_LEN, 62);
			for (int k = 1; k <= OOM_SHARERS; k++) {
				pid_t c = fork();

				if (!c) {
					madvise(p + k * PMD_SZ + 100 * PG,
						10 * PG, MADV_DONTDUMP);
					p[k * PMD_SZ] ^= 1;	/* one table unshared */
					pause();
					_exit(0);
				}
				if (write(fds[1], &c, sizeof(c)) != sizeof(c))
					_exit(4);
			}
			close(fds[1]);
			pause();
			_exit(0);
		}
		close(fds[1]);
		while (n < OOM_SHARERS &&
		       read(fds[0], &pids[n + 1], sizeof(pid_t)) == sizeof(pid_t))
			n++;
		close(fds[0]);
		if (n < OOM_SHARERS) {
			waitpid(pids[0], &status, 0);
			SKIP(return, "the family could not be set up");
		}
		usleep(20000);	/* let the last sharer reach pause() */
		for (int i = 0; i <= OOM_SHARERS; i++) {
			pfd = syscall(__NR_pidfd_open, pids[i], 0);
			ASSERT_LE(0, pfd);
			ASSERT_EQ(0, syscall(__NR_pidfd_send_signal, pfd, SIGKILL,
					     NULL, 0));
			if (!syscall(__NR_process_mrelease, pfd, 0))
				released++;
			else if (errno == ENOSYS)
				SKIP(return, "no process_mrelease()");
			close(pfd);
		}
		end = time(NULL) + 60;
		for (int left = OOM_SHARERS + 1; left;) {
			pid_t w = waitpid(-1, &status, WNOHANG);

			if (w > 0) {
				left--;
				continue;
			}
			ASSERT_LT(time(NULL), end) TH_LOG("round %d: %d of the family still alive 60 s after SIGKILL",
							   r, left);
			usleep(10000);
		}
	}
	TH_LOG("%d rounds: %d of %d process_mrelease() calls zapped a live mm, cow_odf_freed +%ld",
	       rounds, released, rounds * (OOM_SHARERS + 1),
	       vmstat_get("cow_odf_freed") - freed0);
	EXPECT_LE(1, released);
}

#define RC_CG "/sys/fs/cgroup/cowlab-reclaim"

/*
 * In cgroup RC_CG (swap allowed): a process fills OOM_LEN, forks a child
 * that sleeps (with on-demand fork when @odf, without when not), then
 * memory.reclaim asks for all of it. Returns the kB of anonymous memory
 * reclaimed (-1: no setup) and the pages swapped out in *@swapped.
 */
static long reclaim_after_fork(int odf, long *swapped)
{
	long anon0, anon1, out0;
	int fds[2], status;
	char c = 0, *p;
	pid_t pid;

	if (memcg_fresh(RC_CG) || knob_write(RC_CG "/memory.swap.max", "max") ||
	    pipe(fds))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%d", getpid());
		if (knob_write(RC_CG "/cgroup.procs", buf) ||
		    prctl(PR_SET_COW_ODF, odf ? PR_COW_ODF_ALWAYS :
			  PR_COW_ODF_NEVER, 0, 0, 0))
			_exit(4);
		p = map_aligned(OOM_LEN);
		if (!p || madvise(p, OOM_LEN, MADV_NOHUGEPAGE))
			_exit(4);
		fill(p, OOM_LEN, 63);
		if (!fork()) {
			pause();
			_exit(0);
		}
		if (write(fds[1], &c, 1) != 1)
			_exit(4);
		pause();
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		waitpid(pid, &status, 0);
		rmdir(RC_CG);
		return -1;
	}
	close(fds[0]);
	anon0 = cg_key(RC_CG, "memory.stat", "anon");
	out0 = vmstat_get("pswpout");
	/*
	 * Up to four passes, as reclaim comes back: the first one's rmap
	 * walks queue the unshares of shared tables (cow_odf_rmap_unshare),
	 * which a kworker serves meanwhile, and the pages it could not unmap
	 * went to the active list. memory.reclaim says EAGAIN when it could
	 * not reclaim all it was asked for.
	 */
	for (int pass = 0; pass < 4; pass++) {
		knob_write(RC_CG "/memory.reclaim", "64M");
		anon1 = cg_key(RC_CG, "memory.stat", "anon");
		if (anon1 <= 64 << 10)
			break;
		usleep(300000);
	}
	*swapped = vmstat_get("pswpout") - out0;
	knob_write(RC_CG "/cgroup.kill", "1");
	for (int left = 2; left;)
		if (waitpid(-1, &status, 0) > 0)
			left--;
		else if (errno == ECHILD)
			break;
	for (int i = 0; i < 50 && rmdir(RC_CG); i++)
		usleep(100000);
	return (anon0 - anon1) >> 10;
}

/*
 * Finding 6: pages under a PTE table that on-demand fork shares are
 * invisible to rmap (page_vma_mapped_walk() skips shared tables), so a
 * forked, sleeping child made its parent's memory unreclaimable (and
 * unmigratable): an RLIMIT_MEMLOCK bypass for any process. Now a walk that
 * meets a shared table queues its unshare. The same proactive reclaim
 * (memory.reclaim up to four times, swap allowed) after a vanilla fork and
 * after an on-demand fork must free about as much (the old kernel: 16 of
 * 16400 kB).
 */
TEST_F_TIMEOUT(slow, reclaim_reaches_shared_ranges, 120)
{
	long vanilla, odf, sw_vanilla = 0, sw_odf = 0;

	NEED_ODF();
	if (kb_field("/proc/meminfo", "SwapTotal:") <= 0)
		SKIP(return, "no swap");
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	vanilla = reclaim_after_fork(0, &sw_vanilla);
	odf = reclaim_after_fork(1, &sw_odf);
	if (vanilla < 0 || odf < 0)
		SKIP(return, "no memory cgroup with memory.reclaim");
	TH_LOG("memory.reclaim of a %lu kB region with a sleeping child: vanilla fork %ld kB (%ld pages swapped out), on-demand fork %ld kB (%ld pages)",
	       OOM_LEN >> 10, vanilla, sw_vanilla, odf, sw_odf);
	/* the setup is fair: vanilla reclaims most of it */
	ASSERT_LE((long)(OOM_LEN >> 10) * 3 / 4, vanilla);
	ASSERT_LE(vanilla * 9 / 10, odf) TH_LOG("finding 6: memory under shared tables is not reclaimable");
}

TEST_HARNESS_MAIN
