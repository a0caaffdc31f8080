// SPDX-License-Identifier: GPL-2.0
/*
 * hugecow: what a copy-on-write fault on a huge page does to memory and to
 * the rest of the machine (cowlab issue 5, "measure first").
 *
 *   hugecow memory --kind K [--size S] [--write one|all]
 *	A region of kind K is populated and the process forks; the child
 *	writes one byte in the first 4 KiB of every 2 MiB (one) or in every
 *	4 KiB page (all). Reported: how much of the region each side maps
 *	with PMDs (smaps AnonHugePages) and how much of it is backed by large
 *	folios (pagemap + kpageflags THP bit), before the writes, after them
 *	(child and parent), and in the parent after the child exited; the
 *	vmstat deltas of the writes (thp_split_pmd, thp_deferred_split_page,
 *	thp_split_page, cow_copy, cow_thp_split, cow_hugetlb_copy) and, for
 *	mTHP, the per-size split/split_deferred/nr_anon_partially_mapped
 *	stats.
 *
 *   hugecow sched --kind K [--size S] [--baseline-ms MS]
 *	A victim process sleeps 1 ms in a loop on CPU 0 and records how late
 *	each wake-up is; a forked child, also on CPU 0, writes one byte per
 *	huge page (per 4 KiB page for 4k/thp/mTHP) of a shared region of kind
 *	K. Reported: the victim's wake-up delay p50/p99/max without the COW
 *	writes and during them, and each COW write's time p50/p99/max.
 *
 *   hugecow policy --policy split|copy|adaptive [--pct P] [--write one|all]
 *	vm.cow_thp_policy (patch 0011) set for the run; a region of kind K
 *	(default thp) is populated, random 8-byte reads over it are timed,
 *	and the process forks; the child writes as in memory mode, timing
 *	every write (the first one per 2 MiB separately), then times the
 *	random reads again. Reported: write latency p50/p99/max, how much
 *	the child maps with PMDs, the anonymous memory added and the deltas
 *	of cow_thp_split/copy/recollapse, cow_copy and thp_split_pmd.
 *	--mthp-copy 0|1 sets vm.cow_mthp_copy (patch 0012) too, for
 *	--kind mthp-<N>k: whole-folio COW against the 6.12 4 KiB copy.
 *
 * Kinds: 4k, thp (2 MiB, MADV_HUGEPAGE), mthp-<N>k (the per-size sysfs
 * knob set to "always" for the run), hugetlb-2m, hugetlb-1g.
 * Output: a table on stdout and, with --json FILE, one JSON object per
 * run. Needs root for kpageflags and the mTHP knob.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hist.h"
#include "parse.h"
#include "procfs.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define PG 4096UL
#define HPS (2UL << 20)
#define KPF_THP 22

struct opts {
	const char *mode, *kind, *json, *policy;
	uint64_t size, baseline_ms, reads;
	int write_all, pct, mthp_copy;
};

static void die(const char *what)
{
	fprintf(stderr, "hugecow: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- the region ---- */

static char mthp_knob[128], mthp_old[64];

static void mthp_restore(void)
{
	FILE *f;
	char *b = strchr(mthp_old, '['), *e = b ? strchr(b, ']') : NULL;

	if (!mthp_knob[0] || !b || !e)
		return;
	*e = '\0';
	f = fopen(mthp_knob, "w");
	if (f) {
		fputs(b + 1, f);
		fclose(f);
	}
}

/* map @size bytes of @kind, every page written; the huge page size in *unit */
static char *region_map(const char *kind, uint64_t size, uint64_t *unit)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	unsigned long mthp_kb;
	char *raw, *p;
	FILE *f;

	*unit = PG;
	if (!strcmp(kind, "hugetlb-2m") || !strcmp(kind, "hugetlb-1g")) {
		int shift = kind[8] == '2' ? 21 : 30;

		*unit = 1UL << shift;
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 flags | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT), -1,
			 0);
		if (p == MAP_FAILED)
			die("mmap hugetlb (reserved pages? nr_hugepages)");
		memset(p, 0x5a, size);
		return p;
	}
	if (sscanf(kind, "mthp-%luk", &mthp_kb) == 1) {
		snprintf(
			mthp_knob, sizeof(mthp_knob),
			"/sys/kernel/mm/transparent_hugepage/hugepages-%lukB/enabled",
			mthp_kb);
		f = fopen(mthp_knob, "r");
		if (!f || !fgets(mthp_old, sizeof(mthp_old), f))
			die(mthp_knob);
		fclose(f);
		f = fopen(mthp_knob, "w");
		if (!f || fputs("always", f) < 0 || fclose(f))
			die("set mTHP knob");
		atexit(mthp_restore);
		*unit = mthp_kb * 1024;
	} else if (strcmp(kind, "4k") && strcmp(kind, "thp")) {
		errno = EINVAL;
		die("--kind (4k, thp, mthp-<N>k, hugetlb-2m, hugetlb-1g)");
	}
	raw = mmap(NULL, size + HPS, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap");
	p = (char *)(((uintptr_t)raw + HPS - 1) & ~(HPS - 1));
	if (!strcmp(kind, "thp")) {
		madvise(p, size, MADV_HUGEPAGE);
		*unit = HPS;
	} else if (!strncmp(kind, "mthp", 4)) {
		/* PMD THP off for the range (mTHP sizes below 2M still apply
		 * when their knob is "always")
		 */
	} else {
		madvise(p, size, MADV_NOHUGEPAGE);
	}
	memset(p, 0x5a, size);
	return p;
}

/* ---- what maps the region ---- */

/* KiB of [p, p+size) mapped to pages of large folios (kpageflags THP) */
static long large_folio_kb(const char *p, uint64_t size)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kf = open("/proc/kpageflags", O_RDONLY);
	long n = 0;

	if (pm < 0 || kf < 0) {
		n = -1;
		goto out;
	}
	for (uint64_t off = 0; off < size; off += PG) {
		uint64_t e, flags;

		if (pread(pm, &e, 8, ((uintptr_t)p + off) / PG * 8) != 8)
			continue;
		if (!(e >> 63))
			continue;
		e &= (1ull << 55) - 1;
		if (pread(kf, &flags, 8, e * 8) == 8 && (flags >> KPF_THP) & 1)
			n += PG / 1024;
	}
out:
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return n;
}

static const char *const vm_names[] = {
	"thp_split_pmd",
	"thp_deferred_split_page",
	"thp_split_page",
	"cow_copy",
	"cow_thp_split",
	"cow_hugetlb_copy",
	"nr_anon_transparent_hugepages",
};
#define NVM (sizeof(vm_names) / sizeof(vm_names[0]))

static void vm_read(long long *v)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	long long x;

	for (size_t i = 0; i < NVM; i++)
		v[i] = -1;
	if (!f)
		return;
	while (fscanf(f, "%63s %lld", key, &x) == 2)
		for (size_t i = 0; i < NVM; i++)
			if (!strcmp(key, vm_names[i]))
				v[i] = x;
	fclose(f);
}

static const char *const mthp_stats[] = { "split", "split_deferred",
					  "nr_anon_partially_mapped" };

static long long mthp_stat(const char *name)
{
	char path[192], *slash = strrchr(mthp_knob, '/');
	long long v = -1;
	FILE *f;

	if (!mthp_knob[0] || !slash)
		return -1;
	snprintf(path, sizeof(path), "%.*s/stats/%s", (int)(slash - mthp_knob),
		 mthp_knob, name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* ---- memory ---- */

struct mem_shared {
	long child_pmd_kb, child_large_kb, child_rss_kb;
	long parent_pmd_kb, parent_large_kb;
	long long vm_delta[NVM], mthp_delta[3];
	volatile int written, done;
};

static int run_memory(const struct opts *o, FILE *json)
{
	struct mem_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long pmd0, large0, pmd_after, large_after;
	uint64_t unit;
	char *p;
	pid_t c;
	int st;

	if (sh == MAP_FAILED)
		die("mmap shared");
	p = region_map(o->kind, o->size, &unit);
	pmd0 = proc_smaps_kb(p, "AnonHugePages:");
	large0 = large_folio_kb(p, o->size);
	fflush(NULL);
	c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		long long a[NVM], b[NVM], ma[3], mb[3];
		uint64_t step = o->write_all ? PG : HPS;

		vm_read(a);
		for (int i = 0; i < 3; i++)
			ma[i] = mthp_stat(mthp_stats[i]);
		for (uint64_t off = 0; off < o->size; off += step)
			p[off] ^= 1;
		vm_read(b);
		for (int i = 0; i < 3; i++)
			mb[i] = mthp_stat(mthp_stats[i]);
		for (size_t i = 0; i < NVM; i++)
			sh->vm_delta[i] = a[i] < 0 ? -1 : b[i] - a[i];
		for (int i = 0; i < 3; i++)
			sh->mthp_delta[i] = ma[i] < 0 ? -1 : mb[i] - ma[i];
		sh->child_pmd_kb = proc_smaps_kb(p, "AnonHugePages:");
		sh->child_large_kb = large_folio_kb(p, o->size);
		sh->child_rss_kb = proc_smaps_kb(p, "Rss:");
		sh->written = 1;
		while (!sh->done)
			usleep(1000);
		_exit(0);
	}
	while (!sh->written)
		usleep(1000);
	sh->parent_pmd_kb = proc_smaps_kb(p, "AnonHugePages:");
	sh->parent_large_kb = large_folio_kb(p, o->size);
	sh->done = 1;
	waitpid(c, &st, 0);
	pmd_after = proc_smaps_kb(p, "AnonHugePages:");
	large_after = large_folio_kb(p, o->size);

	printf("%-11s %-4s %8s | %9s %9s | %9s %9s %9s | %9s %9s | %9s %9s\n",
	       "kind", "wr", "size_kb", "pmd0", "large0", "c_pmd", "c_large",
	       "c_rss", "p_pmd", "p_large", "p_pmd_x", "p_large_x");
	printf("%-11s %-4s %8lu | %9ld %9ld | %9ld %9ld %9ld | %9ld %9ld | %9ld %9ld\n",
	       o->kind, o->write_all ? "all" : "one",
	       (unsigned long)(o->size / 1024), pmd0, large0, sh->child_pmd_kb,
	       sh->child_large_kb, sh->child_rss_kb, sh->parent_pmd_kb,
	       sh->parent_large_kb, pmd_after, large_after);
	printf("  child's writes:");
	for (size_t i = 0; i < NVM - 1; i++)
		printf(" %s %+lld", vm_names[i], sh->vm_delta[i]);
	if (mthp_knob[0])
		for (int i = 0; i < 3; i++)
			printf(" mthp_%s %+lld", mthp_stats[i],
			       sh->mthp_delta[i]);
	printf("\n");
	if (json) {
		fprintf(json,
			"{\"tool\":\"hugecow\",\"mode\":\"memory\",\"kind\":\"%s\",\"write\":\"%s\","
			"\"size\":%llu,\"pmd_kb_before\":%ld,\"large_kb_before\":%ld,"
			"\"child_pmd_kb\":%ld,\"child_large_kb\":%ld,\"child_rss_kb\":%ld,"
			"\"parent_pmd_kb\":%ld,\"parent_large_kb\":%ld,"
			"\"parent_pmd_kb_after_exit\":%ld,\"parent_large_kb_after_exit\":%ld",
			o->kind, o->write_all ? "all" : "one",
			(unsigned long long)o->size, pmd0, large0,
			sh->child_pmd_kb, sh->child_large_kb, sh->child_rss_kb,
			sh->parent_pmd_kb, sh->parent_large_kb, pmd_after,
			large_after);
		for (size_t i = 0; i < NVM - 1; i++)
			fprintf(json, ",\"%s\":%lld", vm_names[i],
				sh->vm_delta[i]);
		for (int i = 0; i < 3; i++)
			fprintf(json, ",\"mthp_%s\":%lld", mthp_stats[i],
				mthp_knob[0] ? sh->mthp_delta[i] : -1);
		fprintf(json, "}\n");
	}
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 1;
}

/* ---- scheduling latency of a victim on the same CPU ---- */

struct sched_shared {
	volatile int phase; /* 0 baseline, 1 COW writes, 2 stop */
	volatile int ready;
	struct hist base, cow, write;
};

/* pin to the first CPU this process may run on ("CPU 0" in the text) */
static void pin_cpu0(void)
{
	cpu_set_t set;
	int cpu = 0;

	if (!sched_getaffinity(0, sizeof(set), &set))
		while (cpu < CPU_SETSIZE - 1 && !CPU_ISSET(cpu, &set))
			cpu++;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static void victim(struct sched_shared *sh)
{
	const struct timespec ms = { 0, 1000000 };

	pin_cpu0();
	sh->ready = 1;
	while (sh->phase < 2) {
		uint64_t t0 = clock_ns(), late;
		int ph = sh->phase;

		nanosleep(&ms, NULL);
		late = clock_ns() - t0;
		late = late > 1000000 ? late - 1000000 : 0;
		hist_add(ph ? &sh->cow : &sh->base, late);
	}
	_exit(0);
}

static int run_sched(const struct opts *o, FILE *json)
{
	struct sched_shared *sh = mmap(NULL, sizeof(*sh),
				       PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t unit, step;
	pid_t v, c;
	char *p;
	int st;

	if (sh == MAP_FAILED)
		die("mmap shared");
	hist_reset(&sh->base);
	hist_reset(&sh->cow);
	hist_reset(&sh->write);
	p = region_map(o->kind, o->size, &unit);
	step = unit >= HPS && strcmp(o->kind, "thp") ? unit : PG;
	fflush(NULL);
	v = fork();
	if (v < 0)
		die("fork");
	if (!v)
		victim(sh);
	while (!sh->ready)
		usleep(1000);
	c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		pin_cpu0();
		while (sh->phase == 0)
			usleep(1000);
		for (uint64_t off = 0; off < o->size; off += step) {
			uint64_t t0 = clock_ns();

			p[off] ^= 1;
			hist_add(&sh->write, clock_ns() - t0);
		}
		_exit(0);
	}
	usleep(o->baseline_ms * 1000);
	sh->phase = 1;
	waitpid(c, &st, 0);
	sh->phase = 2;
	waitpid(v, NULL, 0);

	printf("%-11s %8s %6s | victim wake-up delay us: %-26s | %-26s | COW write us: %s\n",
	       "kind", "size_kb", "writes", "baseline p50/p99/max",
	       "during COW p50/p99/max", "p50/p99/max");
	printf("%-11s %8lu %6llu | %8.1f %8.1f %9.1f | %8.1f %8.1f %9.1f | %8.1f %8.1f %9.1f\n",
	       o->kind, (unsigned long)(o->size / 1024),
	       (unsigned long long)sh->write.count,
	       hist_quantile(&sh->base, 0.5) / 1e3,
	       hist_quantile(&sh->base, 0.99) / 1e3, sh->base.max / 1e3,
	       hist_quantile(&sh->cow, 0.5) / 1e3,
	       hist_quantile(&sh->cow, 0.99) / 1e3, sh->cow.max / 1e3,
	       hist_quantile(&sh->write, 0.5) / 1e3,
	       hist_quantile(&sh->write, 0.99) / 1e3, sh->write.max / 1e3);
	if (json)
		fprintf(json,
			"{\"tool\":\"hugecow\",\"mode\":\"sched\",\"kind\":\"%s\",\"size\":%llu,"
			"\"writes\":%llu,\"base_n\":%llu,\"base_p50_ns\":%llu,\"base_p99_ns\":%llu,"
			"\"base_max_ns\":%llu,\"cow_n\":%llu,\"cow_p50_ns\":%llu,"
			"\"cow_p99_ns\":%llu,\"cow_max_ns\":%llu,\"write_p50_ns\":%llu,"
			"\"write_p99_ns\":%llu,\"write_max_ns\":%llu}\n",
			o->kind, (unsigned long long)o->size,
			(unsigned long long)sh->write.count,
			(unsigned long long)sh->base.count,
			(unsigned long long)hist_quantile(&sh->base, 0.5),
			(unsigned long long)hist_quantile(&sh->base, 0.99),
			(unsigned long long)sh->base.max,
			(unsigned long long)sh->cow.count,
			(unsigned long long)hist_quantile(&sh->cow, 0.5),
			(unsigned long long)hist_quantile(&sh->cow, 0.99),
			(unsigned long long)sh->cow.max,
			(unsigned long long)hist_quantile(&sh->write, 0.5),
			(unsigned long long)hist_quantile(&sh->write, 0.99),
			(unsigned long long)sh->write.max);
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 1;
}

/* ---- THP COW policy: write latency, what stays huge, read throughput ---- */

/* the vm sysctls this run changed, with their old values, restored at exit */
static struct {
	const char *name;
	char old[16];
} saved[3];
static int nsaved;

static void sysctls_restore(void)
{
	char path[128];
	FILE *f;

	while (nsaved--) {
		snprintf(path, sizeof(path), "/proc/sys/vm/%s",
			 saved[nsaved].name);
		f = fopen(path, "w");
		if (f) {
			fputs(saved[nsaved].old, f);
			fclose(f);
		}
	}
}

/*
 * Set vm sysctl @name to @v, its old value restored at exit: 0, or -1 when
 * the sysctl is missing (exits when it cannot be written).
 */
static int sysctl_swap(const char *name, int v)
{
	char path[128], buf[16];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (nsaved == (int)(sizeof(saved) / sizeof(saved[0])))
		die("sysctl_swap: too many sysctls");
	if (!fgets(saved[nsaved].old, sizeof(saved[nsaved].old), f))
		saved[nsaved].old[0] = '\0';
	fclose(f);
	if (saved[nsaved].old[0]) {
		saved[nsaved].name = name;
		if (!nsaved)
			atexit(sysctls_restore);
		nsaved++;
	}
	snprintf(buf, sizeof(buf), "%d", v);
	f = fopen(path, "w");
	if (!f || fputs(buf, f) < 0 || fclose(f))
		die(path);
	return 0;
}

/* set vm.cow_thp_policy (and the threshold when @pct): -1 when missing */
static int policy_set(const char *name, int pct)
{
	static const char *const names[] = { "split", "copy", "adaptive" };
	int v = -1;

	for (int i = 0; i < 3; i++)
		if (!strcmp(name, names[i]))
			v = i;
	if (sysctl_swap("cow_thp_policy", v))
		return -1;
	if (pct && sysctl_swap("cow_thp_recollapse_pct", pct))
		return -1;
	return 0;
}

/* mean ns of one 8-byte read at a random offset of [p, p+size) */
static double random_read_ns(const char *p, uint64_t size, uint64_t n)
{
	uint64_t x = 88172645463325252ull, sum = 0, t0;

	t0 = clock_ns();
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sum += *(const volatile uint64_t *)(p + (x % size & ~7ull));
	}
	t0 = clock_ns() - t0;
	if (sum == 42)
		printf(" ");
	return (double)t0 / (double)n;
}

static const char *const pol_vm[] = {
	"cow_thp_split",
	"cow_thp_copy",
	"cow_thp_copy_fallback",
	"cow_thp_recollapse",
	"cow_thp_recollapse_fail",
	"cow_mthp_copy",
	"cow_mthp_copy_fallback",
	"cow_copy",
	"thp_split_pmd",
	"nr_anon_pages",
	"nr_anon_transparent_hugepages",
};
#define NPOL (sizeof(pol_vm) / sizeof(pol_vm[0]))

struct pol_shared {
	struct hist first, all;
	long long vm_delta[NPOL];
	long child_pmd_kb, child_rss_kb;
	double rr_after_ns;
};

static int run_policy(const struct opts *o, FILE *json)
{
	struct pol_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double rr_base;
	uint64_t unit;
	char *p;
	pid_t c;
	int st;

	if (sh == MAP_FAILED)
		die("mmap shared");
	if (policy_set(o->policy, o->pct)) {
		fprintf(stderr,
			"hugecow: no /proc/sys/vm/cow_thp_policy (kernel without patch 0011)\n");
		return 4;
	}
	if (o->mthp_copy >= 0 && sysctl_swap("cow_mthp_copy", o->mthp_copy)) {
		fprintf(stderr,
			"hugecow: no /proc/sys/vm/cow_mthp_copy (kernel without patch 0012)\n");
		return 4;
	}
	hist_reset(&sh->first);
	hist_reset(&sh->all);
	p = region_map(o->kind, o->size, &unit);
	/* the never-forked region */
	rr_base = random_read_ns(p, o->size, o->reads);
	fflush(NULL);
	c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		long long a[NPOL], b[NPOL];
		uint64_t step = o->write_all ? PG : HPS;

		for (size_t i = 0; i < NPOL; i++)
			a[i] = proc_vmstat(pol_vm[i]);
		for (uint64_t off = 0; off < o->size; off += step) {
			uint64_t t0 = clock_ns(), dt;

			p[off] ^= 1;
			dt = clock_ns() - t0;
			hist_add(&sh->all, dt);
			if (!(off % HPS))
				hist_add(&sh->first, dt);
		}
		for (size_t i = 0; i < NPOL; i++) {
			b[i] = proc_vmstat(pol_vm[i]);
			sh->vm_delta[i] = a[i] < 0 || b[i] < 0 ? -1 :
								 b[i] - a[i];
		}
		sh->child_pmd_kb = proc_smaps_kb(p, "AnonHugePages:");
		sh->child_rss_kb = proc_smaps_kb(p, "Rss:");
		sh->rr_after_ns = random_read_ns(p, o->size, o->reads);
		_exit(0);
	}
	waitpid(c, &st, 0);

	printf("%-8s %-5s %-3s %8s | first write us p50/p99/max | every write us p50/p99/max | %9s %9s | read ns base/after\n",
	       "policy", "kind", "wr", "size_kb", "c_pmd_kb", "anon_kb+");
	printf("%-8s %-5s %-3s %8lu | %8.1f %8.1f %9.1f | %8.1f %8.1f %9.1f | %9ld %9lld | %6.1f %6.1f\n",
	       o->policy, o->kind, o->write_all ? "all" : "one",
	       (unsigned long)(o->size / 1024),
	       hist_quantile(&sh->first, 0.5) / 1e3,
	       hist_quantile(&sh->first, 0.99) / 1e3, sh->first.max / 1e3,
	       hist_quantile(&sh->all, 0.5) / 1e3,
	       hist_quantile(&sh->all, 0.99) / 1e3, sh->all.max / 1e3,
	       sh->child_pmd_kb, sh->vm_delta[NPOL - 2] * 4, rr_base,
	       sh->rr_after_ns);
	printf("  child's writes:");
	for (size_t i = 0; i < NPOL; i++)
		printf(" %s %+lld", pol_vm[i], sh->vm_delta[i]);
	printf("\n");
	if (json) {
		fprintf(json,
			"{\"tool\":\"hugecow\",\"mode\":\"policy\",\"policy\":\"%s\",\"pct\":%d,"
			"\"mthp_copy\":%d,\"kind\":\"%s\",\"write\":\"%s\",\"size\":%llu,\"writes\":%llu,"
			"\"first_p50_ns\":%llu,\"first_p99_ns\":%llu,\"first_max_ns\":%llu,"
			"\"all_p50_ns\":%llu,\"all_p99_ns\":%llu,\"all_max_ns\":%llu,"
			"\"child_pmd_kb\":%ld,\"child_rss_kb\":%ld,"
			"\"read_base_ns\":%.2f,\"read_after_ns\":%.2f",
			o->policy, o->pct, o->mthp_copy, o->kind,
			o->write_all ? "all" : "one",
			(unsigned long long)o->size,
			(unsigned long long)sh->all.count,
			(unsigned long long)hist_quantile(&sh->first, 0.5),
			(unsigned long long)hist_quantile(&sh->first, 0.99),
			(unsigned long long)sh->first.max,
			(unsigned long long)hist_quantile(&sh->all, 0.5),
			(unsigned long long)hist_quantile(&sh->all, 0.99),
			(unsigned long long)sh->all.max, sh->child_pmd_kb,
			sh->child_rss_kb, rr_base, sh->rr_after_ns);
		for (size_t i = 0; i < NPOL; i++)
			fprintf(json, ",\"%s\":%lld", pol_vm[i],
				sh->vm_delta[i]);
		fprintf(json, "}\n");
	}
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hugecow memory --kind K [--size S] [--write one|all] [--json FILE]\n"
		"       hugecow sched --kind K [--size S] [--baseline-ms MS] [--json FILE]\n"
		"       hugecow policy --policy split|copy|adaptive [--pct P] [--kind K]\n"
		"               [--mthp-copy 0|1]\n"
		"               [--size S] [--write one|all] [--reads N] [--json FILE]\n"
		"       hugecow --help\n"
		"\n"
		"memory: populate a region of kind K, fork, the child writes one byte in\n"
		"  the first 4 KiB of every 2 MiB (--write one, default) or of every 4 KiB\n"
		"  page (all); print how much each side maps with PMDs (AnonHugePages)\n"
		"  and with large folios (kpageflags), before, after the writes, and in\n"
		"  the parent after the child exited, with the vmstat and mTHP stats\n"
		"  deltas of the writes.\n"
		"sched: a victim sleeps 1 ms in a loop on CPU 0; a forked child on CPU 0\n"
		"  writes one byte per huge page (hugetlb) or 4 KiB page (others) of a\n"
		"  shared region; print the victim's wake-up delay without and with the\n"
		"  COW writes, and the time of each write.\n"
		"policy: set vm.cow_thp_policy (and vm.cow_thp_recollapse_pct with\n"
		"  --pct), populate a region of kind K (default thp), time --reads\n"
		"  random 8-byte reads (default 4194304), fork; the child writes as in\n"
		"  memory, timing each write (the first one per 2 MiB on its own),\n"
		"  then reads again; print the latencies, what stays PMD-mapped, the\n"
		"  anonymous memory added and the cow_thp_* counter deltas.\n"
		"  --mthp-copy 0|1 also sets vm.cow_mthp_copy (patch 0012): with\n"
		"  --kind mthp-<N>k, 1 copies a whole shared mTHP on its first write.\n"
		"Kinds: 4k, thp, mthp-<N>k (e.g. mthp-64k), hugetlb-2m, hugetlb-1g.\n"
		"--size: default 64M (1G for hugetlb-1g); a multiple of 2M (1G for\n"
		"hugetlb-1g). --baseline-ms: default 300. Root: kpageflags, mTHP knobs.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kind", required_argument, 0, 'k' },
		{ "size", required_argument, 0, 's' },
		{ "write", required_argument, 0, 'w' },
		{ "baseline-ms", required_argument, 0, 'b' },
		{ "json", required_argument, 0, 'j' },
		{ "policy", required_argument, 0, 'P' },
		{ "pct", required_argument, 0, 'c' },
		{ "mthp-copy", required_argument, 0, 'm' },
		{ "reads", required_argument, 0, 'r' },
		{ "help", no_argument, 0, 'h' },
		{ 0 }
	};
	struct opts o = { .kind = "thp",
			  .baseline_ms = 300,
			  .policy = "split",
			  .mthp_copy = -1,
			  .reads = 1 << 22 };
	uint64_t v;
	char err[128];
	FILE *json = NULL;
	int c, rc;

	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 ||
	    (strcmp(argv[1], "memory") && strcmp(argv[1], "sched") &&
	     strcmp(argv[1], "policy"))) {
		usage(stderr);
		return 2;
	}
	o.mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'k':
			o.kind = optarg;
			break;
		case 's':
			if (parse_size(optarg, &o.size, err, sizeof(err))) {
				fprintf(stderr, "hugecow: %s\n", err);
				return 2;
			}
			break;
		case 'w':
			if (strcmp(optarg, "one") && strcmp(optarg, "all")) {
				fprintf(stderr,
					"hugecow: --write one or all\n");
				return 2;
			}
			o.write_all = !strcmp(optarg, "all");
			break;
		case 'b':
			if (parse_u64(optarg, 0, 60000, &o.baseline_ms, err,
				      sizeof(err))) {
				fprintf(stderr, "hugecow: %s\n", err);
				return 2;
			}
			break;
		case 'j':
			o.json = optarg;
			break;
		case 'P':
			if (strcmp(optarg, "split") && strcmp(optarg, "copy") &&
			    strcmp(optarg, "adaptive")) {
				fprintf(stderr,
					"hugecow: --policy split, copy or adaptive\n");
				return 2;
			}
			o.policy = optarg;
			break;
		case 'c':
			if (parse_u64(optarg, 1, 100, &v, err, sizeof(err))) {
				fprintf(stderr, "hugecow: --pct: %s\n", err);
				return 2;
			}
			o.pct = (int)v;
			break;
		case 'm':
			if (strcmp(optarg, "0") && strcmp(optarg, "1")) {
				fprintf(stderr,
					"hugecow: --mthp-copy 0 or 1\n");
				return 2;
			}
			o.mthp_copy = atoi(optarg);
			break;
		case 'r':
			if (parse_u64(optarg, 1, 1ull << 32, &o.reads, err,
				      sizeof(err))) {
				fprintf(stderr, "hugecow: --reads: %s\n", err);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.size)
		o.size = !strcmp(o.kind, "hugetlb-1g") ? 1ull << 30 :
							 64ull << 20;
	if (o.size % (!strcmp(o.kind, "hugetlb-1g") ? 1ull << 30 : HPS)) {
		fprintf(stderr, "hugecow: --size must be a multiple of %s\n",
			!strcmp(o.kind, "hugetlb-1g") ? "1G" : "2M");
		return 2;
	}
	if (o.json) {
		json = fopen(o.json, "a");
		if (!json)
			die(o.json);
	}
	if (!strcmp(o.mode, "memory"))
		rc = run_memory(&o, json);
	else if (!strcmp(o.mode, "sched"))
		rc = run_sched(&o, json);
	else
		rc = run_policy(&o, json);
	if (json)
		fclose(json);
	return rc;
}
