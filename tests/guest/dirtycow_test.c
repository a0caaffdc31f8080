// SPDX-License-Identifier: GPL-2.0
/*
 * dirtycow_test - Dirty-COW-class regressions (CVE-2016-5195).
 *
 * A write that forces its way into a private, read-only file mapping
 * (FOLL_FORCE: /proc/<pid>/mem, ptrace POKEDATA) must COW the page into a
 * private anonymous copy and never reach the file, also while another
 * thread or process throws the copy away with MADV_DONTNEED in a loop (the
 * race Dirty COW won). Each case checks a positive control first (the
 * forced write lands and is visible in the private mapping), then races
 * for a bounded number of writes, then compares the file, a fresh mapping
 * of it and the page cache seen by the parent with the original bytes.
 *
 * Variants: every cowlab feature off; COW pre-copy at its largest fixed
 * window with every COW fault timed and logged (the knobs are skipped on a
 * kernel without them); on-demand fork (PR_SET_COW_ODF 1 for the test
 * process, which also keeps 4 MiB of populated private anonymous memory, so
 * that the forks of the remote races share page tables with their child;
 * those bytes must come through unchanged; skipped on a kernel without it).
 * The file mapping itself is never shared by on-demand fork (file-backed):
 * odf_test races forced writes into a shared anonymous range.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "knob.h"
#include "../../userspace-bench/cowlab_uapi.h"

#define PAGE 4096UL
#define NPAGES 16
#define LEN (NPAGES * PAGE)
#define WRITES 20000	/* forced writes per race, at most */
#define RACE_SECS 5	/* and at most this long: a zapper can starve GUP */
#define BALLAST (4UL << 20)	/* ODF variant: two page tables' worth */

/*
 * A timer thread ends a race: it stops the zappers, so that a forced write
 * that GUP keeps retrying against them (fault in, zapped, fault in, ...)
 * returns. A signal would not do: its handler runs only once the write
 * has returned.
 */
static pthread_t race_timer;

static void *race_timer_fn(void *arg)
{
	_Atomic int *stop = arg;

	for (int ms = 0; ms < RACE_SECS * 1000 && !atomic_load(stop); ms += 10)
		usleep(10000);
	atomic_store(stop, 1);
	return NULL;
}

static int race_start(_Atomic int *stop)
{
	return pthread_create(&race_timer, NULL, race_timer_fn, (void *)stop);
}

static void race_end(_Atomic int *stop)
{
	atomic_store(stop, 1);
	pthread_join(race_timer, NULL);
}

/* The original content: every byte names its page and offset. */
static uint8_t orig_byte(size_t off)
{
	return (uint8_t)(off / PAGE * 31 + off % 251 + 1);
}

/* Byte offset of the first difference from the original, or -1. */
static long first_diff(const uint8_t *p)
{
	for (size_t i = 0; i < LEN; i++)
		if (p[i] != orig_byte(i))
			return i;
	return -1;
}

/* The file as read(2) sees it, i.e. its page cache. */
static long file_diff(const char *path)
{
	static uint8_t buf[LEN];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -2;
	n = pread(fd, buf, LEN, 0);
	close(fd);
	return n == (ssize_t)LEN ? first_diff(buf) : -2;
}

/* The file through a new shared mapping. */
static long fresh_map_diff(const char *path)
{
	int fd = open(path, O_RDONLY);
	uint8_t *p;
	long d;

	if (fd < 0)
		return -2;
	p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -2;
	d = first_diff(p);
	munmap(p, LEN);
	return d;
}

/* Offset of the forced write number @i: a different page and byte each time. */
static size_t poke_off(long i)
{
	return (i % NPAGES) * PAGE + (i * 8) % (PAGE - 8);
}

/* Populated private anonymous memory, 2 MB aligned, NULL on failure. */
static uint8_t *ballast_new(void)
{
	size_t align = 2UL << 20, len = BALLAST + align;
	uint8_t *raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *b;

	if (raw == MAP_FAILED)
		return NULL;
	b = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (b > raw)
		munmap(raw, b - raw);
	munmap(b + BALLAST, raw + len - (b + BALLAST));
	madvise(b, BALLAST, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < BALLAST; i++)
		b[i] = (uint8_t)(i / PAGE * 7 + i % 253);
	return b;
}

/* Byte offset of the first difference from ballast_new()'s bytes, or -1. */
static long ballast_diff(const uint8_t *b)
{
	for (size_t i = 0; i < BALLAST; i++)
		if (b[i] != (uint8_t)(i / PAGE * 7 + i % 253))
			return i;
	return -1;
}

struct zapper {
	uint8_t *map;
	_Atomic int *stop;
	long rounds;
};

static void *zap_loop(void *arg)
{
	struct zapper *z = arg;

	while (!atomic_load(z->stop)) {
		madvise(z->map, LEN, MADV_DONTNEED);
		z->rounds++;
	}
	return NULL;
}

FIXTURE(dirtycow) {
	char path[64];
	char pc_max[32], pc_mode[32], sample[32];
	uint8_t *map;	/* PROT_READ, MAP_PRIVATE of the read-only file */
	_Atomic int *stop;	/* MAP_SHARED: seen by a forked child too */
	uint8_t *ballast;	/* ODF variant: anonymous memory the forks share */
};

FIXTURE_VARIANT(dirtycow) {
	int precopy_max;	/* vm.cow_precopy_max, 0 = untouched */
	int log_sample;		/* vm.cow_log_sample, 0 = untouched */
	int odf;		/* PR_SET_COW_ODF 1 for the test process */
};

FIXTURE_VARIANT_ADD(dirtycow, features_off) {
	.precopy_max = 0,
	.log_sample = 0,
};

FIXTURE_VARIANT_ADD(dirtycow, precopy64_stat) {
	.precopy_max = 64,
	.log_sample = 1,
};

FIXTURE_VARIANT_ADD(dirtycow, odf) {
	.odf = 1,
};

FIXTURE_SETUP(dirtycow)
{
	static uint8_t buf[LEN];
	int fd;

	/* first: a SKIP from setup leaves nothing behind (no teardown) */
	if (variant->odf && prctl(PR_GET_COW_ODF, 0, 0, 0, 0) < 0)
		SKIP(return, "kernel without on-demand fork (PR_GET_COW_ODF)");
	for (size_t i = 0; i < LEN; i++)
		buf[i] = orig_byte(i);
	snprintf(self->path, sizeof(self->path), "/tmp/dirtycow-%d", getpid());
	fd = open(self->path, O_CREAT | O_TRUNC | O_WRONLY, 0444);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)LEN, write(fd, buf, LEN));
	close(fd);
	fd = open(self->path, O_RDONLY);
	ASSERT_LE(0, fd);
	self->map = mmap(NULL, LEN, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	ASSERT_NE(MAP_FAILED, self->map);
	self->stop = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->stop);

	knob_read("/proc/sys/vm/cow_precopy_max", self->pc_max, sizeof(self->pc_max));
	knob_read("/proc/sys/vm/cow_precopy_mode", self->pc_mode, sizeof(self->pc_mode));
	knob_read("/proc/sys/vm/cow_log_sample", self->sample, sizeof(self->sample));
	if (variant->precopy_max) {
		char v[16];

		if (!self->pc_max[0])
			SKIP(return, "no vm.cow_precopy_max (kernel without the series?)");
		snprintf(v, sizeof(v), "%d", variant->precopy_max);
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_precopy_mode", "0"));
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_precopy_max", v));
	}
	if (variant->log_sample && self->sample[0]) {
		char v[16];

		snprintf(v, sizeof(v), "%d", variant->log_sample);
		ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_sample", v));
	}
	if (variant->odf) {
		self->ballast = ballast_new();
		ASSERT_NE(NULL, self->ballast);
		ASSERT_EQ(0, prctl(PR_SET_COW_ODF, 1, 0, 0, 0));
	}
}

FIXTURE_TEARDOWN(dirtycow)
{
	/* a child of a failed case stops zapping and exits */
	if (self->stop && self->stop != MAP_FAILED)
		atomic_store(self->stop, 1);
	if (self->pc_max[0]) {
		knob_write("/proc/sys/vm/cow_precopy_max", self->pc_max);
		knob_write("/proc/sys/vm/cow_precopy_mode", self->pc_mode);
	}
	if (self->sample[0])
		knob_write("/proc/sys/vm/cow_log_sample", self->sample);
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, LEN);
	unlink(self->path);
	if (variant->odf) {
		prctl(PR_SET_COW_ODF, 0, 0, 0, 0);
		if (self->ballast) {
			EXPECT_EQ(-1, ballast_diff(self->ballast))
				TH_LOG("ODF: the test process's anonymous memory changed");
			munmap(self->ballast, BALLAST);
		}
	}
}

/* The file, a fresh mapping of it and our own private mapping's view. */
#define ASSERT_FILE_INTACT() do {						\
		ASSERT_EQ(-1, file_diff(self->path));				\
		ASSERT_EQ(-1, fresh_map_diff(self->path));			\
	} while (0)

/* /proc/self/mem writes race a thread of the same process zapping the range. */
TEST_F_TIMEOUT(dirtycow, self_procmem_race, 120)
{
	struct zapper z = { self->map, self->stop, 0 };
	const char x[8] = "DIRTYCOW";
	long ok = 0, i;
	pthread_t t;
	int fd;

	fd = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, fd);
	/* Positive control: the forced write lands in a private copy. */
	ASSERT_EQ(8, pwrite(fd, x, 8, (off_t)(uintptr_t)(self->map + poke_off(3))));
	ASSERT_EQ(0, memcmp(self->map + poke_off(3), x, 8));
	ASSERT_FILE_INTACT();
	madvise(self->map, LEN, MADV_DONTNEED);
	ASSERT_EQ(-1, first_diff(self->map));

	ASSERT_EQ(0, pthread_create(&t, NULL, zap_loop, &z));
	ASSERT_EQ(0, race_start(self->stop));
	for (i = 0; i < WRITES && !atomic_load(self->stop); i++)
		if (pwrite(fd, x, 8, (off_t)(uintptr_t)(self->map + poke_off(i))) == 8)
			ok++;
	race_end(self->stop);
	pthread_join(t, NULL);
	close(fd);
	TH_LOG("%ld of %ld forced writes done, %ld MADV_DONTNEED rounds", ok, i, z.rounds);
	ASSERT_EQ(i, ok);
	ASSERT_LT(0, ok);
	ASSERT_LT(0, z.rounds);
	ASSERT_FILE_INTACT();
	madvise(self->map, LEN, MADV_DONTNEED);
	ASSERT_EQ(-1, first_diff(self->map));
}

/*
 * Another process writes /proc/<child>/mem (access_remote_vm()) while the
 * child zaps its copy of the same private mapping in a loop.
 */
TEST_F_TIMEOUT(dirtycow, remote_procmem_race, 120)
{
	const char x[8] = "REMOTECW";
	char mem[64];
	long ok = 0, i;
	int fd, status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		while (!atomic_load(self->stop))
			madvise(self->map, LEN, MADV_DONTNEED);
		_exit(0);
	}
	snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
	fd = open(mem, O_RDWR);
	if (fd < 0) {
		atomic_store(self->stop, 1);
		waitpid(pid, &status, 0);
		ASSERT_LE(0, fd);
	}
	ASSERT_EQ(0, race_start(self->stop));
	for (i = 0; i < WRITES && !atomic_load(self->stop); i++)
		if (pwrite(fd, x, 8, (off_t)(uintptr_t)(self->map + poke_off(i))) == 8)
			ok++;
	race_end(self->stop);
	close(fd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	TH_LOG("%ld of %ld forced writes into the child done", ok, i);
	ASSERT_EQ(i, ok);
	ASSERT_LT(0, ok);
	ASSERT_FILE_INTACT();
	/* The parent's own private mapping never saw the child's copy. */
	ASSERT_EQ(-1, first_diff(self->map));
}

/*
 * PTRACE_POKEDATA into the stopped main thread of a child whose second
 * thread keeps zapping the range (ptrace stops only the tracee thread).
 */
TEST_F_TIMEOUT(dirtycow, ptrace_poke_race, 120)
{
	long ok = 0, i, word;
	int status;
	pid_t pid;

	memcpy(&word, "PTRACECW", sizeof(word));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct zapper z = { self->map, self->stop, 0 };
		pthread_t t;

		if (pthread_create(&t, NULL, zap_loop, &z))
			_exit(2);
		while (!atomic_load(self->stop))
			usleep(1000);
		pthread_join(t, NULL);
		/* With the zapper gone, the last pokes may still be mapped:
		 * each page is the original or holds poked words, nothing else.
		 */
		for (size_t off = 0; off < LEN; off++) {
			uint8_t b = self->map[off];

			if (b != orig_byte(off) && !memchr("PTRACECW", b, 8))
				_exit(3);
		}
		_exit(0);
	}
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, pid, 0, 0));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, __WALL));
	ASSERT_TRUE(WIFSTOPPED(status));
	ASSERT_EQ(0, race_start(self->stop));
	for (i = 0; i < WRITES && !atomic_load(self->stop); i++) {
		size_t off = poke_off(i) & ~7UL;

		if (!ptrace(PTRACE_POKEDATA, pid, self->map + off, (void *)word))
			ok++;
	}
	race_end(self->stop);
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("%ld of %ld PTRACE_POKEDATA done; child exit %d", ok, i,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(i, ok);
	ASSERT_LT(0, ok);
	ASSERT_FILE_INTACT();
	ASSERT_EQ(-1, first_diff(self->map));
}

TEST_HARNESS_MAIN
