// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab guest test: every mapping kind x mdup(), on-demand fork and each
 * COW policy (issue 16), in the style of upstream selftests/mm/cow.c's
 * run_with_*(): one table of memory kinds, one case per (kind, feature).
 *
 * mdup(): the documented result for the kind, either a duplicate whose
 * bytes equal the source and whose writes stay private both ways, or the
 * documented errno with /proc/self/maps, VmSize and the source unchanged.
 *
 * on-demand fork (prctl PR_COW_ODF_ALWAYS): fork, then the child and the
 * parent each write half of the region and check all of it; tables are
 * shared where docs/odf.md says so (private anonymous memory) and never for
 * the kinds it excludes (files, shmem, hugetlb, userfaultfd, mlock).
 *
 * Each COW policy (vanilla, pre-copy fixed and adaptive, THP copy and
 * adaptive, whole-mTHP copy; the feature sets of guest/features): the same
 * fork, writes and checks, with the policy's knobs set system-wide.
 *
 * Each case runs in a child process, so a kind's limits (mlock, seals) do
 * not leak into the next. A kernel splat fails the boot (splat scan).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "region.h"
#include "cowlab.h"

#ifndef __NR_mseal
#define __NR_mseal 462
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define LEN (2 * PMD_SZ)

enum kind {
	K_ANON, K_THP, K_DEVZERO, K_MEMFD_SHARED, K_MEMFD_PRIVATE,
	K_FILE_PRIVATE, K_FILE_SHARED, K_HUGETLB, K_SEALED, K_PROTNONE,
	K_MLOCKED, K_UFFD_MISSING, K_UFFD_WP, K_KSM, K_SWAPPED, K_GROWSDOWN,
	K_SPLIT,
};

/*
 * The documented outcome of each kind for mdup() and on-demand fork: the
 * errno of mdup() (0: duplicated), and the tables a fork shares: at least
 * SHARES(n), NEVER any, or EITHER (content-dependent: THPs are PMDs, swap
 * entries and uffd-wp markers make fork copy the table).
 */
#define NEVER 0
#define EITHER -1
#define SHARES(n) (n)

struct kind_info {
	const char *name;
	int mdup_errno;
	int odf;
};

static const struct kind_info kinds[] = {
	[K_ANON] = { "anon", 0, SHARES(2) },
	[K_THP] = { "thp", 0, EITHER }, /* PMD-mapped THPs are no PTE tables */
	[K_DEVZERO] = { "devzero_private", EINVAL, EITHER },
	[K_MEMFD_SHARED] = { "memfd_shared", EINVAL, NEVER },
	[K_MEMFD_PRIVATE] = { "memfd_private", EINVAL, NEVER },
	[K_FILE_PRIVATE] = { "file_private", EINVAL, NEVER },
	[K_FILE_SHARED] = { "file_shared", EINVAL, NEVER },
	[K_HUGETLB] = { "hugetlb", EINVAL, NEVER },
	[K_SEALED] = { "sealed", 0, EITHER },
	[K_PROTNONE] = { "protnone", 0, EITHER },
	[K_MLOCKED] = { "mlocked", 0, NEVER },
	[K_UFFD_MISSING] = { "uffd_missing", EBUSY, NEVER },
	[K_UFFD_WP] = { "uffd_wp", EBUSY, NEVER },
	[K_KSM] = { "ksm_mergeable", 0, EITHER },
	[K_SWAPPED] = { "swapped", 0, EITHER },
	[K_GROWSDOWN] = { "growsdown", EINVAL, EITHER },
	[K_SPLIT] = { "split_vmas", 0, SHARES(1) }, /* the 1st range is split */
};

/* A 2 MiB-aligned free address with room for @len. */
static char *aligned_hole(size_t len)
{
	char *raw = mmap(NULL, len + PMD_SZ, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (raw == MAP_FAILED)
		return NULL;
	munmap(raw, len + PMD_SZ);
	return (char *)(((uintptr_t)raw + PMD_SZ - 1) & ~(PMD_SZ - 1));
}

/* The file descriptor of a @len-byte memfd or tmpfs file, or -1. */
static int backing_fd(enum kind k)
{
	int fd;

	if (k == K_MEMFD_SHARED || k == K_MEMFD_PRIVATE)
		fd = memfd_create("kinds", 0);
	else {
		char path[] = "/tmp/kinds.XXXXXX";

		fd = mkstemp(path);
		unlink(path);
	}
	if (fd >= 0 && ftruncate(fd, LEN)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int uffd_register(char *p, size_t len, __u64 mode)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len }, .mode = mode,
	};
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1);

	if (fd < 0)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (mode & UFFDIO_REGISTER_MODE_WP)
		api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg))
		return -1;
	return fd;
}

/*
 * Map @k at a 2 MiB-aligned address and fill it with @seed (before any
 * protection change): the region, or NULL with *@why set (a skip).
 */
static char *kind_map(enum kind k, unsigned long seed, const char **why)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_FIXED;
	char *want = aligned_hole(LEN), *p;
	int fd = -1;

	*why = "mmap failed";
	if (!want)
		return NULL;
	switch (k) {
	case K_DEVZERO:
		fd = open("/dev/zero", O_RDWR);
		break;
	case K_MEMFD_SHARED:
	case K_FILE_SHARED:
		flags = MAP_SHARED | MAP_FIXED;
		/* fall through */
	case K_MEMFD_PRIVATE:
	case K_FILE_PRIVATE:
		fd = backing_fd(k);
		break;
	case K_HUGETLB:
		flags |= MAP_ANONYMOUS | MAP_HUGETLB;
		*why = "no free 2 MiB hugetlb pages";
		break;
	case K_GROWSDOWN:
		flags |= MAP_ANONYMOUS | MAP_GROWSDOWN;
		break;
	default:
		flags |= MAP_ANONYMOUS;
	}
	if (fd < 0 && !(flags & MAP_ANONYMOUS))
		return NULL;
	p = mmap(want, LEN, prot, flags, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, LEN, k == K_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	fill(p, LEN, seed);
	*why = NULL;
	switch (k) {
	case K_SEALED:
		if (syscall(__NR_mseal, p, LEN, 0))
			*why = "no mseal()";
		break;
	case K_PROTNONE:
		if (mprotect(p, LEN, PROT_NONE))
			*why = "mprotect failed";
		break;
	case K_MLOCKED:
		if (mlock(p, LEN))
			*why = "mlock failed (RLIMIT_MEMLOCK)";
		break;
	case K_UFFD_MISSING:
		if (uffd_register(p, LEN, UFFDIO_REGISTER_MODE_MISSING) < 0)
			*why = "no userfaultfd";
		break;
	case K_UFFD_WP:
		if (uffd_register(p, LEN, UFFDIO_REGISTER_MODE_WP) < 0)
			*why = "no userfaultfd write-protect";
		break;
	case K_KSM:
		if (madvise(p, LEN, MADV_MERGEABLE))
			*why = "no KSM";
		break;
	case K_SWAPPED:
		if (madvise(p, LEN, MADV_PAGEOUT))
			*why = "no MADV_PAGEOUT";
		break;
	case K_SPLIT:
		if (madvise(p + 100 * PG, 10 * PG, MADV_DONTDUMP))
			*why = "madvise failed";
		break;
	default:
		break;
	}
	return *why ? NULL : p;
}

static int kind_readable(enum kind k)
{
	return k != K_PROTNONE;
}

/* Every page was written before uffd registered: writes never block. */
static int kind_writable(enum kind k)
{
	return k != K_PROTNONE;
}

/*
 * The mdup() case of kind @k, in a child: 0, or a step number (> 0); 77
 * to skip. Messages go to stderr as "# ...".
 */
static int mdup_case(enum kind k)
{
	const struct kind_info *ki = &kinds[k];
	const char *why;
	char *p = kind_map(k, 21, &why), *q;
	int maps;
	long vm, d;

	if (!p) {
		fprintf(stderr, "# %s: skip: %s\n", ki->name, why);
		return 77;
	}
	maps = count_maps();
	vm = status_kb("VmSize:");
	q = mdup(p, LEN, NULL, 0);
	if (ki->mdup_errno) {
		if (q != MAP_FAILED) {
			fprintf(stderr, "# %s: mdup succeeded, documented %s\n",
				ki->name, strerror(ki->mdup_errno));
			return 1;
		}
		if (errno != ki->mdup_errno) {
			fprintf(stderr, "# %s: errno %d, documented %d\n",
				ki->name, errno, ki->mdup_errno);
			return 2;
		}
		if (maps != count_maps() || vm != status_kb("VmSize:"))
			return 3;
		if (kind_readable(k) && differs(p, 0, LEN, 21) >= 0)
			return 4;
		return 0;
	}
	if (q == MAP_FAILED) {
		fprintf(stderr, "# %s: mdup failed: errno %d\n", ki->name, errno);
		return 5;
	}
	if (kind_readable(k) && (d = differs(q, 0, LEN, 21)) >= 0) {
		fprintf(stderr, "# %s: copy word %ld differs\n", ki->name, d);
		return 6;
	}
	if (kind_writable(k)) {
		if (mprotect(q, LEN, PROT_READ | PROT_WRITE))
			return 7;
		fill(q, PMD_SZ, 22);
		fill(p + PMD_SZ, PMD_SZ, 23);
		if (differs(p, 0, PMD_SZ, 21) >= 0 ||
		    differs(q + PMD_SZ, PMD_SZ, PMD_SZ, 21) >= 0) {
			fprintf(stderr, "# %s: a write crossed over\n", ki->name);
			return 8;
		}
	}
	if (munmap(q, LEN)) {
		fprintf(stderr, "# %s: munmap of the copy: errno %d\n",
			ki->name, errno);
		return 9;
	}
	return maps == count_maps() ? 0 : 10;
}

/*
 * The fork-and-write case of kind @k, in a child (see mdup_case()), under
 * the COW policy the caller set; with @odf, opted in to on-demand fork,
 * whose shared tables are checked against the kind's documented count.
 */
static int fork_case(enum kind k, int odf)
{
	const struct kind_info *ki = &kinds[k];
	long shared, fallback;
	const char *why;
	char *p;
	int status;
	pid_t pid;

	if (odf && !have_odf()) {
		fprintf(stderr, "# no on-demand fork\n");
		return 77;
	}
	p = kind_map(k, 31, &why);
	if (!p) {
		fprintf(stderr, "# %s: skip: %s\n", ki->name, why);
		return 77;
	}
	shared = vmstat_get("cow_odf_shared");
	fallback = vmstat_get("cow_odf_fallback");
	if (k == K_MEMFD_SHARED || k == K_FILE_SHARED) {
		/* MAP_SHARED: the child's writes are the parent's */
		pid = fork();
		if (pid < 0)
			return 2;
		if (!pid) {
			fill(p, PMD_SZ, 32);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || status)
			return 3;
		shared = vmstat_get("cow_odf_shared") - shared;
		if (differs(p, 0, PMD_SZ, 32) >= 0 ||
		    differs(p + PMD_SZ, PMD_SZ, PMD_SZ, 31) >= 0) {
			fprintf(stderr, "# %s: shared memory lost a write\n",
				ki->name);
			return 4;
		}
		return odf && shared ? 7 : 0;
	}
	pid = fork();
	if (pid < 0)
		return 2;
	if (!pid) {
		if (kind_writable(k)) {
			fill(p, PMD_SZ, 32);
			_exit(differs(p + PMD_SZ, PMD_SZ, PMD_SZ, 31) >= 0 ? 3 : 0);
		}
		if (kind_readable(k) && differs(p, 0, LEN, 31) >= 0)
			_exit(3);
		_exit(0);
	}
	shared = vmstat_get("cow_odf_shared") - shared;
	fallback = vmstat_get("cow_odf_fallback") - fallback;
	if (kind_writable(k))
		fill(p + PMD_SZ, PMD_SZ, 33);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "# %s: child saw the parent's writes (%#x)\n",
			ki->name, status);
		return 4;
	}
	if (kind_writable(k) && differs(p, 0, PMD_SZ, 31) >= 0) {
		fprintf(stderr, "# %s: the child's write reached the parent\n",
			ki->name);
		return 5;
	}
	if (!odf)
		return 0;
	fprintf(stderr, "# %s: %ld tables shared, %ld fallbacks\n", ki->name,
		shared, fallback);
	if (ki->odf > 0 && shared < ki->odf)
		return 6;
	if (ki->odf == NEVER && shared > 0)
		return 7;
	return 0;
}

FIXTURE(kind) {
	int unused;
};

FIXTURE_VARIANT(kind) {
	enum kind k;
};

#define KIND(id, name)                                                 \
	FIXTURE_VARIANT_ADD(kind, name) { .k = id };

KIND(K_ANON, anon)
KIND(K_THP, thp)
KIND(K_DEVZERO, devzero_private)
KIND(K_MEMFD_SHARED, memfd_shared)
KIND(K_MEMFD_PRIVATE, memfd_private)
KIND(K_FILE_PRIVATE, file_private)
KIND(K_FILE_SHARED, file_shared)
KIND(K_HUGETLB, hugetlb)
KIND(K_SEALED, sealed)
KIND(K_PROTNONE, protnone)
KIND(K_MLOCKED, mlocked)
KIND(K_UFFD_MISSING, uffd_missing)
KIND(K_UFFD_WP, uffd_wp)
KIND(K_KSM, ksm_mergeable)
KIND(K_SWAPPED, swapped)
KIND(K_GROWSDOWN, growsdown)
KIND(K_SPLIT, split_vmas)

FIXTURE_SETUP(kind)
{
}

FIXTURE_TEARDOWN(kind)
{
}

static int odf_case(enum kind k)
{
	return fork_case(k, 1);
}

static int cow_case(enum kind k)
{
	return fork_case(k, 0);
}

static void run_case(struct __test_metadata *_metadata, int (*fn)(enum kind),
		     enum kind k)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid)
		_exit(fn(k));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		SKIP(return, "%s: not available here", kinds[k].name);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("%s: failed at step %d", kinds[k].name, WEXITSTATUS(status));
}

TEST_F(kind, mdup)
{
	NEED_MDUP();
	run_case(_metadata, mdup_case, variant->k);
}

TEST_F(kind, odf)
{
	NEED_ODF();
	run_case(_metadata, odf_case, variant->k);
}

/*
 * fork and write under each COW policy, as its feature set in
 * guest/features sets it (the knob values live there only).
 */
static void policy_case(struct __test_metadata *_metadata, const char *set,
			enum kind k)
{
	long precopied = vmstat_get("cow_precopy");

	if (feature_set(set))
		SKIP(return, "feature set %s: not on this kernel", set);
	run_case(_metadata, cow_case, k);
	feature_set("off");
	precopied = vmstat_get("cow_precopy") - precopied;
	/* the policy was in force: pre-copy copied the child's neighbours */
	if (k == K_ANON && !strncmp(set, "precopy", 7))
		EXPECT_LT(0, precopied);
	if (!strcmp(set, "off"))
		EXPECT_EQ(0, precopied);
}

#define POLICY(set, test)                                \
	TEST_F(kind, test)                               \
	{                                                \
		policy_case(_metadata, set, variant->k); \
	}

POLICY("off", vanilla)
POLICY("precopy", precopy)
POLICY("precopy-adaptive", precopy_adaptive)
POLICY("thp-copy", thp_copy)
POLICY("thp-adaptive", thp_adaptive)
POLICY("mthp-copy", mthp_copy)

TEST_HARNESS_MAIN
