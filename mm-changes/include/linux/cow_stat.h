/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy-on-Write fault statistics: hooks for the COW write fault paths.
 *
 * The fault paths keep a struct cow_stat_ctx on their stack, stamp it at
 * the phase boundaries and report the finished COW.  Counting is always on
 * (per-cpu vm events); timing only happens while cow_stat_key is enabled,
 * i.e. while vm.cow_log_sample or vm.cow_log_threshold_ns is nonzero or the
 * cow:cow_fault tracepoint is in use, and with only vm.cow_log_sample set,
 * only for the sampled faults.  See mm/cow_stat.c.
 */
#ifndef _LINUX_COW_STAT_H
#define _LINUX_COW_STAT_H

#include <linux/types.h>

struct folio;

/**
 * enum cow_stat_kind - What a COW fault did.
 * @COW_STAT_4K: an order-0 page copy in wp_page_copy().
 * @COW_STAT_ZERO: a COW of the shared zero page (allocation and zeroing).
 * @COW_STAT_THP_SPLIT: a shared PMD-mapped THP split by a COW write fault.
 * @COW_STAT_HUGETLB: a copy of a whole hugetlb page in hugetlb_wp().
 * @COW_STAT_NR_KINDS: number of kinds.
 */
enum cow_stat_kind {
	COW_STAT_4K,
	COW_STAT_ZERO,
	COW_STAT_THP_SPLIT,
	COW_STAT_HUGETLB,
	COW_STAT_NR_KINDS
};

/**
 * enum cow_stat_mark - Phase boundaries stamped during a COW fault.
 * @COW_STAT_T_FAULT: entry of do_wp_page() or of the huge page equivalent.
 * @COW_STAT_T_ALLOC: the allocation of the new folio starts.
 * @COW_STAT_T_COPY: the copy starts (the allocation is done).
 * @COW_STAT_T_INSTALL: the copy is done, the page table update starts.
 * @COW_STAT_NR_MARKS: number of marks.
 *
 * The end of the page table update is the time of the report.
 */
enum cow_stat_mark {
	COW_STAT_T_FAULT,
	COW_STAT_T_ALLOC,
	COW_STAT_T_COPY,
	COW_STAT_T_INSTALL,
	COW_STAT_NR_MARKS
};

/**
 * struct cow_stat_sample - One timed COW fault, as logged and traced.
 * @seq: number of timed COW faults so far, this one included.
 * @kind: &enum cow_stat_kind name: "4k", "zero", "thp_split" or "hugetlb".
 * @pfn: pfn of the shared source page (the old PTE or PMD).
 * @order: log2 of the pages copied (the PMD order for a THP split).
 * @src_order: order of the source folio.
 * @alloc_ns: allocation of the new folio, zeroing and memcg charge included.
 * @copy_ns: the copy of the data, 0 when nothing is copied.
 * @install_ns: page table update: PTL, TLB flush, rmap, set_pte, notifiers;
 *	for a THP split, the split.
 * @total_ns: from the fault handler entry to the end of the install.
 */
struct cow_stat_sample {
	u64 seq;
	const char *kind;
	unsigned long pfn;
	unsigned int order;
	unsigned int src_order;
	u64 alloc_ns;
	u64 copy_ns;
	u64 install_ns;
	u64 total_ns;
};

#ifdef CONFIG_COW_STAT

#include <linux/jump_label.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

/**
 * struct cow_stat_ctx - Timestamps of one COW fault, on the faulting stack.
 * @ts: ktime_get_ns() at each &enum cow_stat_mark, 0 when not taken.
 *
 * @ts[COW_STAT_T_FAULT] is 0 when the fault started with timing off; the
 * fault is then counted but not timed.
 */
struct cow_stat_ctx {
	u64 ts[COW_STAT_NR_MARKS];
};

DECLARE_STATIC_KEY_FALSE(cow_stat_key);

bool __cow_stat_time_this(void);
void __cow_stat_wp_copy(const struct cow_stat_ctx *cs, bool zero,
			unsigned long pfn, struct folio *src);
void __cow_stat_thp_split(const struct cow_stat_ctx *cs, unsigned long pfn);
void __cow_stat_hugetlb(const struct cow_stat_ctx *cs, struct folio *src);

/**
 * cow_stat_start() - Start timing a COW fault.
 * @cs: context on the faulting stack.
 *
 * Call first thing in the fault handler.  Takes a timestamp only while
 * cow_stat_key is enabled and __cow_stat_time_this() picks this fault.
 */
static __always_inline void cow_stat_start(struct cow_stat_ctx *cs)
{
	cs->ts[COW_STAT_T_FAULT] = 0;
	if (static_branch_unlikely(&cow_stat_key) && __cow_stat_time_this()) {
		memset(cs, 0, sizeof(*cs));
		cs->ts[COW_STAT_T_FAULT] = ktime_get_ns();
	}
}

/**
 * cow_stat_mark() - Stamp a phase boundary of a COW fault.
 * @cs: context passed to cow_stat_start().
 * @mark: the boundary reached.
 *
 * Does nothing unless cow_stat_key is enabled and the fault is being timed.
 */
static __always_inline void cow_stat_mark(struct cow_stat_ctx *cs,
					  enum cow_stat_mark mark)
{
	if (static_branch_unlikely(&cow_stat_key) && cs->ts[COW_STAT_T_FAULT])
		cs->ts[mark] = ktime_get_ns();
}

/**
 * cow_stat_wp_copy() - Account a COW done by wp_page_copy().
 * @cs: context passed to cow_stat_start().
 * @zero: the source was the shared zero page.
 * @pfn: the pfn the old PTE mapped.
 * @src: the folio that was shared, NULL for the zero page or a PFN map.
 *
 * Call once the new PTE is installed.  Counts cow_copy or cow_zero, and
 * reports the timing when the fault is being timed.
 */
static __always_inline void cow_stat_wp_copy(struct cow_stat_ctx *cs,
					     bool zero, unsigned long pfn,
					     struct folio *src)
{
	count_vm_event(zero ? COW_ZERO : COW_COPY);
	if (static_branch_unlikely(&cow_stat_key) && cs->ts[COW_STAT_T_FAULT])
		__cow_stat_wp_copy(cs, zero, pfn, src);
}

/**
 * cow_stat_thp_split() - Account a shared PMD THP split by a COW fault.
 * @cs: context passed to cow_stat_start().
 * @pfn: the head pfn the PMD mapped.
 *
 * Call once the PMD is split.  Counts cow_thp_split, and reports the
 * timing when the fault is being timed.
 */
static __always_inline void cow_stat_thp_split(struct cow_stat_ctx *cs,
					       unsigned long pfn)
{
	count_vm_event(COW_THP_SPLIT);
	if (static_branch_unlikely(&cow_stat_key) && cs->ts[COW_STAT_T_FAULT])
		__cow_stat_thp_split(cs, pfn);
}

/**
 * cow_stat_hugetlb() - Account a hugetlb COW copy done by hugetlb_wp().
 * @cs: context passed to cow_stat_start().
 * @src: the hugetlb folio that was shared; the caller holds a reference.
 *
 * Call once the new huge PTE is installed.  Counts cow_hugetlb_copy, and
 * reports the timing when the fault is being timed.
 */
static __always_inline void cow_stat_hugetlb(struct cow_stat_ctx *cs,
					     struct folio *src)
{
	count_vm_event(COW_HUGETLB_COPY);
	if (static_branch_unlikely(&cow_stat_key) && cs->ts[COW_STAT_T_FAULT])
		__cow_stat_hugetlb(cs, src);
}

#else /* !CONFIG_COW_STAT */

struct cow_stat_ctx {
};

static inline void cow_stat_start(struct cow_stat_ctx *cs)
{
}

static inline void cow_stat_mark(struct cow_stat_ctx *cs,
				 enum cow_stat_mark mark)
{
}

static inline void cow_stat_wp_copy(struct cow_stat_ctx *cs, bool zero,
				    unsigned long pfn, struct folio *src)
{
}

static inline void cow_stat_thp_split(struct cow_stat_ctx *cs,
				      unsigned long pfn)
{
}

static inline void cow_stat_hugetlb(struct cow_stat_ctx *cs,
				    struct folio *src)
{
}

#endif /* CONFIG_COW_STAT */

#endif /* _LINUX_COW_STAT_H */
