// SPDX-License-Identifier: GPL-2.0
/*
 * torture_test - a seeded, bounded COW torture test.
 *
 * A tree of processes shares one private anonymous region (part of it THP
 * eligible) through fork() and, step by step, each process writes pages,
 * forks, zaps (MADV_DONTNEED), unmaps and maps again, write-protects and
 * unprotects, moves a range away and back with mremap(), collapses the THP
 * part (MADV_COLLAPSE), lets two threads write at once, duplicates a range
 * with mdup(2) (where the kernel has it), writes the duplicate and maps it
 * back in place of the range, and exits at a random step. Every page carries a stamp (owner, generation, page index)
 * at its start, middle and end; each process keeps a model of what every
 * page must hold and checks the whole region after every step: a child
 * sees the bytes of the fork instant, a parent its own writes, nobody
 * another process's. The random choices come from the seed alone, so a
 * failure, which prints the seed, the process, the step and the operation,
 * replays with TORTURE_SEED=<seed>.
 *
 * Variants run with every cowlab feature off and with COW pre-copy at its
 * largest window in each mode (0 read-only, 1 adaptive, 2 writable), with
 * the THP COW policy copy and adaptive (vm.cow_thp_policy), and with
 * whole-mTHP COW (vm.cow_mthp_copy, 64 KiB mTHP "always"), and with
 * on-demand fork (page tables shared at fork: every process of the tree
 * opted in with PR_SET_COW_ODF, or vm.cow_odf=1; cow_odf_shared must grow),
 * with THP "always" during the run. TORTURE_SEEDS and TORTURE_STEPS (environment)
 * make longer runs; TORTURE_DURATION=S runs seeds for S seconds in all.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "../../userspace-bench/mdup.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define PG 4096UL
#define HPAGE (2UL << 20)
#define NPAGES 1024		/* 4 MB: two PMDs */
#define MAXPROC 12		/* processes per seed, the root included */
#define MAGIC 0xc0ffee42u

struct stamp {
	uint32_t magic, owner, gen, page;
};

/* expected content of a page: owner 0 and gen 0 means zero-filled */
struct want {
	uint32_t owner, gen;
};

static char *region;			/* NPAGES pages, 2 MB aligned */
static struct want model[NPAGES];	/* this process's expectation */
static uint32_t me;			/* process id in the tree, root = 1 */
static uint64_t rng;
static unsigned long seed_now;
static int step_now;
static const char *op_now = "start";
static int *nproc;			/* MAP_SHARED: [0] processes, [1] mdup()s, [2] mdup()s back */
static int odf_optin;			/* every process of the tree: PR_SET_COW_ODF 1 */

static uint64_t rnd(void)
{
	/* splitmix64: reproducible from the seed */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* stamp page i of the region at @p (the region's own page, or a copy's) */
static void stamp_at(char *p, long i, uint32_t gen)
{
	struct stamp s = { MAGIC, me, gen, (uint32_t)i };

	memcpy(p, &s, sizeof(s));
	memcpy(p + PG / 2, &s, sizeof(s));
	memcpy(p + PG - sizeof(s), &s, sizeof(s));
}

static void stamp_page(long i, uint32_t gen)
{
	stamp_at(region + i * PG, i, gen);
	model[i].owner = me;
	model[i].gen = gen;
}

static void fail(const char *what, long i, const struct stamp *got)
{
	fprintf(stderr,
		"# TORTURE FAIL seed=%lu proc=%u step=%d op=%s: page %ld %s: "
		"want owner %u gen %u, got magic %#x owner %u gen %u page %u\n",
		seed_now, me, step_now, op_now, i, what, model[i].owner,
		model[i].gen, got->magic, got->owner, got->gen, got->page);
	fprintf(stderr, "# replay: TORTURE_SEED=%lu /bin/torture_test\n", seed_now);
	_exit(1);
}

/* an operation that must not fail did: say which, with errno */
static void die(int code)
{
	fprintf(stderr, "# TORTURE ERROR seed=%lu proc=%u step=%d op=%s: %s\n",
		seed_now, me, step_now, op_now, strerror(errno));
	_exit(code);
}

/* pages [first, first + n) of the region, as mapped at @base, against @m */
static void verify_range(const char *base, long first, long n,
			 const struct want *m)
{
	static const struct stamp zero;

	for (long i = first; i < first + n; i++) {
		const char *p = base + (i - first) * PG;
		const size_t offs[3] = { 0, PG / 2, PG - sizeof(struct stamp) };

		for (int k = 0; k < 3; k++) {
			struct stamp s;

			memcpy(&s, p + offs[k], sizeof(s));
			if (!m[i - first].owner && !m[i - first].gen) {
				if (memcmp(&s, &zero, sizeof(s)))
					fail("should be zero", i, &s);
			} else if (s.magic != MAGIC ||
				   s.owner != m[i - first].owner ||
				   s.gen != m[i - first].gen ||
				   s.page != (uint32_t)i) {
				fail(k ? "stamp (middle/end)" : "stamp", i, &s);
			}
		}
	}
}

static void verify(void)
{
	verify_range(region, 0, NPAGES, model);
}

struct writer {
	long first, n, stride;
	uint32_t gen;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;

	for (long i = w->first; i < w->first + w->n; i += w->stride)
		stamp_page(i, w->gen);
	return NULL;
}

static void run_steps(int steps, int depth);
static void reap(int block);

static void op(const char *name)
{
	op_now = name;
}

/* on-demand fork, per process (the setting is not inherited) */
static void odf_opt_in(void)
{
	if (odf_optin && prctl(PR_SET_COW_ODF, 1, 0, 0, 0)) {
		op("PR_SET_COW_ODF");
		die(9);
	}
}

/* one random operation on a random range of the region */
static void step(int depth)
{
	long a = rnd() % NPAGES, n = 1 + rnd() % 64, i;
	uint32_t gen = (uint32_t)(rnd() >> 40) | 1;
	int r = rnd() % 100;

	if (a + n > NPAGES)
		n = NPAGES - a;
	if (r < 40) {
		op("write");
		for (i = a; i < a + n; i += 1 + rnd() % 3)
			stamp_page(i, gen);
	} else if (r < 55) {
		pid_t pid;

		op("fork");
		if (__atomic_fetch_add(nproc, 1, __ATOMIC_SEQ_CST) >= MAXPROC || depth > 3) {
			__atomic_fetch_sub(nproc, 1, __ATOMIC_SEQ_CST);
			return;
		}
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die(2);
		if (!pid) {
			me = me * 16 + (uint32_t)(rnd() % 15) + 1;
			rng ^= me;
			odf_opt_in();
			run_steps(10 + rnd() % 40, depth + 1);
			_exit(0);
		}
		/* the child runs on its own; reaped by the parent's wait loop */
	} else if (r < 63) {
		op("MADV_DONTNEED");
		if (madvise(region + a * PG, n * PG, MADV_DONTNEED))
			die(3);
		memset(&model[a], 0, n * sizeof(model[0]));
	} else if (r < 68) {
		op("munmap+mmap");
		if (munmap(region + a * PG, n * PG) ||
		    mmap(region + a * PG, n * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		    region + a * PG)
			die(4);
		memset(&model[a], 0, n * sizeof(model[0]));
	} else if (r < 76) {
		op("mprotect ro, verify, rw");
		if (mprotect(region + a * PG, n * PG, PROT_READ))
			die(5);
		verify();
		if (mprotect(region + a * PG, n * PG, PROT_READ | PROT_WRITE))
			die(5);
	} else if (r < 84) {
		char *tmp;

		op("mremap away and back");
		tmp = mmap(NULL, n * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tmp == MAP_FAILED)
			die(6);
		/* a range over several VMAs is refused (EFAULT): nothing moved */
		if (mremap(region + a * PG, n * PG, n * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
			   tmp) != tmp) {
			munmap(tmp, n * PG);
			return;
		}
		if (mremap(tmp, n * PG, n * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
			   region + a * PG) != region + a * PG)
			die(6);
	} else if (r < 88) {
		op("MADV_COLLAPSE");
		/* may fail (EAGAIN, ENOMEM, EINVAL): only the content matters */
		madvise(region + (a * PG & ~(HPAGE - 1)), HPAGE, MADV_COLLAPSE);
	} else if (r < 91) {
		struct want cm[64];
		char *copy;

		op("mdup, write the copy, map it back");
		copy = mdup(region + a * PG, n * PG, NULL, 0);
		if (copy == MAP_FAILED) {
			if (errno == ENOSYS)
				return;
			die(8);
		}
		__atomic_fetch_add(&nproc[1], 1, __ATOMIC_SEQ_CST);
		/* the copy holds the range as it was; writes to it stay there */
		memcpy(cm, &model[a], n * sizeof(cm[0]));
		op("mdup: check the copy");
		verify_range(copy, a, n, cm);
		for (i = 0; i < n; i += 1 + rnd() % 3) {
			stamp_at(copy + i * PG, a + i, gen);
			cm[i].owner = me;
			cm[i].gen = gen;
		}
		op("mdup: check the source after writing the copy");
		verify();
		if (rnd() % 2) {
			op("mdup back over the range (MDUP_FIXED)");
			if (munmap(region + a * PG, n * PG) ||
			    mdup(copy, n * PG, region + a * PG, MDUP_FIXED) !=
				    region + a * PG)
				die(8);
			memcpy(&model[a], cm, n * sizeof(cm[0]));
			__atomic_fetch_add(&nproc[2], 1, __ATOMIC_SEQ_CST);
		}
		if (munmap(copy, n * PG))
			die(8);
	} else if (r < 96) {
		struct writer w[2] = {
			{ a, n, 2, gen }, { a + 1, n > 1 ? n - 1 : 0, 2, gen + 2 },
		};
		pthread_t t;

		op("two threads write");
		if (pthread_create(&t, NULL, writer_fn, &w[1]))
			die(7);
		writer_fn(&w[0]);
		pthread_join(t, NULL);
	} else if (me != 1) {
		/* the root runs every step: it holds the tree together */
		op("exit");
		verify();
		reap(1);	/* a descendant's failure is still ours */
		_exit(0);
	}
}

static void reap(int block)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "# seed=%lu: a descendant of proc %u failed (status %#x)\n",
				seed_now, me, status);
			_exit(1);
		}
	}
}

static void run_steps(int steps, int depth)
{
	for (step_now = 0; step_now < steps; step_now++) {
		step(depth);
		verify();
		reap(0);
	}
	reap(1);
}

/* one seed in a fresh process; returns its exit status */
static int torture_seed(unsigned long seed, int steps)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		char *raw = mmap(NULL, NPAGES * PG + HPAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (raw == MAP_FAILED)
			die(2);
		region = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
		/* the second PMD is THP eligible, the first 4K only */
		madvise(region, HPAGE, MADV_NOHUGEPAGE);
		madvise(region + HPAGE, NPAGES * PG - HPAGE, MADV_HUGEPAGE);
		seed_now = seed;
		rng = seed;
		me = 1;
		*nproc = 1;
		odf_opt_in();
		for (long i = 0; i < NPAGES; i++)
			stamp_page(i, 1);
		run_steps(steps, 0);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define THP "/sys/kernel/mm/transparent_hugepage/enabled"

#define MTHP64 "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"

FIXTURE(torture) {
	char max[16], mode[16], thp[128], policy[16], mcopy[16], m64[128];
	char odf[16];
	int have_precopy, have_thp, have_policy, have_m64, have_odf;
};

/*
 * thp_policy: vm.cow_thp_policy; mthp_copy: vm.cow_mthp_copy with 64K mTHP;
 * odf: on-demand fork, 1 every process of the tree opted in with
 * PR_SET_COW_ODF, 2 vm.cow_odf=1 (every fork of the system)
 */
FIXTURE_VARIANT(torture) {
	int precopy_max, precopy_mode, thp_policy, mthp_copy, odf;
};

FIXTURE_VARIANT_ADD(torture, features_off) { .precopy_max = 0 };
FIXTURE_VARIANT_ADD(torture, precopy64_readonly) { .precopy_max = 64, .precopy_mode = 0 };
FIXTURE_VARIANT_ADD(torture, precopy64_adaptive) { .precopy_max = 64, .precopy_mode = 1 };
FIXTURE_VARIANT_ADD(torture, precopy64_writable) { .precopy_max = 64, .precopy_mode = 2 };
FIXTURE_VARIANT_ADD(torture, thp_copy) { .thp_policy = 1 };
FIXTURE_VARIANT_ADD(torture, thp_adaptive) { .thp_policy = 2 };
FIXTURE_VARIANT_ADD(torture, mthp_whole) { .mthp_copy = 1 };
FIXTURE_VARIANT_ADD(torture, odf_prctl) { .odf = 1 };
FIXTURE_VARIANT_ADD(torture, odf_all) { .odf = 2 };
#define NVARIANTS 7	/* without the ODF variants: nvariants() */

/* the ODF variants run (and take a part of TORTURE_DURATION) only with ODF */
static int nvariants(void)
{
	return NVARIANTS + (prctl(PR_GET_COW_ODF, 0, 0, 0, 0) >= 0 ? 2 : 0);
}


/* "always [madvise] never" -> "madvise" */
static void knob_restore(const char *path, char *saved)
{
	char *l = strchr(saved, '['), *r = l ? strchr(l, ']') : NULL;

	if (l && r) {
		*r = '\0';
		knob_write(path, l + 1);
	}
}

FIXTURE_SETUP(torture)
{
	char v[16];

	nproc = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, nproc);
	/* before any knob is set: a SKIP from setup runs no teardown */
	self->have_odf = !knob_read("/proc/sys/vm/cow_odf", self->odf,
				    sizeof(self->odf));
	if (variant->odf == 1 && prctl(PR_GET_COW_ODF, 0, 0, 0, 0) < 0)
		SKIP(return, "kernel without on-demand fork (PR_GET_COW_ODF)");
	if (variant->odf == 2 && !self->have_odf)
		SKIP(return, "kernel without on-demand fork (vm.cow_odf)");
	odf_optin = variant->odf == 1;
	if (variant->odf == 2)
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_odf", "1"));
	self->have_precopy = !knob_read("/proc/sys/vm/cow_precopy_max", self->max, sizeof(self->max)) &&
			     !knob_read("/proc/sys/vm/cow_precopy_mode", self->mode, sizeof(self->mode));
	if (variant->precopy_max && !self->have_precopy)
		SKIP(return, "no vm.cow_precopy_* (kernel without the series?)");
	if (variant->precopy_max) {
		snprintf(v, sizeof(v), "%d", variant->precopy_mode);
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_precopy_mode", v));
		snprintf(v, sizeof(v), "%d", variant->precopy_max);
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_precopy_max", v));
	}
	self->have_thp = !knob_read(THP, self->thp, sizeof(self->thp));
	if (self->have_thp)
		knob_write(THP, "always");
	self->have_policy = !knob_read("/proc/sys/vm/cow_thp_policy", self->policy,
				       sizeof(self->policy)) &&
			    !knob_read("/proc/sys/vm/cow_mthp_copy", self->mcopy,
				       sizeof(self->mcopy));
	self->have_m64 = 0;
	if ((variant->thp_policy || variant->mthp_copy) && !self->have_policy)
		SKIP(return, "no vm.cow_thp_policy/cow_mthp_copy (patches 0011-0012)");
	if (variant->thp_policy) {
		snprintf(v, sizeof(v), "%d", variant->thp_policy);
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_thp_policy", v));
	}
	if (variant->mthp_copy) {
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_mthp_copy", "1"));
		self->have_m64 = !knob_read(MTHP64, self->m64, sizeof(self->m64));
		if (self->have_m64)
			knob_write(MTHP64, "always");
	}
}

FIXTURE_TEARDOWN(torture)
{
	if (self->have_precopy) {
		knob_write("/proc/sys/vm/cow_precopy_max", self->max);
		knob_write("/proc/sys/vm/cow_precopy_mode", self->mode);
	}
	if (self->have_thp)
		knob_restore(THP, self->thp);
	if (self->have_policy) {
		knob_write("/proc/sys/vm/cow_thp_policy", self->policy);
		knob_write("/proc/sys/vm/cow_mthp_copy", self->mcopy);
	}
	if (self->have_m64)
		knob_restore(MTHP64, self->m64);
	if (variant->odf == 2 && self->have_odf)
		knob_write("/proc/sys/vm/cow_odf", self->odf);
}

TEST_F_TIMEOUT(torture, seeds, 600)
{
	const char *e_seed = getenv("TORTURE_SEED"), *e_seeds = getenv("TORTURE_SEEDS");
	const char *e_steps = getenv("TORTURE_STEPS");
	const char *e_dur = getenv("TORTURE_DURATION");
	unsigned long first = e_seed ? strtoul(e_seed, NULL, 0) : 1;
	int seeds = e_seed ? 1 : e_seeds ? atoi(e_seeds) : 4;
	int steps = e_steps ? atoi(e_steps) : 60;
	/* TORTURE_DURATION=S: seeds one after the other for S/nvariants()
	 * seconds per variant, instead of a count
	 */
	double dur = e_dur && !e_seed ? atof(e_dur) / nvariants() : 0;
	static const char *const odf_ctr[] = {
		"cow_odf_shared", "cow_odf_copied", "cow_odf_reused",
		"cow_odf_freed", "cow_odf_fallback",
	};
	long odf0[5], odf1[5];
	struct timespec t0, t;

	for (int i = 0; i < 5; i++)
		odf0[i] = variant->odf ? vmstat_get(odf_ctr[i]) : 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (dur > 0)
		seeds = 1 << 30;
	for (int s = 0; s < seeds; s++) {
		/* each variant its own seeds: 1..4, 1001..1004, ... */
		unsigned long seed = first + s + (e_seed ? 0 : 1000UL * variant->precopy_mode +
						  100000UL * !!variant->precopy_max +
						  10000UL * variant->thp_policy +
						  20000UL * variant->mthp_copy +
						  40000UL * variant->odf);
		int rc;

		nproc[1] = nproc[2] = 0;
		rc = torture_seed(seed, steps);
		TH_LOG("seed %lu, %d steps per process, %d processes, %d mdup (%d mapped back): %s",
		       seed, steps, nproc[0], nproc[1], nproc[2], rc ? "FAILED" : "ok");
		ASSERT_EQ(0, rc);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (dur > 0 && t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 >= dur) {
			TH_LOG("duration %.0f s reached after %d seeds", dur, s + 1);
			break;
		}
	}
	/* a replayed seed need not fork while the range is shareable */
	if (!variant->odf || e_seed)
		return;
	for (int i = 0; i < 5; i++)
		odf1[i] = vmstat_get(odf_ctr[i]);
	TH_LOG("on-demand fork: cow_odf_shared +%ld copied +%ld reused +%ld freed +%ld fallback +%ld",
	       odf1[0] - odf0[0], odf1[1] - odf0[1], odf1[2] - odf0[2],
	       odf1[3] - odf0[3], odf1[4] - odf0[4]);
	/* every root fork can share the 4K-only PMD of the region */
	ASSERT_LT(0, odf1[0] - odf0[0])
		TH_LOG("no page table shared at any fork: ODF not exercised");
}

TEST_HARNESS_MAIN
