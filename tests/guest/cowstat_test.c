// SPDX-License-Identifier: GPL-2.0
/*
 * cowstat_test - the Observer instrumentation does what docs/formats.md says.
 *
 * Every kind of COW fault moves its /proc/vmstat counter; with sampling on,
 * each fault produces one "cow_stat:" line in the kernel log with every
 * field; with everything off no line appears; the cow:cow_fault tracepoint
 * reports faults without printk; bad sysctl values are refused. The tests
 * set the sysctls they need and restore them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "knob.h"

#define PAGE 4096UL
#define SZ_2M (2UL << 20)
#define NPAGES 64
#define KLOG_READ_ALL 3
#define KLOG_CLEAR 5
#define KLOG_SIZE 10


/* Fork; the child writes one byte to each @step of [p, p + len) and exits. */
static int child_writes(char *p, size_t len, size_t step)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		for (size_t i = 0; i < len; i += step)
			p[i] = 2;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* Count the cow_stat lines of @kind in the kernel log with every field. */
static int count_lines(const char *kind)
{
	int size = klogctl(KLOG_SIZE, NULL, 0), n = 0;
	char *buf, *line, *save, want[32];

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	size = klogctl(KLOG_READ_ALL, buf, size);
	if (size < 0) {
		free(buf);
		return -1;
	}
	buf[size] = '\0';
	snprintf(want, sizeof(want), " kind=%s ", kind);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long seq, a, c, i, t;
		unsigned int order, src;
		unsigned long pfn;
		char *s = strstr(line, "cow_stat: seq=");

		if (!s || !strstr(s, want))
			continue;
		if (sscanf(s, "cow_stat: seq=%llu kind=%*s order=%u src_order=%u pfn=0x%lx alloc_ns=%llu copy_ns=%llu install_ns=%llu total_ns=%llu",
			   &seq, &order, &src, &pfn, &a, &c, &i, &t) == 8 && t >= c)
			n++;
	}
	free(buf);
	return n;
}

FIXTURE(cowstat) {
	char sample[32], thresh[32], rate[32];
	char *mem;
};

FIXTURE_SETUP(cowstat)
{
	if (access("/proc/sys/vm/cow_log_sample", W_OK))
		SKIP(return, "no cow_stat sysctls (kernel without the series?)");
	knob_read("/proc/sys/vm/cow_log_sample", self->sample, sizeof(self->sample));
	knob_read("/proc/sys/vm/cow_log_threshold_ns", self->thresh, sizeof(self->thresh));
	knob_read("/proc/sys/vm/cow_log_ratelimit", self->rate, sizeof(self->rate));
	self->mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	madvise(self->mem, NPAGES * PAGE, MADV_NOHUGEPAGE);
	memset(self->mem, 1, NPAGES * PAGE);
}

FIXTURE_TEARDOWN(cowstat)
{
	if (self->mem)
		munmap(self->mem, NPAGES * PAGE);
	knob_write("/proc/sys/vm/cow_log_sample", self->sample);
	knob_write("/proc/sys/vm/cow_log_threshold_ns", self->thresh);
	knob_write("/proc/sys/vm/cow_log_ratelimit", self->rate);
	knob_write("/sys/kernel/tracing/events/cow/cow_fault/enable", "0");
}

/* Every 4K COW copy counts in cow_copy, sampling on or off. */
TEST_F(cowstat, cow_copy_counts_every_copy)
{
	long before = vmstat_get("cow_copy");

	ASSERT_GE(before, 0);
	ASSERT_EQ(0, child_writes(self->mem, NPAGES * PAGE, PAGE));
	/* system-wide counter: other processes can only add to it */
	ASSERT_GE(vmstat_get("cow_copy") - before, NPAGES);
	/* and the parent still sees its own bytes */
	for (size_t i = 0; i < NPAGES * PAGE; i += PAGE)
		ASSERT_EQ(1, self->mem[i]);
}

/* Writing a read-faulted page copies from the zero page: cow_zero. */
TEST_F(cowstat, zero_page_cow_counts)
{
	volatile char sink = 0;
	char *z = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long before;

	ASSERT_NE(MAP_FAILED, z);
	madvise(z, NPAGES * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < NPAGES * PAGE; i += PAGE)
		sink += z[i];
	before = vmstat_get("cow_zero");
	for (size_t i = 0; i < NPAGES * PAGE; i += PAGE)
		z[i] = 1;
	ASSERT_GE(vmstat_get("cow_zero") - before, NPAGES);
	munmap(z, NPAGES * PAGE);
	(void)sink;
}

/* A shared PMD THP is split on the first COW write: cow_thp_split. */
TEST_F(cowstat, thp_split_counts)
{
	char *raw, *p, setting[64];
	long before;

	knob_read("/sys/kernel/mm/transparent_hugepage/enabled", setting, sizeof(setting));
	if (strstr(setting, "[never]"))
		SKIP(return, "THP disabled");
	raw = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	p = (char *)(((unsigned long)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	ASSERT_EQ(0, madvise(p, SZ_2M, MADV_HUGEPAGE));
	memset(p, 1, SZ_2M);
	if (vmstat_get("thp_fault_alloc") <= 0)
		SKIP(munmap(raw, 2 * SZ_2M); return, "no THP was allocated");
	before = vmstat_get("cow_thp_split");
	ASSERT_EQ(0, child_writes(p, PAGE, PAGE));
	ASSERT_GE(vmstat_get("cow_thp_split") - before, 1);
	munmap(raw, 2 * SZ_2M);
}

/* A private hugetlb page is copied whole on a COW write: cow_hugetlb_copy. */
TEST_F(cowstat, hugetlb_copy_counts)
{
	char *p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	long before;

	if (p == MAP_FAILED)
		SKIP(return, "no free 2 MiB hugetlb page");
	memset(p, 1, SZ_2M);
	before = vmstat_get("cow_hugetlb_copy");
	ASSERT_EQ(0, child_writes(p, PAGE, PAGE));
	ASSERT_GE(vmstat_get("cow_hugetlb_copy") - before, 1);
	munmap(p, SZ_2M);
}

/* Sampling 1 in 1 logs one well-formed line per COW copy. */
TEST_F(cowstat, sampling_logs_every_copy)
{
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_ratelimit", "100000"));
	ASSERT_EQ(0, klogctl(KLOG_CLEAR, NULL, 0));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_sample", "1"));
	ASSERT_EQ(0, child_writes(self->mem, NPAGES * PAGE, PAGE));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_sample", "0"));
	ASSERT_GE(count_lines("4k"), NPAGES);
}

/*
 * vm.cow_log_sample = 8 alone logs one COW fault in 8: the sample is chosen
 * when the fault starts, one per CPU countdown, so 256 copies log 32 lines,
 * give or take one per CPU the child ran on (and any other process's COW).
 */
TEST_F(cowstat, sampling_one_in_n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char *p;
	int n;

	p = mmap(NULL, 256 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	madvise(p, 256 * PAGE, MADV_NOHUGEPAGE);
	memset(p, 1, 256 * PAGE);
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_ratelimit", "100000"));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_threshold_ns", "0"));
	ASSERT_EQ(0, klogctl(KLOG_CLEAR, NULL, 0));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_sample", "8"));
	ASSERT_EQ(0, child_writes(p, 256 * PAGE, PAGE));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_sample", "0"));
	munmap(p, 256 * PAGE);
	n = count_lines("4k");
	TH_LOG("256 COW copies, 1 in 8 sampled: %d lines logged (%ld CPUs)", n, cpus);
	ASSERT_GE(n, 32 - cpus);
	ASSERT_LE(n, 32 + cpus + 2);
}

/* With sampling and threshold off, COW faults log nothing. */
TEST_F(cowstat, off_logs_nothing)
{
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_sample", "0"));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_threshold_ns", "0"));
	ASSERT_EQ(0, klogctl(KLOG_CLEAR, NULL, 0));
	ASSERT_EQ(0, child_writes(self->mem, NPAGES * PAGE, PAGE));
	ASSERT_EQ(0, count_lines("4k"));
}

/* A threshold of 1 ns logs every fault; sampling stays off. */
TEST_F(cowstat, threshold_logs_slow_faults)
{
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_ratelimit", "100000"));
	ASSERT_EQ(0, klogctl(KLOG_CLEAR, NULL, 0));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_threshold_ns", "1"));
	ASSERT_EQ(0, child_writes(self->mem, NPAGES * PAGE, PAGE));
	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_threshold_ns", "0"));
	ASSERT_GE(count_lines("4k"), NPAGES);
}

/* The tracepoint alone reports faults, without a line in the log. */
TEST_F(cowstat, tracepoint_reports_without_printk)
{
	const char *ev = "/sys/kernel/tracing/events/cow/cow_fault/enable";
	char buf[1 << 16];
	int fd, n = 0;
	ssize_t len;
	char *s;

	if (access(ev, W_OK))
		SKIP(return, "no tracefs or no cow:cow_fault");
	ASSERT_EQ(0, knob_write("/sys/kernel/tracing/trace", ""));
	ASSERT_EQ(0, klogctl(KLOG_CLEAR, NULL, 0));
	ASSERT_EQ(0, knob_write(ev, "1"));
	ASSERT_EQ(0, child_writes(self->mem, NPAGES * PAGE, PAGE));
	ASSERT_EQ(0, knob_write(ev, "0"));
	fd = open("/sys/kernel/tracing/trace", O_RDONLY);
	ASSERT_GE(fd, 0);
	while ((len = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[len] = '\0';
		for (s = buf; (s = strstr(s, "cow_fault:")); s++)
			n++;
	}
	close(fd);
	ASSERT_GE(n, NPAGES);
	ASSERT_EQ(0, count_lines("4k"));
}

/* Out-of-range values are refused and leave the setting alone. */
TEST_F(cowstat, bad_values_refused)
{
	char now[32];

	ASSERT_EQ(0, knob_write("/proc/sys/vm/cow_log_sample", "7"));
	ASSERT_EQ(-EINVAL, knob_write("/proc/sys/vm/cow_log_sample", "-1"));
	knob_read("/proc/sys/vm/cow_log_sample", now, sizeof(now));
	ASSERT_STREQ("7", now);
	ASSERT_NE(0, knob_write("/proc/sys/vm/cow_log_ratelimit", "-5"));
}

TEST_HARNESS_MAIN
