// SPDX-License-Identifier: GPL-2.0
/*
 * Timing and fault accounting for the writing process. Per-write latency is
 * CLOCK_MONOTONIC (vDSO) read before and after the single store/memset; the
 * clock's own cost is measured and reported, never subtracted.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cowbench.h"

#define barrier() __asm__ __volatile__("" ::: "memory")

uint64_t now_ns(void)
{
	return clock_ns();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* median of back-to-back CLOCK_MONOTONIC reads */
uint64_t clock_overhead_ns(void)
{
	static uint64_t d[1001];
	unsigned int i;

	for (i = 0; i < 1001; i++) {
		uint64_t t0 = clock_ns();
		uint64_t t1 = clock_ns();

		d[i] = t1 - t0;
	}
	qsort(d, 1001, sizeof(d[0]), cmp_u64);
	return d[500];
}

/* ---- /proc/vmstat ---- */

static const char *const vm_fixed[] = {
	"pgfault",
	"pgreuse",
	"thp_split_pmd",
	"thp_fault_alloc",
	"thp_deferred_split_page",
};
static char vm_names[MAX_VMSTAT][VMSTAT_NAME_LEN];
static int vm_n;
static char vm_buf[128 * 1024];

static ssize_t vmstat_read(void)
{
	ssize_t n, got = 0;
	int fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (got < (ssize_t)sizeof(vm_buf) - 1) {
		n = read(fd, vm_buf + got, sizeof(vm_buf) - 1 - (size_t)got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	vm_buf[got] = 0;
	return got;
}

static bool vm_wanted(const char *name, size_t len)
{
	unsigned int i;

	if (len >= VMSTAT_NAME_LEN)
		return false;
	if (len > 4 && !strncmp(name, "cow_", 4))
		return true;
	for (i = 0; i < sizeof(vm_fixed) / sizeof(vm_fixed[0]); i++)
		if (strlen(vm_fixed[i]) == len &&
		    !strncmp(name, vm_fixed[i], len))
			return true;
	return false;
}

int vmstat_init(void)
{
	char *p, *sp;

	vm_n = 0;
	if (vmstat_read() <= 0)
		return -1;
	for (p = vm_buf; *p && vm_n < MAX_VMSTAT; p = strchr(p, '\n') + 1) {
		sp = strchr(p, ' ');
		if (!sp || !strchr(p, '\n'))
			break;
		if (vm_wanted(p, (size_t)(sp - p))) {
			memcpy(vm_names[vm_n], p, (size_t)(sp - p));
			vm_names[vm_n][sp - p] = 0;
			vm_n++;
		}
	}
	return 0;
}

int vmstat_count(void)
{
	return vm_n;
}

const char *vmstat_name(int i)
{
	return vm_names[i];
}

int vmstat_snapshot(uint64_t *vals)
{
	char *p, *sp, *nl;
	int i;

	for (i = 0; i < vm_n; i++)
		vals[i] = 0;
	if (!vm_n)
		return 0;
	if (vmstat_read() <= 0)
		return -1;
	for (p = vm_buf; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		sp = strchr(p, ' ');
		if (!nl || !sp || sp > nl)
			break;
		for (i = 0; i < vm_n; i++) {
			if (!strncmp(p, vm_names[i], (size_t)(sp - p)) &&
			    !vm_names[i][sp - p]) {
				vals[i] = strtoull(sp + 1, NULL, 10);
				break;
			}
		}
	}
	return 0;
}

uint64_t statm_rss_kb(void)
{
	char buf[256];
	unsigned long long size, res;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return 0;
	return res * (unsigned long long)sysconf(_SC_PAGESIZE) / 1024;
}

/* ---- the writer ---- */

void result_reset(struct side_result *res, const char *side)
{
	memset(res, 0, sizeof(*res));
	hist_reset(&res->hist);
	snprintf(res->side, sizeof(res->side), "%s", side);
}

/* take the COW faults on our own stack now, not inside the timed loop */
static __attribute__((noinline)) void stack_prefault(void)
{
	volatile char buf[64 * 1024];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 512)
		buf[i] = 0;
	buf[sizeof(buf) - 1] = 0;
}

static uint64_t vm0[MAX_VMSTAT], vm1[MAX_VMSTAT];

/* the measuring around one timed loop (writer_run, timed_run) */
struct meas {
	struct rusage ru0, ru1;
	uint64_t t_start;
	int vm_ok;
};

/*
 * Reset res, warm up, then take the baseline. Everything the loop's
 * measuring writes (res, vm0/vm1, the stack, the vmstat buffer) is written
 * once before the baseline, so after fork the measuring code takes its own
 * COW faults outside the window.
 */
static void meas_begin(struct meas *m, struct side_result *res,
		       const char *side)
{
	result_reset(res, side);
	stack_prefault();
	res->clock_overhead_ns = clock_overhead_ns();
	/* warm-up: same calls and buffers as below (result_reset wrote res) */
	vmstat_snapshot(vm1);
	getrusage(RUSAGE_SELF, &m->ru1);
	m->t_start = clock_ns();

	m->vm_ok = vmstat_snapshot(vm0) == 0;
	getrusage(RUSAGE_SELF, &m->ru0);
	m->t_start = clock_ns();
}

/* after the loop's n timed operations: the totals into res */
static void meas_end(struct meas *m, struct side_result *res, uint64_t n)
{
	uint64_t t_end = clock_ns();
	int i;

	getrusage(RUSAGE_SELF, &m->ru1);
	m->vm_ok = m->vm_ok && vmstat_snapshot(vm1) == 0;

	res->wrote = 1;
	res->writes = n;
	res->wall_ns = t_end - m->t_start;
	res->minflt = (uint64_t)(m->ru1.ru_minflt - m->ru0.ru_minflt);
	res->majflt = (uint64_t)(m->ru1.ru_majflt - m->ru0.ru_majflt);
	res->rss_kb = statm_rss_kb();
	res->vm_valid = m->vm_ok;
	for (i = 0; i < vmstat_count(); i++)
		res->vm_delta[i] = (int64_t)(vm1[i] - vm0[i]);
}

/*
 * Run the timed write loop in this process and record into res (which is in
 * the MAP_SHARED result area).
 */
void writer_run(struct bench *b, struct region *r, struct side_result *res,
		const char *side, uint8_t xor)
{
	const uint32_t *ord = b->order;
	const size_t n = b->nwrites;
	const uint64_t unit = b->cfg.unit, bytes = b->cfg.bytes;
	const bool zero = r->orig_zero, timed = b->cfg.page_times;
	char *const base = r->base;
	struct hist *h = &res->hist;
	struct meas m;
	size_t k;

	meas_begin(&m, res, side);
	/* --no-page-times (scenario fork): the stores alone, no histogram */
	for (k = 0; !timed && k < n; k++) {
		const uint32_t idx = ord[k];
		char *p = base + (size_t)idx * unit;
		const uint8_t v = (uint8_t)((zero ? 0 : pat_byte(idx)) ^ xor);

		if (bytes == 1)
			*(volatile uint8_t *)p = v;
		else
			memset(p, v, bytes);
		barrier();
	}
	for (k = 0; timed && k < n; k++) {
		const uint32_t idx = ord[k];
		char *p = base + (size_t)idx * unit;
		const uint8_t v = (uint8_t)((zero ? 0 : pat_byte(idx)) ^ xor);
		uint64_t t0, t1;

		t0 = clock_ns();
		barrier();
		if (bytes == 1)
			*(volatile uint8_t *)p = v;
		else
			memset(p, v, bytes);
		barrier();
		t1 = clock_ns();
		hist_add(h, t1 - t0);
	}
	meas_end(&m, res, n);
}

/*
 * The same measuring around n calls of op(ctx, k), k = 0..n-1, each timed
 * alone: for the scenarios whose timed operation is not a store (memcpy,
 * trap, populate). An op that returns an errno stops the loop: res->err
 * holds it, res->writes the calls that succeeded; 0 when all did.
 */
int timed_run(struct side_result *res, const char *side, uint64_t n,
	      int (*op)(void *ctx, uint64_t k), void *ctx)
{
	struct hist *h = &res->hist;
	struct meas m;
	uint64_t k;
	int e = 0;

	meas_begin(&m, res, side);
	for (k = 0; k < n; k++) {
		uint64_t t0, t1;

		t0 = clock_ns();
		barrier();
		e = op(ctx, k);
		barrier();
		t1 = clock_ns();
		if (e)
			break;
		hist_add(h, t1 - t0);
	}
	meas_end(&m, res, k);
	res->err = e;
	return e;
}
