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
 *  on-demand fork (patches 0013-0014):
 *   - exit_of_split_range_copies_nothing: a shared 2 MiB range split into
 *     several VMAs (madvise(MADV_DONTDUMP), no page-table change) must be
 *     dropped at exit, not copied (exit allocated page tables).
 *   - dontneed_when_unshare_fails (debug kernel): a partial MADV_DONTNEED
 *     whose unshare cannot allocate must fail cleanly or stay killable (it
 *     retried forever, unkillable).
 *   - mprotect_failure_changes_nothing (debug kernel): mprotect(PROT_NONE)
 *     whose unshare cannot allocate returned 0 and left the pages readable.
 *
 * The fault-injection cases need CONFIG_FAULT_INJECTION (fail_page_alloc,
 * failslab, /proc/thread-self/fail-nth) and skip elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "../../userspace-bench/mdup.h"

#ifndef __NR_mseal
#define __NR_mseal 462
#endif
#define PR_SET_COW_ODF 0x434f5752
#define PR_COW_ODF_ALWAYS 1

#define PG 4096UL
#define PMD_SZ (2UL << 20)

/* ---- helpers ---- */

static int have_mdup(void)
{
	return !(syscall(__NR_mdup, 0, 0, 0, 0) == -1 && errno == ENOSYS);
}

#define NEED_MDUP()                                                    \
	do {                                                           \
		if (!have_mdup())                                      \
			SKIP(return, "kernel has no mdup() (ENOSYS)"); \
	} while (0)

static int have_odf(void)
{
	return prctl(PR_SET_COW_ODF, PR_COW_ODF_ALWAYS, 0, 0, 0) == 0;
}

#define NEED_ODF()                                                          \
	do {                                                                \
		if (vmstat_get("cow_odf_shared") < 0)                       \
			SKIP(return, "kernel has no on-demand fork");       \
	} while (0)

static uint64_t word(unsigned long seed, size_t i)
{
	return (seed << 40) ^ (i * 0x9e3779b97f4a7c15ULL);
}

static void fill(void *p, size_t len, unsigned long seed)
{
	uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = word(seed, i);
}

/* 1 if [@p, @p + @len) holds @seed's words for offset @off on. */
static int intact_at(const char *p, size_t off, size_t len,
		     unsigned long seed)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != word(seed, off / 8 + i))
			return 0;
	return 1;
}

static int intact(const void *p, size_t len, unsigned long seed)
{
	return intact_at(p, 0, len, seed);
}

/*
 * @len bytes of private anonymous memory at a 2 MiB-aligned address, as a
 * VMA of its own: PROT_NONE guards on both sides keep it from merging.
 */
static char *map_aligned(size_t len)
{
	size_t total = len + 2 * PMD_SZ;
	char *raw = mmap(NULL, total, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + PMD_SZ) & ~(PMD_SZ - 1));
	if (mmap(p, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
		return NULL;
	return p;
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A "Name:  N kB" field of /proc/self/status. */
static long status_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name))) {
			v = atol(line + strlen(name));
			break;
		}
	fclose(f);
	return v;
}

/* The permission string of the VMA holding @addr ("rw-p"), or "". */
static void vma_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e, a = (uintptr_t)addr;
	char line[512];

	perms[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) == 3 &&
		    a >= s && a < e)
			break;
		perms[0] = '\0';
	}
	fclose(f);
}

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

/*
 * In a grandchild that waits on a pipe: close its copy of the write end
 * (@wfd) and die with its parent, so that a failed case leaves no process
 * behind holding the test's output open.
 */
static void orphan_guard(int wfd)
{
	close(wfd);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

/* ---- fault injection (CONFIG_FAULT_INJECTION, debug kernel) ---- */

#define FPA "/sys/kernel/debug/fail_page_alloc/"
#define FSL "/sys/kernel/debug/failslab/"

/*
 * Count every page and slab allocation, sleeping ones too, for fail-nth and
 * for the tasks that set make-it-fail (@prob 100), or none (@on 0). The
 * probability is written last: until the task filter is on, every task
 * would fail.
 */
static int inject_setup(int on, int prob)
{
	static const char *const dirs[] = { FPA, FSL };
	char path[128], val[8];

	snprintf(path, sizeof(path), FPA "probability");
	if (access(path, W_OK))
		return -1;
	for (unsigned int i = 0; i < 2; i++) {
		const char *d = dirs[i];

		snprintf(path, sizeof(path), "%sprobability", d);
		knob_write(path, "0");
		if (!on) {
			snprintf(path, sizeof(path), "%stask-filter", d);
			knob_write(path, "N");
			snprintf(path, sizeof(path), "%signore-gfp-wait", d);
			knob_write(path, "Y");
			continue;
		}
		snprintf(path, sizeof(path), "%stask-filter", d);
		knob_write(path, "Y");
		snprintf(path, sizeof(path), "%sinterval", d);
		knob_write(path, "1");
		snprintf(path, sizeof(path), "%stimes", d);
		knob_write(path, "-1");
		snprintf(path, sizeof(path), "%sverbose", d);
		knob_write(path, "0");
		snprintf(path, sizeof(path), "%signore-gfp-wait", d);
		knob_write(path, "N");
		if (i == 0) { /* fail_page_alloc */
			snprintf(path, sizeof(path), "%smin-order", d);
			knob_write(path, "0");
			snprintf(path, sizeof(path), "%signore-gfp-highmem", d);
			knob_write(path, "N");
		}
		snprintf(path, sizeof(path), "%sprobability", d);
		snprintf(val, sizeof(val), "%d", prob);
		knob_write(path, val);
	}
	return 0;
}

#define NEED_INJECTION(prob)                                                \
	do {                                                                \
		if (inject_setup(1, prob) ||                                \
		    access("/proc/thread-self/fail-nth", W_OK))             \
			SKIP(return, "no fault injection (debug kernel only)"); \
	} while (0)

/*
 * make-it-fail of the calling task: 0, or -1. The file is opened once,
 * before: with every allocation of the task failing, an open() to turn
 * it off again would fail too.
 */
static int make_it_fail(int on)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/proc/self/make-it-fail", O_WRONLY);
	if (fd < 0)
		return -1;
	return pwrite(fd, on ? "1" : "0", 1, 0) == 1 ? 0 : -1;
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

/* ---- fail-nth sweeps over every on-demand fork unshare trigger ---- */

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
static int sw_run(const struct sw_op *op, int n)
{
	char *p = map_aligned(SW_LEN), *spare = map_aligned(PMD_SZ), buf[16];
	int go[2], status, fd, ret, left;
	pid_t gpid;
	char c;

	if (!p || !spare || pipe(go) || !have_odf())
		return 10;
	madvise(p, SW_LEN, MADV_NOHUGEPAGE);
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
TEST_F_TIMEOUT(sweep, odf_fail_nth, 300)
{
	const struct sw_op *op = &sw_ops[variant->op];
	int points = 0, n;

	NEED_ODF();
	NEED_INJECTION(0);
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
	TH_LOG("%s: %d allocation points failed (n = 1..%d, then every %d-th; %s %d), each cleanly",
	       op->name, points, SW_DENSE, SW_STRIDE,
	       n > SW_MAX ? "stopped at" : "none left past", n > SW_MAX ? SW_MAX : n);
	ASSERT_LT(0, points);
}

TEST_HARNESS_MAIN
