// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab guest tests of mdup(2) (patches 0009-0010): a copy-on-write
 * duplicate of a private anonymous range inside the calling process.
 *
 * Contents are checked word by word against a pattern of (seed, offset);
 * sharing is checked in /proc/self/pagemap (PFNs, needs root) and
 * /proc/kpagecount; layout in /proc/self/maps and smaps. Every bad input
 * must return its documented errno and leave the maps, the VM size and the
 * source bytes as they were.
 *
 * Skips everything on a kernel without mdup() (ENOSYS).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "region.h"
#include "cowlab.h"
#include "mm/gup_test.h"
#include "../../userspace-bench/procfs.h"

#define PG	4096UL
#define HPS	(2UL << 20)

/* ---- helpers ---- */

/*
 * Offset of the first word of [p, p+len) that is not @seed's for a region
 * filled from @p - @off, or -1.
 */
static long check_off(const void *p, size_t off, size_t len,
		      unsigned long seed)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != word(seed, off / 8 + i))
			return i * 8;
	return -1;
}

static long check(const void *p, size_t len, unsigned long seed)
{
	return check_off(p, 0, len, seed);
}

/* Private anonymous memory of @len, aligned to @align, or NULL. */
static char *map_anon(size_t len, size_t align)
{
	size_t total = len + align;
	char *raw = mmap(NULL, total, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (raw == MAP_FAILED)
		return NULL;
	a = align ? ((uintptr_t)raw + align - 1) & ~(align - 1) :
		    (uintptr_t)raw;
	if (a > (uintptr_t)raw)
		munmap(raw, a - (uintptr_t)raw);
	if ((uintptr_t)raw + total > a + len)
		munmap((char *)a + len, (uintptr_t)raw + total - a - len);
	return (char *)a;
}

/* An address where @len bytes (plus @align slack) are free right now. */
static char *free_addr(size_t len, size_t align)
{
	char *p = map_anon(len, align);

	if (p)
		munmap(p, len);
	return p;
}

static int has_vsyscall(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int r = 0;

	while (f && fgets(line, sizeof(line), f))
		r |= !!strstr(line, "[vsyscall]");
	if (f)
		fclose(f);
	return r;
}

/* ---- isolation and sharing ---- */

TEST(isolation_both_ways)
{
	size_t len = 64 * PG;
	char *src, *dst;
	uint64_t f;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 1);
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst) TH_LOG("mdup: %s", strerror(errno));
	/* the kernel keeps the offset in a 2 MB page (THP can be shared) */
	ASSERT_EQ((uintptr_t)src & (HPS - 1), (uintptr_t)dst & (HPS - 1));
	ASSERT_EQ(-1, check(dst, len, 1));

	/* shared: same PFN, mapped twice */
	f = pfn(src + 5 * PG);
	ASSERT_NE(0, f) TH_LOG("no PFN in pagemap (not root?)");
	ASSERT_EQ(f, pfn(dst + 5 * PG));
	ASSERT_EQ(2, kpagecount(f));

	/* a write on either side stays on that side */
	src[5 * PG] ^= 0xff;
	dst[7 * PG + 1] ^= 0xff;
	ASSERT_EQ(5 * PG, check(src, len, 1));
	ASSERT_EQ(7 * PG, check(dst, len, 1));
	src[5 * PG] ^= 0xff;
	dst[7 * PG + 1] ^= 0xff;
	ASSERT_EQ(-1, check(src, len, 1));
	ASSERT_EQ(-1, check(dst, len, 1));
	ASSERT_NE(pfn(src + 5 * PG), pfn(dst + 5 * PG));
	ASSERT_NE(pfn(src + 7 * PG), pfn(dst + 7 * PG));
	ASSERT_EQ(pfn(src + 9 * PG), pfn(dst + 9 * PG));

	/* unmapping the copy drops its mapping of the shared pages */
	f = pfn(src + 9 * PG);
	ASSERT_EQ(0, munmap(dst, len));
	ASSERT_EQ(1, kpagecount(f));
	ASSERT_EQ(-1, check(src, len, 1));
	munmap(src, len);
}

TEST(fixed_address)
{
	size_t len = 16 * PG;
	char *src, *want, *dst;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 2);
	want = free_addr(len, 0);
	ASSERT_NE(NULL, want);
	dst = mdup(src, len, want, MDUP_FIXED);
	ASSERT_EQ(want, dst) TH_LOG("mdup: %s", strerror(errno));
	ASSERT_EQ(-1, check(dst, len, 2));
	memset(src, 0, len);
	ASSERT_EQ(-1, check(dst, len, 2));
	munmap(src, len);
	munmap(dst, len);
}

TEST(never_faulted_source_reads_zero)
{
	size_t len = 8 * PG;
	char *src, *dst;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	for (size_t i = 0; i < len; i++)
		ASSERT_EQ(0, dst[i]);
	dst[0] = 1;
	ASSERT_EQ(0, src[0]);
	munmap(src, len);
	munmap(dst, len);
}

/* ---- THP and mTHP ---- */

static char *thp_region(size_t len)
{
	char *p = map_anon(len, HPS);

	if (!p)
		return NULL;
	madvise(p, len, MADV_HUGEPAGE);
	fill(p, len, 3);
	return p;
}

TEST(thp_shared_as_pmd)
{
	size_t len = 2 * HPS;
	char *src, *dst;

	NEED_MDUP();
	src = thp_region(len);
	ASSERT_NE(NULL, src);
	if (proc_smaps_kb(src, "AnonHugePages:") < 2048)
		SKIP(munmap(src, len); return, "no THP for the source");
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(0, (uintptr_t)dst & (HPS - 1));
	ASSERT_EQ(proc_smaps_kb(src, "AnonHugePages:"),
		  proc_smaps_kb(dst, "AnonHugePages:"));
	ASSERT_EQ(pfn(src + 77 * PG), pfn(dst + 77 * PG));
	ASSERT_EQ(-1, check(dst, len, 3));
	/* COW of a shared PMD: 6.12 splits it on the writer's side */
	fill(src, PG, 4);
	ASSERT_EQ(-1, check(dst, len, 3));
	fill(dst + HPS, PG, 5);
	ASSERT_EQ(-1, check_off(src + HPS, HPS, len - HPS, 3));
	ASSERT_EQ(-1, check(src, PG, 4));
	munmap(src, len);
	ASSERT_EQ(-1, check(dst, HPS, 3));
	munmap(dst, len);
}

TEST(thp_misaligned_destination)
{
	size_t len = 2 * HPS;
	char *src, *want, *dst;

	NEED_MDUP();
	src = thp_region(len);
	ASSERT_NE(NULL, src);
	want = free_addr(len + HPS, HPS);
	ASSERT_NE(NULL, want);
	want += 3 * PG;
	dst = mdup(src, len, want, MDUP_FIXED);
	ASSERT_EQ(want, dst) TH_LOG("mdup: %s", strerror(errno));
	ASSERT_EQ(-1, check(dst, len, 3));
	ASSERT_EQ(pfn(src + 600 * PG), pfn(dst + 600 * PG));
	fill(src, len, 6);
	ASSERT_EQ(-1, check(dst, len, 3));
	fill(dst, len, 7);
	ASSERT_EQ(-1, check(src, len, 6));
	munmap(src, len);
	munmap(dst, len);
}

TEST(thp_partial_range)
{
	size_t len = 2 * HPS, off = 100 * PG, n = HPS;
	char *src, *dst;

	NEED_MDUP();
	src = thp_region(len);
	ASSERT_NE(NULL, src);
	dst = mdup(src + off, n, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(-1, check(src, len, 3));
	ASSERT_EQ(-1, check_off(dst, off, n, 3));
	fill(dst, n, 8);
	ASSERT_EQ(-1, check(src, len, 3));
	munmap(src, len);
	munmap(dst, n);
}

static const char mthp_enabled[] =
	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled";
static const char mthp_allocs[] =
	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/anon_fault_alloc";

TEST(mthp_source)
{
	size_t len = 64 * 16 * PG;
	char old[64], before[32], after[32], *src, *dst, *want;

	NEED_MDUP();
	if (knob_read(mthp_enabled, old, sizeof(old)))
		SKIP(return, "no 64 kB mTHP");
	ASSERT_EQ(0, knob_write(mthp_enabled, "always"));
	knob_read(mthp_allocs, before, sizeof(before));
	/* 1 MB in a 2 MB-aligned slot: no PMD THP fits the VMA, mTHP does */
	src = map_anon(len, HPS);
	ASSERT_NE(NULL, src);
	fill(src, len, 9);
	knob_read(mthp_allocs, after, sizeof(after));
	/* restore: "[always] inherit madvise never" -> the bracketed word */
	if (strchr(old, '[')) {
		char *b = strchr(old, '[') + 1;

		*strchr(b, ']') = '\0';
		knob_write(mthp_enabled, b);
	}
	if (atol(after) <= atol(before))
		SKIP(munmap(src, len); return, "no 64 kB mTHP allocated");

	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(-1, check(dst, len, 9));
	ASSERT_EQ(pfn(src + 17 * PG), pfn(dst + 17 * PG));
	/* and at a destination offset that splits each folio's PTE batch */
	want = free_addr(len + HPS, HPS);
	ASSERT_NE(NULL, want);
	want += 5 * PG;
	ASSERT_EQ(want, mdup(src, len, want, MDUP_FIXED));
	ASSERT_EQ(-1, check(want, len, 9));
	fill(src + 3 * PG, 20 * PG, 10);
	ASSERT_EQ(-1, check(dst, len, 9));
	ASSERT_EQ(-1, check(want, len, 9));
	fill(want, len, 11);
	ASSERT_EQ(-1, check(dst, len, 9));
	munmap(src, len);
	munmap(dst, len);
	munmap(want, len);
}

/* ---- layout ---- */

TEST(partial_vma)
{
	size_t len = 32 * PG;
	char *src, *dst;
	int maps;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 12);
	maps = count_maps();
	dst = mdup(src + 8 * PG, 16 * PG, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(maps + 1, count_maps());
	ASSERT_EQ(-1, check_off(dst, 8 * PG, 16 * PG, 12));
	memset(dst, 1, 16 * PG);
	ASSERT_EQ(-1, check(src, len, 12));
	munmap(src, len);
	munmap(dst, 16 * PG);
}

TEST(several_vmas)
{
	size_t len = 48 * PG;
	char *src, *dst, perms[5];
	int maps;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 13);
	ASSERT_EQ(0, mprotect(src + 16 * PG, 16 * PG, PROT_READ));
	maps = count_maps();
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(maps + 3, count_maps());
	ASSERT_EQ(-1, check(dst, len, 13));
	vma_perms(dst + 20 * PG, perms);
	ASSERT_STREQ("r--p", perms);
	vma_perms(dst + 40 * PG, perms);
	ASSERT_STREQ("rw-p", perms);
	fill(dst + 32 * PG, 16 * PG, 14);
	ASSERT_EQ(-1, check(src, len, 13));
	munmap(src, len);
	munmap(dst, len);
}

TEST(repeated_and_snapshot_of_snapshot)
{
	size_t len = 32 * PG;
	char *src, *d1, *d2, *d3;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 15);
	d1 = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, d1);
	fill(src, len, 16);
	d2 = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, d2);
	d3 = mdup(d1, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, d3);
	fill(d1, len / 2, 17);
	ASSERT_EQ(-1, check(src, len, 16));
	ASSERT_EQ(-1, check(d1, len / 2, 17));
	ASSERT_EQ(-1, check(d2, len, 16));
	ASSERT_EQ(-1, check(d3, len, 15));
	munmap(d1, len);
	ASSERT_EQ(-1, check(d3, len, 15));
	munmap(src, len);
	munmap(d2, len);
	munmap(d3, len);
}

/* ---- operations on either side afterwards ---- */

TEST(munmap_mprotect_dontneed_after)
{
	size_t len = 32 * PG;
	char *src, *dst;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 18);
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);

	/* MADV_DONTNEED on the copy: zeros there, source intact */
	ASSERT_EQ(0, madvise(dst, 8 * PG, MADV_DONTNEED));
	for (size_t i = 0; i < 8 * PG; i++)
		ASSERT_EQ(0, dst[i]);
	ASSERT_EQ(-1, check(src, len, 18));
	/* and on the source: the copy keeps the bytes */
	ASSERT_EQ(0, madvise(src + 8 * PG, 8 * PG, MADV_DONTNEED));
	ASSERT_EQ(0, src[8 * PG]);
	ASSERT_EQ(word(18, 8 * PG / 8), *(uint64_t *)(dst + 8 * PG));
	/* mprotect the copy, then write it again */
	ASSERT_EQ(0, mprotect(dst, len, PROT_READ));
	ASSERT_EQ(word(18, 20 * PG / 8), *(uint64_t *)(dst + 20 * PG));
	ASSERT_EQ(0, mprotect(dst, len, PROT_READ | PROT_WRITE));
	dst[20 * PG] ^= 1;
	ASSERT_EQ(word(18, 20 * PG / 8), *(uint64_t *)(src + 20 * PG));
	/* munmap the source: the copy stays */
	ASSERT_EQ(0, munmap(src, len));
	ASSERT_EQ(word(18, 30 * PG / 8), *(uint64_t *)(dst + 30 * PG));
	munmap(dst, len);
}

TEST(fork_after)
{
	size_t len = 32 * PG;
	char *src, *dst;
	int status;
	pid_t pid;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 19);
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int bad = check(src, len, 19) != -1 || check(dst, len, 19) != -1;

		fill(src, len, 20);
		fill(dst, len / 2, 21);
		bad |= check(src, len, 20) != -1;
		bad |= check(dst, len / 2, 21) != -1;
		bad |= check_off(dst + len / 2, len / 2, len / 2, 19) != -1;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(-1, check(src, len, 19));
	ASSERT_EQ(-1, check(dst, len, 19));
	fill(dst, len, 22);
	ASSERT_EQ(-1, check(src, len, 19));
	munmap(src, len);
	munmap(dst, len);
}

/* ---- threads writing during the call ---- */

#define TW_PAGES 256
struct tw {
	volatile uint64_t *p;	/* TW_PAGES pages, one counter per word */
	volatile int stop;
	volatile uint64_t done;	/* last round completed */
};

static void *tw_writer(void *arg)
{
	struct tw *t = arg;

	for (uint64_t r = 1; !t->stop; r++) {
		for (size_t i = 0; i < TW_PAGES * PG / 8; i += 64)
			t->p[i] = r;
		t->done = r;
	}
	return NULL;
}

TEST(threads_writing_during_call)
{
	size_t len = TW_PAGES * PG;
	struct tw t = { 0 };
	uint64_t *a, *b, limit;
	pthread_t th;
	char *dst;

	NEED_MDUP();
	t.p = (uint64_t *)map_anon(len, 0);
	ASSERT_NE(NULL, t.p);
	memset((void *)t.p, 0, len);
	a = malloc(len);
	b = malloc(len);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, pthread_create(&th, NULL, tw_writer, &t));
	while (t.done < 20)
		usleep(1000);
	dst = mdup((void *)t.p, len, NULL, 0);
	/* the writer is at most one round past the call's end here */
	limit = t.done + 1;
	ASSERT_NE(MAP_FAILED, dst);
	memcpy(a, dst, len);
	while (t.done < limit + 20)
		usleep(1000);
	memcpy(b, dst, len);
	t.stop = 1;
	pthread_join(th, NULL);
	/* the copy no longer moves, and holds no value from after the call */
	ASSERT_EQ(0, memcmp(a, b, len));
	for (size_t i = 0; i < len / 8; i += 64) {
		ASSERT_LE(a[i], limit);
		ASSERT_LE(a[i], t.p[i]);
		ASSERT_LE(1, a[i]);
	}
	free(a);
	free(b);
	munmap((void *)t.p, len);
	munmap(dst, len);
}

/* ---- eager copies: pinned and KSM pages ---- */

TEST(pinned_page_copied)
{
	size_t len = 16 * PG;
	struct pin_longterm_test pin = { 0 };
	char *src, *dst;
	int fd;

	NEED_MDUP();
	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0)
		SKIP(return, "no /sys/kernel/debug/gup_test (CONFIG_GUP_TEST)");
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 23);
	pin.addr = (uintptr_t)(src + 3 * PG);
	pin.size = PG;
	pin.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE;
	if (ioctl(fd, PIN_LONGTERM_TEST_START, &pin))
		SKIP(close(fd); return, "PIN_LONGTERM_TEST_START: %s",
		     strerror(errno));
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	/* the pinned page is copied at once, the others shared */
	ASSERT_NE(pfn(src + 3 * PG), pfn(dst + 3 * PG));
	ASSERT_EQ(pfn(src + 4 * PG), pfn(dst + 4 * PG));
	ASSERT_EQ(-1, check(dst, len, 23));
	/* the pinned page stays the source's: a source write needs no COW */
	src[3 * PG] ^= 1;
	ASSERT_EQ(word(23, 3 * PG / 8), *(uint64_t *)(dst + 3 * PG));
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_STOP));
	close(fd);
	munmap(src, len);
	munmap(dst, len);
}

TEST(ksm_page_copied)
{
	size_t len = 4 * PG;
	char *src, *dst;
	int merged;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	memset(src, 0x5a, len);
	ASSERT_EQ(0, madvise(src, len, MADV_MERGEABLE));
	merged = ksm_merge(src, src + PG);
	if (merged <= 0) {
		madvise(src, len, MADV_UNMERGEABLE);
		munmap(src, len);
		SKIP(return, "%s", merged < 0 ? "no KSM" :
		     "KSM did not merge within 6 s");
	}
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	/* rmap finds a KSM page only at its address: the copy has its own */
	ASSERT_NE(pfn(src), pfn(dst));
	ASSERT_NE(0, pfn(dst));
	for (size_t i = 0; i < len; i++)
		ASSERT_EQ(0x5a, (unsigned char)dst[i]);
	dst[0] = 1;
	ASSERT_EQ(0x5a, src[0]);
	madvise(src, len, MADV_UNMERGEABLE);
	munmap(src, len);
	munmap(dst, len);
}

TEST(mlocked_source_copy_not_locked)
{
	size_t len = 16 * PG;
	long locked;
	char *src, *dst;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 24);
	if (mlock(src, len))
		SKIP(munmap(src, len); return, "mlock: %s", strerror(errno));
	locked = kb_field("/proc/self/status", "VmLck:");
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(locked, kb_field("/proc/self/status", "VmLck:"));
	ASSERT_EQ(-1, check(dst, len, 24));
	fill(src, len, 25);
	ASSERT_EQ(-1, check(dst, len, 24));
	munlock(src, len);
	munmap(src, len);
	munmap(dst, len);
}

/* ---- bad input: errno, and nothing changed ---- */

struct before {
	int maps;
	long vmsize;
};

static struct before snap(void)
{
	struct before b = { count_maps(),
			    kb_field("/proc/self/status", "VmSize:") };

	return b;
}

/* mdup() must fail with @err and change neither the maps nor the source. */
#define EXPECT_FAIL(err, src, len, new, flags) \
	do { \
		struct before b_ = snap(); \
		long r_ = syscall(__NR_mdup, (src), (len), (new), (flags)); \
		int e_ = errno; \
		EXPECT_EQ(-1, r_); \
		EXPECT_EQ(err, e_) TH_LOG("errno %s, want %s", \
					 strerror(e_), strerror(err)); \
		EXPECT_EQ(b_.maps, count_maps()); \
		EXPECT_EQ(b_.vmsize, \
			  kb_field("/proc/self/status", "VmSize:")); \
	} while (0)

TEST(bad_input)
{
	size_t len = 16 * PG;
	char *src, *other, *hole, *shared, *file, *grows, *mixed;
	int mfd;

	NEED_MDUP();
	src = map_anon(len, 0);
	other = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, other);
	fill(src, len, 26);

	EXPECT_FAIL(EINVAL, src + 1, len, 0, 0);
	EXPECT_FAIL(EINVAL, src, 0, 0, 0);
	EXPECT_FAIL(EINVAL, src, len + 1, 0, 0);
	EXPECT_FAIL(EINVAL, src, len, 0, 0x2);
	EXPECT_FAIL(EINVAL, src, len, other, 0);		/* no FIXED */
	EXPECT_FAIL(EINVAL, src, len, src + PG, MDUP_FIXED);	/* overlap */
	EXPECT_FAIL(EINVAL, src, len, other + 1, MDUP_FIXED);
	EXPECT_FAIL(EINVAL, src, -PG, 0, 0);			/* overflow */
	EXPECT_FAIL(EINVAL, (char *)-PG, 2 * PG, 0, 0);
	EXPECT_FAIL(EEXIST, src, len, other, MDUP_FIXED);
	EXPECT_FAIL(ENOMEM, src, len, (char *)(1UL << 47) - PG, MDUP_FIXED);
	if (kb_field("/proc/sys/vm/mmap_min_addr", "") > 0) {
		/* root may map below it (CAP_SYS_RAWIO), as with mmap() */
		pid_t pid = fork();
		int status;

		ASSERT_LE(0, pid);
		if (!pid) {
			if (getuid() == 0 && setuid(65534))
				_exit(10);
			errno = 0;
			_exit(syscall(__NR_mdup, src, PG, 0, MDUP_FIXED) != -1 ||
			      errno != EPERM);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}

	/* a hole in the middle, and nothing mapped at all */
	hole = map_anon(3 * PG, 0);
	ASSERT_NE(NULL, hole);
	ASSERT_EQ(0, munmap(hole + PG, PG));
	EXPECT_FAIL(EFAULT, hole, 3 * PG, 0, 0);
	EXPECT_FAIL(EFAULT, hole + PG, PG, 0, 0);

	/* unsupported kinds of memory */
	shared = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	EXPECT_FAIL(EINVAL, shared, len, 0, 0);
	mfd = memfd_create("mdup", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, len));
	file = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	ASSERT_NE(MAP_FAILED, file);
	EXPECT_FAIL(EINVAL, file, len, 0, 0);
	grows = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	ASSERT_NE(MAP_FAILED, grows);
	EXPECT_FAIL(EINVAL, grows, len, 0, 0);
	/* a range that is only partly supported changes nothing either */
	mixed = map_anon(2 * PG, 0);
	ASSERT_NE(NULL, mixed);
	ASSERT_NE(MAP_FAILED, mmap(mixed + PG, PG, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
				   -1, 0));
	mixed[0] = 1;
	EXPECT_FAIL(EINVAL, mixed, 2 * PG, 0, 0);
	ASSERT_EQ(1, mixed[0]);
	munmap(mixed, 2 * PG);

	ASSERT_EQ(-1, check(src, len, 26));
	munmap(hole, 3 * PG);
	munmap(shared, len);
	munmap(file, len);
	munmap(grows, len);
	close(mfd);
	munmap(src, len);
	munmap(other, len);
}

TEST(bad_input_hugetlb)
{
	size_t len = HPS;
	char *h;

	NEED_MDUP();
	h = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h == MAP_FAILED)
		SKIP(return, "no 2 MB hugetlb page: %s", strerror(errno));
	h[0] = 1;
	EXPECT_FAIL(EINVAL, h, len, 0, 0);
	ASSERT_EQ(1, h[0]);
	munmap(h, len);
}

TEST(bad_input_userfaultfd)
{
	size_t len = 4 * PG;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	char *src;
	int uffd;

	NEED_MDUP();
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 27);
	reg.range.start = (uintptr_t)src;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	EXPECT_FAIL(EBUSY, src, len, 0, 0);
	ASSERT_EQ(-1, check(src, len, 27));
	close(uffd);
	munmap(src, len);
}

/* Resource limits, in a child so that the limits die with it. */
TEST(bad_input_limits)
{
	size_t len = 64 * PG;
	char *src, old[32], val[32];
	int status;
	pid_t pid;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 28);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rlimit rl;
		int bad = 0;

		/* RLIMIT_AS: room for less than the copy */
		rl.rlim_cur = rl.rlim_max =
			kb_field("/proc/self/status", "VmSize:") * 1024 +
			len / 2;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(10);
		errno = 0;
		bad |= syscall(__NR_mdup, src, len, 0, 0) != -1 ||
		       errno != ENOMEM;
		bad |= check(src, len, 28) != -1;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));

	/* vm.max_map_count: no room for one more VMA */
	if (knob_read("/proc/sys/vm/max_map_count", old, sizeof(old)))
		SKIP(munmap(src, len); return, "no vm.max_map_count");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int bad = 0, n = count_maps();

		/* map_count does not count [vsyscall], which maps lists */
		n -= has_vsyscall();
		snprintf(val, sizeof(val), "%d", n);
		if (knob_write("/proc/sys/vm/max_map_count", val))
			_exit(10);
		errno = 0;
		bad |= syscall(__NR_mdup, src, len, 0, 0) != -1 ||
		       errno != ENOMEM;
		knob_write("/proc/sys/vm/max_map_count", old);
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	knob_write("/proc/sys/vm/max_map_count", old);
	ASSERT_EQ(0, WEXITSTATUS(status));
	munmap(src, len);
}

/* ---- fuzzing ---- */

/* a fixture only for the longer timeout of TEST_F_TIMEOUT */
FIXTURE(leak) {
	int unused;
};

FIXTURE_SETUP(leak)
{
}

FIXTURE_TEARDOWN(leak)
{
}


static uint64_t fz_state;

static uint64_t fz_rand(void)
{
	fz_state ^= fz_state << 13;
	fz_state ^= fz_state >> 7;
	fz_state ^= fz_state << 17;
	return fz_state;
}

/*
 * An arena of 64 pages: [0,16) RW private, [16,24) hole, [24,40) RO private,
 * [40,48) shared, [48,64) RW private with a THP-sized neighbour outside.
 * Addresses are drawn from the arena's pages (aligned or not), boundary
 * values and random bits; lengths from page multiples, 0, unaligned and
 * huge values; destinations from NULL, free space, the arena itself,
 * unaligned and out-of-range values; flags from 0, MDUP_FIXED and junk.
 */
static uintptr_t fz_pick_addr(char *arena, char *freep)
{
	switch (fz_rand() % 10) {
	case 0:
		return 0;
	case 1:
		return -PG * (1 + fz_rand() % 4);
	case 2:
		return (uintptr_t)arena + fz_rand() % (64 * PG);
	case 3:
		return (uintptr_t)freep + PG * (fz_rand() % 64);
	case 4:
		return (1UL << 47) - PG * (fz_rand() % 4);
	default:
		return (uintptr_t)arena + PG * (fz_rand() % 64);
	}
}

static size_t fz_pick_len(void)
{
	switch (fz_rand() % 10) {
	case 0:
		return 0;
	case 1:
		return fz_rand() % (8 * PG);
	case 2:
		return -PG;
	case 3:
		return 1UL << (20 + fz_rand() % 28);
	default:
		return PG * (1 + fz_rand() % 16);
	}
}

TEST_F_TIMEOUT(leak, fuzz_arguments, 600)
{
	static const int allowed[] = { EINVAL, EFAULT, EBUSY, EEXIST, EPERM,
				       ENOMEM };
	int iters = getenv("MDUP_FUZZ_ITERS") ? atoi(getenv("MDUP_FUZZ_ITERS")) :
						 3000;
	int nerr[8] = { 0 }, ok = 0, maps0;
	char *arena, *freep, *shared;
	long vm0;

	NEED_MDUP();
	fz_state = getenv("MDUP_FUZZ_SEED") ? strtoull(getenv("MDUP_FUZZ_SEED"),
							NULL, 0) : 0x6d647570;
	arena = map_anon(64 * PG, HPS);
	ASSERT_NE(NULL, arena);
	fill(arena, 64 * PG, 30);
	ASSERT_EQ(0, munmap(arena + 16 * PG, 8 * PG));
	ASSERT_EQ(0, mprotect(arena + 24 * PG, 16 * PG, PROT_READ));
	shared = mmap(arena + 40 * PG, 8 * PG, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(arena + 40 * PG, shared);
	freep = free_addr(64 * PG, 0);
	ASSERT_NE(NULL, freep);
	maps0 = count_maps();
	vm0 = kb_field("/proc/self/status", "VmSize:");

	for (int i = 0; i < iters; i++) {
		uintptr_t a = fz_pick_addr(arena, freep), d;
		size_t len = fz_pick_len();
		unsigned long flags = fz_rand() % 10 == 0 ? fz_rand() :
				      fz_rand() % 2 ? MDUP_FIXED : 0;
		int maps = count_maps(), e;
		long r, vm = kb_field("/proc/self/status", "VmSize:");

		if (flags & MDUP_FIXED && fz_rand() % 10 < 6)
			d = (uintptr_t)freep + PG * (fz_rand() % 32);
		else if (flags & MDUP_FIXED || fz_rand() % 8 == 0)
			d = fz_pick_addr(arena, freep);
		else
			d = 0;
		errno = 0;
		r = syscall(__NR_mdup, a, len, d, flags);
		e = errno;
		if (r != -1) {
			char *dst = (char *)r;

			/* success: the copy holds the source bytes, writes
			 * to it stay there, and it unmaps cleanly
			 */
			/* (a source beyond the arena is whatever the harness
			 * mapped there: only unmap its copy)
			 */
			if (a < (uintptr_t)arena ||
			    a + len > (uintptr_t)arena + 64 * PG) {
				ASSERT_EQ(0, munmap(dst, len));
				ok++;
				continue;
			}
			ASSERT_EQ(0, memcmp(dst, (char *)a, len))
				TH_LOG("iter %d: copy differs", i);
			if (mprotect(dst, PG, PROT_READ | PROT_WRITE) == 0) {
				char before = *(char *)a;

				dst[0] ^= 0x55;
				ASSERT_EQ(before, *(char *)a);
			}
			ASSERT_EQ(0, munmap(dst, len));
			ok++;
			continue;
		}
		int j;

		for (j = 0; j < 6; j++)
			if (e == allowed[j])
				break;
		ASSERT_LT(j, 6) TH_LOG("iter %d: mdup(%#lx, %#zx, %#lx, %#lx): undocumented errno %d (%s)",
				       i, (unsigned long)a, len,
				       (unsigned long)d, flags, e, strerror(e));
		nerr[j]++;
		ASSERT_EQ(maps, count_maps()) TH_LOG("iter %d: maps changed on error", i);
		ASSERT_EQ(vm, kb_field("/proc/self/status", "VmSize:"));
	}
	TH_LOG("%d iterations: %d ok, EINVAL %d, EFAULT %d, EBUSY %d, EEXIST %d, EPERM %d, ENOMEM %d",
	       iters, ok, nerr[0], nerr[1], nerr[2], nerr[3], nerr[4],
	       nerr[5]);
	/* both outcomes exercised, and the arena is as before */
	ASSERT_LT(iters / 20, ok);
	ASSERT_LT(iters / 20, nerr[0]);
	ASSERT_EQ(maps0, count_maps());
	ASSERT_EQ(vm0, kb_field("/proc/self/status", "VmSize:"));
	ASSERT_EQ(-1, check(arena, 16 * PG, 30));
	ASSERT_EQ(-1, check_off(arena + 24 * PG, 24 * PG, 16 * PG, 30));
}

/* ---- fault injection (debug kernel): ENOMEM, and nothing changed ---- */

struct injector {
	const char *dir;
	const char *const (*knobs)[2];
	int nknobs;
};

/* armed last: until the task filter is on, every task would fail */
static const char *const fpa_knobs[][2] = {
	{ "probability", "0" }, { "task-filter", "Y" }, { "interval", "1" },
	{ "times", "-1" }, { "space", "0" }, { "verbose", "0" },
	{ "ignore-gfp-wait", "N" }, { "ignore-gfp-highmem", "N" },
	{ "min-order", "0" }, { "probability", "100" },
};

static const char *const slab_knobs[][2] = {
	{ "probability", "0" }, { "task-filter", "Y" }, { "interval", "1" },
	{ "times", "-1" }, { "space", "0" }, { "verbose", "0" },
	{ "ignore-gfp-wait", "N" }, { "cache-filter", "N" },
	{ "probability", "100" },
};

static const struct injector injectors[] = {
	{ "/sys/kernel/debug/fail_page_alloc/", fpa_knobs, 10 },
	{ "/sys/kernel/debug/failslab/", slab_knobs, 9 },
};

static void injector_set(const struct injector *inj, int on)
{
	char path[128];

	for (int k = 0; k < inj->nknobs; k++) {
		snprintf(path, sizeof(path), "%s%s", inj->dir, inj->knobs[k][0]);
		if (on)
			knob_write(path, inj->knobs[k][1]);
	}
	if (!on) {
		snprintf(path, sizeof(path), "%sprobability", inj->dir);
		knob_write(path, "0");
		snprintf(path, sizeof(path), "%stask-filter", inj->dir);
		knob_write(path, "N");
	}
}

/*
 * Every page (fail_page_alloc) or slab (failslab) allocation of one task
 * fails while it calls mdup() towards a fresh 1 GB-aligned destination,
 * whose page tables must be allocated: -ENOMEM, with the maps, the VM size
 * and the source as before; with the injection off the same call works.
 */
TEST_F_TIMEOUT(leak, alloc_failure_enomem_unchanged, 120)
{
	size_t len = 32 * PG;
	int ran = 0;

	NEED_MDUP();
	for (unsigned int j = 0; j < sizeof(injectors) / sizeof(injectors[0]); j++) {
		const struct injector *inj = &injectors[j];
		char path[128], *src, *want;
		int status;
		pid_t pid;

		snprintf(path, sizeof(path), "%sprobability", inj->dir);
		if (access(path, W_OK))
			continue;
		src = map_anon(len, 0);
		ASSERT_NE(NULL, src);
		fill(src, len, 31);
		want = free_addr(len, 1UL << 30);
		ASSERT_NE(NULL, want);
		injector_set(inj, 1);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			int fd = open("/proc/self/make-it-fail", O_WRONLY);
			int maps = count_maps(), bad = 0, e;
			long vm = kb_field("/proc/self/status", "VmSize:"), r;

			if (fd < 0)
				_exit(4);
			/* nothing but the call itself between on and off */
			if (pwrite(fd, "1", 1, 0) != 1)
				_exit(4);
			r = syscall(__NR_mdup, src, len, want, MDUP_FIXED);
			e = errno;
			if (pwrite(fd, "0", 1, 0) != 1)
				_exit(5);
			if (r != -1 || e != ENOMEM) {
				fprintf(stderr, "# %s: mdup returned %ld, errno %d\n",
					inj->dir, r, e);
				bad |= 1;
			}
			bad |= (maps != count_maps()) << 1;
			bad |= (vm != kb_field("/proc/self/status", "VmSize:")) << 2;
			bad |= (check(src, len, 31) != -1) << 3;
			/* and without the injection it works */
			bad |= (mdup(src, len, want, MDUP_FIXED) != want) << 4;
			bad |= (check(want, len, 31) != -1) << 5;
			_exit(bad);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		injector_set(inj, 0);
		if (WEXITSTATUS(status) == 4)
			SKIP(return, "no /proc/self/make-it-fail");
		EXPECT_EQ(0, WEXITSTATUS(status))
			TH_LOG("%s: failure bits %#x (1 not ENOMEM, 2 maps, 4 VmSize, 8 source, 16/32 retry)",
			       inj->dir, WEXITSTATUS(status));
		ASSERT_EQ(-1, check(src, len, 31));
		munmap(src, len);
		ran++;
	}
	if (!ran)
		SKIP(return, "no fail_page_alloc/failslab (debug kernel only)");
}

/* ---- no leak ---- */

TEST_F_TIMEOUT(leak, no_leak_after_cycles, 600)
{
	size_t len = 16 * PG;
	long anon0, anon1, commit0, commit1, vm0;
	int maps0, cycles = 2000;
	char *src, *dst;

	NEED_MDUP();
	src = map_anon(len, 0);
	ASSERT_NE(NULL, src);
	fill(src, len, 29);
	/* one warm-up cycle, so lazily created kernel state exists */
	dst = mdup(src, len, NULL, 0);
	ASSERT_NE(MAP_FAILED, dst);
	munmap(dst, len);
	maps0 = count_maps();
	vm0 = kb_field("/proc/self/status", "VmSize:");
	anon0 = proc_vmstat("nr_anon_pages");
	commit0 = kb_field("/proc/meminfo", "Committed_AS:");
	for (int i = 0; i < cycles; i++) {
		dst = mdup(src, len, NULL, 0);
		ASSERT_NE(MAP_FAILED, dst);
		dst[(i % 16) * PG] ^= 1;	/* one COW copy per cycle */
		src[((i + 3) % 16) * PG] ^= 1;	/* and one in the source */
		ASSERT_EQ(0, munmap(dst, len));
	}
	anon1 = proc_vmstat("nr_anon_pages");
	commit1 = kb_field("/proc/meminfo", "Committed_AS:");
	TH_LOG("%d cycles: nr_anon_pages %ld -> %ld, Committed_AS %ld -> %ld kB",
	       cycles, anon0, anon1, commit0, commit1);
	/* this process: exact */
	ASSERT_EQ(maps0, count_maps());
	ASSERT_EQ(vm0, kb_field("/proc/self/status", "VmSize:"));
	/* system wide (the runner's shell moves them a little): a leak of one
	 * page or one charge per cycle would be 2000 pages / 8000 kB
	 */
	ASSERT_LT(labs(anon1 - anon0), 200);
	ASSERT_LT(labs(commit1 - commit0), 800);
	munmap(src, len);
}

TEST_HARNESS_MAIN
