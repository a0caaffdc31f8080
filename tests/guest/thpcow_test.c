// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab guest tests of the THP COW policy (patch 0011): vm.cow_thp_policy
 * split (0), copy (1) and adaptive (2), vm.cow_thp_recollapse_pct and the
 * cow_thp_* counters of /proc/vmstat.
 *
 * Every test maps NR_PMD 2 MiB-aligned THPs (MADV_HUGEPAGE) as a VMA of its
 * own, fills them with a pattern, checks that they are PMD-mapped, and
 * forks; the child writes, the parent keeps the THPs shared.  Each side
 * checks its bytes, its smaps AnonHugePages (how much is PMD-mapped), its
 * PFNs and exclusive bits (/proc/self/pagemap) and, for the counters that
 * only a THP COW moves, the vmstat deltas.  Every test runs under each
 * policy (fixture variants) and checks what that policy must do.
 *
 * Needs root and a kernel with the series (the sysctls) and THP; skips
 * otherwise.  The tests set the sysctls and restore them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "region.h"
#include "../../userspace-bench/procfs.h"

#define PG		4096UL
#define PMD_SZ		(2UL << 20)
#define PMD_NR		512
#define NR_PMD		3
#define LEN		(NR_PMD * PMD_SZ)

enum { SPLIT = 0, COPY = 1, ADAPTIVE = 2 };

/* failure bits of a child's exit status */
enum {
	B_BYTES = 1,	/* a byte differs from what this side wrote */
	B_PMD = 2,	/* AnonHugePages not what the policy must leave */
	B_PFN = 4,	/* a page the other side maps, or a moved page */
	B_CNT = 8,	/* a counter delta is wrong */
	B_EXCL = 16,	/* a written range is not exclusive */
	B_SETUP = 64,
};

#define CHECK(bit, cond, fmt, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "# %s:%d: " fmt "\n", __func__, __LINE__, \
			##__VA_ARGS__); \
		bad |= (bit); \
	} \
} while (0)

/* the value of a vm sysctl that is never negative, or -1 if missing */
static int sysctl_val(const char *name)
{
	int v;

	return sysctl_get(name, &v) ? -1 : v;
}

static uint8_t pat(size_t off, int gen)
{
	return (uint8_t)(off ^ (off >> 12) ^ (0x5a + 17 * gen));
}

/* first offset in [from, to) whose byte is not pat(off, gen), or -1 */
static long check(const char *p, size_t from, size_t to, int gen)
{
	for (size_t i = from; i < to; i++)
		if ((uint8_t)p[i] != pat(i, gen))
			return (long)i;
	return -1;
}

/* write page @pg of @p with generation @gen (every byte) */
static void write_page(char *p, size_t pg, int gen)
{
	for (size_t i = pg * PG; i < (pg + 1) * PG; i++)
		p[i] = (char)pat(i, gen);
}

/* PFNs of the NR_PMD * 512 pages of @p (0: not present) */
static void pfns(const char *p, uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);

	memset(out, 0, sizeof(uint64_t) * NR_PMD * PMD_NR);
	if (fd < 0)
		return;
	if (pread(fd, out, sizeof(uint64_t) * NR_PMD * PMD_NR,
		  (uintptr_t)p / PG * 8) < 0)
		memset(out, 0, sizeof(uint64_t) * NR_PMD * PMD_NR);
	close(fd);
	for (int i = 0; i < NR_PMD * PMD_NR; i++)
		out[i] = (out[i] & PM_PRESENT) ? PM_PFN(out[i]) : 0;
}

static long pmd_kb(const char *p)
{
	return proc_smaps_kb(p, "AnonHugePages:");
}

/*
 * khugepaged may collapse a split range in which at most max_ptes_shared
 * (default 256) of the 512 PTEs are still shared with the parent: after the
 * 256th write of recollapse_threshold that is the case, and a collapse then
 * moves the unwritten pages (seen once on the debug kernel: "unwritten page
 * 256 moved", "cow_copy +0"). max_ptes_shared 0 keeps khugepaged off ranges
 * that share a page; the adaptive policy's collapse (madvise_collapse())
 * does not look at it.
 */
#define KHUGEPAGED_SHARED \
	"/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_shared"

FIXTURE(thpcow) {
	char *raw, *p;
	int old_policy, old_pct;
	char old_shared[16];
	uint64_t parent_pfn[NR_PMD * PMD_NR];
};

FIXTURE_VARIANT(thpcow) {
	int policy;
};

FIXTURE_VARIANT_ADD(thpcow, split) { .policy = SPLIT };
FIXTURE_VARIANT_ADD(thpcow, copy) { .policy = COPY };
FIXTURE_VARIANT_ADD(thpcow, adaptive) { .policy = ADAPTIVE };

FIXTURE_SETUP(thpcow)
{
	uintptr_t a;

	self->raw = NULL;
	self->old_shared[0] = '\0';
	self->old_policy = sysctl_val("cow_thp_policy");
	self->old_pct = sysctl_val("cow_thp_recollapse_pct");
	if (self->old_policy < 0 || self->old_pct < 0)
		SKIP(return, "no vm.cow_thp_policy (kernel without patch 0011)");
	if (getuid())
		SKIP(return, "needs root (pagemap PFNs, sysctls)");
	ASSERT_EQ(0, sysctl_set("cow_thp_policy", variant->policy));
	ASSERT_EQ(0, sysctl_set("cow_thp_recollapse_pct", 50));
	ASSERT_EQ(0, knob_read(KHUGEPAGED_SHARED, self->old_shared,
			       sizeof(self->old_shared)));
	ASSERT_EQ(0, knob_write(KHUGEPAGED_SHARED, "0"));
	self->raw = mmap(NULL, LEN + PMD_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->raw);
	a = ((uintptr_t)self->raw + PMD_SZ - 1) & ~(PMD_SZ - 1);
	self->p = (char *)a;
	ASSERT_EQ(0, madvise(self->p, LEN, MADV_HUGEPAGE));
	for (size_t i = 0; i < LEN; i++)
		self->p[i] = (char)pat(i, 0);
	if (pmd_kb(self->p) != LEN / 1024)
		SKIP(return, "the region is not PMD-mapped (%ld kB): no THP",
		     pmd_kb(self->p));
	pfns(self->p, self->parent_pfn);
}

FIXTURE_TEARDOWN(thpcow)
{
	if (self->raw)
		munmap(self->raw, LEN + PMD_SZ);
	if (self->old_policy >= 0)
		sysctl_set("cow_thp_policy", self->old_policy);
	if (self->old_pct > 0)
		sysctl_set("cow_thp_recollapse_pct", self->old_pct);
	if (self->old_shared[0])
		knob_write(KHUGEPAGED_SHARED, self->old_shared);
}

/* Run @fn in a forked child; its exit status is a set of failure bits. */
static int child(int (*fn)(void *, const void *), void *arg, const void *v)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return B_SETUP;
	if (!pid)
		_exit(fn(arg, v));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return B_SETUP;
	return WEXITSTATUS(status);
}

/* the parent side after the child: bytes, PMDs and PFNs as before */
static int parent_intact(struct _test_data_thpcow *self)
{
	static uint64_t now[NR_PMD * PMD_NR];
	long off = check(self->p, 0, LEN, 0);
	int bad = 0;

	CHECK(B_BYTES, off < 0, "parent byte %ld changed", off);
	CHECK(B_PMD, pmd_kb(self->p) == LEN / 1024, "parent AnonHugePages %ld kB",
	      pmd_kb(self->p));
	pfns(self->p, now);
	CHECK(B_PFN, !memcmp(now, self->parent_pfn, sizeof(now)),
	      "parent PFNs moved");
	return bad;
}

struct one_arg {
	char *p;
	const uint64_t *parent_pfn;
};

/*
 * Child of one_write: one byte in page 7 of THP 0. split and adaptive:
 * that PMD is split (cow_thp_split +1), one 4K copy; copy: a new THP
 * (cow_thp_copy +1), all 512 PFNs new, PMD-mapped, exclusive.
 */
static int one_write_child(void *a, const void *v)
{
	const struct one_arg *arg = a;
	int policy = *(const int *)v, bad = 0;
	long long split0 = proc_vmstat("cow_thp_split");
	long long copy0 = proc_vmstat("cow_thp_copy");
	static uint64_t now[NR_PMD * PMD_NR];
	char *p = arg->p;
	long off, kb, want;
	int moved = 0;

	p[7 * PG + 100] = (char)pat(7 * PG + 100, 1);
	off = check(p, 0, 7 * PG + 100, 0);
	if (off < 0)
		off = check(p, 7 * PG + 101, LEN, 0);
	CHECK(B_BYTES, off < 0 && (uint8_t)p[7 * PG + 100] == pat(7 * PG + 100, 1),
	      "child byte %ld wrong", off);
	kb = pmd_kb(p);
	want = policy == COPY ? LEN / 1024 : (LEN - PMD_SZ) / 1024;
	CHECK(B_PMD, kb == want, "child AnonHugePages %ld kB, want %ld", kb, want);
	pfns(p, now);
	for (int i = 0; i < PMD_NR; i++)
		moved += now[i] != arg->parent_pfn[i];
	for (int i = PMD_NR; i < NR_PMD * PMD_NR; i++)
		CHECK(B_PFN, now[i] == arg->parent_pfn[i], "untouched page %d moved", i);
	CHECK(B_PFN, moved == (policy == COPY ? PMD_NR : 1),
	      "%d pages of THP 0 moved", moved);
	for (int i = 0; i < PMD_NR; i++)
		for (int j = 0; j < NR_PMD * PMD_NR && policy == COPY; j++)
			if (now[i] == arg->parent_pfn[j]) {
				CHECK(B_PFN, 0, "child maps parent pfn %#llx",
				      (unsigned long long)now[i]);
				break;
			}
	CHECK(B_EXCL, pagemap(p + 7 * PG) & PM_EXCL, "written page not exclusive");
	if (policy == COPY) {
		CHECK(B_CNT, proc_vmstat("cow_thp_copy") - copy0 == 1,
		      "cow_thp_copy +%lld", proc_vmstat("cow_thp_copy") - copy0);
		CHECK(B_CNT, proc_vmstat("cow_thp_split") - split0 == 0,
		      "cow_thp_split +%lld", proc_vmstat("cow_thp_split") - split0);
	} else {
		CHECK(B_CNT, proc_vmstat("cow_thp_split") - split0 == 1,
		      "cow_thp_split +%lld", proc_vmstat("cow_thp_split") - split0);
		CHECK(B_CNT, proc_vmstat("cow_thp_copy") - copy0 == 0,
		      "cow_thp_copy +%lld", proc_vmstat("cow_thp_copy") - copy0);
	}
	return bad;
}

TEST_F_TIMEOUT(thpcow, one_write, 120)
{
	struct one_arg a = { self->p, self->parent_pfn };
	int bad = child(one_write_child, &a, &variant->policy);

	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
	bad = parent_intact(self);
	EXPECT_EQ(0, bad) TH_LOG("parent failure bits %#x", bad);
}

/*
 * Child of recollapse_threshold: write pages 0..255 of THP 0 one by one
 * (256 = 50% of 512, the threshold). adaptive: nothing PMD-mapped after
 * 255 writes, after the 256th THP 0 is a PMD again (cow_thp_recollapse
 * +1), every PFN of it new (it maps no page the parent maps), exclusive,
 * and later writes take no COW. split: still split. copy: one whole copy
 * at the first write, no 4K COW after it.
 */
static int threshold_child(void *a, const void *v)
{
	const struct one_arg *arg = a;
	int policy = *(const int *)v, bad = 0;
	long long rc0 = proc_vmstat("cow_thp_recollapse");
	long long rf0 = proc_vmstat("cow_thp_recollapse_fail");
	static uint64_t now[NR_PMD * PMD_NR];
	long long copy0, copy1;
	char *p = arg->p;
	long kb, off;

	for (int pg = 0; pg < PMD_NR / 2 - 1; pg++)
		write_page(p, pg, 1);
	kb = pmd_kb(p);
	CHECK(B_PMD, kb == (policy == COPY ? LEN : LEN - PMD_SZ) / 1024,
	      "after 255 writes AnonHugePages %ld kB", kb);
	CHECK(B_CNT, proc_vmstat("cow_thp_recollapse") == rc0,
	      "collapsed before the threshold");
	write_page(p, PMD_NR / 2 - 1, 1);
	kb = pmd_kb(p);
	CHECK(B_PMD, kb == (policy == SPLIT ? LEN - PMD_SZ : LEN) / 1024,
	      "after 256 writes AnonHugePages %ld kB", kb);
	CHECK(B_CNT, proc_vmstat("cow_thp_recollapse") - rc0 ==
		     (policy == ADAPTIVE),
	      "cow_thp_recollapse +%lld",
	      proc_vmstat("cow_thp_recollapse") - rc0);
	CHECK(B_CNT, proc_vmstat("cow_thp_recollapse_fail") == rf0,
	      "cow_thp_recollapse_fail +%lld",
	      proc_vmstat("cow_thp_recollapse_fail") - rf0);
	off = check(p, 0, PMD_SZ / 2, 1);
	if (off < 0)
		off = check(p, PMD_SZ / 2, LEN, 0);
	CHECK(B_BYTES, off < 0, "child byte %ld wrong", off);
	pfns(p, now);
	if (policy != SPLIT) {
		for (int i = 0; i < PMD_NR; i++) {
			for (int j = 0; j < NR_PMD * PMD_NR; j++)
				if (now[i] && now[i] == arg->parent_pfn[j]) {
					CHECK(B_PFN, 0, "page %d maps parent pfn %#llx",
					      i, (unsigned long long)now[i]);
					i = PMD_NR;
					break;
				}
			/* one new THP: consecutive PFNs */
			if (i < PMD_NR && now[i] != now[0] + i) {
				CHECK(B_PFN, 0, "page %d not in one THP", i);
				break;
			}
		}
		for (int i = 0; i < PMD_NR; i += 64)
			CHECK(B_EXCL, pagemap(p + i * PG) & PM_EXCL,
			      "page %d not exclusive", i);
	} else {
		for (int i = PMD_NR / 2; i < PMD_NR; i++)
			if (now[i] != arg->parent_pfn[i]) {
				CHECK(B_PFN, 0, "unwritten page %d moved", i);
				break;
			}
	}
	/* the rest of THP 0: COW only where it is still split */
	copy0 = proc_vmstat("cow_copy");
	for (int pg = PMD_NR / 2; pg < PMD_NR; pg++)
		write_page(p, pg, 1);
	copy1 = proc_vmstat("cow_copy");
	if (policy == SPLIT)
		CHECK(B_CNT, copy1 - copy0 >= PMD_NR / 2,
		      "cow_copy +%lld for 256 shared pages", copy1 - copy0);
	else
		CHECK(B_CNT, copy1 - copy0 < 8,
		      "cow_copy +%lld after the collapse", copy1 - copy0);
	off = check(p, 0, PMD_SZ, 1);
	if (off < 0)
		off = check(p, PMD_SZ, LEN, 0);
	CHECK(B_BYTES, off < 0, "child byte %ld wrong at the end", off);
	return bad;
}

TEST_F_TIMEOUT(thpcow, recollapse_threshold, 180)
{
	struct one_arg a = { self->p, self->parent_pfn };
	int bad = child(threshold_child, &a, &variant->policy);

	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
	bad = parent_intact(self);
	EXPECT_EQ(0, bad) TH_LOG("parent failure bits %#x", bad);
}

/*
 * The parent writes THP 1 while the child, having collapsed (adaptive) or
 * copied (copy) it, still runs: the parent then is the last to map its
 * THP and reuses it in place (same PFNs, still a PMD); neither side sees
 * the other's bytes.
 */
TEST_F_TIMEOUT(thpcow, parent_writes_after_child, 180)
{
	int go[2], done[2], status;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *q = self->p + PMD_SZ;

		for (int pg = 0; pg < PMD_NR; pg++)
			write_page(q, pg, 2);
		if (write(done[1], "x", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(B_SETUP);
		/* the parent has written THP 1 meanwhile */
		_exit(check(q, 0, PMD_SZ, 2) < 0 && check(self->p, 0, PMD_SZ, 0) < 0 ?
		      0 : B_BYTES);
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	for (int pg = 0; pg < PMD_NR; pg++)
		write_page(self->p + PMD_SZ, pg, 3);
	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(-1, check(self->p + PMD_SZ, 0, PMD_SZ, 3));
	EXPECT_EQ(-1, check(self->p, 0, PMD_SZ, 0));
	EXPECT_EQ(-1, check(self->p + 2 * PMD_SZ, 0, PMD_SZ, 0));
	if (variant->policy != SPLIT) {
		static uint64_t now[NR_PMD * PMD_NR];

		/* the child no longer maps THP 1: the parent reused it */
		pfns(self->p, now);
		EXPECT_EQ(0, memcmp(now, self->parent_pfn, sizeof(now)));
		EXPECT_EQ(LEN / 1024, pmd_kb(self->p));
	}
}

/* Threads of the child write random pages of all THPs at once. */
struct thr {
	char *p;
	unsigned int seed;
	int id;
};

#define THREADS 4
#define THR_WRITES 2000

static void *thr_fn(void *a)
{
	struct thr *t = a;

	for (int k = 0; k < THR_WRITES; k++) {
		unsigned int pg = rand_r(&t->seed) % (NR_PMD * PMD_NR);

		/* a thread owns the pages pg % THREADS == id */
		pg -= pg % THREADS;
		pg += t->id;
		write_page(t->p, pg, 4);
	}
	return NULL;
}

static int threads_child(void *a, const void *v)
{
	const struct one_arg *arg = a;
	struct thr t[THREADS];
	pthread_t tid[THREADS];
	static uint8_t seen[NR_PMD * PMD_NR];
	int bad = 0;

	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct thr){ arg->p, 1234u + i, i };
		if (pthread_create(&tid[i], NULL, thr_fn, &t[i]))
			return B_SETUP;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	/* replay the writes to know which pages were written */
	for (int i = 0; i < THREADS; i++) {
		unsigned int seed = 1234u + i;

		for (int k = 0; k < THR_WRITES; k++) {
			unsigned int pg = rand_r(&seed) % (NR_PMD * PMD_NR);

			seen[pg - pg % THREADS + i] = 1;
		}
	}
	for (size_t pg = 0; pg < NR_PMD * PMD_NR; pg++) {
		long off = check(arg->p, pg * PG, (pg + 1) * PG, seen[pg] ? 4 : 0);

		if (off >= 0) {
			CHECK(B_BYTES, 0, "byte %ld wrong (page %zu %s)", off, pg,
			      seen[pg] ? "written" : "not written");
			break;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(thpcow, threads_integrity, 300)
{
	struct one_arg a = { self->p, self->parent_pfn };
	int bad;

	/* a low threshold: collapses while the other threads fault */
	ASSERT_EQ(0, sysctl_set("cow_thp_recollapse_pct", 10));
	bad = child(threads_child, &a, &variant->policy);
	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
	bad = parent_intact(self);
	EXPECT_EQ(0, bad) TH_LOG("parent failure bits %#x", bad);
}

/* Bad values are refused and leave the sysctls as they were. */
TEST_F(thpcow, sysctl_bounds)
{
	EXPECT_NE(0, sysctl_set("cow_thp_policy", 3));
	EXPECT_NE(0, sysctl_set("cow_thp_policy", -1));
	EXPECT_NE(0, sysctl_set("cow_thp_recollapse_pct", 0));
	EXPECT_NE(0, sysctl_set("cow_thp_recollapse_pct", 101));
	EXPECT_EQ(variant->policy, sysctl_val("cow_thp_policy"));
	EXPECT_EQ(50, sysctl_val("cow_thp_recollapse_pct"));
}

/* ---- fault injection: the huge allocations fail (debug kernel) ---- */

#define FPA "/sys/kernel/debug/fail_page_alloc/"
#define FPA_TIMES 100000	/* failures allowed: what is left counts them */
#define STR_(x) #x
#define STR(x) STR_(x)

static long fpa_off(void);

/*
 * Aim fail_page_alloc at the tasks that set /proc/self/make-it-fail, for
 * every allocation of order >= @min_order: the THP (order 9) or mTHP
 * (order 4) allocations of the COW paths, never their 4K fallback.
 * 0, or -1 when the kernel has no fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC).
 */
static int fpa_aim(int min_order)
{
	char order[16];
	const char *const knobs[][2] = {
		/* disarmed while the filter and the order are set */
		{ "probability", "0" }, { "task-filter", "Y" },
		{ "min-order", order }, { "interval", "1" },
		{ "times", STR(FPA_TIMES) }, { "space", "0" }, { "verbose", "0" },
		{ "ignore-gfp-wait", "N" }, { "ignore-gfp-highmem", "N" },
		{ "probability", "100" },
	};
	char path[128];
	int ret;

	if (access(FPA "probability", W_OK))
		return -1;
	snprintf(order, sizeof(order), "%d", min_order);
	for (unsigned int k = 0; k < sizeof(knobs) / sizeof(knobs[0]); k++) {
		snprintf(path, sizeof(path), FPA "%s", knobs[k][0]);
		ret = knob_write(path, knobs[k][1]);
		if (ret) {
			fprintf(stderr, "# %s: %s\n", path, strerror(-ret));
			fpa_off();
			return -1;
		}
	}
	return 0;
}

/* turn the injection off; return how many allocations it failed */
static long fpa_off(void)
{
	char buf[32];
	long left = -1;

	knob_write(FPA "probability", "0");
	if (!knob_read(FPA "times", buf, sizeof(buf)))
		left = atol(buf);
	knob_write(FPA "min-order", "1");
	knob_write(FPA "times", "1");
	knob_write(FPA "task-filter", "N");
	return left < 0 ? -1 : FPA_TIMES - left;
}

#define CG "/sys/fs/cgroup/cowlab-thpcow"
#define CG_ROOM (1536 * 1024)	/* bytes above the child's usage: < 2 MiB */

/* how the huge allocations of alloc_fail_child() fail */
enum { FAIL_FPA, FAIL_MEMCG };

struct fail_arg {
	struct one_arg one;
	int how;
};

/* join CG and limit it to its current usage + CG_ROOM: 0 or B_SETUP */
static int memcg_limit_self(void)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (knob_write(CG "/cgroup.procs", buf) ||
	    knob_read(CG "/memory.current", buf, sizeof(buf)))
		return B_SETUP;
	snprintf(buf, sizeof(buf), "%ld", atol(buf) + CG_ROOM);
	return knob_write(CG "/memory.max", buf) ? B_SETUP : 0;
}

/*
 * Child of alloc_failure and memcg_limit: every order-9 allocation of this
 * task fails (FAIL_FPA), or its memory cgroup has less than 2 MiB of room
 * (FAIL_MEMCG: the THP charge fails, without OOM for an order above
 * PAGE_ALLOC_COSTLY_ORDER). split: as always (split, one 4K copy). copy:
 * no THP for the copy, the fault falls back to the split
 * (cow_thp_copy_fallback +1, cow_thp_split +1, one page moved). adaptive:
 * 256 writes reach the threshold, the re-collapse gets no THP
 * (cow_thp_recollapse_fail +1), the range stays PTE-mapped. Every byte as
 * written, nothing of the parent's mapped writable.
 */
static int alloc_fail_child(void *a, const void *v)
{
	const struct fail_arg *fa = a;
	const struct one_arg *arg = &fa->one;
	int policy = *(const int *)v, bad = 0, moved = 0;
	long long sp0 = proc_vmstat("cow_thp_split");
	long long cp0 = proc_vmstat("cow_thp_copy");
	long long fb0 = proc_vmstat("cow_thp_copy_fallback");
	long long rc0 = proc_vmstat("cow_thp_recollapse");
	long long rf0 = proc_vmstat("cow_thp_recollapse_fail");
	static uint64_t now[NR_PMD * PMD_NR];
	int nw = policy == ADAPTIVE ? PMD_NR / 2 : 1;
	char *p = arg->p;
	long kb, off;

	if (fa->how == FAIL_MEMCG ? memcg_limit_self() :
	    knob_write("/proc/self/make-it-fail", "1"))
		return B_SETUP;
	for (int pg = 0; pg < nw; pg++)
		write_page(p, pg, 1);
	if (fa->how == FAIL_FPA)
		knob_write("/proc/self/make-it-fail", "0");
	kb = pmd_kb(p);
	CHECK(B_PMD, kb == (LEN - PMD_SZ) / 1024,
	      "AnonHugePages %ld kB: THP 0 must stay split", kb);
	CHECK(B_CNT, proc_vmstat("cow_thp_split") - sp0 == 1,
	      "cow_thp_split +%lld", proc_vmstat("cow_thp_split") - sp0);
	CHECK(B_CNT, proc_vmstat("cow_thp_copy") == cp0,
	      "cow_thp_copy +%lld while THPs cannot be allocated",
	      proc_vmstat("cow_thp_copy") - cp0);
	CHECK(B_CNT, proc_vmstat("cow_thp_copy_fallback") - fb0 == (policy == COPY),
	      "cow_thp_copy_fallback +%lld",
	      proc_vmstat("cow_thp_copy_fallback") - fb0);
	CHECK(B_CNT, proc_vmstat("cow_thp_recollapse") == rc0,
	      "cow_thp_recollapse +%lld", proc_vmstat("cow_thp_recollapse") - rc0);
	CHECK(B_CNT, proc_vmstat("cow_thp_recollapse_fail") - rf0 ==
		     (policy == ADAPTIVE),
	      "cow_thp_recollapse_fail +%lld",
	      proc_vmstat("cow_thp_recollapse_fail") - rf0);
	off = check(p, 0, nw * PG, 1);
	if (off < 0)
		off = check(p, nw * PG, LEN, 0);
	CHECK(B_BYTES, off < 0, "child byte %ld wrong", off);
	pfns(p, now);
	for (int i = 0; i < NR_PMD * PMD_NR; i++)
		moved += now[i] != arg->parent_pfn[i];
	CHECK(B_PFN, moved == nw, "%d pages moved for %d writes", moved, nw);
	for (int i = 0; i < nw; i++)
		CHECK(B_EXCL, pagemap(p + i * PG) & PM_EXCL,
		      "written page %d not exclusive", i);
	/* the injection is off: the next copy/collapse may allocate again */
	return bad;
}

TEST_F_TIMEOUT(thpcow, alloc_failure, 180)
{
	struct fail_arg a = { { self->p, self->parent_pfn }, FAIL_FPA };
	long inj;
	int bad;

	if (fpa_aim(9))
		SKIP(return, "no fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC: debug kernel)");

	bad = child(alloc_fail_child, &a, &variant->policy);
	inj = fpa_off();
	/*
	 * copy and adaptive try at least once (their fallback counters say
	 * where); with THP "always" the child's other anonymous faults may
	 * try too, so split is not held to 0
	 */
	TH_LOG("%ld order-9 allocations failed by injection", inj);
	if (variant->policy != SPLIT)
		EXPECT_LE(1, inj);
	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
	bad = parent_intact(self);
	EXPECT_EQ(0, bad) TH_LOG("parent failure bits %#x", bad);
}

/*
 * The same with a memory cgroup limit instead of fault injection (any
 * kernel with the memory controller): the child must not be OOM-killed
 * (child() reports a signal as B_SETUP) and the cgroup records no OOM.
 */
TEST_F_TIMEOUT(thpcow, memcg_limit, 180)
{
	struct fail_arg a = { { self->p, self->parent_pfn }, FAIL_MEMCG };
	const char *why = memcg_fresh(CG);
	char ev[512], *oom;
	int bad, fd;
	ssize_t n;

	if (why)
		SKIP(return, "%s", why);
	bad = child(alloc_fail_child, &a, &variant->policy);
	fd = open(CG "/memory.events", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, ev, sizeof(ev) - 1);
	if (fd >= 0)
		close(fd);
	ev[n > 0 ? n : 0] = 0;
	rmdir(CG);
	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
	oom = strstr(ev, "oom_kill ");
	EXPECT_TRUE(oom && atol(oom + 9) == 0) TH_LOG("memory.events: %s", ev);
	bad = parent_intact(self);
	EXPECT_EQ(0, bad) TH_LOG("parent failure bits %#x", bad);
}

/* ---- mTHP whole-folio COW (patch 0012): vm.cow_mthp_copy ---- */

#define MTHP_KNOB "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"
#define MTHP_NR		16			/* pages of a 64 KiB folio */
#define MTHP_LEN	(64 * 64 * 1024UL)	/* 64 folios */

FIXTURE(mthpcow) {
	char *raw, *p;
	char old_knob[64];
	int old_copy;
	uint64_t parent_pfn[MTHP_LEN / PG];
};

FIXTURE_VARIANT(mthpcow) {
	int copy;
};

FIXTURE_VARIANT_ADD(mthpcow, off) { .copy = 0 };
FIXTURE_VARIANT_ADD(mthpcow, whole) { .copy = 1 };

static void pfns_n(const char *p, uint64_t *out, size_t n)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);

	memset(out, 0, n * 8);
	if (fd >= 0) {
		if (pread(fd, out, n * 8, (uintptr_t)p / PG * 8) < 0)
			memset(out, 0, n * 8);
		close(fd);
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (out[i] & PM_PRESENT) ? PM_PFN(out[i]) : 0;
}

FIXTURE_SETUP(mthpcow)
{
	self->raw = NULL;
	self->old_knob[0] = 0;
	self->old_copy = sysctl_val("cow_mthp_copy");
	if (self->old_copy < 0)
		SKIP(return, "no vm.cow_mthp_copy (kernel without patch 0012)");
	if (knob_read(MTHP_KNOB, self->old_knob, sizeof(self->old_knob)))
		SKIP(return, "no 64 KiB mTHP size");
	ASSERT_EQ(0, knob_write(MTHP_KNOB, "always"));
	ASSERT_EQ(0, sysctl_set("cow_mthp_copy", variant->copy));
	self->raw = mmap(NULL, MTHP_LEN + PMD_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->raw);
	self->p = (char *)(((uintptr_t)self->raw + PMD_SZ - 1) & ~(PMD_SZ - 1));
	for (size_t i = 0; i < MTHP_LEN; i++)
		self->p[i] = (char)pat(i, 0);
	if (pmd_kb(self->p) != 0)
		SKIP(return, "PMD THPs in the region (THP enabled=always?)");
	pfns_n(self->p, self->parent_pfn, MTHP_LEN / PG);
	/* every folio must be a 64 KiB one: 16 consecutive PFNs, aligned */
	for (size_t i = 0; i < MTHP_LEN / PG; i++)
		if (!self->parent_pfn[i] ||
		    self->parent_pfn[i] != self->parent_pfn[i - i % MTHP_NR] + i % MTHP_NR ||
		    self->parent_pfn[i - i % MTHP_NR] % MTHP_NR)
			SKIP(return, "page %zu is not in a 64 KiB folio: no mTHP", i);
}

FIXTURE_TEARDOWN(mthpcow)
{
	char *b = strchr(self->old_knob, '['), *e = b ? strchr(b, ']') : NULL;

	if (self->raw)
		munmap(self->raw, MTHP_LEN + PMD_SZ);
	if (self->old_copy >= 0)
		sysctl_set("cow_mthp_copy", self->old_copy);
	if (b && e) {
		*e = 0;
		knob_write(MTHP_KNOB, b + 1);
	}
}

struct mthp_arg {
	char *p;
	const uint64_t *parent_pfn;
	int copy;
};

/*
 * One byte in page 3 of folio 5: off, 1 page moves (cow_copy +1); whole,
 * the 16 pages of folio 5 move to one new 64 KiB folio (cow_mthp_copy +1),
 * all exclusive; writing the other 15 then copies nothing. A folio with a
 * page zapped (MADV_DONTNEED) falls back to 4K (cow_mthp_copy_fallback +1).
 */
static int mthp_child(void *a, const void *v)
{
	const struct mthp_arg *arg = a;
	static uint64_t now[MTHP_LEN / PG];
	long long mc0 = proc_vmstat("cow_mthp_copy");
	long long fb0 = proc_vmstat("cow_mthp_copy_fallback");
	long long cc0 = proc_vmstat("cow_copy"), cc1;
	size_t f5 = 5 * MTHP_NR, f9 = 9 * MTHP_NR;
	char *p = arg->p;
	int bad = 0, moved = 0;
	long off;

	(void)v;
	/* our own COW faults (bss, heap) before the counters are read */
	memset(now, 0, sizeof(now));
	mc0 = proc_vmstat("cow_mthp_copy");
	fb0 = proc_vmstat("cow_mthp_copy_fallback");
	cc0 = proc_vmstat("cow_copy");
	p[(f5 + 3) * PG + 9] = (char)pat((f5 + 3) * PG + 9, 1);
	pfns_n(p, now, MTHP_LEN / PG);
	for (size_t i = 0; i < MTHP_LEN / PG; i++)
		moved += now[i] != arg->parent_pfn[i];
	if (arg->copy) {
		CHECK(B_PFN, moved == MTHP_NR, "%d pages moved, want 16", moved);
		for (int i = 0; i < MTHP_NR; i++) {
			CHECK(B_PFN, now[f5 + i] == now[f5] + i &&
				     now[f5 + i] != arg->parent_pfn[f5 + i],
			      "page %d of the copy", i);
			CHECK(B_EXCL, pagemap(p + (f5 + i) * PG) & PM_EXCL,
			      "page %d not exclusive", i);
		}
		CHECK(B_CNT, proc_vmstat("cow_mthp_copy") - mc0 == 1,
		      "cow_mthp_copy +%lld", proc_vmstat("cow_mthp_copy") - mc0);
	} else {
		CHECK(B_PFN, moved == 1 && now[f5 + 3] != arg->parent_pfn[f5 + 3],
		      "%d pages moved, want 1", moved);
		CHECK(B_CNT, proc_vmstat("cow_mthp_copy") == mc0,
		      "cow_mthp_copy moved with the option off");
	}
	/* system-wide, and our own stack may COW: a bound, not an equality */
	if (!arg->copy)
		CHECK(B_CNT, proc_vmstat("cow_copy") - cc0 >= 1,
		      "cow_copy +%lld", proc_vmstat("cow_copy") - cc0);
	/* the rest of folio 5: reuse after a whole copy */
	cc0 = proc_vmstat("cow_copy");
	for (int i = 0; i < MTHP_NR; i++)
		if (i != 3)
			write_page(p, f5 + i, 1);
	p[(f5 + 3) * PG + 9] = (char)pat((f5 + 3) * PG + 9, 0);
	write_page(p, f5 + 3, 1);
	cc1 = proc_vmstat("cow_copy");
	if (arg->copy)
		CHECK(B_CNT, cc1 - cc0 <= 2,
		      "cow_copy +%lld for the other 15 pages", cc1 - cc0);
	else
		CHECK(B_CNT, cc1 - cc0 >= MTHP_NR - 1,
		      "cow_copy +%lld for the other 15 pages", cc1 - cc0);
	/* a folio with a hole: 4K */
	madvise(p + (f9 + 15) * PG, PG, MADV_DONTNEED);
	fb0 = proc_vmstat("cow_mthp_copy_fallback");
	mc0 = proc_vmstat("cow_mthp_copy");
	write_page(p, f9, 1);
	CHECK(B_CNT, proc_vmstat("cow_mthp_copy") == mc0,
	      "folio with a hole copied whole");
	if (arg->copy)
		CHECK(B_CNT, proc_vmstat("cow_mthp_copy_fallback") - fb0 == 1,
		      "cow_mthp_copy_fallback +%lld",
		      proc_vmstat("cow_mthp_copy_fallback") - fb0);
	/* bytes: folio 5 and page f9 new, f9+15 zero, the rest old */
	for (size_t pg = 0; pg < MTHP_LEN / PG; pg++) {
		int gen = (pg >= f5 && pg < f5 + MTHP_NR) || pg == f9;

		if (pg == f9 + 15) {
			CHECK(B_BYTES, p[pg * PG] == 0 && p[pg * PG + PG - 1] == 0,
			      "zapped page not zero");
			continue;
		}
		off = check(p, pg * PG, (pg + 1) * PG, gen);
		if (off >= 0) {
			CHECK(B_BYTES, 0, "byte %ld wrong", off);
			break;
		}
	}
	return bad;
}

TEST_F_TIMEOUT(mthpcow, whole_folio, 120)
{
	struct mthp_arg a = { self->p, self->parent_pfn, variant->copy };
	static uint64_t now[MTHP_LEN / PG];
	int bad = child(mthp_child, &a, NULL);

	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
	EXPECT_EQ(-1, check(self->p, 0, MTHP_LEN, 0));
	pfns_n(self->p, now, MTHP_LEN / PG);
	EXPECT_EQ(0, memcmp(now, self->parent_pfn, sizeof(now)));
}

/* Soft-dirty: after clear_refs, only the written page is soft-dirty. */
static int mthp_sd_child(void *a, const void *v)
{
	const struct mthp_arg *arg = a;
	int fd = open("/proc/self/clear_refs", O_WRONLY), bad = 0;
	size_t f2 = 2 * MTHP_NR;

	(void)v;
	if (fd < 0 || write(fd, "4", 1) != 1)
		return B_SETUP;
	close(fd);
	arg->p[(f2 + 7) * PG] ^= 1;
	for (int i = 0; i < MTHP_NR; i++) {
		int sd = !!(pagemap(arg->p + (f2 + i) * PG) & (1ULL << 55));

		CHECK(B_PFN, sd == (i == 7), "page %d soft-dirty %d", i, sd);
	}
	return bad;
}

TEST_F_TIMEOUT(mthpcow, soft_dirty_exact, 120)
{
	struct mthp_arg a = { self->p, self->parent_pfn, variant->copy };
	int bad = child(mthp_sd_child, &a, NULL);

	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
}

/*
 * Every order >= 4 allocation of the child fails: whole: the 64 KiB copy
 * cannot be allocated, the write falls back to a 4K copy
 * (cow_mthp_copy_fallback +1, one page moved); off: a 4K copy as always.
 */
static int mthp_fail_child(void *a, const void *v)
{
	const struct mthp_arg *arg = a;
	static uint64_t now[MTHP_LEN / PG];
	long long mc0, fb0;
	size_t f7 = 7 * MTHP_NR;
	int bad = 0, moved = 0;
	long off;

	(void)v;
	memset(now, 0, sizeof(now));
	mc0 = proc_vmstat("cow_mthp_copy");
	fb0 = proc_vmstat("cow_mthp_copy_fallback");
	if (knob_write("/proc/self/make-it-fail", "1"))
		return B_SETUP;
	write_page(arg->p, f7 + 2, 1);
	knob_write("/proc/self/make-it-fail", "0");
	CHECK(B_CNT, proc_vmstat("cow_mthp_copy") == mc0,
	      "cow_mthp_copy +%lld while 64 KiB folios cannot be allocated",
	      proc_vmstat("cow_mthp_copy") - mc0);
	CHECK(B_CNT, proc_vmstat("cow_mthp_copy_fallback") - fb0 == arg->copy,
	      "cow_mthp_copy_fallback +%lld",
	      proc_vmstat("cow_mthp_copy_fallback") - fb0);
	pfns_n(arg->p, now, MTHP_LEN / PG);
	for (size_t i = 0; i < MTHP_LEN / PG; i++)
		moved += now[i] != arg->parent_pfn[i];
	CHECK(B_PFN, moved == 1 && now[f7 + 2] != arg->parent_pfn[f7 + 2],
	      "%d pages moved, want page 2 of folio 7", moved);
	CHECK(B_EXCL, pagemap(arg->p + (f7 + 2) * PG) & PM_EXCL,
	      "written page not exclusive");
	off = check(arg->p, 0, (f7 + 2) * PG, 0);
	if (off < 0)
		off = check(arg->p, (f7 + 2) * PG, (f7 + 3) * PG, 1);
	if (off < 0)
		off = check(arg->p, (f7 + 3) * PG, MTHP_LEN, 0);
	CHECK(B_BYTES, off < 0, "byte %ld wrong", off);
	return bad;
}

TEST_F_TIMEOUT(mthpcow, alloc_failure, 120)
{
	struct mthp_arg a = { self->p, self->parent_pfn, variant->copy };
	static uint64_t now[MTHP_LEN / PG];
	long inj;
	int bad;

	if (fpa_aim(4))
		SKIP(return, "no fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC: debug kernel)");

	bad = child(mthp_fail_child, &a, NULL);
	inj = fpa_off();
	TH_LOG("%ld order>=4 allocations failed by injection", inj);
	if (variant->copy)
		EXPECT_LE(1, inj);
	EXPECT_EQ(0, bad) TH_LOG("child failure bits %#x", bad);
	EXPECT_EQ(-1, check(self->p, 0, MTHP_LEN, 0));
	pfns_n(self->p, now, MTHP_LEN / PG);
	EXPECT_EQ(0, memcmp(now, self->parent_pfn, sizeof(now)));
}

TEST_HARNESS_MAIN
