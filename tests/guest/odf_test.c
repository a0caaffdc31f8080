// SPDX-License-Identifier: GPL-2.0
/*
 * odf_test.c - on-demand fork (CONFIG_COW_ODF): what parent and child see
 * while they share page tables (odf.h: how a case runs).
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
 * odf: a Dirty-COW style race of forced writes (/proc/self/mem,
 * FOLL_FORCE) into a read-only shared range by parent and child at once
 * while each zaps part of it, and 32 fork cycles after which nr_anon_pages
 * and nr_page_table_pages must be back.
 *
 * How the prctl and vm.cow_odf switch it: odf_knobs_test.c; which tables
 * are shared and which forks fall back: odf_elig_test.c.
 */

#include "odf.h"

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
	odfc_read(&a);
	for (int r = 0; r < NR; r++)
		stamp(p, r * PPR + 3, T_GRAND);
	odfc_read(&b);
	odfc_delta(&d, &a, &b);
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
	pid = counted_fork(&a, "grandchild");
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		close(s->rfd);
		close(s->wfd);
		_exit(grandchild(s->p));
	}
	odfc_read(&b);
	if (waitpid(pid, &st, 0) != pid)
		CFAIL("waitpid: %s", strerror(errno));
	odfc_read(&c);
	if (status_rc(st, "the grandchild") != OK)
		CFAIL("the grandchild failed (status %#x)", st);
	odfc_delta(&d, &a, &b);
	if (d.shared < NR)
		CFAIL("fork by a process sharing %d tables: cow_odf_shared +%ld, want >= %d",
		      NR, d.shared, NR);
	odfc_delta(&d, &a, &c);
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

	odfc_read(&a);
	rc = do_op(s, op, m);
	if (rc)
		return rc;
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	odfc_read(&b);
	odfc_delta(&d, &a, &b);
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

	odfc_read(&a);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	for (int r = 0; r < NR; r++)
		stamp(s->p, r * PPR + 1, s->tag);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	odfc_read(&b);
	odfc_delta(&d, &a, &b);
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
	odfc_read(&a);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	for (int r = 0; r < NR; r++)
		if (mapped & (1u << r))
			stamp(s->p, r * PPR + 2, s->tag);
	rc = verify(s->p, 0);
	if (rc)
		return rc;
	odfc_read(&b);
	odfc_delta(&d, &a, &b);
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
	odfc_read(&t0);
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
		odfc_read(&t1);
		odfc_delta(&d, &t0, &t1);
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
	pid = counted_fork(&a, "child");
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
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
	odfc_read(&b);
	odfc_delta(&d, &a, &b);
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


/* clang-format off */
ODF_FIXTURE(odf_op);

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

/* clang-format off */
ODF_FIXTURE(odf);
/* clang-format on */

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
	odfc_read(&a);
	for (int round = 0; round < DC_ROUNDS && !rc; round++) {
		int ready[2], go[2];
		struct odfc f0, f1;
		pid_t pid;

		if (pipe(ready) || pipe(go))
			CFAIL("pipe: %s", strerror(errno));
		pid = counted_fork(&f0, "child");
		if (pid < 0)
			CFAIL("fork: %s", strerror(errno));
		if (!pid) {
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
		odfc_read(&f1);
		odfc_delta(&d, &f0, &f1);
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
	odfc_read(&c);
	odfc_delta(&d, &a, &c);
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
	odfc_read(&a);
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
	odfc_read(&b);
	odfc_delta(&d, &a, &b);
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


TEST_HARNESS_MAIN
