/* SPDX-License-Identifier: GPL-2.0 */
/*
 * odf.h - what the on-demand fork tests share (odf_test, odf_knobs_test,
 * odf_elig_test): the prctl, the cow_odf_* counters, the region and the
 * model of what each page must hold, and a case run in its own process
 * tree whose memory must be back afterwards.
 *
 * On-demand fork (CONFIG_COW_ODF): last-level page tables shared by fork()
 * instead of copied.
 *
 * A process opted in with prctl(PR_SET_COW_ODF, 1) (or every process, with
 * vm.cow_odf=1) shares at fork each PTE table that covers a whole 2 MiB of
 * one private anonymous VMA holding only present pages or empty entries;
 * the first fault or page-table change by either side in such a range gives
 * that side a copy of the table (cow_odf_copied), or the table itself when
 * it is the last sharer (cow_odf_reused); unmapping or zapping the whole
 * 2 MiB, or exiting, drops a reference (cow_odf_freed).
 *
 * Every case maps a region of NR (4) 2 MiB ranges, 2 MiB aligned, a VMA of
 * its own between PROT_NONE guards, MADV_NOHUGEPAGE, fills it with a
 * per-page pattern except a few pages of each range that are never touched
 * (empty entries: reading one faults), opts in and forks; the fork must
 * share at least NR tables, or the case fails. Each process keeps a model
 * of what every page must hold and checks the whole region against it
 * after every turn: the other side's writes never show, the pre-fork bytes
 * stay, zapped pages read zero.
 *
 * The cow_odf_* counters are system wide: counters are checked as lower
 * bounds; a check that something did NOT happen runs again (up to
 * ATTEMPTS) when another process could have moved it.
 *
 * Everything skips on a kernel without the feature (the prctl: EINVAL).
 */
#ifndef COWLAB_ODF_H
#define COWLAB_ODF_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "harness.h"
#include "region.h"
#include "cowlab.h"
#include "../../userspace-bench/procfs.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define PG 4096UL
#define PMD_SZ (2UL << 20)
#define PPR 512 /* pages per 2 MiB range */
#define NR 4 /* ranges per region: 8 MiB */
#define NPAGES (NR * PPR)
#define ALL ((1u << NR) - 1)
#define HOLE0 500 /* pages 500..503 of every range: */
#define NHOLE 4 /* never touched before the fork */
#define ANON_SLACK 256 /* pages of nr_anon_pages noise */
#define PM_SWAP (1ULL << 62)

/* who wrote a page: the parent, the child, the child's child */
enum { T_PARENT = 1, T_CHILD = 2, T_GRAND = 3 };
static const char *const tag_name[] = { "?", "parent", "child", "grandchild" };

/* ---- the prctl ---- */

static inline int odf_get(void)
{
	return prctl(PR_GET_COW_ODF, 0, 0, 0, 0);
}

static inline int odf_set(unsigned long v)
{
	return prctl(PR_SET_COW_ODF, v, 0, 0, 0);
}

/* 1: the kernel has on-demand fork, 0: it has not (EINVAL), else -errno */
static inline int odf_supported(void)
{
	if (odf_get() >= 0)
		return 1;
	return errno == EINVAL ? 0 : -errno;
}

/* ---- /proc/vmstat (a static buffer: nothing allocated) ---- */

struct odfc {
	union {
		struct {
			long shared, copied, reused, freed, fallback;
		};
		long v[5];
	};
};

COUNTERS(odfc, "cow_odf_shared", "cow_odf_copied", "cow_odf_reused",
	 "cow_odf_freed", "cow_odf_fallback")

/*
 * nr_anon_pages and nr_page_table_pages; 1 when exact (the per-CPU deltas
 * folded by vm.stat_refresh: root), 0 when they may lag behind.
 */
static inline int mem_sample(long *anon, long *pt)
{
	int exact = !knob_write("/proc/sys/vm/stat_refresh", "1");
	const char *vs = vmstat_load();

	*anon = vmstat_field(vs, "nr_anon_pages");
	*pt = vmstat_field(vs, "nr_page_table_pages");
	return exact;
}

static inline int nbits(unsigned int mask)
{
	return __builtin_popcount(mask);
}

/* ---- the region and the model of what it holds ---- */

struct region {
	char *raw, *p;
	size_t span;
};

/*
 * @npages of private anonymous memory, 2 MiB aligned, a VMA of its own
 * between PROT_NONE guards, not populated; MADV_NOHUGEPAGE with @nohuge.
 */
static inline int region_map(struct region *r, long npages, int nohuge)
{
	r->span = npages * PG + 3 * PMD_SZ;
	r->raw = mmap(NULL, r->span, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->raw == MAP_FAILED)
		return -1;
	r->p = (char *)(((uintptr_t)r->raw + 2 * PMD_SZ - 1) & ~(PMD_SZ - 1));
	if (mprotect(r->p, npages * PG, PROT_READ | PROT_WRITE))
		return -1;
	if (nohuge)
		madvise(r->p, npages * PG, MADV_NOHUGEPAGE);
	return 0;
}

static inline void region_unmap(struct region *r)
{
	munmap(r->raw, r->span);
}

/* page @i of range @r */
static inline char *pg(char *p, int r, long i)
{
	return p + ((long)r * PPR + i) * PG;
}

static inline uint64_t orig_word(long page, long k)
{
	return ((uint64_t)page << 40) ^ ((uint64_t)k * 0x9E3779B97F4A7C15ULL) ^
	       0x0123456789abcdefULL;
}

/* what a write by @tag leaves in word @k of page @page */
static inline uint64_t tag_word(int tag, long page, long k)
{
	return orig_word(page, k) ^ (0x0101010101010101ULL * (tag * 0x2bULL));
}

enum { M_HOLE, M_ORIG, M_ZERO, M_TAG, M_FREE, M_GONE };

/* what this process must see in each page of the region */
static struct want {
	uint8_t kind, tag;
} model[NPAGES];

static inline int is_hole(long i)
{
	return i % PPR >= HOLE0 && i % PPR < HOLE0 + NHOLE;
}

/* every page but the holes: the pattern */
static inline void region_fill(char *p)
{
	for (long i = 0; i < NPAGES; i++) {
		uint64_t *w = (uint64_t *)(p + i * PG);

		model[i].kind = is_hole(i) ? M_HOLE : M_ORIG;
		if (is_hole(i))
			continue;
		for (long k = 0; k < (long)(PG / 8); k++)
			w[k] = orig_word(i, k);
	}
}

static inline int region_new(struct region *r)
{
	if (region_map(r, NPAGES, 1))
		return -1;
	region_fill(r->p);
	return 0;
}

static inline void stamp(char *p, long i, int tag)
{
	uint64_t *w = (uint64_t *)(p + i * PG);

	for (long k = 0; k < (long)(PG / 8); k++)
		w[k] = tag_word(tag, i, k);
	model[i].kind = M_TAG;
	model[i].tag = tag;
}

static inline void model_set(long first, long n, int kind)
{
	for (long i = first; i < first + n; i++)
		model[i].kind = kind;
}

static inline void describe(char *buf, size_t len, uint64_t v, long i, long k)
{
	if (v == orig_word(i, k)) {
		snprintf(buf, len, "the original bytes");
		return;
	}
	if (!v) {
		snprintf(buf, len, "zero");
		return;
	}
	for (int t = T_PARENT; t <= T_GRAND; t++) {
		if (v == tag_word(t, i, k)) {
			snprintf(buf, len, "the %s's write", tag_name[t]);
			return;
		}
	}
	snprintf(buf, len, "%#018llx", (unsigned long long)v);
}

/*
 * The region against the model. Never-touched pages (reading one faults,
 * which unshares its table) only with @holes.
 */
static inline int verify(char *p, int holes)
{
	for (long i = 0; i < NPAGES; i++) {
		const volatile uint64_t *w = (const uint64_t *)(p + i * PG);
		const struct want *m = &model[i];
		int zero = 0;

		if (m->kind == M_GONE || (m->kind == M_HOLE && !holes))
			continue;
		/* MADV_FREE: the page is either kept or reclaimed (zero) */
		if (m->kind == M_FREE)
			zero = w[0] == 0;
		for (long k = 0; k < (long)(PG / 8); k++) {
			uint64_t want, got = w[k];
			char ws[64], gs[64];

			switch (m->kind) {
			case M_ORIG:
				want = orig_word(i, k);
				break;
			case M_TAG:
				want = tag_word(m->tag, i, k);
				break;
			case M_FREE:
				want = zero ? 0 : orig_word(i, k);
				break;
			default: /* M_ZERO, M_HOLE */
				want = 0;
				break;
			}
			if (got == want)
				continue;
			describe(ws, sizeof(ws), want, i, k);
			describe(gs, sizeof(gs), got, i, k);
			CFAIL("range %ld page %ld word %ld: want %s, got %s",
			      i / PPR, i % PPR, k, ws, gs);
		}
	}
	return OK;
}

/* [a, a + len) has no mapping at all */
static inline int unmapped(char *a, size_t len)
{
	return msync(a, len, MS_ASYNC) == -1 && errno == ENOMEM;
}

/* process_vm_readv/writev and pread buffer (static: no stack growth) */
static uint64_t iobuf[16 * PG / 8] __attribute__((unused));

static sigjmp_buf segv_env;

static inline void segv_handler(int sig)
{
	siglongjmp(segv_env, 1);
}

/* 1 when writing the byte at @a raises SIGSEGV */
static inline int write_faults(char *a)
{
	struct sigaction sa = { .sa_handler = segv_handler }, old;
	int faulted = 0;

	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(segv_env, 1) == 0)
		*(volatile char *)a = *(volatile char *)a;
	else
		faulted = 1;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}
/* ---- processes (verdicts, supervise: harness.h) ---- */

/*
 * The counters into @a, then fork(); the child speaks as @child (who).
 * fork()'s return.
 */
static inline pid_t counted_fork(struct odfc *a, const char *child)
{
	pid_t pid;

	odfc_read(a);
	fflush(NULL);
	pid = fork();
	if (!pid)
		who = child;
	return pid;
}

/*
 * supervise(@fn, @arg), then nr_anon_pages must be back within ANON_SLACK
 * pages and, with @pt_slack > 0, nr_page_table_pages within @pt_slack
 * pages of where they were, every process having exited. Other processes
 * move them too: a run that leaves more behind is repeated, up to ATTEMPTS
 * times; a leak does it every time. OK, or @fn's verdict.
 */
static inline int run_checked(struct __test_metadata *_metadata, proc_fn fn, void *arg,
		       long pt_slack)
{
	long anon0, anon1, pt0, pt1, lag = 0, cpus;
	int rc;

	for (int t = 0; t < ATTEMPTS; t++) {
		if (!mem_sample(&anon0, &pt0)) {
			/* not folded: up to 125 pages per CPU and counter */
			cpus = sysconf(_SC_NPROCESSORS_ONLN);
			lag = 2 * 125 * (cpus > 0 ? cpus : 1);
		}
		rc = supervise(fn, arg);
		if (rc != OK)
			return rc;
		mem_sample(&anon1, &pt1);
		TH_LOG("every process exited: nr_anon_pages %ld -> %ld, nr_page_table_pages %ld -> %ld",
		       anon0, anon1, pt0, pt1);
		if (anon1 - anon0 < ANON_SLACK + lag &&
		    (pt_slack <= 0 || pt1 - pt0 < pt_slack + lag))
			return OK;
	}
	if (pt_slack > 0)
		TH_LOG("more than %ld anonymous or %ld page-table pages left behind in %d runs: a leak",
		       ANON_SLACK + lag, pt_slack + lag, ATTEMPTS);
	else
		TH_LOG("more than %ld anonymous pages left behind in %d runs: a leak",
		       ANON_SLACK + lag, ATTEMPTS);
	return FAIL;
}

/* ---- turns between parent and child ---- */

static const char no_odf[] =
	"kernel without on-demand fork (PR_GET_COW_ODF: EINVAL)";

/* skip without the feature; with it, the counters must be there */
#define NEED_ODF_COUNTERS()                                                       \
	do {                                                             \
		int _s = odf_supported();                                \
		if (!_s)                                                 \
			SKIP(return, "%s", no_odf);                      \
		ASSERT_EQ(1, _s)                                         \
		{                                                        \
			TH_LOG("PR_GET_COW_ODF: %s", strerror(-_s));     \
		}                                                        \
		ASSERT_TRUE(odfc_present())                      \
		{                                                        \
			TH_LOG("no cow_odf_* counters in /proc/vmstat"); \
		}                                                        \
	} while (0)


/* the fixture of most cases: skip without the feature, opt out after */
#define ODF_FIXTURE(name)                                     \
	FIXTURE(name) {                                       \
		int unused;                                   \
	};                                                    \
	FIXTURE_SETUP(name)                                   \
	{                                                     \
		NEED_ODF_COUNTERS();                          \
	}                                                     \
	FIXTURE_TEARDOWN(name)                                \
	{                                                     \
		if (odf_supported() == 1)                     \
			odf_set(PR_COW_ODF_DEFAULT);          \
	}

#endif /* COWLAB_ODF_H */
