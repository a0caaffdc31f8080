// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab guest tests of COW pre-copy (patches 0006-0008): vm.cow_precopy_max,
 * vm.cow_precopy_mode, the cow_precopy* counters of /proc/vmstat, the
 * madvise hints and PR_SET_COW_PRECOPY.
 *
 * Every test maps its own private anonymous region as a VMA of its own
 * (PROT_NONE guard VMAs around it, MADV_NOHUGEPAGE), fills it, forks, and
 * lets the child write while the parent keeps the pages shared.  The child
 * checks what it sees: bytes, /proc/self/pagemap (bit 56 PM_MMAP_EXCLUSIVE:
 * a pre-copied page is exclusive before it is written; bit 55 soft-dirty)
 * and the deltas of the global vmstat counters around its writes.
 *
 * The counters are system wide: another process of the guest (the runner's
 * tee and awk) can move them while a child measures.  A child that only
 * sees wrong counters exits with RETRY, and the test runs again, up to
 * ATTEMPTS times; a wrong byte or pagemap bit fails at once.
 *
 * The large_* tests cover vm.cow_precopy_large (patch 0015): their regions
 * have no MADV_NOHUGEPAGE (the guest's THP "madvise" mode gives them 4K
 * pages), and /proc/kpageflags tells the 16-page copies from order-0 ones.
 *
 * Needs root and a kernel with the series (the sysctls); skips otherwise.
 * The tests set vm.cow_precopy_max/mode/large themselves and restore them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "region.h"
#include "harness.h"
#include "inject.h"
#include "mm/gup_test.h"
#include "../../userspace-bench/cowlab_uapi.h"

#define PG		4096UL
#define PMD_SZ		(2UL << 20)

/* ---- sysctls (sysctl_get/sysctl_set: knob.h) ---- */

static int precopy_set(int max, int mode)
{
	return sysctl_set("cow_precopy_mode", mode) ||
	       sysctl_set("cow_precopy_max", max);
}

/* ---- /proc/vmstat (static buffer: no stack or heap growth) ---- */

struct vmc {
	union {
		struct {
			long precopy, used, wasted, copy, reuse, ksm, large;
		};
		long v[7];
	};
};

COUNTERS(vmc, "cow_precopy", "cow_precopy_used", "cow_precopy_wasted",
	 "cow_copy", "pgreuse", "cow_ksm", "cow_precopy_large")

/*
 * After fork every private page of the child is shared: touch the stack
 * and the vmstat buffer once so that the measured window only faults on
 * the region under test.
 */
static void __attribute__((noinline)) warmup(void)
{
	char stack[64 * 1024];
	struct vmc c;

	memset(stack, 1, sizeof(stack));
	__asm__ volatile("" : : "r"(stack) : "memory");
	vmc_read(&c);
	vmc_read(&c);
}

/* ---- pagemap ---- */

static int excl(char *p, long i)
{
	uint64_t e = pagemap(p + i * PG);

	return (e & PM_PRESENT) && (e & PM_EXCL);
}

static int soft_dirty(char *p, long i)
{
	return !!(pagemap(p + i * PG) & PM_SOFT_DIRTY);
}

/* ---- region ---- */

static inline uint64_t orig_word(long page, long k)
{
	return ((uint64_t)page << 40) ^ ((uint64_t)k * 0x9E3779B97F4A7C15ULL) ^
	       0x0123456789abcdefULL;
}

/*
 * @n pages of private anonymous memory, a VMA of its own, starting @off
 * pages after a 2 MB boundary (negative: before it), madvise()d @adv
 * (-1: none).  Not populated.
 */
static char *region_map_adv(long n, long off, int adv)
{
	size_t span = 4 * PMD_SZ + n * PG;
	char *res = mmap(NULL, span, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p;

	if (res == MAP_FAILED)
		return NULL;
	p = (char *)((((uintptr_t)res + 2 * PMD_SZ) & ~(PMD_SZ - 1)) +
		     off * (long)PG);
	if (mprotect(p, n * PG, PROT_READ | PROT_WRITE))
		return NULL;
	if (adv >= 0)
		madvise(p, n * PG, adv);
	return p;
}

/* region_map_adv() with MADV_NOHUGEPAGE: order-0 pages whatever THP says */
static char *region_map(long n, long off)
{
	return region_map_adv(n, off, MADV_NOHUGEPAGE);
}

static void region_fill(char *p, long n)
{
	for (long i = 0; i < n; i++) {
		uint64_t *w = (uint64_t *)(p + i * PG);

		for (long k = 0; k < (long)(PG / 8); k++)
			w[k] = orig_word(i, k);
	}
}

/* 0 when page @i holds its original bytes */
static int page_is_orig(char *p, long i)
{
	uint64_t *w = (uint64_t *)(p + i * PG);

	for (long k = 0; k < (long)(PG / 8); k++)
		if (w[k] != orig_word(i, k))
			return -1;
	return 0;
}

static char *region_new(long n, long off)
{
	char *p = region_map(n, off);

	if (p)
		region_fill(p, n);
	return p;
}

/* ---- fork helper ---- */

typedef int (*child_fn)(char *p, long n, void *arg);

/* Run @fn in a child on the (shared) region; return its exit code. */
static int run_child(char *p, long n, child_fn fn, void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return FAIL;
	if (pid == 0)
		_exit(fn(p, n, arg));
	if (waitpid(pid, &status, 0) != pid)
		return FAIL;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "# child killed by signal %d\n",
			WTERMSIG(status));
		return FAIL;
	}
	return WEXITSTATUS(status);
}

typedef int (*prep_fn)(char *p, long n, void *arg);

/*
 * A fresh region of @n pages starting @off pages after a 2 MB boundary,
 * filled, @prep applied when given, then @fn in a child on it; a new region
 * and child while the child says RETRY, ATTEMPTS times. The child's verdict.
 */
static int run_fresh(long n, long off, prep_fn prep, child_fn fn, void *arg)
{
	int rc = RETRY;

	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++) {
		char *p = region_new(n, off);

		if (!p)
			return FAIL;
		if (prep && prep(p, n, arg))
			rc = FAIL;
		else
			rc = run_child(p, n, fn, arg);
		munmap(p, n * PG);
	}
	return rc;
}

static inline void wr(char *p, long i)
{
	*(volatile char *)(p + i * PG) ^= 0xff;
}

/* write page @i; @d: the counters' change around the write */
static void write_counted(char *p, long i, struct vmc *d)
{
	struct vmc a, b;

	vmc_read(&a);
	wr(p, i);
	vmc_read(&b);
	vmc_delta(d, &a, &b);
}

/* unmap the region of @n pages; @d: the counters' change around it */
static void munmap_counted(char *p, long n, struct vmc *d)
{
	struct vmc a, b;

	vmc_read(&a);
	munmap(p, n * PG);
	vmc_read(&b);
	vmc_delta(d, &a, &b);
}

static inline int written_ok(char *p, long i)
{
	return (uint8_t)p[i * PG] == (uint8_t)(orig_word(i, 0) ^ 0xff);
}

/* ---- fixture: save and restore the sysctls in the harness parent ---- */

/*
 * PRECOPY_FIXTURE(name): skip without pre-copy or root; the sysctls off for
 * each case and restored after it, in the harness parent.
 */
#define PRECOPY_FIXTURE(name)                                                \
	FIXTURE(name) {                                                      \
		int max, mode, large;                                        \
		int have, have_large;                                        \
	};                                                                   \
	FIXTURE_SETUP(name)                                                  \
	{                                                                    \
		self->have = !sysctl_get("cow_precopy_max", &self->max) &&   \
			     !sysctl_get("cow_precopy_mode", &self->mode);   \
		if (!self->have)                                             \
			SKIP(return,                                         \
			     "no vm.cow_precopy_max: kernel without pre-copy"); \
		if (geteuid())                                               \
			SKIP(return, "needs root to set vm.cow_precopy_*");  \
		self->have_large = !sysctl_get("cow_precopy_large",          \
					       &self->large);                \
		ASSERT_EQ(0, precopy_set(0, 0));                             \
		if (self->have_large)                                        \
			ASSERT_EQ(0, sysctl_set("cow_precopy_large", 0));    \
	}                                                                    \
	FIXTURE_TEARDOWN_PARENT(name)                                        \
	{                                                                    \
		if (self->have)                                              \
			precopy_set(self->max, self->mode);                  \
		if (self->have_large)                                        \
			sysctl_set("cow_precopy_large", self->large);        \
	}

PRECOPY_FIXTURE(precopy);

/* ---- counters with a fixed window ---- */

static int child_fixed_window(char *p, long n, void *arg)
{
	struct vmc a, b, d;

	warmup();
	write_counted(p, 0, &d);
	/* pagemap first: it does not depend on other processes */
	for (long i = 1; i < n; i++) {
		if (excl(p, i) != (i <= 8))
			CFAIL("page %ld: exclusive=%d after writing page 0",
			      i, excl(p, i));
		if (page_is_orig(p, i))
			CFAIL("page %ld changed by pre-copy", i);
	}
	if (d.precopy != 8 || d.copy != 1 || d.used)
		CRETRY("write 0: precopy %ld copy %ld used %ld (want 8 1 0)",
		       d.precopy, d.copy, d.used);

	vmc_read(&a);
	for (long i = 1; i <= 8; i++)
		wr(p, i);
	vmc_read(&b);
	vmc_delta(&d, &a, &b);
	if (d.used != 8 || d.copy || d.precopy || d.reuse < 8)
		CRETRY("write 1..8: used %ld copy %ld precopy %ld reuse %ld",
		       d.used, d.copy, d.precopy, d.reuse);

	write_counted(p, 9, &d);
	/* 10..15: clamped by the end of the VMA */
	if (d.precopy != 6 || d.copy != 1)
		CRETRY("write 9: precopy %ld copy %ld (want 6 1)",
		       d.precopy, d.copy);
	for (long i = 0; i < n; i++) {
		if (i <= 9 ? !written_ok(p, i) : page_is_orig(p, i))
			CFAIL("page %ld: wrong bytes", i);
	}

	munmap_counted(p, n, &d);
	if (d.wasted != 6)
		CRETRY("munmap: wasted %ld (want 6)", d.wasted);
	return OK;
}

TEST_F_TIMEOUT(precopy, counters_fixed_window, 120)
{
	ASSERT_EQ(0, precopy_set(8, 0));
	ASSERT_EQ(OK, run_fresh(16, 0, NULL, child_fixed_window, NULL));
}

/* ---- integrity: parent and child always see their own bytes ---- */

struct integ {
	int pattern;	/* 0 seq, 1 rev, 2 rand, 3 stride 3 */
	int both;	/* the parent writes too, concurrently */
	int go[2];	/* pipe: start */
};

static void order_make(long *ord, long n, int pattern)
{
	uint64_t s = 42;

	for (long i = 0; i < n; i++) {
		switch (pattern) {
		case 1:
			ord[i] = n - 1 - i;
			break;
		case 3:
			ord[i] = 3 * i < n ? 3 * i : -1;
			break;
		default:
			ord[i] = i;
			break;
		}
	}
	if (pattern != 2)
		return;
	for (long i = n - 1; i > 0; i--) {
		long j, t;

		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (long)((s >> 33) % (uint64_t)(i + 1));
		t = ord[i];
		ord[i] = ord[j];
		ord[j] = t;
	}
}

/* what @side (0 child, 1 parent) writes to page @i, by kind */
static int writes_page(int side, int pattern, long i)
{
	if (side == 1)
		return i % 5 == 0;
	return pattern == 3 ? i % 3 == 0 : 1;
}

static void side_write(char *p, long n, const long *ord, int side,
		       int pattern)
{
	uint8_t x = side ? 0x5a : 0xff;

	for (long k = 0; k < n; k++) {
		long i = ord[k];
		char *pg;

		if (i < 0)
			break;
		if (!writes_page(side, pattern, i))
			continue;
		pg = p + i * PG;
		switch (i % 3) {
		case 0:		/* whole page */
			for (long b = 0; b < (long)PG; b++)
				pg[b] ^= x;
			break;
		case 1:		/* first byte */
			pg[0] ^= x;
			break;
		default:	/* the last 100 bytes */
			for (long b = PG - 100; b < (long)PG; b++)
				pg[b] ^= x;
			break;
		}
	}
}

static int side_verify(char *p, long n, int side, int pattern, int wrote)
{
	uint8_t x = side ? 0x5a : 0xff;
	uint64_t exp[PG / 8];

	for (long i = 0; i < n; i++) {
		uint8_t *e = (uint8_t *)exp;

		for (long k = 0; k < (long)(PG / 8); k++)
			exp[k] = orig_word(i, k);
		if (wrote && writes_page(side, pattern, i)) {
			switch (i % 3) {
			case 0:
				for (long b = 0; b < (long)PG; b++)
					e[b] ^= x;
				break;
			case 1:
				e[0] ^= x;
				break;
			default:
				for (long b = PG - 100; b < (long)PG; b++)
					e[b] ^= x;
				break;
			}
		}
		if (memcmp(exp, p + i * PG, PG)) {
			for (long b = 0; b < (long)PG; b++)
				if (e[b] != (uint8_t)p[i * PG + b])
					CFAIL("%s view: page %ld byte %ld: want %#x got %#x",
					      side ? "parent" : "child", i, b,
					      e[b], (uint8_t)p[i * PG + b]);
		}
	}
	return OK;
}

static long integ_ord[1024];

static int integrity_once(int pattern, int both, long n, long off)
{
	char *p = region_new(n, off);
	int go[2], done[2], status, rc = OK;
	char c = 0;
	pid_t pid;

	if (!p || pipe(go) || pipe(done))
		return FAIL;
	order_make(integ_ord, n, pattern);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return FAIL;
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(FAIL);
		side_write(p, n, integ_ord, 0, pattern);
		rc = side_verify(p, n, 0, pattern, 1);
		/* once more after the parent is done */
		if (!rc && read(done[0], &c, 1) == 1)
			rc = side_verify(p, n, 0, pattern, 1);
		_exit(rc);
	}
	if (write(go[1], &c, 1) != 1)
		rc = FAIL;
	if (both) {
		long ord2[1024];

		order_make(ord2, n, pattern == 1 ? 1 : 0);
		side_write(p, n, ord2, 1, pattern);
	}
	if (!rc)
		rc = side_verify(p, n, 1, pattern, both);
	if (write(done[1], &c, 1) != 1)
		rc = FAIL;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return FAIL;
	if (!rc)
		rc = WEXITSTATUS(status);
	if (!rc)
		rc = side_verify(p, n, 1, pattern, both);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	munmap(p, n * PG);
	return rc;
}

static void integrity(struct __test_metadata *_metadata, int pattern)
{
	static const int settings[][2] = {
		{ 0, 0 }, { 1, 0 }, { 8, 0 }, { 64, 0 }, { 16, 1 }, { 64, 1 },
		{ 8, 2 }, { 64, 2 },
	};

	for (unsigned int s = 0; s < sizeof(settings) / sizeof(settings[0]);
	     s++) {
		ASSERT_EQ(0, precopy_set(settings[s][0], settings[s][1]));
		for (int both = 0; both < 2; both++) {
			/* 600 pages straddling a 2 MB boundary */
			int rc = integrity_once(pattern, both, 600, -300);

			if (rc)
				TH_LOG("max=%d mode=%d both=%d: failed",
				       settings[s][0], settings[s][1], both);
			ASSERT_EQ(OK, rc);
		}
	}
}

TEST_F_TIMEOUT(precopy, integrity_seq, 300) { integrity(_metadata, 0); }
TEST_F_TIMEOUT(precopy, integrity_rev, 300) { integrity(_metadata, 1); }
TEST_F_TIMEOUT(precopy, integrity_rand, 300) { integrity(_metadata, 2); }
TEST_F_TIMEOUT(precopy, integrity_stride, 300) { integrity(_metadata, 3); }

/* ---- never across a VMA boundary ---- */

static int child_vma_boundary(char *p, long n, void *arg)
{
	struct vmc d;

	warmup();
	write_counted(p, 5, &d);
	for (long i = 0; i < n; i++)
		if (excl(p, i) != (i >= 5 && i <= 7))
			CFAIL("write 5: page %ld exclusive=%d", i, excl(p, i));
	if (d.precopy != 2 || d.copy != 1)
		CRETRY("write 5: precopy %ld copy %ld (want 2 1)", d.precopy,
		       d.copy);
	return OK;
}

/* pages 8..15: another, still writable, private VMA */
static int split_vma(char *p, long n, void *arg)
{
	return mprotect(p + 8 * PG, 8 * PG, PROT_READ | PROT_WRITE | PROT_EXEC);
}

TEST_F_TIMEOUT(precopy, vma_boundary, 120)
{
	ASSERT_EQ(0, precopy_set(8, 0));
	ASSERT_EQ(OK, run_fresh(16, 0, split_vma, child_vma_boundary, NULL));
}

/* ---- never across a page table (2 MB) boundary ---- */

static int child_pmd_boundary(char *p, long n, void *arg)
{
	struct vmc a, b, d;

	warmup();
	vmc_read(&a);
	wr(p, 1);	/* pages 0..3 before the boundary, 4.. after it */
	vmc_read(&b);
	vmc_delta(&d, &a, &b);
	for (long i = 0; i < n; i++)
		if (excl(p, i) != (i >= 1 && i <= 3))
			CFAIL("write 1: page %ld exclusive=%d", i, excl(p, i));
	if (d.precopy != 2 || d.copy != 1)
		CRETRY("write 1: precopy %ld copy %ld (want 2 1)", d.precopy,
		       d.copy);
	return OK;
}

/* page 4 must start a page table */
static int pmd_aligned(char *p, long n, void *arg)
{
	return ((uintptr_t)(p + 4 * PG)) % PMD_SZ ? -1 : 0;
}

TEST_F_TIMEOUT(precopy, pmd_boundary, 120)
{
	ASSERT_EQ(0, precopy_set(8, 0));
	ASSERT_EQ(OK, run_fresh(16, -4, pmd_aligned, child_pmd_boundary, NULL));
}

/* ---- exclusive pages are not pre-copied ---- */

static int child_exclusive(char *p, long n, void *arg)
{
	struct vmc d;

	wr(p, 2);	/* copies with pre-copy off: exclusive now */
	wr(p, 4);
	if (precopy_set(8, 0))
		CFAIL("cannot set vm.cow_precopy_max");
	warmup();
	write_counted(p, 0, &d);
	if (!written_ok(p, 2) || !written_ok(p, 4) || !written_ok(p, 0))
		CFAIL("lost a write");
	for (long i = 1; i < n; i++)
		if (excl(p, i) != (i <= 8))
			CFAIL("page %ld exclusive=%d", i, excl(p, i));
	/* 1..8 minus the two exclusive pages */
	if (d.precopy != 6 || d.copy != 1)
		CRETRY("precopy %ld copy %ld (want 6 1)", d.precopy, d.copy);
	return OK;
}

TEST_F_TIMEOUT(precopy, exclusive_not_precopied, 120)
{
	ASSERT_EQ(0, precopy_set(0, 0));
	ASSERT_EQ(OK, run_fresh(16, 0, NULL, child_exclusive, NULL));
}

/* ---- a read-only neighbour VMA stays read-only ---- */

static sigjmp_buf segv_env;

static void segv_handler(int sig)
{
	siglongjmp(segv_env, 1);
}

static int child_readonly(char *p, long n, void *arg)
{
	struct sigaction sa = { .sa_handler = segv_handler };
	struct vmc d;

	warmup();
	write_counted(p, 0, &d);
	for (long i = 1; i < n; i++)
		if (excl(p, i) != (i <= 3))
			CFAIL("page %ld exclusive=%d", i, excl(p, i));
	sigaction(SIGSEGV, &sa, NULL);
	for (long i = 4; i < n; i++) {
		if (sigsetjmp(segv_env, 1) == 0) {
			wr(p, i);
			CFAIL("write to read-only page %ld did not fault", i);
		}
		if (page_is_orig(p, i))
			CFAIL("read-only page %ld changed", i);
	}
	if (d.precopy != 3)
		CRETRY("precopy %ld (want 3)", d.precopy);
	return OK;
}

static int readonly_4_15(char *p, long n, void *arg)
{
	return mprotect(p + 4 * PG, 12 * PG, PROT_READ);
}

TEST_F_TIMEOUT(precopy, readonly_neighbour_stays_readonly, 120)
{
	ASSERT_EQ(0, precopy_set(8, 0));
	ASSERT_EQ(OK, run_fresh(16, 0, readonly_4_15, child_readonly, NULL));
}

/* ---- generic "write these pages, expect this" child ---- */

struct expect {
	const long *ord;	/* pages to write, -1 terminated */
	long precopy;		/* exact, or -1 */
	long precopy_max;	/* upper bound when precopy is -1 */
	long copy_max;		/* upper bound of cow_copy, or -1 */
	int all_used;		/* every pre-copied page was written */
	int check_wasted;	/* munmap: wasted = precopy - used */
	int policy;		/* PR_SET_COW_PRECOPY first, unless 0 (default) */
	int madv;		/* advice on the region first, or 0 */
};

static int madvise_all(char *p, long n, void *arg)
{
	const struct expect *e = arg;

	return e->madv ? madvise(p, n * PG, e->madv) : 0;
}

static int child_expect(char *p, long n, void *arg)
{
	const struct expect *e = arg;
	struct vmc a, b, d, m1;
	long w = 0;

	if (e->policy && prctl(PR_SET_COW_PRECOPY, e->policy, 0, 0, 0))
		CFAIL("PR_SET_COW_PRECOPY %d: %s", e->policy,
		      strerror(errno));
	warmup();
	vmc_read(&a);
	for (long k = 0; e->ord[k] >= 0; k++, w++)
		wr(p, e->ord[k]);
	vmc_read(&b);
	vmc_delta(&d, &a, &b);
	for (long k = 0; e->ord[k] >= 0; k++)
		if (!written_ok(p, e->ord[k]))
			CFAIL("page %ld lost its write", e->ord[k]);
	if (e->precopy >= 0 && d.precopy != e->precopy)
		CRETRY("precopy %ld (want %ld), copy %ld", d.precopy,
		       e->precopy, d.copy);
	if (e->precopy < 0 && d.precopy > e->precopy_max)
		CRETRY("precopy %ld (want <= %ld)", d.precopy, e->precopy_max);
	if (e->copy_max >= 0 && d.copy > e->copy_max)
		CRETRY("copy %ld (want <= %ld)", d.copy, e->copy_max);
	if (d.copy + d.precopy < w - 2 || d.copy + d.precopy > w + 2 + n)
		CRETRY("copy %ld + precopy %ld for %ld writes", d.copy,
		       d.precopy, w);
	if (e->all_used && d.used != d.precopy)
		CRETRY("used %ld != precopy %ld", d.used, d.precopy);
	if (e->check_wasted) {
		vmc_read(&b);
		munmap(p, n * PG);
		vmc_read(&m1);
		vmc_delta(&b, &b, &m1);
		if (b.wasted != d.precopy - d.used)
			CRETRY("wasted %ld, precopy %ld used %ld", b.wasted,
			       d.precopy, d.used);
	}
	fprintf(stderr, "#   writes %ld: copy %ld precopy %ld used %ld\n", w,
		d.copy, d.precopy, d.used);
	return OK;
}

static long ord_buf[1024];

/* the writes of an expect case: ORD_* of order.h, or every stride-th page */
#define STRIDE 3

static long *ord_pattern(long n, int pattern, long stride)
{
	long k = 0;

	if (pattern == STRIDE) {
		for (long i = 0; i < n; i += stride)
			ord_buf[k++] = i;
		ord_buf[k] = -1;
		return ord_buf;
	}
	order_make(ord_buf, n, pattern);
	ord_buf[n] = -1;
	return ord_buf;
}

static int expect_run(long n, int madv, const struct expect *e)
{
	struct expect a = *e;

	a.madv = madv;
	return run_fresh(n, 0, madvise_all, child_expect, &a);
}

/*
 * Write pages in a pattern, count what pre-copy did: one row a case.
 * pattern: ORD_* of order.h (0 forward, 1 backward, 2 random), or STRIDE:
 * every stride-th page; -1 in an expect field: not checked.
 */
FIXTURE_VARIANT(precopy_expect) {
	int max, mode;		/* vm.cow_precopy_max, vm.cow_precopy_mode */
	long n;			/* pages of the region */
	int madv;		/* advice on the whole region, or 0 */
	int pattern;
	long stride;
	struct expect e;	/* .ord: from pattern and stride */
};

PRECOPY_FIXTURE(precopy_expect);

/* clang-format off */
/* MADV_RANDOM: no pre-copy, fixed window or adaptive */
FIXTURE_VARIANT_ADD(precopy_expect, madv_random_disables_fixed) {
	.max = 8, .mode = 0, .n = 64, .madv = MADV_RANDOM, .pattern = 0,
	.e = { .precopy = 0, .copy_max = 64 } };
FIXTURE_VARIANT_ADD(precopy_expect, madv_random_disables_adaptive) {
	.max = 8, .mode = 1, .n = 64, .madv = MADV_RANDOM, .pattern = 0,
	.e = { .precopy = 0, .copy_max = 64 } };
/* adaptive: a first COW copy alone starts nothing ... */
FIXTURE_VARIANT_ADD(precopy_expect, adaptive_first_copy_alone) {
	.max = 8, .mode = 1, .n = 16, .pattern = STRIDE, .stride = 16,
	.e = { .precopy = 0, .copy_max = 1 } };
/* ... but MADV_SEQUENTIAL asks for the whole window at once */
FIXTURE_VARIANT_ADD(precopy_expect, madv_sequential_max_window) {
	.max = 8, .mode = 1, .n = 16, .madv = MADV_SEQUENTIAL,
	.pattern = STRIDE, .stride = 16, .e = { .precopy = 8, .copy_max = 1 } };
/* 16 writes 16 pages apart: each pre-copies 8 pages never written */
FIXTURE_VARIANT_ADD(precopy_expect, fixed_stride_wastes_and_counts_it) {
	.max = 8, .mode = 0, .n = 256, .pattern = STRIDE, .stride = 16,
	.e = { .precopy = 128, .copy_max = 16, .check_wasted = 1 } };
FIXTURE_VARIANT_ADD(precopy_expect, adaptive_forward_stream) {
	.max = 16, .mode = 1, .n = 256, .pattern = 0,
	.e = { .precopy = -1, .precopy_max = 256, .copy_max = 32,
	       .all_used = 1, .check_wasted = 1 } };
FIXTURE_VARIANT_ADD(precopy_expect, adaptive_backward_stream) {
	.max = 16, .mode = 1, .n = 256, .pattern = 1,
	.e = { .precopy = -1, .precopy_max = 256, .copy_max = 32,
	       .all_used = 1, .check_wasted = 1 } };
FIXTURE_VARIANT_ADD(precopy_expect, adaptive_random_stays_small) {
	.max = 16, .mode = 1, .n = 256, .pattern = 2,
	.e = { .precopy = -1, .precopy_max = 64, .copy_max = -1,
	       .check_wasted = 1 } };
FIXTURE_VARIANT_ADD(precopy_expect, adaptive_stride_stays_small) {
	.max = 16, .mode = 1, .n = 256, .pattern = STRIDE, .stride = 16,
	.e = { .precopy = 0, .copy_max = -1 } };
/* clang-format on */

TEST_F_TIMEOUT(precopy_expect, run, 120)
{
	struct expect e = variant->e;

	e.ord = ord_pattern(variant->n, variant->pattern, variant->stride);
	ASSERT_EQ(0, precopy_set(variant->max, variant->mode));
	ASSERT_EQ(OK, expect_run(variant->n, variant->madv, &e));
}

/* ---- prctl ---- */

TEST_F_TIMEOUT(precopy, prctl_opt_out_and_max, 120)
{
	static long one[] = { 0, -1 };
	struct expect off = { .ord = one, .precopy = 0, .copy_max = 1,
			      .policy = PR_COW_PRECOPY_DISABLE };
	struct expect max = { .ord = one, .precopy = 8, .copy_max = 1,
			      .policy = PR_COW_PRECOPY_MAX };
	int st;
	pid_t pid;

	if (prctl(PR_GET_COW_PRECOPY, 0, 0, 0, 0) < 0)
		SKIP(return, "no PR_GET_COW_PRECOPY");
	ASSERT_EQ(PR_COW_PRECOPY_DEFAULT, prctl(PR_GET_COW_PRECOPY, 0, 0, 0, 0));
	ASSERT_EQ(-1, prctl(PR_SET_COW_PRECOPY, 3, 0, 0, 0));
	ASSERT_EQ(EINVAL, errno);

	/* inherited by fork() */
	ASSERT_EQ(0, prctl(PR_SET_COW_PRECOPY, PR_COW_PRECOPY_DISABLE, 0, 0, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(prctl(PR_GET_COW_PRECOPY, 0, 0, 0, 0) ==
		      PR_COW_PRECOPY_DISABLE ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, WEXITSTATUS(st));
	ASSERT_EQ(0, prctl(PR_SET_COW_PRECOPY, PR_COW_PRECOPY_DEFAULT, 0, 0, 0));

	ASSERT_EQ(0, precopy_set(8, 0));
	ASSERT_EQ(OK, expect_run(16, 0, &off));
	ASSERT_EQ(0, precopy_set(8, 1));
	ASSERT_EQ(OK, expect_run(16, 0, &max));
}

/* ---- zero page and large folios are not pre-copied ---- */

static int child_zero(char *p, long n, void *arg)
{
	struct vmc a, b, d;

	warmup();
	vmc_read(&a);
	wr(p, 0);	/* anon page: neighbours are the zero page */
	p[PG] = 1;	/* COW of the zero page */
	vmc_read(&b);
	vmc_delta(&d, &a, &b);
	for (long i = 2; i < n; i++)
		if (excl(p, i) || p[i * PG])
			CFAIL("zero page %ld: exclusive=%d byte %d", i,
			      excl(p, i), p[i * PG]);
	if (d.precopy)
		CRETRY("precopy %ld (want 0)", d.precopy);
	return OK;
}

TEST_F_TIMEOUT(precopy, zero_page_not_precopied, 120)
{
	int rc = RETRY;

	ASSERT_EQ(0, precopy_set(8, 0));
	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++) {
		char *p = region_map(16, 0);
		volatile char sink = 0;

		ASSERT_NE(NULL, p);
		for (long k = 0; k < (long)(PG / 8); k++)
			((uint64_t *)p)[k] = orig_word(0, k);
		for (long i = 1; i < 16; i++)
			sink += p[i * PG];	/* map the zero page */
		rc = run_child(p, 16, child_zero, NULL);
	}
	ASSERT_EQ(OK, rc);
}

static int child_thp(char *p, long n, void *arg)
{
	struct vmc d;

	warmup();
	write_counted(p, 0, &d);
	for (long i = 1; i < n; i++)
		if (excl(p, i))
			CFAIL("THP subpage %ld exclusive", i);
	if (!written_ok(p, 0) || page_is_orig(p, 1) || page_is_orig(p, 511))
		CFAIL("wrong bytes");
	if (d.precopy)
		CRETRY("precopy %ld (want 0)", d.precopy);
	return OK;
}

static long smaps_anon_huge_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

TEST_F_TIMEOUT(precopy, thp_not_precopied, 120)
{
	int rc = RETRY;

	ASSERT_EQ(0, precopy_set(8, 0));
	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++) {
		char *p = region_map(512, 0);

		ASSERT_NE(NULL, p);
		if (madvise(p, PMD_SZ, MADV_HUGEPAGE))
			SKIP(return, "MADV_HUGEPAGE: %s", strerror(errno));
		region_fill(p, 512);
		if (smaps_anon_huge_kb() < 2048)
			SKIP(return, "no THP for the region (THP disabled?)");
		rc = run_child(p, 512, child_thp, NULL);
	}
	ASSERT_EQ(OK, rc);
}

/* ---- pinned, KSM and uffd-wp pages ---- */

static int child_pinned(char *p, long n, void *arg)
{
	struct vmc d;

	warmup();
	write_counted(p, 0, &d);
	if (page_is_orig(p, 3))
		CFAIL("page 3 (pinned in the parent) wrong in the child");
	/* 1..8 minus page 3, which fork() copied because it was pinned */
	if (d.precopy != 7)
		CRETRY("precopy %ld (want 7)", d.precopy);
	wr(p, 3);
	return OK;
}

TEST_F_TIMEOUT(precopy, pinned_not_precopied, 120)
{
	struct pin_longterm_test pin;
	uint64_t buf[PG / 8], ubuf = (uintptr_t)buf;
	int fd, rc = RETRY;

	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0)
		SKIP(return, "no /sys/kernel/debug/gup_test (CONFIG_GUP_TEST)");
	ASSERT_EQ(0, precopy_set(8, 0));
	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++) {
		char *p = region_new(16, 0);

		ASSERT_NE(NULL, p);
		pin.addr = (uintptr_t)(p + 3 * PG);
		pin.size = PG;
		pin.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE;
		if (ioctl(fd, PIN_LONGTERM_TEST_START, &pin))
			SKIP(return, "PIN_LONGTERM_TEST_START: %s",
			     strerror(errno));
		rc = run_child(p, 16, child_pinned, NULL);
		/* the pin still sees the parent's, unchanged, page */
		ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_READ, &ubuf));
		ASSERT_EQ(0, memcmp(buf, p + 3 * PG, PG));
		ASSERT_EQ(0, page_is_orig(p, 3));
		ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_STOP));
	}
	close(fd);
	ASSERT_EQ(OK, rc);
}

static int child_ksm(char *p, long n, void *arg)
{
	struct vmc d;

	warmup();
	write_counted(p, 0, &d);
	for (long i = 1; i <= 8; i++)
		if (excl(p, i))
			CFAIL("KSM page %ld exclusive", i);
	if (d.precopy)
		CRETRY("precopy %ld (want 0: pages 1..8 are KSM)", d.precopy);
	p[PG] = 1;
	if (p[PG] != 1 || p[2 * PG] != 0x5a)
		CFAIL("wrong bytes after writing a KSM page");
	return OK;
}

static int ksm_get(const char *k, char *v, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", k);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, v, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	v[n] = 0;
	return 0;
}

static int ksm_put(const char *k, const char *v)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", k);
	return knob_write(path, v);
}

TEST_F_TIMEOUT(precopy, ksm_not_precopied, 120)
{
	char run[16], scan[16], sleep_ms[16], v[32];
	int rc = RETRY, merged = 0;
	char *p;

	if (ksm_get("run", run, sizeof(run)) ||
	    ksm_get("pages_to_scan", scan, sizeof(scan)) ||
	    ksm_get("sleep_millisecs", sleep_ms, sizeof(sleep_ms)))
		SKIP(return, "no KSM");
	ASSERT_EQ(0, precopy_set(8, 0));
	p = region_new(16, 0);
	ASSERT_NE(NULL, p);
	for (long i = 1; i <= 8; i++)
		memset(p + i * PG, 0x5a, PG);
	ASSERT_EQ(0, madvise(p, 16 * PG, MADV_MERGEABLE));
	ksm_put("pages_to_scan", "1000");
	ksm_put("sleep_millisecs", "10");
	ksm_put("run", "1");
	/* bounded: a KSM scan is slow under TCG */
	for (int t = 0; t < 200 && !merged; t++) {
		usleep(100 * 1000);
		if (!ksm_get("pages_sharing", v, sizeof(v)) && atol(v) >= 7)
			merged = 1;
	}
	if (merged) {
		for (int t = 0; t < ATTEMPTS && rc == RETRY; t++)
			rc = run_child(p, 16, child_ksm, NULL);
	}
	madvise(p, 16 * PG, MADV_UNMERGEABLE);
	ksm_put("run", run);
	ksm_put("pages_to_scan", scan);
	ksm_put("sleep_millisecs", sleep_ms);
	if (!merged)
		SKIP(return, "KSM did not merge the pages within 20 s");
	ASSERT_EQ(OK, rc);
}

static int child_uffd(char *p, long n, void *arg)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = n * PG },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct vmc a, b, d;
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 || ioctl(fd, UFFDIO_API, &api))
		return SKIPPED;
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		return SKIPPED;
	warmup();
	vmc_read(&a);
	wr(p, 0);	/* not write-protected: a plain COW, no handler */
	vmc_read(&b);
	vmc_delta(&d, &a, &b);
	for (long i = 1; i < n; i++)
		if (excl(p, i))
			CFAIL("page %ld exclusive in a uffd-wp range", i);
	if (d.precopy || !written_ok(p, 0))
		CRETRY("precopy %ld (want 0)", d.precopy);
	return OK;
}

TEST_F_TIMEOUT(precopy, uffd_wp_not_precopied, 120)
{
	int rc;

	ASSERT_EQ(0, precopy_set(8, 0));
	rc = run_fresh(16, 0, NULL, child_uffd, NULL);
	if (rc == SKIPPED)
		SKIP(return, "userfaultfd write-protect not available");
	ASSERT_EQ(OK, rc);
}

/* ---- soft-dirty stays exact ---- */

static int child_soft_dirty(char *p, long n, void *arg)
{
	int cleared = *(int *)arg;

	if (cleared && knob_write("/proc/self/clear_refs", "4"))
		return SKIPPED;
	wr(p, 0);
	for (long i = 1; i <= 8; i++) {
		if (!excl(p, i))
			CFAIL("page %ld not pre-copied", i);
		/* pre-copied, not written: soft-dirty as before the copy */
		if (soft_dirty(p, i) != !cleared)
			CFAIL("pre-copied page %ld: soft-dirty=%d, want %d", i,
			      soft_dirty(p, i), !cleared);
	}
	if (!soft_dirty(p, 0))
		CFAIL("written page 0 not soft-dirty");
	wr(p, 3);
	if (!soft_dirty(p, 3))
		CFAIL("page 3 written after pre-copy not soft-dirty");
	if (cleared && (soft_dirty(p, 2) || soft_dirty(p, 4)))
		CFAIL("unwritten pre-copied pages became soft-dirty");
	return OK;
}

static void soft_dirty_exact(struct __test_metadata *_metadata, int mode)
{
	int rc, cleared;

	if (access("/proc/self/clear_refs", W_OK))
		SKIP(return, "no /proc/self/clear_refs");
	ASSERT_EQ(0, precopy_set(8, mode));
	for (cleared = 0; cleared < 2; cleared++) {
		char *p = region_new(16, 0);

		ASSERT_NE(NULL, p);
		if (!soft_dirty(p, 1))
			SKIP(return, "pagemap has no soft-dirty bit");
		rc = run_child(p, 16, child_soft_dirty, &cleared);
		if (rc == SKIPPED)
			SKIP(return, "cannot clear soft-dirty");
		ASSERT_EQ(OK, rc);
	}
}

TEST_F_TIMEOUT(precopy, soft_dirty_exact, 120) { soft_dirty_exact(_metadata, 0); }

/*
 * Mode 2 maps a copy writable only where a write needs no fault to be seen
 * by soft-dirty tracking: after clear_refs the copies are read-only again.
 */
TEST_F_TIMEOUT(precopy, soft_dirty_exact_writable, 120) { soft_dirty_exact(_metadata, 2); }

/* ---- mode 2: pre-copies mapped writable, the later writes take no fault ---- */

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int child_writable_window(char *p, long n, void *arg)
{
	struct vmc d;
	long f0, f1;

	warmup();
	minflt();
	write_counted(p, 0, &d);
	for (long i = 1; i < n; i++) {
		if (excl(p, i) != (i <= 8))
			CFAIL("page %ld: exclusive=%d after writing page 0",
			      i, excl(p, i));
		if (page_is_orig(p, i))
			CFAIL("page %ld changed by pre-copy", i);
	}
	if (d.precopy != 8 || d.copy != 1)
		CRETRY("write 0: precopy %ld copy %ld (want 8 1)",
		       d.precopy, d.copy);

	/* the point of mode 2: writing the 8 copies takes no fault at all */
	f0 = minflt();
	for (long i = 1; i <= 8; i++)
		wr(p, i);
	f1 = minflt();
	if (f1 != f0)
		CFAIL("writes to 8 writable pre-copies took %ld faults", f1 - f0);

	write_counted(p, 9, &d);
	if (d.precopy != 6 || d.copy != 1)
		CRETRY("write 9: precopy %ld copy %ld (want 6 1)",
		       d.precopy, d.copy);
	for (long i = 0; i < n; i++) {
		if (i <= 9 ? !written_ok(p, i) : page_is_orig(p, i))
			CFAIL("page %ld: wrong bytes", i);
	}

	/* written is known from the dirty bit at unmap: 1..8 used, 10..15 not */
	munmap_counted(p, n, &d);
	if (d.used != 8 || d.wasted != 6)
		CRETRY("munmap: used %ld wasted %ld (want 8 6)", d.used, d.wasted);
	return OK;
}

TEST_F_TIMEOUT(precopy, writable_no_fault_counted_at_unmap, 120)
{
	ASSERT_EQ(0, precopy_set(8, 2));
	ASSERT_EQ(OK, run_fresh(16, 0, NULL, child_writable_window, NULL));
}

/* ---- allocation failure: pre-copy degrades to vanilla behaviour ---- */

/*
 * fail_page_alloc (debug kernel) fails every allocation of this task that
 * may not reclaim (ignore-gfp-wait): the pre-copies, never the COW copy of
 * the faulting page itself, which may reclaim.
 */
static int child_alloc_fail(char *p, long n, void *arg)
{
	struct vmc a, b, d;

	warmup();
	if (knob_write("/proc/self/make-it-fail", "1"))
		return SKIPPED;
	vmc_read(&a);
	for (long i = 0; i < n; i++)
		wr(p, i);
	vmc_read(&b);
	knob_write("/proc/self/make-it-fail", "0");
	vmc_delta(&d, &a, &b);
	for (long i = 0; i < n; i++)
		if (!written_ok(p, i))
			CFAIL("page %ld lost its write", i);
	fprintf(stderr, "#   %ld writes, every pre-copy allocation failing: copy %ld precopy %ld\n",
		n, d.copy, d.precopy);
	if (d.precopy)
		CFAIL("%ld pages pre-copied while their allocations fail", d.precopy);
	if (d.copy < n || d.copy > n + 2)
		CRETRY("copy %ld for %ld writes", d.copy, n);
	return OK;
}

TEST_F_TIMEOUT(precopy, alloc_failure_degrades_to_vanilla, 120)
{
	static const char *const knobs[][2] = {
		/* armed last: until the task filter is on, every task would fail */
		{ "probability", "0" }, { "task-filter", "Y" }, { "interval", "1" },
		{ "times", "-1" }, { "space", "0" }, { "verbose", "0" },
		{ "ignore-gfp-wait", "Y" }, { "ignore-gfp-highmem", "N" },
		{ "min-order", "0" }, { "probability", "100" },
	};
	char path[128];
	int rc = RETRY;

	if (access(FPA "probability", W_OK))
		SKIP(return, "no fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC: debug kernel)");
	for (unsigned int k = 0; k < sizeof(knobs) / sizeof(knobs[0]); k++) {
		snprintf(path, sizeof(path), FPA "%s", knobs[k][0]);
		ASSERT_EQ(0, knob_write(path, knobs[k][1]));
	}
	for (int mode = 0; mode <= 2 && rc != FAIL; mode++) {
		ASSERT_EQ(0, precopy_set(64, mode));
		rc = run_fresh(256, 0, NULL, child_alloc_fail, NULL);
		if (rc != OK)
			break;
	}
	knob_write(FPA "probability", "0");
	knob_write(FPA "task-filter", "N");
	if (rc == SKIPPED)
		SKIP(return, "no /proc/self/make-it-fail");
	ASSERT_EQ(OK, rc);
}

/* ---- memcg limit: pre-copies must not take the room real copies need ---- */

#define CG "/sys/fs/cgroup/cowlab-precopy"
#define CG_ROOM 128	/* pages above the filled region */

/*
 * In a memory cgroup without swap whose limit leaves CG_ROOM pages above a
 * filled 512-page region, a forked child writes every 8th page: 64 COW
 * copies, which fit. Returns 0 when the child wrote everything, 1 when
 * the OOM killer took a process, 2 on another error, SKIPPED when the
 * cgroup cannot be set up.
 */
static int memcg_stride_child(void)
{
	char buf[64], *r;
	int status;
	pid_t c;

	snprintf(buf, sizeof(buf), "%d", getpid());
	if (knob_write(CG "/cgroup.procs", buf))
		return SKIPPED;
	r = region_new(512, 0);
	if (!r)
		return 2;
	if (knob_read(CG "/memory.current", buf, sizeof(buf)))
		return SKIPPED;
	snprintf(buf, sizeof(buf), "%ld", atol(buf) + CG_ROOM * (long)PG);
	if (knob_write(CG "/memory.max", buf))
		return SKIPPED;
	fflush(NULL);
	c = fork();
	if (c < 0)
		return 2;
	if (!c) {
		for (long i = 0; i < 512; i += 8)
			wr(r, i);
		for (long i = 0; i < 512; i += 8)
			if (!written_ok(r, i))
				_exit(2);
		_exit(0);
	}
	if (waitpid(c, &status, 0) != c)
		return 2;
	if (WIFSIGNALED(status))
		return 1;
	return WEXITSTATUS(status) ? 2 : 0;
}

static int memcg_stride(void)
{
	int status;
	pid_t p;

	fflush(NULL);
	p = fork();
	if (p < 0)
		return 2;
	if (!p)
		_exit(memcg_stride_child());
	if (waitpid(p, &status, 0) != p)
		return 2;
	return WIFSIGNALED(status) ? 1 : WEXITSTATUS(status);
}

TEST_F_TIMEOUT(precopy, memcg_limit_no_oom_from_precopy, 120)
{
	static const int modes[][2] = { { 0, 0 }, { 64, 0 }, { 64, 1 }, { 64, 2 } };
	const char *why = memcg_fresh(CG);
	int rc[4];

	if (why)
		SKIP(return, "%s", why);
	for (int m = 0; m < 4; m++) {
		/*
		 * A fresh cgroup for each setting: pages the last one's
		 * processes freed can stay charged for a while (per-CPU
		 * batches), and charged to this cgroup they once ate 57 of
		 * the 128 pages of room of the last setting (OOM-killed
		 * after 12 copies, with no pre-copy at all).
		 */
		why = memcg_fresh(CG);
		if (why)
			SKIP(return, "%s", why);
		ASSERT_EQ(0, precopy_set(modes[m][0], modes[m][1]));
		rc[m] = memcg_stride();
		TH_LOG("pre-copy max %d mode %d: %s", modes[m][0], modes[m][1],
		       rc[m] == 0 ? "all 64 writes done" :
		       rc[m] == 1 ? "OOM-killed" : "error");
	}
	ASSERT_EQ(0, precopy_set(0, 0));
	rmdir(CG);
	if (rc[0] == SKIPPED)
		SKIP(return, "could not join or limit the cgroup");
	ASSERT_EQ(0, rc[0]);	/* vanilla behaviour fits: the test is fair */
	for (int m = 1; m < 4; m++)
		EXPECT_EQ(0, rc[m]);
}

/* ---- threads of one mm racing on the same page tables ---- */

struct racer {
	char *p;
	long n;
	int parity;	/* writes pages with i % 2 == parity */
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;

	for (long k = 0; k < r->n; k++) {
		/* even pages ascending, odd pages descending */
		long i = r->parity ? r->n - 1 - k : k;

		if (i % 2 != r->parity)
			continue;
		for (long b = 0; b < (long)PG; b += 512)
			r->p[i * PG + b] ^= 0xff;
	}
	return NULL;
}

static int child_threads(char *p, long n, void *arg)
{
	struct racer r[2] = { { p, n, 0 }, { p, n, 1 } };
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, racer_fn, &r[i]))
			CFAIL("pthread_create");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (long i = 0; i < n; i++) {
		uint8_t *pg = (uint8_t *)(p + i * PG);

		for (long k = 0; k < (long)(PG / 8); k++) {
			uint64_t w = orig_word(i, k);
			uint8_t *e = (uint8_t *)&w;

			for (int b = 0; b < 8; b++) {
				long off = k * 8 + b;
				uint8_t want = e[b] ^ (off % 512 ? 0 : 0xff);

				if (pg[off] != want)
					CFAIL("page %ld byte %ld: want %#x got %#x",
					      i, off, want, pg[off]);
			}
		}
	}
	return OK;
}

TEST_F_TIMEOUT(precopy, threads_integrity, 300)
{
	static const int settings[][2] = { { 64, 0 }, { 64, 1 }, { 8, 0 }, { 64, 2 } };

	for (unsigned int s = 0; s < 4; s++) {
		char *p = region_new(1024, -512);

		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, precopy_set(settings[s][0], settings[s][1]));
		ASSERT_EQ(OK, run_child(p, 1024, child_threads, NULL));
		/* the parent still sees the original bytes */
		for (long i = 0; i < 1024; i++)
			ASSERT_EQ(0, page_is_orig(p, i));
		munmap(p, 1024 * PG);
	}
}

/* ---- vm.cow_precopy_large: an aligned batch copied into one folio ---- */

#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define LARGE_NR		16	/* pages of a large pre-copy */

/* 1: page @i is in a large folio, 0: order 0, -1: unknown */
static int compound(char *p, long i)
{
	uint64_t f = pfn(p + i * PG);
	int h, t;

	if (!f)
		return -1;
	h = kpageflag(f, KPF_COMPOUND_HEAD);
	t = kpageflag(f, KPF_COMPOUND_TAIL);
	return h < 0 || t < 0 ? -1 : h || t;
}

/*
 * A filled region of @n pages at a 2 MB boundary, madvise()d @adv (-1:
 * none), forked into @fn; unless the child failed, the parent then checks
 * that its own view is the original (and fails if not).  Skips (SKIPPED) when the filled region is not all order-0
 * pages (THP "always", or an mTHP size enabled) or /proc/kpageflags cannot
 * be read.
 */
static int large_run(long n, long off, int adv, child_fn fn, void *arg)
{
	int rc = RETRY;

	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++) {
		char *p = region_map_adv(n, off, adv);

		if (!p)
			return FAIL;
		region_fill(p, n);
		for (long i = 0; i < n && rc == RETRY; i++)
			if (compound(p, i))
				rc = SKIPPED;
		if (rc == RETRY)
			rc = run_child(p, n, fn, arg);
		for (long i = 0; i < n && (rc == OK || rc >= 100); i++)
			if (page_is_orig(p, i)) {
				fprintf(stderr, "# parent: page %ld changed\n", i);
				rc = FAIL;
			}
		munmap(p, n * PG);
	}
	return rc;
}

/* pages @from..@to-1 are one aligned large folio, in order */
static int large_folio_at(char *p, long from, long to)
{
	uint64_t f = pfn(p + from * PG);

	if (!f || f % LARGE_NR || to - from != LARGE_NR)
		return 0;
	for (long i = from; i < to; i++)
		if (pfn(p + i * PG) != f + (i - from) || compound(p, i) != 1)
			return 0;
	return 1;
}

/*
 * struct large_case: a write to page @first of a region starting @off
 * pages after a 2 MB boundary, window 32.  Pages @first..@last are
 * exclusive afterwards, the aligned blocks from @large_from to @large_to
 * (region pages) large folios, the others in between order-0 copies.
 */
struct large_case {
	int mode;
	long off, first, last, large_from, large_to;
	long precopy, large;
};

/*
 * Mode 2: no fault on the later writes to the pre-copies; mode 0: one
 * reuse fault each.  Pages after @last stay shared and unchanged.
 */
static int child_large(char *p, long n, void *arg)
{
	const struct large_case *c = arg;
	struct vmc d;
	long f0, f1;

	warmup();
	write_counted(p, c->first, &d);
	for (long i = 0; i < n; i++) {
		int want_excl = i >= c->first && i <= c->last;
		int want_large = i >= c->large_from && i < c->large_to;

		if (i != c->first && excl(p, i) != want_excl)
			CFAIL("page %ld: exclusive=%d, want %d", i, excl(p, i),
			      want_excl);
		if (i != c->first && page_is_orig(p, i))
			CFAIL("page %ld changed by pre-copy", i);
		if (want_excl && compound(p, i) != want_large)
			CFAIL("page %ld: in a large folio=%d, want %d", i,
			      compound(p, i), want_large);
	}
	for (long i = c->large_from; i < c->large_to; i += LARGE_NR)
		if (!large_folio_at(p, i, i + LARGE_NR))
			CFAIL("pages %ld..%ld: not one aligned 16-page folio in order",
			      i, i + LARGE_NR - 1);
	if (d.precopy != c->precopy || d.large != c->large || d.copy != 1)
		CRETRY("write %ld: precopy %ld large %ld copy %ld (want %ld %ld 1)",
		       c->first, d.precopy, d.large, d.copy, c->precopy,
		       c->large);
	f0 = minflt();
	for (long i = c->first + 1; i <= c->last; i++)
		wr(p, i);
	f1 = minflt();
	if (c->mode == 2 && f1 != f0)
		CFAIL("writes to %ld writable pre-copies took %ld faults",
		      c->last - c->first, f1 - f0);
	if (c->mode == 0 && f1 - f0 != c->last - c->first)
		CRETRY("writes to %ld read-only pre-copies took %ld faults",
		       c->last - c->first, f1 - f0);
	for (long i = 0; i < n; i++)
		if (i >= c->first && i <= c->last ? !written_ok(p, i) :
		    page_is_orig(p, i))
			CFAIL("page %ld: wrong bytes", i);
	return OK;
}

static void large_setup(struct __test_metadata *_metadata, int have_large,
			int mode)
{
	if (!have_large)
		SKIP(return, "no vm.cow_precopy_large: kernel without patch 0015");
	if (access("/proc/kpageflags", R_OK))
		SKIP(return, "no /proc/kpageflags");
	ASSERT_EQ(0, precopy_set(32, mode));
	ASSERT_EQ(0, sysctl_set("cow_precopy_large", 1));
}

#define LARGE_RC(rc)                                                        \
	do {                                                                \
		if ((rc) == SKIPPED)                                        \
			SKIP(return, "the filled region is not all 4K pages (THP always?)"); \
		ASSERT_EQ(OK, rc);                                          \
	} while (0)

/*
 * Window 32, a write to page 0 of a 2 MB-aligned region: the fault's own
 * block (pages 0..15) is copied into one folio, page 0 mapped as the
 * write's, then the window after the block, 16..47, in two more.
 */
static const struct large_case large_block = {
	.off = 0, .first = 0, .last = 47, .large_from = 0, .large_to = 48,
	.precopy = 47, .large = 47,
};

/*
 * Window 32, a write to page 0 of a region 8 pages past a 2 MB boundary:
 * the fault's block starts before the VMA (no block copy, 4K as vanilla);
 * the window's head, pages 1..7, up to the 16-page boundary is copied
 * page by page, 8..23 into one folio, the tail 24..32 page by page.
 */
static const struct large_case large_head = {
	.off = 8, .first = 0, .last = 32, .large_from = 8, .large_to = 24,
	.precopy = 32, .large = 16,
};

static void large_case_run(struct __test_metadata *_metadata,
			   const struct large_case *tmpl, int mode)
{
	struct large_case c = *tmpl;

	c.mode = mode;
	LARGE_RC(large_run(64, c.off, -1, child_large, &c));
}

TEST_F_TIMEOUT(precopy, large_block_writable, 120)
{
	large_setup(_metadata, self->have_large, 2);
	large_case_run(_metadata, &large_block, 2);
}

TEST_F_TIMEOUT(precopy, large_block_readonly, 120)
{
	large_setup(_metadata, self->have_large, 0);
	large_case_run(_metadata, &large_block, 0);
}

TEST_F_TIMEOUT(precopy, large_batch_unaligned_head, 120)
{
	large_setup(_metadata, self->have_large, 2);
	large_case_run(_metadata, &large_head, 2);
}

/* the same window where huge pages are refused: order-0 copies only */
static int child_large_refused(char *p, long n, void *arg)
{
	int how = *(int *)arg;
	struct vmc d;

	if (how == 1 && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		CFAIL("PR_SET_THP_DISABLE: %s", strerror(errno));
	warmup();
	write_counted(p, 0, &d);
	for (long i = 1; i <= 32; i++)
		if (!excl(p, i) || compound(p, i))
			CFAIL("page %ld: exclusive=%d large=%d, want 1 0", i,
			      excl(p, i), compound(p, i));
	if (d.precopy != 32 || d.large)
		CRETRY("write 0: precopy %ld large %ld (want 32 0)", d.precopy,
		       d.large);
	for (long i = 0; i < n; i++)
		if (i ? page_is_orig(p, i) : !written_ok(p, i))
			CFAIL("page %ld: wrong bytes", i);
	return OK;
}

TEST_F_TIMEOUT(precopy, large_refused_nohugepage_and_prctl, 120)
{
	int how;

	large_setup(_metadata, self->have_large, 2);
	how = 0;	/* MADV_NOHUGEPAGE on the range */
	LARGE_RC(large_run(64, 0, MADV_NOHUGEPAGE, child_large_refused, &how));
	how = 1;	/* PR_SET_THP_DISABLE in the writer */
	LARGE_RC(large_run(64, 0, -1, child_large_refused, &how));
}

#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"

/* transparent_hugepage/enabled=never is the system's off switch: refused */
TEST_F_TIMEOUT(precopy, large_refused_thp_never, 120)
{
	char mode[32];
	int how = 0, rc;

	large_setup(_metadata, self->have_large, 2);
	if (knob_read_choice(THP_ENABLED, mode, sizeof(mode)))
		SKIP(return, "no " THP_ENABLED);
	ASSERT_EQ(0, knob_write(THP_ENABLED, "never"));
	rc = large_run(64, 0, -1, child_large_refused, &how);
	ASSERT_EQ(0, knob_write(THP_ENABLED, mode));
	LARGE_RC(rc);
}

/*
 * A window under 16 pages: no block (it would pre-copy 15 pages where the
 * window allows 8); pages 1..8 page by page.
 */
static int child_large_small_window(char *p, long n, void *arg)
{
	struct vmc d;

	(void)arg;
	warmup();
	write_counted(p, 0, &d);
	if (d.precopy != 8 || d.large)
		CRETRY("write 0, window 8: precopy %ld large %ld (want 8 0)",
		       d.precopy, d.large);
	for (long i = 1; i < n; i++)
		if (excl(p, i) != (i <= 8) || (i <= 8 && compound(p, i)))
			CFAIL("page %ld: exclusive=%d large=%d", i, excl(p, i),
			      compound(p, i));
	for (long i = 0; i < n; i++)
		if (i ? page_is_orig(p, i) : !written_ok(p, i))
			CFAIL("page %ld: wrong bytes", i);
	return OK;
}

TEST_F_TIMEOUT(precopy, large_block_needs_window_16, 120)
{
	large_setup(_metadata, self->have_large, 2);
	ASSERT_EQ(0, precopy_set(8, 2));
	LARGE_RC(large_run(64, 0, -1, child_large_small_window, NULL));
}

/* the adaptive mode keeps order-0 copies (it learns from their reuse) */
static int child_large_adaptive(char *p, long n, void *arg)
{
	struct vmc a, b, d;

	(void)arg;
	warmup();
	vmc_read(&a);
	for (long i = 0; i < n; i++)
		wr(p, i);
	vmc_read(&b);
	vmc_delta(&d, &a, &b);
	for (long i = 0; i < n; i++)
		if (!written_ok(p, i) || compound(p, i))
			CFAIL("page %ld: written=%d large=%d, want 1 0", i,
			      written_ok(p, i), compound(p, i));
	if (d.large)
		CFAIL("adaptive mode: %ld pages copied large", d.large);
	if (!d.precopy)
		CRETRY("adaptive mode: no pre-copy in %ld sequential writes", n);
	return OK;
}

TEST_F_TIMEOUT(precopy, large_not_in_adaptive_mode, 120)
{
	large_setup(_metadata, self->have_large, 1);
	ASSERT_EQ(0, precopy_set(64, 1));
	LARGE_RC(large_run(256, 0, -1, child_large_adaptive, NULL));
}

/*
 * Soft-dirty after clear_refs: mode 2 maps the large copies read-only
 * (all but the written page 0 of the fault's block), a write to one of
 * them faults, and only that page becomes soft-dirty.
 */
static int child_large_soft_dirty(char *p, long n, void *arg)
{
	struct vmc d;
	long f0;

	(void)n;
	(void)arg;
	if (knob_write("/proc/self/clear_refs", "4"))
		return SKIPPED;
	warmup();
	write_counted(p, 0, &d);
	if (d.large != 47)
		CRETRY("write 0: large %ld (want 47)", d.large);
	for (long i = 1; i < 48; i++)
		if (soft_dirty(p, i) || compound(p, i) != 1)
			CFAIL("page %ld: soft-dirty=%d large=%d after clear_refs",
			      i, soft_dirty(p, i), compound(p, i));
	if (!soft_dirty(p, 0) || compound(p, 0) != 1)
		CFAIL("page 0 (the write): soft-dirty=%d large=%d, want 1 1",
		      soft_dirty(p, 0), compound(p, 0));
	f0 = minflt();
	wr(p, 20);
	if (minflt() - f0 != 1)
		CFAIL("write to a large copy after clear_refs took %ld faults (want 1)",
		      minflt() - f0);
	if (!soft_dirty(p, 20) || soft_dirty(p, 19) || soft_dirty(p, 21))
		CFAIL("soft-dirty 19/20/21 = %d/%d/%d, want 0/1/0",
		      soft_dirty(p, 19), soft_dirty(p, 20), soft_dirty(p, 21));
	if (!written_ok(p, 20) || page_is_orig(p, 21))
		CFAIL("wrong bytes around page 20");
	return OK;
}

TEST_F_TIMEOUT(precopy, large_soft_dirty_exact, 120)
{
	large_setup(_metadata, self->have_large, 2);
	if (access("/proc/self/clear_refs", W_OK))
		SKIP(return, "no /proc/self/clear_refs");
	LARGE_RC(large_run(64, 0, -1, child_large_soft_dirty, NULL));
}

/*
 * A large copy taken apart: part unmapped, part MADV_DONTNEED, then the
 * child forks and a grandchild writes what is left of it.  Every process
 * keeps its own bytes.
 */
static int child_large_apart(char *p, long n, void *arg)
{
	int status;
	pid_t pid;

	(void)arg;
	warmup();
	wr(p, 0);
	if (compound(p, 16) != 1)
		CRETRY("page 16 not in a large copy");
	for (long i = 16; i < 20; i++)
		wr(p, i);
	if (munmap(p + 24 * PG, 2 * PG) || madvise(p + 28 * PG, 2 * PG, MADV_DONTNEED))
		CFAIL("munmap/MADV_DONTNEED: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		who = "grandchild";
		for (long i = 16; i < 32; i++)
			if (i != 24 && i != 25)
				wr(p, i);
		for (long i = 16; i < 32; i++) {
			int ok = i == 24 || i == 25 ? 1 :
				 i == 28 || i == 29 ? (uint8_t)p[i * PG] == 0xff &&
						      !p[i * PG + 1] :
				 i < 20 ? !page_is_orig(p, i) : written_ok(p, i);

			if (!ok)
				CFAIL("page %ld: wrong bytes", i);
		}
		_exit(OK);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != OK)
		CFAIL("grandchild failed (status %#x)", status);
	for (long i = 0; i < n; i++) {
		int ok = i == 24 || i == 25 ? 1 :
			 i == 28 || i == 29 ? !p[i * PG] && !p[i * PG + 1] :
			 i == 0 || (i >= 16 && i < 20) ? written_ok(p, i) :
			 !page_is_orig(p, i);

		if (!ok)
			CFAIL("page %ld: wrong bytes after the grandchild", i);
	}
	return OK;
}

TEST_F_TIMEOUT(precopy, large_copy_taken_apart, 120)
{
	large_setup(_metadata, self->have_large, 2);
	LARGE_RC(large_run(64, 0, -1, child_large_apart, NULL));
}

/*
 * fail_page_alloc on orders >= 1 only: every large allocation fails, and
 * the batch is copied page by page instead (debug kernel).
 */
static int child_large_alloc_fail(char *p, long n, void *arg)
{
	struct vmc d;

	(void)arg;
	warmup();
	if (make_it_fail(1))
		return SKIPPED;
	write_counted(p, 0, &d);
	make_it_fail(0);
	if (d.large)
		CFAIL("%ld pages copied large while order >= 1 allocations fail",
		      d.large);
	if (d.precopy != 32)
		CRETRY("write 0: precopy %ld (want 32, page by page)", d.precopy);
	for (long i = 1; i <= 32; i++)
		if (!excl(p, i) || compound(p, i))
			CFAIL("page %ld: exclusive=%d large=%d, want 1 0", i,
			      excl(p, i), compound(p, i));
	/* page 0 is written: a second wr() would flip it back */
	for (long i = 1; i < n; i++)
		wr(p, i);
	for (long i = 0; i < n; i++)
		if (!written_ok(p, i))
			CFAIL("page %ld lost its write", i);
	return OK;
}

TEST_F_TIMEOUT(precopy, large_alloc_failure_falls_back, 120)
{
	int rc;

	large_setup(_metadata, self->have_large, 2);
	if (inject_setup(1, 0))
		SKIP(return, "no fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC: debug kernel)");
	/* only no-reclaim allocations of order >= 1: the large pre-copies */
	ASSERT_EQ(0, knob_write(FPA "ignore-gfp-wait", "Y"));
	ASSERT_EQ(0, knob_write(FPA "min-order", "1"));
	ASSERT_EQ(0, knob_write(FPA "probability", "100"));
	rc = large_run(64, 0, -1, child_large_alloc_fail, NULL);
	inject_setup(0, 0);
	knob_write(FPA "min-order", "0");
	if (rc == SKIPPED)
		SKIP(return, "no make-it-fail, or the region is not all 4K pages");
	ASSERT_EQ(OK, rc);
}

/*
 * fail-nth over the write that pre-copies a window with a large batch:
 * the n-th page or slab allocation of the fault fails, n = 1, 2, ... until
 * one write reaches no injection point.  Whatever fails, every page holds
 * the right bytes in the child and in the parent, and the child's later
 * writes all land.
 */
static int child_large_nth(char *p, long n, void *arg)
{
	int nth = *(int *)arg, fd, left;
	char buf[16];

	warmup();
	fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fd < 0)
		return SKIPPED;
	snprintf(buf, sizeof(buf), "%d", nth);
	if (write(fd, buf, strlen(buf)) < 0)
		CFAIL("fail-nth: %s", strerror(errno));
	wr(p, 0);
	memset(buf, 0, sizeof(buf));
	if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
		CFAIL("fail-nth read: %s", strerror(errno));
	left = atoi(buf);
	if (write(fd, "0", 1) < 0)
		CFAIL("fail-nth: %s", strerror(errno));
	close(fd);
	for (long i = 0; i < n; i++)
		if (i ? page_is_orig(p, i) : !written_ok(p, i))
			CFAIL("fail-nth %d: page %ld wrong after the fault", nth, i);
	for (long i = 1; i < n; i++)
		wr(p, i);
	for (long i = 0; i < n; i++)
		if (!written_ok(p, i))
			CFAIL("fail-nth %d: page %ld lost its write", nth, i);
	/* 100 + 0: the fault reached the n-th point; 100 + 1: it did not */
	return 100 + !!left;
}

TEST_F_TIMEOUT(precopy, large_fail_nth_sweep, 600)
{
	int nth, rc = 100;

	large_setup(_metadata, self->have_large, 2);
	if (inject_setup(1, 0) || access("/proc/thread-self/fail-nth", W_OK))
		SKIP(return, "no fault injection (debug kernel only)");
	for (nth = 1; nth <= 256 && rc == 100; nth++) {
		rc = large_run(64, 0, -1, child_large_nth, &nth);
		if (rc == RETRY)	/* large_run retries only RETRY */
			rc = FAIL;
	}
	inject_setup(0, 0);
	TH_LOG("fail-nth sweep ended at n=%d (rc %d)", nth - 1, rc);
	if (rc == SKIPPED)
		SKIP(return, "fail-nth not usable, or the region is not all 4K pages");
	ASSERT_EQ(101, rc);
}

TEST_HARNESS_MAIN
