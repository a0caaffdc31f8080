// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-Write fault statistics.
 *
 * The COW write fault paths (wp_page_copy(), do_huge_pmd_wp_page() and
 * hugetlb_wp()) count every COW in /proc/vmstat: cow_copy, cow_zero,
 * cow_thp_split and cow_hugetlb_copy.  While cow_stat_key is enabled they
 * also stamp the phases of the fault with ktime_get_ns() and report here:
 *
 *   alloc_ns    allocation of the new folio (zeroing for the zero page,
 *               memcg charge)
 *   copy_ns     the copy of the data
 *   install_ns  the page table update (PTL, TLB flush, rmap, set_pte,
 *               MMU notifiers), or the PMD split for a shared THP
 *   total_ns    from the fault handler entry to the end of the install
 *
 * A report goes to the cow:cow_fault tracepoint and, sampled and rate
 * limited, to the kernel log as one "cow_stat: seq=..." line.  The key is
 * enabled while vm.cow_log_sample or vm.cow_log_threshold_ns is nonzero or
 * the tracepoint has a probe.  All default to off, and then the fault path
 * takes no timestamp.
 *
 * A threshold or a tracepoint probe needs every fault timed.  With only
 * vm.cow_log_sample = N, the sample is chosen when the fault starts: one
 * write fault in N per CPU takes the timestamps (and is logged if it ends
 * in a COW), the others pay a per-CPU countdown.  Timing every fault to log
 * one in N would cost N timings per logged line.
 */

#define pr_fmt(fmt) "cow_stat: " fmt

#include <linux/atomic.h>
#include <linux/cow_stat.h>
#include <linux/init.h>
#include <linux/jump_label.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>
#include <linux/sysctl.h>
#include <linux/timekeeping.h>

#define CREATE_TRACE_POINTS
#include <trace/events/cow.h>

/* Enabled while a COW fault has to be timed: see cow_stat_update_key(). */
DEFINE_STATIC_KEY_FALSE(cow_stat_key);

#define COW_STAT_RATELIMIT_DEFAULT	1000

/* vm.cow_log_sample: log one timed COW fault in N, 0 for none. */
static int sysctl_cow_log_sample;
/* vm.cow_log_threshold_ns: log every COW fault slower than this, 0 for none. */
static unsigned long sysctl_cow_log_threshold_ns;
/* vm.cow_log_ratelimit is cow_stat_rs.burst: log lines per second. */
static DEFINE_RATELIMIT_STATE(cow_stat_rs, HZ, COW_STAT_RATELIMIT_DEFAULT);

/* Serialises updates of cow_stat_key, cow_stat_traced, cow_stat_time_all. */
static DEFINE_MUTEX(cow_stat_mutex);
static bool cow_stat_traced;
/* Every fault is timed: a threshold is set or the tracepoint has a probe. */
static bool cow_stat_time_all;
/* Faults left before this CPU times one, with only vm.cow_log_sample set. */
static DEFINE_PER_CPU(int, cow_stat_countdown);
static atomic64_t cow_stat_seq = ATOMIC64_INIT(0);

static const char * const cow_stat_kind_name[COW_STAT_NR_KINDS] = {
	[COW_STAT_4K]		= "4k",
	[COW_STAT_ZERO]		= "zero",
	[COW_STAT_THP_SPLIT]	= "thp_split",
	[COW_STAT_HUGETLB]	= "hugetlb",
};

static void cow_stat_update_key(void)
{
	bool on;

	mutex_lock(&cow_stat_mutex);
	WRITE_ONCE(cow_stat_time_all,
		   READ_ONCE(sysctl_cow_log_threshold_ns) || cow_stat_traced);
	on = READ_ONCE(sysctl_cow_log_sample) || cow_stat_time_all;
	if (on)
		static_branch_enable(&cow_stat_key);
	else
		static_branch_disable(&cow_stat_key);
	mutex_unlock(&cow_stat_mutex);
}

/**
 * __cow_stat_time_this() - Decide whether the fault starting now is timed.
 *
 * Called by cow_stat_start() while cow_stat_key is enabled.  With a
 * threshold or a tracepoint probe every fault is timed.  With only
 * vm.cow_log_sample = N, one fault in N on each CPU is: the choice of
 * the sample is made here, so the other faults take no timestamp.
 * A countdown that a preempted task leaves off by one only moves the
 * next sample by one fault.
 *
 * Return: true if the fault is to be timed.
 */
bool __cow_stat_time_this(void)
{
	int n;

	if (READ_ONCE(cow_stat_time_all))
		return true;
	n = READ_ONCE(sysctl_cow_log_sample);
	if (n <= 1)
		return true;
	if (this_cpu_dec_return(cow_stat_countdown) > 0)
		return false;
	this_cpu_write(cow_stat_countdown, n);
	return true;
}

/**
 * cow_stat_trace_reg() - The cow:cow_fault tracepoint got its first probe.
 *
 * Turns the COW fault timing on for the tracepoint.
 *
 * Return: 0.
 */
int cow_stat_trace_reg(void)
{
	WRITE_ONCE(cow_stat_traced, true);
	cow_stat_update_key();
	return 0;
}

/**
 * cow_stat_trace_unreg() - The cow:cow_fault tracepoint lost its last probe.
 *
 * Turns the COW fault timing off unless a sysctl still needs it.
 */
void cow_stat_trace_unreg(void)
{
	WRITE_ONCE(cow_stat_traced, false);
	cow_stat_update_key();
}

/*
 * Called by ___ratelimit() as "cow_stat_ratelimit: N callbacks suppressed",
 * which a parser of "cow_stat: " lines does not match.
 */
static bool cow_stat_ratelimit(void)
{
	if (!READ_ONCE(cow_stat_rs.burst))
		return false;
	return __ratelimit(&cow_stat_rs);
}

static bool cow_stat_want_log(const struct cow_stat_sample *s)
{
	unsigned long threshold = READ_ONCE(sysctl_cow_log_threshold_ns);
	int sample = READ_ONCE(sysctl_cow_log_sample);
	u32 rem;

	if (threshold && s->total_ns > threshold)
		return true;
	if (sample <= 0)
		return false;
	/* Sampled when it started (__cow_stat_time_this()): log it. */
	if (!READ_ONCE(cow_stat_time_all))
		return true;
	div_u64_rem(s->seq, sample, &rem);
	return !rem;
}

static void cow_stat_report(const struct cow_stat_ctx *cs,
			    enum cow_stat_kind kind, unsigned long pfn,
			    unsigned int order, unsigned int src_order)
{
	u64 end = ktime_get_ns();
	u64 ts[COW_STAT_NR_MARKS];
	struct cow_stat_sample s;
	int i;

	memcpy(ts, cs->ts, sizeof(ts));
	switch (kind) {
	case COW_STAT_ZERO:
		/* Zeroing is part of the allocation: nothing to copy. */
		ts[COW_STAT_T_INSTALL] = ts[COW_STAT_T_COPY];
		break;
	case COW_STAT_THP_SPLIT:
		/* Nothing allocated nor copied: the split is the install. */
		ts[COW_STAT_T_ALLOC] = ts[COW_STAT_T_INSTALL];
		ts[COW_STAT_T_COPY] = ts[COW_STAT_T_INSTALL];
		break;
	default:
		break;
	}
	/*
	 * A mark is missing when the key was switched while this fault ran:
	 * drop the sample rather than report a made up phase.
	 */
	for (i = 0; i < COW_STAT_NR_MARKS; i++) {
		if (!ts[i] || (i && ts[i] < ts[i - 1]))
			return;
	}
	if (end < ts[COW_STAT_T_INSTALL])
		return;

	s.seq = atomic64_inc_return(&cow_stat_seq);
	s.kind = cow_stat_kind_name[kind];
	s.pfn = pfn;
	s.order = order;
	s.src_order = src_order;
	s.alloc_ns = ts[COW_STAT_T_COPY] - ts[COW_STAT_T_ALLOC];
	s.copy_ns = ts[COW_STAT_T_INSTALL] - ts[COW_STAT_T_COPY];
	s.install_ns = end - ts[COW_STAT_T_INSTALL];
	s.total_ns = end - ts[COW_STAT_T_FAULT];

	trace_cow_fault(&s);

	if (cow_stat_want_log(&s) && cow_stat_ratelimit())
		pr_info("seq=%llu kind=%s order=%u src_order=%u pfn=0x%lx alloc_ns=%llu copy_ns=%llu install_ns=%llu total_ns=%llu\n",
			s.seq, s.kind, s.order, s.src_order, s.pfn, s.alloc_ns,
			s.copy_ns, s.install_ns, s.total_ns);
}

/**
 * __cow_stat_wp_copy() - Report a timed COW done by wp_page_copy().
 * @cs: timestamps of the fault.
 * @zero: the source was the shared zero page.
 * @pfn: the pfn the old PTE mapped.
 * @src: the folio that was shared, NULL for the zero page or a PFN map.
 *
 * Called through cow_stat_wp_copy() once the new PTE is installed, with a
 * reference held on @src and no spinlock held.
 */
void __cow_stat_wp_copy(const struct cow_stat_ctx *cs, bool zero,
			unsigned long pfn, struct folio *src)
{
	cow_stat_report(cs, zero ? COW_STAT_ZERO : COW_STAT_4K, pfn, 0,
			src ? folio_order(src) : 0);
}

/**
 * __cow_stat_thp_split() - Report a timed split of a shared PMD THP.
 * @cs: timestamps of the fault.
 * @pfn: the head pfn the PMD mapped.
 *
 * Called through cow_stat_thp_split() by do_huge_pmd_wp_page() once the
 * PMD is split; the 4K COW that follows is reported on its own.
 */
void __cow_stat_thp_split(const struct cow_stat_ctx *cs, unsigned long pfn)
{
	cow_stat_report(cs, COW_STAT_THP_SPLIT, pfn, PMD_ORDER, PMD_ORDER);
}

/**
 * __cow_stat_hugetlb() - Report a timed hugetlb COW copy.
 * @cs: timestamps of the fault.
 * @src: the hugetlb folio that was copied; the caller holds a reference.
 *
 * Called through cow_stat_hugetlb() by hugetlb_wp() once the new huge PTE
 * is installed.
 */
void __cow_stat_hugetlb(const struct cow_stat_ctx *cs, struct folio *src)
{
	cow_stat_report(cs, COW_STAT_HUGETLB, folio_pfn(src),
			folio_order(src), folio_order(src));
}

static int cow_stat_sysctl_int(const struct ctl_table *table, int write,
			       void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret = proc_dointvec_minmax(table, write, buffer, lenp, ppos);

	if (!ret && write)
		cow_stat_update_key();
	return ret;
}

static int cow_stat_sysctl_ulong(const struct ctl_table *table, int write,
				 void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret = proc_doulongvec_minmax(table, write, buffer, lenp, ppos);

	if (!ret && write)
		cow_stat_update_key();
	return ret;
}

static struct ctl_table cow_stat_sysctl_table[] = {
	{
		.procname	= "cow_log_sample",
		.data		= &sysctl_cow_log_sample,
		.maxlen		= sizeof(sysctl_cow_log_sample),
		.mode		= 0644,
		.proc_handler	= cow_stat_sysctl_int,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_INT_MAX,
	},
	{
		.procname	= "cow_log_threshold_ns",
		.data		= &sysctl_cow_log_threshold_ns,
		.maxlen		= sizeof(sysctl_cow_log_threshold_ns),
		.mode		= 0644,
		.proc_handler	= cow_stat_sysctl_ulong,
		.extra1		= SYSCTL_LONG_ZERO,
		.extra2		= SYSCTL_LONG_MAX,
	},
	{
		.procname	= "cow_log_ratelimit",
		.data		= &cow_stat_rs.burst,
		.maxlen		= sizeof(cow_stat_rs.burst),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_INT_MAX,
	},
};

static int __init cow_stat_init(void)
{
	register_sysctl_init("vm", cow_stat_sysctl_table);
	return 0;
}
subsys_initcall(cow_stat_init);
