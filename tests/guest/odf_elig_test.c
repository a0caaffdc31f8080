// SPDX-License-Identifier: GPL-2.0
/*
 * odf_elig_test.c - which page tables on-demand fork shares and which
 * forks fall back: file-backed, shared, uffd, THP and VMA-split ranges are
 * never shared; swap entries and a pinned mm make the fork copy.
 */

#include "odf.h"

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

	odfc_read(&a);
	fflush(NULL);
	pid = fork();
	if (!pid)
		_exit(0);
	odfc_read(&b);
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
	pid = counted_fork(&a, "child");
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
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
	odfc_read(&b);
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
	odfc_delta(&d, &a, &b);
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

TEST_HARNESS_MAIN
