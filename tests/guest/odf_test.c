// SPDX-License-Identifier: GPL-2.0
/*
 * odf_test - on-demand fork (CONFIG_COW_ODF): last-level page tables shared
 * by fork() instead of copied.
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
 * odf_op: every page-table operation, done once by the parent and once by
 * the child while the other keeps sharing. In turns (pipes), with the
 * other process blocked: the actor operates (cow_odf_copied, or _freed,
 * must grow by the ranges it changed); the other side checks its bytes and
 * writes every range (ranges the actor unshared: cow_odf_reused, the
 * others: cow_odf_copied); the actor checks again and writes every range
 * (cow_odf_reused for those it had left shared); both check everything
 * once more, never-touched pages included. Each process exits with its
 * verdict; the test process, a child subreaper, reaps them all (also the
 * child of a parent that exited first) and then checks that nr_anon_pages
 * is back near where it started.
 *
 * odf: the prctl (defaults, not inherited by fork, reset by exec, one
 * setting per mm, EINVAL for bad input), a Dirty-COW style race of forced
 * writes (/proc/self/mem, FOLL_FORCE) into a read-only shared range by
 * parent and child at once while each zaps part of it, and 32 fork cycles
 * after which nr_anon_pages and nr_page_table_pages must be back.
 * odf_elig: tables that must not be shared (file-backed, shared, uffd,
 * THP, split by a VMA boundary) and forks that must fall back (swap
 * entries, a pinned mm). odf_sysctl (root): vm.cow_odf=1 shares without
 * the prctl, prctl(PR_SET_COW_ODF, 2) opts out, bad values are refused.
 *
 * The cow_odf_* counters are system wide: counters are checked as lower
 * bounds; a check that something did NOT happen runs again (up to
 * ATTEMPTS) when another process could have moved it.
 *
 * Everything skips on a kernel without the feature (the prctl: EINVAL).
 */
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
#define ATTEMPTS 5
#define ANON_SLACK 256 /* pages of nr_anon_pages noise */
#define PM_SWAP (1ULL << 62)

/* exit codes of the test's processes */
enum { OK = 0, FAIL = 1, RETRY = 2, SKIPPED = 4 };

/* who wrote a page: the parent, the child, the child's child */
enum { T_PARENT = 1, T_CHILD = 2, T_GRAND = 3 };
static const char *const tag_name[] = { "?", "parent", "child", "grandchild" };

static const char *who = "parent";

#define CFAIL(fmt, ...)                                                  \
	do {                                                             \
		fprintf(stderr, "# %s: %s:%d: " fmt "\n", who, __func__, \
			__LINE__, ##__VA_ARGS__);                        \
		return FAIL;                                             \
	} while (0)

/* counters disturbed by something else in the system: try again */
#define CRETRY(fmt, ...)                                               \
	do {                                                           \
		fprintf(stderr, "# %s: %s:%d: (retry) " fmt "\n", who, \
			__func__, __LINE__, ##__VA_ARGS__);            \
		return RETRY;                                          \
	} while (0)

#define CSKIP(fmt, ...)                                                       \
	do {                                                                  \
		fprintf(stderr, "# %s: skip: " fmt "\n", who, ##__VA_ARGS__); \
		return SKIPPED;                                               \
	} while (0)

/* ---- the prctl ---- */

static int odf_get(void)
{
	return prctl(PR_GET_COW_ODF, 0, 0, 0, 0);
}

static int odf_set(unsigned long v)
{
	return prctl(PR_SET_COW_ODF, v, 0, 0, 0);
}

/* 1: the kernel has on-demand fork, 0: it has not (EINVAL), else -errno */
static int odf_supported(void)
{
	if (odf_get() >= 0)
		return 1;
	return errno == EINVAL ? 0 : -errno;
}

/* exec reset probe: a re-executed odf_test reports PR_GET_COW_ODF and exits */
static void __attribute__((constructor)) exec_probe(void)
{
	int v;

	if (!getenv("COWLAB_ODF_EXEC_PROBE"))
		return;
	v = odf_get();
	_exit(v < 0 ? 100 : v);
}

/* ---- /proc/vmstat (a static buffer: nothing allocated) ---- */

struct odfc {
	long shared, copied, reused, freed, fallback;
};

static void odf_read(struct odfc *c)
{
	const char *vs = vmstat_load();

	c->shared = vmstat_field(vs, "cow_odf_shared");
	c->copied = vmstat_field(vs, "cow_odf_copied");
	c->reused = vmstat_field(vs, "cow_odf_reused");
	c->freed = vmstat_field(vs, "cow_odf_freed");
	c->fallback = vmstat_field(vs, "cow_odf_fallback");
}

static void odf_delta(struct odfc *d, const struct odfc *a,
		      const struct odfc *b)
{
	d->shared = b->shared - a->shared;
	d->copied = b->copied - a->copied;
	d->reused = b->reused - a->reused;
	d->freed = b->freed - a->freed;
	d->fallback = b->fallback - a->fallback;
}

static int odf_counters_present(void)
{
	struct odfc c;

	odf_read(&c);
	return c.shared >= 0 && c.copied >= 0 && c.reused >= 0 &&
	       c.freed >= 0 && c.fallback >= 0;
}

/*
 * nr_anon_pages and nr_page_table_pages; 1 when exact (the per-CPU deltas
 * folded by vm.stat_refresh: root), 0 when they may lag behind.
 */
static int mem_sample(long *anon, long *pt)
{
	int exact = !knob_write("/proc/sys/vm/stat_refresh", "1");
	const char *vs = vmstat_load();

	*anon = vmstat_field(vs, "nr_anon_pages");
	*pt = vmstat_field(vs, "nr_page_table_pages");
	return exact;
}

static int nbits(unsigned int mask)
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
static int region_map(struct region *r, long npages, int nohuge)
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

static void region_unmap(struct region *r)
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

static int is_hole(long i)
{
	return i % PPR >= HOLE0 && i % PPR < HOLE0 + NHOLE;
}

/* every page but the holes: the pattern */
static void region_fill(char *p)
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

static int region_new(struct region *r)
{
	if (region_map(r, NPAGES, 1))
		return -1;
	region_fill(r->p);
	return 0;
}

static void stamp(char *p, long i, int tag)
{
	uint64_t *w = (uint64_t *)(p + i * PG);

	for (long k = 0; k < (long)(PG / 8); k++)
		w[k] = tag_word(tag, i, k);
	model[i].kind = M_TAG;
	model[i].tag = tag;
}

static void model_set(long first, long n, int kind)
{
	for (long i = first; i < first + n; i++)
		model[i].kind = kind;
}

static void describe(char *buf, size_t len, uint64_t v, long i, long k)
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
static int verify(char *p, int holes)
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
static int unmapped(char *a, size_t len)
{
	return msync(a, len, MS_ASYNC) == -1 && errno == ENOMEM;
}

static sigjmp_buf segv_env;

static void segv_handler(int sig)
{
	siglongjmp(segv_env, 1);
}

/* 1 when writing the byte at @a raises SIGSEGV */
static int write_faults(char *a)
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

/* ---- processes ---- */

static int rank(int rc)
{
	switch (rc) {
	case OK:
		return 0;
	case SKIPPED:
		return 1;
	case RETRY:
		return 2;
	default:
		return 3;
	}
}

static int worst(int a, int b)
{
	int r = rank(a) > rank(b) ? a : b;

	return rank(r) == 3 ? FAIL : r;
}

static int status_rc(int st, const char *name)
{
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "# %s: %s killed by signal %d\n", who, name,
			WTERMSIG(st));
		return FAIL;
	}
	return WEXITSTATUS(st);
}

typedef int (*proc_fn)(void *arg);

/*
 * Run @fn in a new process and reap it and every descendant it leaves
 * behind (this process is their subreaper): the worst exit code.
 */
static int supervise(proc_fn fn, void *arg)
{
	int st, rc = OK;
	pid_t pid, w;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		return FAIL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return FAIL;
	if (!pid)
		_exit(fn(arg));
	while ((w = waitpid(-1, &st, 0)) > 0)
		rc = worst(rc, status_rc(st, w == pid ? "the test process" :
							"an orphaned process"));
	return rc;
}

/*
 * supervise(@fn, @arg), then nr_anon_pages must be back within ANON_SLACK
 * pages and, with @pt_slack > 0, nr_page_table_pages within @pt_slack
 * pages of where they were, every process having exited. Other processes
 * move them too: a run that leaves more behind is repeated, up to ATTEMPTS
 * times; a leak does it every time. OK, or @fn's verdict.
 */
static int run_checked(struct __test_metadata *_metadata, proc_fn fn, void *arg,
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

struct msg {
	int rc;
	unsigned int copy; /* ranges the actor unshared by copying */
	unsigned int freed; /* ranges the actor dropped (whole 2 MiB) */
	unsigned int maybe; /* ranges the actor may or may not have unshared */
};

/*
 * Splitting a VMA at a 2 MiB boundary changes no page table; still, an
 * implementation may unshare the tables on both sides of the split, so
 * their counters are not judged: ranges 0 and 2 around range 1.
 */
#define NEIGHBOURS_OF_1 (1u | 4u)

struct side {
	char *p;
	int actor; /* this side operates first */
	int tag;
	int rfd, wfd; /* from and to the other side */
};

static int msg_send(int fd, const struct msg *m)
{
	return write(fd, m, sizeof(*m)) == sizeof(*m) ? 0 : -1;
}

/* 0, or -1 at EOF: the other side has exited */
static int msg_recv(int fd, struct msg *m)
{
	return read(fd, m, sizeof(*m)) == sizeof(*m) ? 0 : -1;
}

enum op {
	OP_READ_FAULT,
	OP_WRITE,
	OP_MUNMAP_WHOLE,
	OP_MUNMAP_PART,
	OP_MPROTECT,
	OP_DONTNEED_WHOLE,
	OP_DONTNEED_PART,
	OP_FREE,
	OP_COLD,
	OP_PAGEOUT,
	OP_MREMAP_PART,
	OP_MREMAP_WHOLE,
	OP_COLLAPSE,
	OP_MLOCK,
	OP_VM_READV,
	OP_VM_WRITEV,
	OP_PAGEMAP,
	OP_MINCORE,
	OP_SMAPS,
	OP_PROCMEM_READ,
	OP_EXIT,
	OP_FORK,
};

static const char *const op_name[] = {
	"read fault of a never-touched page",
	"write",
	"munmap of a whole 2 MiB",
	"munmap of part of a range",
	"mprotect",
	"MADV_DONTNEED of a whole 2 MiB",
	"MADV_DONTNEED of part of a range",
	"MADV_FREE",
	"MADV_COLD",
	"MADV_PAGEOUT",
	"mremap of part of a range",
	"mremap of a whole 2 MiB",
	"MADV_COLLAPSE",
	"mlock",
	"process_vm_readv",
	"process_vm_writev",
	"reading /proc/self/pagemap",
	"mincore",
	"reading /proc/self/smaps",
	"reading /proc/self/mem",
	"exit",
	"fork",
};

static const char *other_name(const struct side *s)
{
	return s->tag == T_PARENT ? "child" : "parent";
}

static uint64_t iobuf[16 * PG / 8];

/* the first 16 pages at @dst were pages @first.. of the region */
static int moved_ok(char *dst, long first, long n)
{
	for (long i = 0; i < n; i++) {
		const uint64_t *w = (const uint64_t *)(dst + i * PG);

		if (model[first + i].kind != M_ORIG)
			continue;
		for (long k = 0; k < (long)(PG / 8); k++)
			if (w[k] != orig_word(first + i, k))
				CFAIL("moved page %ld word %ld: not the original",
				      first + i, k);
	}
	return OK;
}

static int grandchild(char *p)
{
	struct odfc a, b, d;
	int rc = verify(p, 0);

	if (rc)
		return rc;
	odf_read(&a);
	for (int r = 0; r < NR; r++)
		stamp(p, r * PPR + 3, T_GRAND);
	odf_read(&b);
	odf_delta(&d, &a, &b);
	rc = verify(p, 0);
	if (rc)
		return rc;
	if (d.copied < NR)
		CFAIL("writing %d ranges shared three ways: cow_odf_copied +%ld, want >= %d",
		      NR, d.copied, NR);
	return verify(p, 1);
}

/* the actor forks again while it shares every range with the other side */
static int nested_fork(struct side *s)
{
	struct odfc a, b, c, d;
	int st, v = odf_get();
	pid_t pid;

	if (s->tag == T_CHILD) {
		if (v != PR_COW_ODF_DEFAULT)
			CFAIL("PR_GET_COW_ODF in the child: %d, want 0 (not inherited)",
			      v);
		if (odf_set(PR_COW_ODF_ALWAYS))
			CFAIL("PR_SET_COW_ODF: %s", strerror(errno));
	}
	odf_read(&a);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		who = "grandchild";
		close(s->rfd);
		close(s->wfd);
		_exit(grandchild(s->p));
	}
	odf_read(&b);
	if (waitpid(pid, &st, 0) != pid)
		CFAIL("waitpid: %s", strerror(errno));
	odf_read(&c);
	if (status_rc(st, "the grandchild") != OK)
		CFAIL("the grandchild failed (status %#x)", st);
	odf_delta(&d, &a, &b);
	if (d.shared < NR)
		CFAIL("fork by a process sharing %d tables: cow_odf_shared +%ld, want >= %d",
		      NR, d.shared, NR);
	odf_delta(&d, &a, &c);
	if (d.copied < NR)
		CFAIL("the grandchild's writes: cow_odf_copied +%ld, want >= %d",
		      d.copied, NR);
	if (s->tag == T_CHILD &&
	    (odf_set(PR_COW_ODF_DEFAULT) || odf_get() != PR_COW_ODF_DEFAULT))
		CFAIL("cannot restore PR_SET_COW_ODF 0");
	return OK;
}

/* The operation itself; @m gets the ranges it unshares. */
static int do_op(struct side *s, int op, struct msg *m)
{
	static uint64_t pm[PPR];
	static unsigned char vec[PPR];
	char *p = s->p, *raw, *dst;
	struct iovec l, rv;
	ssize_t n;
	int fd, rc;
	long kb;

	switch (op) {
	case OP_READ_FAULT: {
		volatile uint64_t *w = (volatile uint64_t *)pg(p, 0, HOLE0);
		uint64_t v = w[0] | w[PG / 8 - 1];

		if (v)
			CFAIL("a never-touched page reads %#llx, want zero",
			      (unsigned long long)v);
		model[HOLE0].kind = M_ZERO;
		m->copy = 1;
		return OK;
	}
	case OP_WRITE:
		stamp(p, 10, s->tag);
		m->copy = 1;
		return OK;
	case OP_MUNMAP_WHOLE:
		if (munmap(pg(p, 1, 0), PMD_SZ))
			CFAIL("munmap: %s", strerror(errno));
		if (!unmapped(pg(p, 1, 0), PMD_SZ))
			CFAIL("range 1 still mapped after munmap");
		model_set(PPR, PPR, M_GONE);
		m->freed = 2;
		m->maybe = NEIGHBOURS_OF_1;
		return OK;
	case OP_MUNMAP_PART:
		if (munmap(pg(p, 0, 64), 16 * PG))
			CFAIL("munmap: %s", strerror(errno));
		if (!unmapped(pg(p, 0, 64), 16 * PG))
			CFAIL("pages 64..79 still mapped after munmap");
		model_set(64, 16, M_GONE);
		m->copy = 1;
		return OK;
	case OP_MPROTECT:
		if (mprotect(pg(p, 0, 32), 32 * PG, PROT_READ))
			CFAIL("mprotect PROT_READ: %s", strerror(errno));
		m->copy = 1;
		if (!write_faults(pg(p, 0, 40)))
			CFAIL("a write to a PROT_READ page did not fault");
		rc = verify(p, 0);
		if (rc)
			return rc;
		if (mprotect(pg(p, 0, 32), 32 * PG, PROT_READ | PROT_WRITE))
			CFAIL("mprotect back: %s", strerror(errno));
		stamp(p, 33, s->tag);
		return OK;
	case OP_DONTNEED_WHOLE:
		if (madvise(pg(p, 1, 0), PMD_SZ, MADV_DONTNEED))
			CFAIL("MADV_DONTNEED: %s", strerror(errno));
		model_set(PPR, PPR, M_ZERO);
		m->freed = 2;
		return OK;
	case OP_DONTNEED_PART:
		if (madvise(pg(p, 0, 128), 8 * PG, MADV_DONTNEED))
			CFAIL("MADV_DONTNEED: %s", strerror(errno));
		model_set(128, 8, M_ZERO);
		m->copy = 1;
		return OK;
	case OP_FREE:
		if (madvise(pg(p, 0, 256), 128 * PG, MADV_FREE))
			CFAIL("MADV_FREE: %s", strerror(errno));
		model_set(256, 128, M_FREE);
		m->copy = 1;
		return OK;
	case OP_COLD:
	case OP_PAGEOUT:
		if (madvise(pg(p, 0, 0), PMD_SZ,
			    op == OP_COLD ? MADV_COLD : MADV_PAGEOUT))
			CFAIL("%s: %s", op_name[op], strerror(errno));
		m->copy = 1;
		return OK;
	case OP_MREMAP_PART:
		dst = mmap(NULL, 16 * PG, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (dst == MAP_FAILED)
			CFAIL("mmap: %s", strerror(errno));
		if (mremap(pg(p, 0, 400), 16 * PG, 16 * PG,
			   MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
			CFAIL("mremap: %s", strerror(errno));
		m->copy = 1;
		rc = moved_ok(dst, 400, 16);
		munmap(dst, 16 * PG);
		if (!unmapped(pg(p, 0, 400), 16 * PG))
			CFAIL("pages 400..415 still mapped after mremap");
		model_set(400, 16, M_GONE);
		return rc;
	case OP_MREMAP_WHOLE:
		raw = mmap(NULL, 2 * PMD_SZ, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (raw == MAP_FAILED)
			CFAIL("mmap: %s", strerror(errno));
		dst = (char *)(((uintptr_t)raw + PMD_SZ - 1) & ~(PMD_SZ - 1));
		if (mremap(pg(p, 1, 0), PMD_SZ, PMD_SZ,
			   MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
			CFAIL("mremap: %s", strerror(errno));
		m->copy = 2;
		m->maybe = NEIGHBOURS_OF_1;
		rc = moved_ok(dst, PPR, PPR);
		munmap(raw, 2 * PMD_SZ);
		if (!unmapped(pg(p, 1, 0), PMD_SZ))
			CFAIL("range 1 still mapped after mremap");
		model_set(PPR, PPR, M_GONE);
		return rc;
	case OP_COLLAPSE:
		/* range 0 alone: MADV_NOHUGEPAGE would refuse the collapse */
		if (madvise(pg(p, 0, 0), PMD_SZ, MADV_HUGEPAGE) &&
		    errno != EINVAL)
			CFAIL("MADV_HUGEPAGE: %s", strerror(errno));
		m->maybe = 2; /* the VMA was split where range 1 starts */
		if (!madvise(pg(p, 0, 0), PMD_SZ, MADV_COLLAPSE)) {
			m->copy = 1;
			return OK;
		}
		/* the documented failures: no THP, busy, no memory */
		if (errno != EINVAL && errno != EAGAIN && errno != EBUSY &&
		    errno != ENOMEM)
			CFAIL("MADV_COLLAPSE: %s (not a documented error)",
			      strerror(errno));
		fprintf(stderr,
			"# %s: MADV_COLLAPSE: %s; the bytes are still checked\n",
			who, strerror(errno));
		m->maybe |= 1;
		return OK;
	case OP_MLOCK:
		if (mlock(pg(p, 0, 16), 16 * PG)) {
			if (errno == EPERM || errno == ENOMEM ||
			    errno == EAGAIN)
				CSKIP("mlock: %s", strerror(errno));
			CFAIL("mlock: %s", strerror(errno));
		}
		m->copy = 1;
		rc = verify(p, 0);
		if (munlock(pg(p, 0, 16), 16 * PG))
			CFAIL("munlock: %s", strerror(errno));
		return rc;
	case OP_VM_READV:
		l = (struct iovec){ iobuf, 16 * PG };
		rv = (struct iovec){ pg(p, 0, 200), 16 * PG };
		n = process_vm_readv(getpid(), &l, 1, &rv, 1, 0);
		if (n < 0 && errno == ENOSYS)
			CSKIP("process_vm_readv: ENOSYS");
		if (n != (ssize_t)(16 * PG))
			CFAIL("process_vm_readv: %zd (%s)", n, strerror(errno));
		for (long i = 0; i < 16; i++)
			for (long k = 0; k < (long)(PG / 8); k++)
				if (iobuf[i * PG / 8 + k] !=
				    orig_word(200 + i, k))
					CFAIL("process_vm_readv page %ld word %ld: not the original",
					      200 + i, k);
		m->copy = 1;
		return OK;
	case OP_VM_WRITEV:
		for (long i = 0; i < 4; i++)
			for (long k = 0; k < (long)(PG / 8); k++)
				iobuf[i * PG / 8 + k] =
					tag_word(s->tag, 220 + i, k);
		l = (struct iovec){ iobuf, 4 * PG };
		rv = (struct iovec){ pg(p, 0, 220), 4 * PG };
		n = process_vm_writev(getpid(), &l, 1, &rv, 1, 0);
		if (n < 0 && errno == ENOSYS)
			CSKIP("process_vm_writev: ENOSYS");
		if (n != (ssize_t)(4 * PG))
			CFAIL("process_vm_writev: %zd (%s)", n,
			      strerror(errno));
		for (long i = 220; i < 224; i++) {
			model[i].kind = M_TAG;
			model[i].tag = s->tag;
		}
		m->copy = 1;
		return OK;
	case OP_PAGEMAP:
		fd = open("/proc/self/pagemap", O_RDONLY);
		if (fd < 0)
			CSKIP("no /proc/self/pagemap");
		n = pread(fd, pm, sizeof(pm),
			  (uintptr_t)p / PG * sizeof(pm[0]));
		close(fd);
		if (n != sizeof(pm))
			CFAIL("pagemap: %zd (%s)", n, strerror(errno));
		m->copy = 1;
		for (long i = 0; i < PPR; i++)
			if (!!(pm[i] & PM_PRESENT) != !is_hole(i))
				CFAIL("pagemap: page %ld present=%d, want %d",
				      i, !!(pm[i] & PM_PRESENT), !is_hole(i));
		return OK;
	case OP_MINCORE:
		if (mincore(p, PMD_SZ, vec))
			CFAIL("mincore: %s", strerror(errno));
		m->copy = 1;
		for (long i = 0; i < PPR; i++)
			if ((vec[i] & 1) != !is_hole(i))
				CFAIL("mincore: page %ld resident=%d, want %d",
				      i, vec[i] & 1, !is_hole(i));
		return OK;
	case OP_SMAPS:
		kb = proc_smaps_kb(p, "Rss:");
		m->copy = ALL;
		if (kb != (long)(NR * (PPR - NHOLE) * (PG / 1024)))
			CFAIL("smaps: Rss %ld kB, want %lu", kb,
			      NR * (PPR - NHOLE) * (PG / 1024));
		return OK;
	case OP_PROCMEM_READ:
		fd = open("/proc/self/mem", O_RDONLY);
		if (fd < 0)
			CSKIP("no /proc/self/mem");
		n = pread(fd, iobuf, 4 * PG, (off_t)(uintptr_t)pg(p, 0, 300));
		close(fd);
		if (n != (ssize_t)(4 * PG))
			CFAIL("/proc/self/mem: %zd (%s)", n, strerror(errno));
		for (long i = 0; i < 4; i++)
			for (long k = 0; k < (long)(PG / 8); k++)
				if (iobuf[i * PG / 8 + k] !=
				    orig_word(300 + i, k))
					CFAIL("/proc/self/mem page %ld word %ld: not the original",
					      300 + i, k);
		m->copy = 1;
		return OK;
	case OP_EXIT:
		return OK; /* the exit comes after this turn */
	case OP_FORK:
		return nested_fork(s);
	}
	CFAIL("unknown operation %d", op);
}

/* turn 1: the actor operates while the other side shares every range */
static int act(struct side *s, int op, struct msg *m)
{
	struct odfc a, b, d;
	int rc;

	odf_read(&a);
	rc = do_op(s, op, m);
	if (rc)
		return rc;
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	odf_read(&b);
	odf_delta(&d, &a, &b);
	if (d.copied < nbits(m->copy))
		CFAIL("%s changed ranges %#x shared with the %s: cow_odf_copied +%ld, want >= %d",
		      op_name[op], m->copy, other_name(s), d.copied,
		      nbits(m->copy));
	if (d.freed < nbits(m->freed))
		CFAIL("%s dropped ranges %#x shared with the %s: cow_odf_freed +%ld, want >= %d",
		      op_name[op], m->freed, other_name(s), d.freed,
		      nbits(m->freed));
	if (op == OP_EXIT)
		m->freed = ALL;
	return OK;
}

/*
 * turn 2: the other side still sees the original bytes everywhere, then
 * writes every range: it is the last sharer of the ranges the actor
 * unshared (reused), shares the others with the actor still (copied).
 */
static int other_turn(struct side *s, unsigned int touched, unsigned int maybe)
{
	unsigned int untouched = ALL & ~touched & ~maybe;
	struct odfc a, b, d;
	int rc;

	odf_read(&a);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	for (int r = 0; r < NR; r++)
		stamp(s->p, r * PPR + 1, s->tag);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	odf_read(&b);
	odf_delta(&d, &a, &b);
	if (d.reused < nbits(touched))
		CFAIL("writing ranges %#x the %s had unshared: cow_odf_reused +%ld, want >= %d",
		      touched, other_name(s), d.reused, nbits(touched));
	if (d.copied < nbits(untouched))
		CFAIL("writing ranges %#x still shared with the %s: cow_odf_copied +%ld, want >= %d",
		      untouched, other_name(s), d.copied, nbits(untouched));
	return OK;
}

/*
 * turn 3: the actor does not see the other side's writes; it writes every
 * range it still maps: those it had left shared it now holds alone (reused).
 */
static int act_again(struct side *s, unsigned int touched, unsigned int maybe)
{
	unsigned int mapped = 0, untouched;
	struct odfc a, b, d;
	int rc;

	for (int r = 0; r < NR; r++)
		if (model[r * PPR + 2].kind != M_GONE)
			mapped |= 1u << r;
	untouched = mapped & ~touched & ~maybe;
	odf_read(&a);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	for (int r = 0; r < NR; r++)
		if (mapped & (1u << r))
			stamp(s->p, r * PPR + 2, s->tag);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	odf_read(&b);
	odf_delta(&d, &a, &b);
	if (d.reused < nbits(untouched))
		CFAIL("writing ranges %#x the %s has copied meanwhile: cow_odf_reused +%ld, want >= %d",
		      untouched, other_name(s), d.reused, nbits(untouched));
	return OK;
}

static int side_run(struct side *s, int op)
{
	struct msg m = { OK, 0, 0, 0 }, in;
	struct odfc t0, t1, d;
	int rc;

	if (s->actor) {
		if (msg_recv(s->rfd, &in))
			CFAIL("the %s is gone", other_name(s));
		rc = act(s, op, &m);
		m.rc = rc;
		if (msg_send(s->wfd, &m))
			CFAIL("the %s is gone", other_name(s));
		if (rc)
			return rc;
		if (op == OP_EXIT) {
			fflush(NULL);
			_exit(OK);
		}
		if (msg_recv(s->rfd, &in))
			CFAIL("the %s is gone", other_name(s));
		if (in.rc != OK)
			return OK; /* it reports why */
		rc = act_again(s, m.copy | m.freed, m.maybe);
		m.rc = rc;
		msg_send(s->wfd, &m);
		return rc ? rc : verify(s->p, 1);
	}
	odf_read(&t0);
	if (msg_send(s->wfd, &m))
		CFAIL("the %s is gone", other_name(s));
	if (msg_recv(s->rfd, &in))
		CFAIL("the %s died during the operation", other_name(s));
	if (in.rc != OK)
		return OK;
	if (op == OP_EXIT) {
		/* EOF: the actor's files are closed, after its mm is gone */
		if (!msg_recv(s->rfd, &m))
			CFAIL("a message after the last one");
		odf_read(&t1);
		odf_delta(&d, &t0, &t1);
		if (d.freed < NR)
			CFAIL("the %s exited sharing %d tables: cow_odf_freed +%ld, want >= %d",
			      other_name(s), NR, d.freed, NR);
		m.rc = other_turn(s, in.copy | in.freed, in.maybe);
		return m.rc ? m.rc : verify(s->p, 1);
	}
	m.rc = other_turn(s, in.copy | in.freed, in.maybe);
	if (msg_send(s->wfd, &m))
		CFAIL("the %s is gone", other_name(s));
	if (m.rc)
		return m.rc;
	if (msg_recv(s->rfd, &in))
		CFAIL("the %s is gone", other_name(s));
	if (in.rc != OK)
		return OK;
	return verify(s->p, 1);
}

struct op_case {
	int op;
	int actor_parent;
};

/* The parent of one case: opts in, maps, fills, forks, takes its turns. */
static int op_case_main(void *arg)
{
	const struct op_case *c = arg;
	struct msg go = { OK, 0, 0, 0 };
	struct side s = { .tag = T_PARENT };
	int pc[2], cp[2], st, rc;
	struct odfc a, b, d;
	struct region r;
	pid_t pid;

	if (odf_set(PR_COW_ODF_ALWAYS) || odf_get() != PR_COW_ODF_ALWAYS)
		CFAIL("PR_SET_COW_ODF 1: %s", strerror(errno));
	if (region_new(&r) || pipe(pc) || pipe(cp))
		CFAIL("setup: %s", strerror(errno));
	s.p = r.p;
	odf_read(&a);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		who = "child";
		close(pc[1]);
		close(cp[0]);
		s = (struct side){ r.p, !c->actor_parent, T_CHILD, pc[0],
				   cp[1] };
		if (msg_recv(s.rfd, &go) || go.rc != OK)
			_exit(OK); /* the parent says why */
		_exit(side_run(&s, c->op));
	}
	close(pc[0]);
	close(cp[1]);
	odf_read(&b);
	odf_delta(&d, &a, &b);
	s = (struct side){ r.p, c->actor_parent, T_PARENT, cp[0], pc[1] };
	if (d.shared < NR) {
		go.rc = FAIL;
		msg_send(s.wfd, &go);
		fprintf(stderr,
			"# parent: the fork shared %ld page tables, want >= %d (cow_odf_fallback +%ld)\n",
			d.shared, NR, d.fallback);
		rc = FAIL;
	} else {
		rc = msg_send(s.wfd, &go) ? FAIL : side_run(&s, c->op);
	}
	close(s.rfd);
	close(s.wfd);
	if (waitpid(pid, &st, 0) != pid)
		CFAIL("waitpid: %s", strerror(errno));
	rc = worst(rc, status_rc(st, "the child"));
	if (odf_set(PR_COW_ODF_DEFAULT) || odf_get() != PR_COW_ODF_DEFAULT)
		CFAIL("cannot restore PR_SET_COW_ODF 0");
	region_unmap(&r);
	return rc;
}

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
		ASSERT_TRUE(odf_counters_present())                      \
		{                                                        \
			TH_LOG("no cow_odf_* counters in /proc/vmstat"); \
		}                                                        \
	} while (0)

/* clang-format off */
FIXTURE(odf_op) {
	int unused;
};

FIXTURE_VARIANT(odf_op) {
	int op;
	int actor_parent;
};

#define ODF_OP(name, o) \
	FIXTURE_VARIANT_ADD(odf_op, name##_by_parent) { .op = o, .actor_parent = 1 }; \
	FIXTURE_VARIANT_ADD(odf_op, name##_by_child) { .op = o, .actor_parent = 0 }

ODF_OP(read_fault, OP_READ_FAULT);
ODF_OP(write, OP_WRITE);
ODF_OP(munmap_whole, OP_MUNMAP_WHOLE);
ODF_OP(munmap_part, OP_MUNMAP_PART);
ODF_OP(mprotect, OP_MPROTECT);
ODF_OP(dontneed_whole, OP_DONTNEED_WHOLE);
ODF_OP(dontneed_part, OP_DONTNEED_PART);
ODF_OP(madv_free, OP_FREE);
ODF_OP(madv_cold, OP_COLD);
ODF_OP(madv_pageout, OP_PAGEOUT);
ODF_OP(mremap_part, OP_MREMAP_PART);
ODF_OP(mremap_whole, OP_MREMAP_WHOLE);
ODF_OP(madv_collapse, OP_COLLAPSE);
ODF_OP(mlock, OP_MLOCK);
ODF_OP(process_vm_readv, OP_VM_READV);
ODF_OP(process_vm_writev, OP_VM_WRITEV);
ODF_OP(pagemap_read, OP_PAGEMAP);
ODF_OP(mincore, OP_MINCORE);
ODF_OP(smaps_read, OP_SMAPS);
ODF_OP(procmem_read, OP_PROCMEM_READ);
ODF_OP(exit, OP_EXIT);
ODF_OP(nested_fork, OP_FORK);
/* clang-format on */

FIXTURE_SETUP(odf_op)
{
	NEED_ODF_COUNTERS();
}

FIXTURE_TEARDOWN(odf_op)
{
}

TEST_F_TIMEOUT(odf_op, run, 180)
{
	struct op_case c = { variant->op, variant->actor_parent };
	int rc = run_checked(_metadata, op_case_main, &c, 0);

	if (rc == SKIPPED)
		SKIP(return, "%s: not available here (see above)",
			   op_name[c.op]);
	ASSERT_EQ(OK, rc)
	{
		TH_LOG("%s by the %s: failed (see above)", op_name[c.op],
		       c.actor_parent ? "parent" : "child");
	}
}

/* ---- the prctl and small things: fixture odf ---- */

/* clang-format off */
FIXTURE(odf) {
	int unused;
};
/* clang-format on */

FIXTURE_SETUP(odf)
{
	NEED_ODF_COUNTERS();
}

FIXTURE_TEARDOWN(odf)
{
	if (odf_supported() == 1)
		odf_set(PR_COW_ODF_DEFAULT);
}

TEST_F(odf, prctl_default_and_values)
{
	ASSERT_EQ(PR_COW_ODF_DEFAULT, odf_get());
	for (int v = PR_COW_ODF_NEVER; v >= PR_COW_ODF_DEFAULT; v--) {
		ASSERT_EQ(0, odf_set(v));
		ASSERT_EQ(v, odf_get());
	}
}

TEST_F(odf, prctl_bad_input)
{
	static const unsigned long bad[][4] = {
		{ 3, 0, 0, 0 },
		{ 4, 0, 0, 0 },
		{ ULONG_MAX, 0, 0, 0 },
		{ (1UL << 32) | 1, 0, 0, 0 }, /* no truncation to int */
		{ 1, 1, 0, 0 },
		{ 1, 0, 1, 0 },
		{ 1, 0, 0, 1 },
		{ 0, 0, 0, 1 },
		{ 2, ULONG_MAX, 0, 0 },
	};

	ASSERT_EQ(0, odf_set(PR_COW_ODF_ALWAYS));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, prctl(PR_SET_COW_ODF, bad[i][0], bad[i][1],
				    bad[i][2], bad[i][3]))
		{
			TH_LOG("PR_SET_COW_ODF(%#lx, %#lx, %#lx, %#lx) accepted",
			       bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
		}
		EXPECT_EQ(EINVAL, errno);
		/* and the setting is untouched */
		ASSERT_EQ(PR_COW_ODF_ALWAYS, odf_get());
	}
	ASSERT_EQ(0, odf_set(PR_COW_ODF_DEFAULT));
}

/* The setting lives on the mm: not inherited by a child of fork. */
TEST_F(odf, prctl_not_inherited)
{
	for (int v = PR_COW_ODF_ALWAYS; v <= PR_COW_ODF_NEVER; v++) {
		int st;
		pid_t pid;

		ASSERT_EQ(0, odf_set(v));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(odf_get());
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFEXITED(st));
		EXPECT_EQ(PR_COW_ODF_DEFAULT, WEXITSTATUS(st))
		{
			TH_LOG("a child of a process with %d starts with %d", v,
			       WEXITSTATUS(st));
		}
		ASSERT_EQ(v, odf_get());
	}
	ASSERT_EQ(0, odf_set(PR_COW_ODF_DEFAULT));
}

/* ... and reset by exec (the re-executed test reports it: exec_probe()) */
TEST_F(odf, prctl_reset_by_exec)
{
	for (int v = PR_COW_ODF_ALWAYS; v <= PR_COW_ODF_NEVER; v++) {
		char *const argv[] = { "odf_test", NULL };
		char *const envp[] = { "COWLAB_ODF_EXEC_PROBE=1", NULL };
		int st;
		pid_t pid;

		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			if (odf_set(v) || odf_get() != v)
				_exit(101);
			execve("/proc/self/exe", argv, envp);
			_exit(102);
		}
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFEXITED(st));
		ASSERT_NE(102, WEXITSTATUS(st))
		{
			TH_LOG("execve /proc/self/exe failed");
		}
		ASSERT_NE(101, WEXITSTATUS(st))
		{
			TH_LOG("PR_SET_COW_ODF %d failed", v);
		}
		EXPECT_EQ(PR_COW_ODF_DEFAULT, WEXITSTATUS(st))
		{
			TH_LOG("after exec PR_GET_COW_ODF is %d (was %d)",
			       WEXITSTATUS(st), v);
		}
	}
}

static void *set_from_thread(void *arg)
{
	*(int *)arg = odf_set(PR_COW_ODF_NEVER);
	return NULL;
}

/* one setting per mm: a thread's PR_SET is the process's */
TEST_F(odf, prctl_per_mm_threads)
{
	pthread_t t;
	int rc = -1;

	ASSERT_EQ(0, odf_set(PR_COW_ODF_ALWAYS));
	ASSERT_EQ(0, pthread_create(&t, NULL, set_from_thread, &rc));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, rc);
	ASSERT_EQ(PR_COW_ODF_NEVER, odf_get());
	ASSERT_EQ(0, odf_set(PR_COW_ODF_DEFAULT));
}

/* ---- Dirty-COW style: forced writes into a shared read-only range ---- */

#define DC_ROUNDS 12
#define DC_WRITES 3000 /* forced writes per side and round, at most */
#define DC_ROUND_MS 1000 /* and at most this long */
#define DC_WORDS 64 /* the words of each page that are written */
#define DC_MAGIC 0xd1c0ULL

/* last forced write (tag << 8 | round) of each word of the unzapped pages */
static uint16_t dc_lw[NPAGES][DC_WORDS];

static uint64_t dc_mark(int tag, int round, long page, long k)
{
	return DC_MAGIC << 48 | (uint64_t)tag << 40 | (uint64_t)round << 32 |
	       (uint64_t)page << 8 | (uint64_t)k;
}

/* range 1 and the first 64 pages of range 2 are zapped during the race */
static int dc_zapped(long page)
{
	return page / PPR == 1 || (page / PPR == 2 && page % PPR < 64);
}

/* the i-th forced write of a round: ranges 0-2, the same for both sides */
static long dc_page(long i, int round)
{
	return (i % 3) * PPR + ((i / 3) * 37 + round * 11) % PPR;
}

static long dc_word(long i, int round)
{
	return (i * 13 + round) % DC_WORDS;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

struct dc_zap {
	char *p;
	_Atomic int stop;
	long rounds;
};

static void *dc_zapper(void *arg)
{
	struct dc_zap *z = arg;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* bounded on its own: a forced write it starves gets through then */
	while (!atomic_load(&z->stop) && ms_since(&t0) < 2 * DC_ROUND_MS) {
		madvise(pg(z->p, 1, 0), PMD_SZ, MADV_DONTNEED);
		madvise(pg(z->p, 2, 0), 64 * PG, MADV_DONTNEED);
		z->rounds++;
	}
	return NULL;
}

static int dc_race(char *p, int tag, int round, int memfd, long *done,
		   long *zaps)
{
	struct dc_zap z = { .p = p };
	struct timespec t0;
	pthread_t t;
	long i;

	if (pthread_create(&t, NULL, dc_zapper, &z))
		CFAIL("pthread_create");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < DC_WRITES; i++) {
		long page = dc_page(i, round), k = dc_word(i, round);
		uint64_t v = dc_mark(tag, round, page, k);

		if (pwrite(memfd, &v, 8,
			   (off_t)(uintptr_t)(p + page * PG + k * 8)) != 8) {
			atomic_store(&z.stop, 1);
			pthread_join(t, NULL);
			CFAIL("forced write %ld: %s", i, strerror(errno));
		}
		if (!dc_zapped(page))
			dc_lw[page][k] = tag << 8 | round;
		if (!(i % 64) && ms_since(&t0) > DC_ROUND_MS)
			break;
	}
	atomic_store(&z.stop, 1);
	pthread_join(t, NULL);
	*done = i;
	*zaps = z.rounds;
	return OK;
}

/* a forced write this process may see: its own, or its parent's before the fork */
static int dc_mine(uint64_t v, int tag, int round, long page, long k)
{
	for (int q = 0; q <= round; q++) {
		if (v == dc_mark(tag, q, page, k) &&
		    (tag == T_PARENT || q == round))
			return 1;
		if (tag == T_CHILD && q < round &&
		    v == dc_mark(T_PARENT, q, page, k))
			return 1;
	}
	return 0;
}

static void dc_describe(char *buf, size_t len, uint64_t v, long page, long k)
{
	if (v == orig_word(page, k))
		snprintf(buf, len, "the original");
	else if (!v)
		snprintf(buf, len, "zero");
	else if (v >> 48 == DC_MAGIC)
		snprintf(buf, len, "the %s's forced write of round %d",
			 tag_name[(v >> 40) & 0xff], (int)((v >> 32) & 0xff));
	else
		snprintf(buf, len, "%#018llx", (unsigned long long)v);
}

static int dc_verify(char *p, int tag, int round)
{
	for (long page = 0; page < NPAGES; page++) {
		const volatile uint64_t *w = (const uint64_t *)(p + page * PG);

		for (long k = 0; k < (long)(PG / 8); k++) {
			uint64_t v = w[k], o = orig_word(page, k), want = o;
			char ws[80], gs[80];

			if (dc_zapped(page)) {
				/* zapped: zero, the original, or its own */
				if (!v || v == o ||
				    (k < DC_WORDS &&
				     dc_mine(v, tag, round, page, k)))
					continue;
				want = 0;
			} else {
				if (k < DC_WORDS && dc_lw[page][k])
					want = dc_mark(dc_lw[page][k] >> 8,
						       dc_lw[page][k] & 0xff,
						       page, k);
				if (v == want)
					continue;
			}
			dc_describe(ws, sizeof(ws), want, page, k);
			dc_describe(gs, sizeof(gs), v, page, k);
			CFAIL("round %d: range %ld page %ld word %ld: want %s, got %s",
			      round, page / PPR, page % PPR, k, ws, gs);
		}
	}
	return OK;
}

static int dc_main(void *arg)
{
	struct odfc a, c, d;
	long done = 0, zaps = 0, pdone = 0, pzaps = 0;
	int memfd, st, rc = OK;
	struct region r;
	char x = 0;
	uint64_t v;

	if (odf_set(PR_COW_ODF_ALWAYS))
		CFAIL("PR_SET_COW_ODF: %s", strerror(errno));
	if (region_map(&r, NPAGES, 1))
		CFAIL("mmap: %s", strerror(errno));
	for (long i = 0; i < NPAGES; i++)
		for (long k = 0; k < (long)(PG / 8); k++)
			((uint64_t *)(r.p + i * PG))[k] = orig_word(i, k);
	if (mprotect(r.p, NPAGES * PG, PROT_READ))
		CFAIL("mprotect: %s", strerror(errno));
	memfd = open("/proc/self/mem", O_RDWR);
	if (memfd < 0)
		CSKIP("/proc/self/mem: %s", strerror(errno));
	/* positive controls: read-only, but a forced write lands */
	if (!write_faults(r.p))
		CFAIL("a write into the PROT_READ region did not fault");
	v = dc_mark(T_PARENT, 0, 5, 0);
	if (pwrite(memfd, &v, 8, (off_t)(uintptr_t)(r.p + 5 * PG)) != 8 ||
	    ((uint64_t *)(r.p + 5 * PG))[0] != v)
		CFAIL("a forced write into the read-only region did not land");
	dc_lw[5][0] = T_PARENT << 8;
	odf_read(&a);
	for (int round = 0; round < DC_ROUNDS && !rc; round++) {
		int ready[2], go[2];
		struct odfc f0, f1;
		pid_t pid;

		if (pipe(ready) || pipe(go))
			CFAIL("pipe: %s", strerror(errno));
		odf_read(&f0);
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			CFAIL("fork: %s", strerror(errno));
		if (!pid) {
			who = "child";
			close(ready[0]);
			close(go[1]);
			close(memfd); /* /proc/self of the parent */
			memfd = open("/proc/self/mem", O_RDWR);
			if (memfd < 0 || write(ready[1], &x, 1) != 1)
				_exit(FAIL);
			if (read(go[0], &x, 1) != 1)
				_exit(OK); /* the parent says why */
			rc = dc_race(r.p, T_CHILD, round, memfd, &done, &zaps);
			if (!rc)
				rc = dc_verify(r.p, T_CHILD, round);
			if (!rc)
				fprintf(stderr,
					"#   round %d: the child: %ld forced writes, %ld zap rounds\n",
					round, done, zaps);
			_exit(rc);
		}
		close(ready[1]);
		close(go[0]);
		odf_read(&f1);
		odf_delta(&d, &f0, &f1);
		/* range 1 may be left empty by the last zap: 3 after round 0 */
		if (d.shared < (round ? NR - 1 : NR)) {
			fprintf(stderr,
				"# parent: round %d: the fork shared %ld page tables, want >= %d\n",
				round, d.shared, round ? NR - 1 : NR);
			rc = FAIL;
		} else if (read(ready[0], &x, 1) != 1 ||
			   write(go[1], &x, 1) != 1) {
			fprintf(stderr,
				"# parent: round %d: the child is gone\n",
				round);
			rc = FAIL;
		} else {
			rc = dc_race(r.p, T_PARENT, round, memfd, &done, &zaps);
			pdone += done;
			pzaps += zaps;
			if (!rc)
				rc = dc_verify(r.p, T_PARENT, round);
		}
		close(ready[0]);
		close(go[1]);
		if (waitpid(pid, &st, 0) != pid)
			CFAIL("waitpid: %s", strerror(errno));
		rc = worst(rc, status_rc(st, "the child"));
		/* and once the child is gone */
		if (!rc)
			rc = dc_verify(r.p, T_PARENT, round);
	}
	odf_read(&c);
	odf_delta(&d, &a, &c);
	fprintf(stderr,
		"#   %d rounds, the parent: %ld forced writes, %ld zap rounds; cow_odf_shared +%ld copied +%ld reused +%ld freed +%ld\n",
		DC_ROUNDS, pdone, pzaps, d.shared, d.copied, d.reused, d.freed);
	if (!rc && d.copied + d.reused < DC_ROUNDS)
		CFAIL("both sides wrote range 0 in every round: cow_odf_copied + reused +%ld, want >= %d",
		      d.copied + d.reused, DC_ROUNDS);
	close(memfd);
	region_unmap(&r);
	odf_set(PR_COW_ODF_DEFAULT);
	return rc;
}

TEST_F_TIMEOUT(odf, dirtycow_procmem_race, 300)
{
	int rc = run_checked(_metadata, dc_main, NULL, 0);

	if (rc == SKIPPED)
		SKIP(return, "no /proc/self/mem");
	ASSERT_EQ(OK, rc);
}

/* ---- many cycles: nothing stays behind ---- */

#define CYCLES 32

static int cycles_main(void *arg)
{
	struct odfc a, b, d;
	struct region r;
	int st, rc;

	if (odf_set(PR_COW_ODF_ALWAYS))
		CFAIL("PR_SET_COW_ODF: %s", strerror(errno));
	if (region_new(&r))
		CFAIL("mmap: %s", strerror(errno));
	odf_read(&a);
	for (int c = 0; c < CYCLES; c++) {
		int go[2];
		char x = 0;
		pid_t pid;

		if (pipe(go))
			CFAIL("pipe: %s", strerror(errno));
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			CFAIL("fork: %s", strerror(errno));
		if (!pid) {
			who = "child";
			close(go[1]);
			/* odd cycles: the parent writes first */
			if (c % 2 && read(go[0], &x, 1) != 1)
				_exit(FAIL);
			rc = verify(r.p, 0);
			if (rc)
				_exit(rc);
			stamp(r.p, 10, T_CHILD);
			if (madvise(pg(r.p, 1, 0), PMD_SZ, MADV_DONTNEED) ||
			    munmap(pg(r.p, 2, 0), PMD_SZ))
				_exit(FAIL);
			model_set(PPR, PPR, M_ZERO);
			model_set(2 * PPR, PPR, M_GONE);
			/* and exits sharing range 3 */
			_exit(verify(r.p, 0));
		}
		close(go[0]);
		if (c % 2) {
			for (int i = 0; i < NR; i++)
				stamp(r.p, i * PPR + 1, T_PARENT);
			if (write(go[1], &x, 1) != 1)
				CFAIL("the child is gone");
		}
		close(go[1]);
		if (waitpid(pid, &st, 0) != pid)
			CFAIL("waitpid: %s", strerror(errno));
		rc = status_rc(st, "the child");
		if (rc)
			CFAIL("cycle %d: the child failed", c);
		for (int i = 0; i < NR; i++)
			stamp(r.p, i * PPR + 1, T_PARENT);
		rc = verify(r.p, 0);
		if (rc)
			return rc;
	}
	odf_read(&b);
	odf_delta(&d, &a, &b);
	fprintf(stderr,
		"#   %d cycles: cow_odf_shared +%ld copied +%ld reused +%ld freed +%ld fallback +%ld\n",
		CYCLES, d.shared, d.copied, d.reused, d.freed, d.fallback);
	if (d.shared < CYCLES * NR)
		CFAIL("cow_odf_shared +%ld, want >= %d", d.shared, CYCLES * NR);
	/* even cycles: the child copies range 0 and drops 1, 2 and 3 ... */
	if (d.freed < CYCLES / 2 * 3)
		CFAIL("cow_odf_freed +%ld, want >= %d", d.freed,
		      CYCLES / 2 * 3);
	/* ... and the parent, the last sharer, takes every range back */
	if (d.reused < CYCLES / 2 * NR)
		CFAIL("cow_odf_reused +%ld, want >= %d", d.reused,
		      CYCLES / 2 * NR);
	/* odd cycles: the parent copies every range first */
	if (d.copied < CYCLES / 2 * (NR + 1))
		CFAIL("cow_odf_copied +%ld, want >= %d", d.copied,
		      CYCLES / 2 * (NR + 1));
	rc = verify(r.p, 1);
	region_unmap(&r);
	odf_set(PR_COW_ODF_DEFAULT);
	return rc;
}

TEST_F_TIMEOUT(odf, no_leak_after_cycles, 300)
{
	/* one leaked table per cycle would be CYCLES of them */
	ASSERT_EQ(OK, run_checked(_metadata, cycles_main, NULL, CYCLES / 2));
}

/* ---- which tables are shared, which forks fall back: fixture odf_elig ---- */

enum { E_FILE, E_SHARED, E_UFFD, E_SPLIT, E_THP, E_SWAP, E_PINNED };

#define NEG_PAGES (2 * PPR)

static uint64_t neg_word(long i, long k)
{
	return orig_word(i + 100000, k);
}

static void neg_fill(char *q)
{
	for (long i = 0; i < NEG_PAGES; i++)
		for (long k = 0; k < (long)(PG / 8); k++)
			((uint64_t *)(q + i * PG))[k] = neg_word(i, k);
}

/* pages 0 and PPR hold the child's write when @wrote */
static int neg_check(char *q, int wrote)
{
	for (long i = 0; i < NEG_PAGES; i++) {
		int w = wrote && i % PPR == 0;

		for (long k = 0; k < (long)(PG / 8); k++) {
			uint64_t want = neg_word(i, k);

			if (w)
				want ^= 0x0101010101010101ULL *
					(T_CHILD * 0x2bULL);
			if (((uint64_t *)(q + i * PG))[k] != want)
				CFAIL("unshared region: page %ld word %ld wrong (child's write %s)",
				      i, k, w ? "expected" : "not expected");
		}
	}
	return OK;
}

static void neg_write(char *q)
{
	for (long i = 0; i < NEG_PAGES; i += PPR)
		for (long k = 0; k < (long)(PG / 8); k++)
			((uint64_t *)(q + i * PG))[k] =
				neg_word(i, k) ^
				(0x0101010101010101ULL * (T_CHILD * 0x2bULL));
}

/* the region of @kind whose tables must not be shared, or NULL */
static int neg_setup(int kind, struct region *n, char **q)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int fd;

	*q = NULL;
	if (kind == E_SWAP || kind == E_PINNED)
		return OK;
	if (region_map(n, NEG_PAGES, kind != E_THP))
		CFAIL("mmap: %s", strerror(errno));
	*q = n->p;
	switch (kind) {
	case E_FILE:
		fd = memfd_create("cowlab-odf", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, NEG_PAGES * PG))
			CFAIL("memfd: %s", strerror(errno));
		if (mmap(*q, NEG_PAGES * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_FIXED, fd, 0) != *q)
			CFAIL("mmap memfd: %s", strerror(errno));
		close(fd);
		madvise(*q, NEG_PAGES * PG, MADV_NOHUGEPAGE);
		break;
	case E_SHARED:
		if (mmap(*q, NEG_PAGES * PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != *q)
			CFAIL("mmap shared: %s", strerror(errno));
		break;
	case E_THP:
		if (madvise(*q, NEG_PAGES * PG, MADV_HUGEPAGE))
			CSKIP("MADV_HUGEPAGE: %s", strerror(errno));
		break;
	}
	neg_fill(*q);
	switch (kind) {
	case E_UFFD:
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
		if (fd < 0)
			fd = syscall(__NR_userfaultfd, O_CLOEXEC);
		if (fd < 0 || ioctl(fd, UFFDIO_API, &api))
			CSKIP("userfaultfd: %s", strerror(errno));
		reg.range.start = (uintptr_t)*q;
		reg.range.len = NEG_PAGES * PG;
		if (ioctl(fd, UFFDIO_REGISTER, &reg))
			CSKIP("UFFDIO_REGISTER: %s", strerror(errno));
		/* the fd stays open: the registration with it */
		break;
	case E_SPLIT:
		/* each 2 MiB range spans two VMAs: RW and RO halves */
		for (long i = 0; i < NEG_PAGES; i += PPR)
			if (mprotect(*q + (i + PPR / 2) * PG, PPR / 2 * PG,
				     PROT_READ))
				CFAIL("mprotect: %s", strerror(errno));
		break;
	case E_THP:
		if (proc_smaps_kb(*q, "AnonHugePages:") <
		    (long)(NEG_PAGES * PG / 1024))
			CSKIP("no THP for the region (AnonHugePages %ld kB)",
			      proc_smaps_kb(*q, "AnonHugePages:"));
		break;
	}
	return OK;
}

/* the shared tables of a fork of this process as it is: the baseline */
static long fork_base(void)
{
	struct odfc a, b;
	pid_t pid;
	int st;

	odf_read(&a);
	fflush(NULL);
	pid = fork();
	if (!pid)
		_exit(0);
	odf_read(&b);
	if (pid > 0)
		waitpid(pid, &st, 0);
	return b.shared - a.shared;
}

static int elig_main(void *arg)
{
	int kind = *(const int *)arg, st, rc, go[2];
	long base = 0, want;
	struct region r, n;
	struct odfc a, b, d;
	char *q, x = 0;
	pid_t pid;

	if (odf_set(PR_COW_ODF_ALWAYS))
		CFAIL("PR_SET_COW_ODF: %s", strerror(errno));
	base = fork_base();
	if (region_new(&r))
		CFAIL("mmap: %s", strerror(errno));
	rc = neg_setup(kind, &n, &q);
	if (rc)
		return rc;
	want = base + NR;
	if (kind == E_SWAP) {
		static uint64_t pm[PPR];
		int fd = open("/proc/self/pagemap", O_RDONLY), swapped = 0;

		if (madvise(r.p, PMD_SZ, MADV_PAGEOUT))
			CFAIL("MADV_PAGEOUT: %s", strerror(errno));
		if (fd < 0 || pread(fd, pm, sizeof(pm),
				    (uintptr_t)r.p / PG * 8) != sizeof(pm))
			CSKIP("cannot read /proc/self/pagemap");
		close(fd);
		for (long i = 0; i < PPR; i++)
			swapped += !!(pm[i] & PM_SWAP);
		if (!swapped)
			CSKIP("MADV_PAGEOUT swapped nothing out (no swap?)");
		fprintf(stderr, "#   %d pages of range 0 swapped out\n",
			swapped);
		want = base + NR - 1;
	}
	if (kind == E_PINNED) {
		struct iovec l = { iobuf, PG }, rv = { r.p, PG };

		/* FOLL_PIN on this mm (MMF_HAS_PINNED) */
		if (process_vm_readv(getpid(), &l, 1, &rv, 1, 0) != (ssize_t)PG)
			CSKIP("process_vm_readv: %s", strerror(errno));
		want = 0;
	}
	if (pipe(go))
		CFAIL("pipe: %s", strerror(errno));
	odf_read(&a);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		who = "child";
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(OK);
		rc = verify(r.p, 0);
		if (!rc && q)
			rc = neg_check(q, 0);
		if (rc)
			_exit(rc);
		for (int i = 0; i < NR; i++)
			stamp(r.p, i * PPR + 1, T_CHILD);
		if (q)
			neg_write(q);
		rc = verify(r.p, 1);
		if (!rc && q)
			rc = neg_check(q, 1);
		_exit(rc);
	}
	close(go[0]);
	odf_read(&b);
	if (write(go[1], &x, 1) != 1)
		CFAIL("the child is gone");
	close(go[1]);
	if (waitpid(pid, &st, 0) != pid)
		CFAIL("waitpid: %s", strerror(errno));
	rc = status_rc(st, "the child");
	if (!rc)
		rc = verify(r.p, 1);
	if (!rc && q)
		rc = neg_check(q, kind == E_SHARED);
	if (rc)
		return rc;
	odf_delta(&d, &a, &b);
	fprintf(stderr,
		"#   fork: cow_odf_shared +%ld (want %ld: %ld elsewhere in the process), fallback +%ld\n",
		d.shared, want, base, d.fallback);
	if ((kind == E_SWAP || kind == E_PINNED) && d.fallback < 1)
		CFAIL("the fork fell back (%s): cow_odf_fallback +%ld, want >= 1",
		      kind == E_SWAP ? "swap entries" : "pinned mm",
		      d.fallback);
	if (d.shared != want)
		CRETRY("the fork shared %ld page tables, want %ld", d.shared,
		       want);
	odf_set(PR_COW_ODF_DEFAULT);
	return OK;
}

/* clang-format off */
FIXTURE(odf_elig) {
	int unused;
};

FIXTURE_VARIANT(odf_elig) {
	int kind;
};

FIXTURE_VARIANT_ADD(odf_elig, file_private_not_shared) { .kind = E_FILE };
FIXTURE_VARIANT_ADD(odf_elig, shared_anon_not_shared) { .kind = E_SHARED };
FIXTURE_VARIANT_ADD(odf_elig, uffd_not_shared) { .kind = E_UFFD };
FIXTURE_VARIANT_ADD(odf_elig, split_vma_not_shared) { .kind = E_SPLIT };
FIXTURE_VARIANT_ADD(odf_elig, thp_not_shared) { .kind = E_THP };
FIXTURE_VARIANT_ADD(odf_elig, swap_entries_fall_back) { .kind = E_SWAP };
FIXTURE_VARIANT_ADD(odf_elig, pinned_mm_falls_back) { .kind = E_PINNED };
/* clang-format on */

FIXTURE_SETUP(odf_elig)
{
	NEED_ODF_COUNTERS();
}

FIXTURE_TEARDOWN(odf_elig)
{
}

TEST_F_TIMEOUT(odf_elig, fork, 120)
{
	int kind = variant->kind, rc = RETRY;

	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++)
		rc = supervise(elig_main, &kind);
	if (rc == SKIPPED)
		SKIP(return, "not available here (see above)");
	ASSERT_EQ(OK, rc);
}

/* ---- vm.cow_odf: fixture odf_sysctl (root) ---- */

struct probe {
	int optin; /* PR_SET_COW_ODF value, or -1: leave the default */
	int share; /* the fork must share (1) or must not (0) */
};

static int probe_main(void *arg)
{
	const struct probe *pr = arg;
	struct odfc a, b, c, d1, d2;
	int go[2], st, rc, sysctl = -1;
	struct region r;
	char x = 0;
	pid_t pid;

	sysctl_get("cow_odf", &sysctl);
	if (pr->optin >= 0 && odf_set(pr->optin))
		CFAIL("PR_SET_COW_ODF %d: %s", pr->optin, strerror(errno));
	if (odf_get() != (pr->optin >= 0 ? pr->optin : PR_COW_ODF_DEFAULT))
		CFAIL("PR_GET_COW_ODF: %d", odf_get());
	if (region_new(&r) || pipe(go))
		CFAIL("setup: %s", strerror(errno));
	odf_read(&a);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		who = "child";
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(OK);
		rc = verify(r.p, 0);
		if (rc)
			_exit(rc);
		for (int i = 0; i < NR; i++)
			stamp(r.p, i * PPR + 1, T_CHILD);
		_exit(verify(r.p, 1));
	}
	close(go[0]);
	odf_read(&b);
	if (write(go[1], &x, 1) != 1)
		CFAIL("the child is gone");
	close(go[1]);
	if (waitpid(pid, &st, 0) != pid)
		CFAIL("waitpid: %s", strerror(errno));
	odf_read(&c);
	rc = status_rc(st, "the child");
	if (!rc)
		rc = verify(r.p, 1);
	if (rc)
		return rc;
	odf_delta(&d1, &a, &b);
	odf_delta(&d2, &b, &c);
	if (pr->share) {
		if (d1.shared < NR)
			CFAIL("vm.cow_odf=%d, PR_GET_COW_ODF %d: the fork shared %ld page tables, want >= %d",
			      sysctl, odf_get(), d1.shared, NR);
		if (d2.copied < NR)
			CFAIL("the child wrote every shared range: cow_odf_copied +%ld, want >= %d",
			      d2.copied, NR);
	} else if (d1.shared || d1.fallback || d2.copied || d2.reused) {
		CRETRY("vm.cow_odf=%d, PR_GET_COW_ODF %d: cow_odf_shared +%ld fallback +%ld copied +%ld reused +%ld, want 0",
		       sysctl, odf_get(), d1.shared, d1.fallback, d2.copied,
		       d2.reused);
	}
	region_unmap(&r);
	return OK;
}

static int probe_run(const struct probe *pr)
{
	int rc = RETRY;

	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++)
		rc = supervise(probe_main, (void *)pr);
	return rc;
}

/* clang-format off */
FIXTURE(odf_sysctl) {
	int saved;
	int have;
};
/* clang-format on */

FIXTURE_SETUP(odf_sysctl)
{
	NEED_ODF_COUNTERS();
	self->have = !sysctl_get("cow_odf", &self->saved);
	ASSERT_TRUE(self->have)
	{
		TH_LOG("PR_GET_COW_ODF works but there is no vm.cow_odf");
	}
	if (geteuid())
		SKIP(return, "needs root to set vm.cow_odf");
}

FIXTURE_TEARDOWN_PARENT(odf_sysctl)
{
	if (self->have)
		sysctl_set("cow_odf", self->saved);
}

TEST_F(odf_sysctl, values)
{
	static const char *const bad[] = { "2", "-1", "abc" };
	int v = -1;

	for (int i = 1; i >= 0; i--) {
		ASSERT_EQ(0, sysctl_set("cow_odf", i));
		ASSERT_EQ(0, sysctl_get("cow_odf", &v));
		ASSERT_EQ(i, v);
	}
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = knob_write("/proc/sys/vm/cow_odf", bad[i]);

		EXPECT_EQ(-EINVAL, ret)
		{
			TH_LOG("vm.cow_odf: writing \"%s\" returned %d", bad[i],
			       ret);
		}
		ASSERT_EQ(0, sysctl_get("cow_odf", &v));
		ASSERT_EQ(0, v)
		{
			TH_LOG("vm.cow_odf is %d after \"%s\"", v, bad[i]);
		}
	}
}

TEST_F_TIMEOUT(odf_sysctl, one_shares_every_fork, 120)
{
	const struct probe pr = { -1, 1 };

	ASSERT_EQ(0, sysctl_set("cow_odf", 1));
	ASSERT_EQ(OK, probe_run(&pr));
}

TEST_F_TIMEOUT(odf_sysctl, prctl_never_opts_out, 120)
{
	const struct probe pr = { PR_COW_ODF_NEVER, 0 };

	ASSERT_EQ(0, sysctl_set("cow_odf", 1));
	ASSERT_EQ(OK, probe_run(&pr));
}

TEST_F_TIMEOUT(odf_sysctl, zero_shares_only_opted_in, 120)
{
	const struct probe none = { -1, 0 }, dflt = { PR_COW_ODF_DEFAULT, 0 };
	const struct probe always = { PR_COW_ODF_ALWAYS, 1 };

	ASSERT_EQ(0, sysctl_set("cow_odf", 0));
	ASSERT_EQ(OK, probe_run(&none));
	ASSERT_EQ(OK, probe_run(&dflt));
	ASSERT_EQ(OK, probe_run(&always));
}

TEST_HARNESS_MAIN
