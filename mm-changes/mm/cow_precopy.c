// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-Write pre-copy of the neighbours of a COW write fault.
 *
 * After fork(), a process that writes a private anonymous range page by
 * page takes one COW fault per page: allocate, copy, flush the TLB, switch
 * the PTE.  When wp_page_copy() has copied page N, this file copies the
 * neighbours N+1.. (N-1.. for a backward stream in adaptive mode) that a
 * write would copy too, while they are still shared, and maps each copy
 * read-only but AnonExclusive.  The later write to such a page is a reuse
 * fault in do_wp_page(): no allocation, no copy, no TLB flush, and it sets
 * the dirty and soft-dirty bits exactly as the write would have.  In mode
 * COW_PRECOPY_MODE_FIXED_WRITABLE the copy is mapped writable and clean
 * instead, as mprotect() maps an exclusive anonymous page, unless
 * soft-dirty tracking needs the write fault: the later write takes no
 * fault at all, and the hardware dirty bit says it happened.
 *
 * Candidates stay inside the faulting VMA and its page table, and are
 * present, read-only, order-0 anonymous pages mapped by more than one PTE
 * that are not AnonExclusive, KSM, the zero page, maybe DMA-pinned, uffd-wp,
 * NUMA-hinting (protnone), lazyfree or poisoned.  Nothing happens for
 * FAULT_FLAG_UNSHARE, for a VMA that userfaultfd is registered on, for a
 * VMA that is not a writable private anonymous one, or in MADV_RANDOM
 * ranges.
 *
 * A window of up to vm.cow_precopy_max pages is done in batches of
 * COW_PRECOPY_BATCH pages:
 *  1. under the PTL, snapshot the candidate PTEs and take a reference on
 *     each source folio;
 *  2. without the PTL, allocate (no reclaim, no warning, no OOM), charge
 *     the memcg and copy; a failure truncates the window there, and so
 *     does a memory cgroup near its limit (cow_precopy_memcg_room());
 *  3. one MMU notifier range; under the PTL, re-check every slot with
 *     pte_same() and clear it with ptep_get_and_clear(); one TLB flush for
 *     the batch; then, as wp_page_copy() does per page: the new folio's
 *     rmap, LRU and PTE, and only after the flush the old folio's rmap.
 *
 * With vm.cow_precopy_large, in the fixed modes, the batches of the window
 * end on COW_PRECOPY_LARGE_SIZE boundaries, and an aligned batch whose every
 * page is a candidate is copied into one folio of COW_PRECOPY_LARGE_ORDER
 * instead (cow_precopy_large()): one allocation, charge, rmap and LRU
 * insertion for the batch; any failure falls back to the order-0 copies.
 *
 * An order-0 pre-copied folio carries COW_PRECOPY_MARK in ->private until
 * it is written (cow_precopy_used) or unmapped unwritten
 * (cow_precopy_wasted); large copies are counted in cow_precopy_large only.
 *
 * Off by default: vm.cow_precopy_max = 0 disables cow_precopy_key, and
 * every hook in the fault and unmap paths is a static branch.
 */

#define pr_fmt(fmt) "cow_precopy: " fmt

#include <linux/atomic.h>
#include <linux/cacheflush.h>
#include <linux/cow_precopy.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/hugetlb.h>
#include <linux/init.h>
#include <linux/jump_label.h>
#include <linux/kmsan.h>
#include <linux/memcontrol.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/sysctl.h>
#include <linux/userfaultfd_k.h>
#include <linux/vmstat.h>

#include <asm/tlbflush.h>

#include "internal.h"

/* Enabled while vm.cow_precopy_max is nonzero. */
DEFINE_STATIC_KEY_FALSE(cow_precopy_key);

/* Upper bound of vm.cow_precopy_max, in pages. */
#define COW_PRECOPY_WINDOW_MAX	64
/* First window of a stream detected in adaptive mode, in pages. */
#define COW_PRECOPY_WINDOW_INIT	4
/* Pages per PTL round trip and TLB flush: bounds the stack used. */
#define COW_PRECOPY_BATCH	16
/*
 * vm.cow_precopy_large: an aligned batch whose every page is a candidate
 * is copied into one folio of this order (64K with 4K pages).
 */
#define COW_PRECOPY_LARGE_ORDER	ilog2(COW_PRECOPY_BATCH)
#define COW_PRECOPY_LARGE_SIZE	(PAGE_SIZE << COW_PRECOPY_LARGE_ORDER)
/* cow_precopy_large(): no write fault in the batch (never page-aligned) */
#define COW_PRECOPY_NO_TARGET	ULONG_MAX

/*
 * Speculative allocations and charges: never enter direct reclaim, never
 * wake kswapd, never dip into the reserves, never warn, never OOM.
 */
#define COW_PRECOPY_GFP		((GFP_HIGHUSER_MOVABLE & ~__GFP_RECLAIM) | \
				 __GFP_NORETRY | __GFP_NOWARN | \
				 __GFP_NOMEMALLOC)

/*
 * ->private of an order-0 anonymous folio that was pre-copied and not yet
 * written or unmapped.  Outside the swap cache ->private of such a folio is
 * otherwise unused (the page allocator hands it out as 0); in the swap cache
 * it holds a swp_entry_t, whose bit 63 is never set (the type is 5 bits at
 * SWP_TYPE_SHIFT = 58), so it never equals this value.  add_to_swap() may
 * overwrite the mark: the folio is then simply no longer counted.  The
 * mark is cleared with cmpxchg() so that such an overwrite is never undone.
 */
#define COW_PRECOPY_MARK	((void *)~0UL)

enum {
	COW_PRECOPY_MODE_FIXED,
	COW_PRECOPY_MODE_ADAPTIVE,
	COW_PRECOPY_MODE_FIXED_WRITABLE,
};

static int sysctl_cow_precopy_max;
static int sysctl_cow_precopy_mode;
static int sysctl_cow_precopy_large;
static int cow_precopy_window_max = COW_PRECOPY_WINDOW_MAX;
/* Serialises the updates of cow_precopy_key. */
static DEFINE_MUTEX(cow_precopy_mutex);

struct cow_precopy_slot {
	pte_t orig;		/* the PTE seen by the scan */
	struct page *src;	/* the shared page, referenced; NULL: skip */
	struct folio *dst;	/* its copy, charged; NULL: none */
};

static bool cow_precopy_vma_ok(struct vm_area_struct *vma)
{
	vm_flags_t flags = vma->vm_flags;

	if (!vma_is_anonymous(vma) || !is_cow_mapping(flags) ||
	    !(flags & VM_WRITE) || !vma->anon_vma)
		return false;
	/* MADV_RANDOM: off for this range (also the stack during execve) */
	if (flags & (VM_RAND_READ | VM_PFNMAP | VM_MIXEDMAP | VM_IO |
		     VM_HUGETLB))
		return false;
	/* uffd-missing/minor/wp must see every fault: stay out entirely */
	return !userfaultfd_armed(vma);
}

/*
 * The shared order-0 anonymous page that a write to @pte would copy, or
 * NULL.  Called under the PTL of @pte.
 */
static struct page *cow_precopy_candidate(struct vm_area_struct *vma,
					  unsigned long addr, pte_t pte)
{
	struct folio *folio;
	struct page *page;

	if (!pte_present(pte) || pte_write(pte) || pte_protnone(pte) ||
	    pte_uffd_wp(pte))
		return NULL;
	/* NULL for the shared zero page and for special/PFN mappings */
	page = vm_normal_page(vma, addr, pte);
	if (!page)
		return NULL;
	folio = page_folio(page);
	if (!folio_test_anon(folio) || folio_test_ksm(folio) ||
	    folio_test_large(folio) || PageHWPoison(page))
		return NULL;
	/* an exclusive page, or one only we map, is reused, not copied */
	if (PageAnonExclusive(page) || folio_mapcount(folio) < 2)
		return NULL;
	/* lazyfree (MADV_FREE): reclaim may drop it, do not rescue it */
	if (!folio_test_swapbacked(folio))
		return NULL;
	if (folio_maybe_dma_pinned(folio))
		return NULL;
	return page;
}

/* Re-check, under the PTL, a slot whose PTE passed pte_same(). */
static bool cow_precopy_still_shared(struct page *page)
{
	struct folio *folio = page_folio(page);

	return !PageAnonExclusive(page) && !folio_test_ksm(folio) &&
	       folio_mapcount(folio) > 1 && !folio_maybe_dma_pinned(folio);
}

/*
 * Keep free in every limited memory cgroup of the mm, after a batch of
 * pre-copies, an eighth of its limit and at least this many pages.
 */
#define COW_PRECOPY_MEMCG_MIN	128

/**
 * cow_precopy_memcg_room() - may a batch of pre-copies be charged?
 * @mm: the faulting mm
 * @nr: pages the batch would charge
 *
 * Pre-copies are speculative and charged without reclaim: near the limit
 * of a memory cgroup they could take the room that the real COW copies
 * of the same cgroup need, which may reclaim and, with nothing to
 * reclaim, end in the OOM killer: a process could be killed with
 * pre-copy on where it fits without. So pre-copy only while the mm's
 * memcg and every ancestor with a limit keep, after @nr more pages,
 * max(limit / 8, COW_PRECOPY_MEMCG_MIN) pages free. A racy read of the
 * counters: a heuristic, the charge itself stays the hard check.
 *
 * Return: true if the batch may go ahead.
 */
static bool cow_precopy_memcg_room(struct mm_struct *mm, unsigned int nr)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg, *m;
	bool ok = true;

	if (mem_cgroup_disabled())
		return true;
	memcg = get_mem_cgroup_from_mm(mm);
	for (m = memcg; m && !mem_cgroup_is_root(m); m = parent_mem_cgroup(m)) {
		unsigned long limit = READ_ONCE(m->memory.max);
		unsigned long reserve = max_t(unsigned long, limit / 8,
					      COW_PRECOPY_MEMCG_MIN);

		if (limit >= PAGE_COUNTER_MAX)
			continue;
		if (page_counter_read(&m->memory) + nr + reserve > limit) {
			ok = false;
			break;
		}
	}
	mem_cgroup_put(memcg);
	return ok;
#else
	return true;
#endif
}

/* Allocate, charge and copy one page; NULL on any failure. */
static struct folio *cow_precopy_copy(struct vm_area_struct *vma,
				      unsigned long addr, struct page *src)
{
	struct folio *dst;

	dst = vma_alloc_folio(COW_PRECOPY_GFP, 0, vma, addr, false);
	if (!dst)
		return NULL;
	if (mem_cgroup_charge(dst, vma->vm_mm, COW_PRECOPY_GFP))
		goto put;
	if (copy_mc_user_highpage(&dst->page, src, addr, vma))
		goto put;
	kmsan_copy_page_meta(&dst->page, src);
	/* orders the copy before the set_pte_at() that publishes it */
	__folio_mark_uptodate(dst);
	return dst;
put:
	folio_put(dst);
	return NULL;
}

/*
 * May an aligned batch of @vma be copied into one large folio?  Only with
 * vm.cow_precopy_large, in the fixed modes (the adaptive mode learns from
 * the reuse faults of order-0 copies), with transparent huge pages not
 * turned off system-wide (enabled "never"), and where the process or range
 * has not refused huge pages (MADV_NOHUGEPAGE, PR_SET_THP_DISABLE).
 */
static bool cow_precopy_large_ok(struct vm_area_struct *vma, bool adaptive)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	if (adaptive || !READ_ONCE(sysctl_cow_precopy_large) ||
	    !hugepage_global_enabled())
		return false;
	return !vma_thp_disabled(vma, vma->vm_flags) && !thp_disabled_by_hw();
#else
	return false;
#endif
}

/**
 * cow_precopy_large() - Pre-copy a whole aligned batch into one folio.
 * @vmf: the write fault that copied the page before the batch.
 * @lo: first address of the batch, aligned to %COW_PRECOPY_LARGE_SIZE.
 * @slot: the batch's %COW_PRECOPY_BATCH slots, each a referenced candidate
 *	whose PTE is @slot[i].orig.
 * @writable: map the copies writable (vm.cow_precopy_mode 2).
 * @target: the address of a write fault inside the batch, whose page is
 *	@slot's and whose copy is mapped writable and dirty as wp_page_copy()
 *	maps it; %COW_PRECOPY_NO_TARGET for none.
 *
 * One allocation of order %COW_PRECOPY_LARGE_ORDER, one memcg charge, the
 * copies, then under one PTL hold: every PTE re-checked, all cleared, one
 * TLB flush, one rmap and LRU insertion for the new folio, its PTEs, and
 * the old pages' rmaps dropped after the flush.  All or nothing: a page
 * that changed since the snapshot leaves the whole batch to the caller.
 * The copies carry no pre-copy mark: cow_precopy_used and
 * cow_precopy_wasted count order-0 copies only.
 *
 * Return: true when the batch is mapped and the references of @slot are
 * dropped; false when nothing changed (the caller copies page by page).
 */
static bool cow_precopy_large(struct vm_fault *vmf, unsigned long lo,
			      struct cow_precopy_slot *slot, bool writable,
			      unsigned long target)
{
	const unsigned int nr = COW_PRECOPY_BATCH;
	const unsigned int nr_pre = target != COW_PRECOPY_NO_TARGET ? nr - 1 : nr;
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long hi = lo + COW_PRECOPY_LARGE_SIZE;
	struct mmu_notifier_range range;
	struct folio *dst;
	spinlock_t *ptl;	/* the PTL of vmf->pmd's page table */
	unsigned int i;
	pte_t *base;
	bool ok;

	if (!cow_precopy_memcg_room(mm, nr))
		return false;
	dst = vma_alloc_folio(COW_PRECOPY_GFP, COW_PRECOPY_LARGE_ORDER, vma,
			      lo, true);
	if (!dst)
		return false;
	if (mem_cgroup_charge(dst, mm, COW_PRECOPY_GFP))
		goto put;
	for (i = 0; i < nr; i++) {
		if (copy_mc_user_highpage(folio_page(dst, i), slot[i].src,
					  lo + i * PAGE_SIZE, vma))
			goto put;
		kmsan_copy_page_meta(folio_page(dst, i), slot[i].src);
	}
	__folio_mark_uptodate(dst);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, lo, hi);
	mmu_notifier_invalidate_range_start(&range);
	base = pte_offset_map_lock(mm, vmf->pmd, lo, &ptl);
	ok = base;
	for (i = 0; ok && i < nr; i++)
		ok = pte_same(ptep_get(base + i), slot[i].orig) &&
		     cow_precopy_still_shared(slot[i].src);
	if (!ok) {
		if (base)
			pte_unmap_unlock(base, ptl);
		mmu_notifier_invalidate_range_end(&range);
		goto put;
	}
	flush_cache_range(vma, lo, hi);
	for (i = 0; i < nr; i++)
		ptep_get_and_clear(mm, lo + i * PAGE_SIZE, base + i);
	flush_tlb_range(vma, lo, hi);
	/* one reference per PTE: the allocation's is the first */
	folio_ref_add(dst, nr - 1);
	folio_add_new_anon_rmap(dst, vma, lo, RMAP_EXCLUSIVE);
	folio_add_lru_vma(dst, vma);
	for (i = 0; i < nr; i++) {
		unsigned long addr = lo + i * PAGE_SIZE;
		pte_t entry = mk_pte(folio_page(dst, i), vma->vm_page_prot);

		entry = pte_sw_mkyoung(entry);
		VM_WARN_ON_ONCE(pte_write(entry));
		if (addr == target) {
			/* the write that faulted, as wp_page_copy() maps it */
			entry = maybe_mkwrite(pte_mkdirty(entry), vma);
		} else {
			/* as cow_precopy_batch(), per PTE: soft-dirty differs */
			if (pte_soft_dirty(slot[i].orig))
				entry = pte_mksoft_dirty(entry);
			if (writable && !pte_needs_soft_dirty_wp(vma, entry))
				entry = pte_mkwrite(entry, vma);
		}
		set_pte_at(mm, addr, base + i, entry);
	}
	update_mmu_cache_range(vmf, vma, lo, base, nr);
	/* only after the switch and the flush (see wp_page_copy()) */
	for (i = 0; i < nr; i++)
		folio_remove_rmap_pte(page_folio(slot[i].src), slot[i].src,
				      vma);
	pte_unmap_unlock(base, ptl);
	mmu_notifier_invalidate_range_end(&range);

	for (i = 0; i < nr; i++) {
		struct folio *src = page_folio(slot[i].src);

		folio_put(src);		/* the old PTE's reference */
		free_swap_cache(src);
		folio_put(src);		/* ours */
		slot[i].src = NULL;
	}
	count_vm_events(COW_PRECOPY, nr_pre);
	count_vm_events(COW_PRECOPY_LARGE, nr_pre);
	return true;
put:
	folio_put(dst);
	return false;
}

static inline unsigned long cow_precopy_addr(unsigned long start, int dir,
					     unsigned int i)
{
	return dir > 0 ? start + i * PAGE_SIZE : start - i * PAGE_SIZE;
}

/*
 * Pre-copy the @nr pages at @start, @start + @dir pages, ...: all in
 * vmf->vma and in the page table of vmf->pmd; with @large, a whole aligned
 * batch of candidates becomes one large folio (cow_precopy_large()), and
 * page by page otherwise.  Adds the pages mapped to *@copied.  Returns
 * the number of positions handled: @nr, or fewer when an allocation, a
 * charge or a copy failed (the window ends there), or 0
 * when none of the @nr pages is a candidate: the pages ahead are private
 * already (a backward stream, a second pass) and the window ends too,
 * rather than take the PTL again for each further batch.
 */
static unsigned int cow_precopy_batch(struct vm_fault *vmf,
				      unsigned long start, int dir,
				      unsigned int nr, bool writable, bool large,
				      unsigned int *copied)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	struct cow_precopy_slot slot[COW_PRECOPY_BATCH];
	unsigned long lo, hi, flush_lo = ULONG_MAX, flush_hi = 0;
	unsigned long installed = 0;
	unsigned int i, done = nr, nr_cand = 0, nr_dst = 0;
	struct mmu_notifier_range range;
	pte_t *base;
	spinlock_t *ptl;	/* the PTL of vmf->pmd's page table */

	BUILD_BUG_ON(COW_PRECOPY_BATCH > BITS_PER_LONG);
	lo = dir > 0 ? start : start - (nr - 1) * PAGE_SIZE;
	hi = lo + nr * PAGE_SIZE;

	/* 1. Snapshot the candidates. */
	base = pte_offset_map_lock(mm, vmf->pmd, lo, &ptl);
	if (!base)
		return 0;
	for (i = 0; i < nr; i++) {
		unsigned long addr = cow_precopy_addr(start, dir, i);
		pte_t pte = ptep_get(base + ((addr - lo) >> PAGE_SHIFT));

		slot[i].dst = NULL;
		slot[i].src = cow_precopy_candidate(vma, addr, pte);
		if (!slot[i].src)
			continue;
		slot[i].orig = pte;
		/* mapped by the PTE we hold the lock of: cannot be freed */
		folio_get(page_folio(slot[i].src));
		nr_cand++;
	}
	pte_unmap_unlock(base, ptl);
	if (!nr_cand)
		return 0;
	if (large && dir > 0 && nr_cand == COW_PRECOPY_BATCH &&
	    IS_ALIGNED(lo, COW_PRECOPY_LARGE_SIZE) &&
	    cow_precopy_large(vmf, lo, slot, writable, COW_PRECOPY_NO_TARGET)) {
		*copied += nr;
		return nr;
	}

	/* 2. Allocate and copy; the first failure ends the window. */
	if (!cow_precopy_memcg_room(mm, nr_cand))
		done = 0;
	for (i = 0; i < nr; i++) {
		if (!slot[i].src)
			continue;
		if (done == nr) {
			unsigned long addr = cow_precopy_addr(start, dir, i);

			slot[i].dst = cow_precopy_copy(vma, addr, slot[i].src);
			if (slot[i].dst) {
				nr_dst++;
				continue;
			}
			done = i;
		}
		folio_put(page_folio(slot[i].src));
		slot[i].src = NULL;
	}
	if (!nr_dst)
		return done;

	/* 3. Install. */
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, lo, hi);
	mmu_notifier_invalidate_range_start(&range);
	base = pte_offset_map_lock(mm, vmf->pmd, lo, &ptl);
	if (base) {
		for (i = 0; i < nr; i++) {
			unsigned long addr = cow_precopy_addr(start, dir, i);
			pte_t *ptep = base + ((addr - lo) >> PAGE_SHIFT);

			if (!slot[i].dst ||
			    !pte_same(ptep_get(ptep), slot[i].orig) ||
			    !cow_precopy_still_shared(slot[i].src))
				continue;
			flush_cache_page(vma, addr, pte_pfn(slot[i].orig));
			/* like ptep_clear_flush(), with one flush below */
			ptep_get_and_clear(mm, addr, ptep);
			installed |= 1UL << i;
			flush_lo = min(flush_lo, addr);
			flush_hi = max(flush_hi, addr + PAGE_SIZE);
		}
		if (installed)
			flush_tlb_range(vma, flush_lo, flush_hi);
		for (i = 0; i < nr; i++) {
			unsigned long addr = cow_precopy_addr(start, dir, i);
			pte_t *ptep = base + ((addr - lo) >> PAGE_SHIFT);
			struct folio *dst = slot[i].dst;
			pte_t entry;

			if (!(installed & (1UL << i)))
				continue;
			/*
			 * Read-only, clean and AnonExclusive, as do_swap_page()
			 * maps an exclusive page on a read fault: the write
			 * that follows is a reuse fault that sets dirty and
			 * soft-dirty like any other write.  Soft-dirty is
			 * carried over: the data did not change.  Writable
			 * mode: writable and clean, as change_pte_range() may
			 * map an exclusive anonymous page, and under the same
			 * soft-dirty rule, so that no write goes unseen.
			 */
			entry = mk_pte(&dst->page, vma->vm_page_prot);
			entry = pte_sw_mkyoung(entry);
			if (pte_soft_dirty(slot[i].orig))
				entry = pte_mksoft_dirty(entry);
			VM_WARN_ON_ONCE(pte_write(entry));
			if (writable && !pte_needs_soft_dirty_wp(vma, entry))
				entry = pte_mkwrite(entry, vma);
			folio_add_new_anon_rmap(dst, vma, addr, RMAP_EXCLUSIVE);
			WRITE_ONCE(dst->private, COW_PRECOPY_MARK);
			folio_add_lru_vma(dst, vma);
			set_pte_at(mm, addr, ptep, entry);
			update_mmu_cache(vma, addr, ptep);
		}
		/*
		 * Only now, after the TLB flush, drop the old mappings: see
		 * the comment above folio_remove_rmap_pte() in wp_page_copy().
		 */
		for (i = 0; i < nr; i++) {
			if (installed & (1UL << i))
				folio_remove_rmap_pte(page_folio(slot[i].src),
						      slot[i].src, vma);
		}
		pte_unmap_unlock(base, ptl);
	}
	mmu_notifier_invalidate_range_end(&range);

	/* 4. Release: the old PTEs' references, ours, unused copies. */
	for (i = 0; i < nr; i++) {
		struct folio *src;

		if (!slot[i].src)
			continue;
		src = page_folio(slot[i].src);
		if (installed & (1UL << i)) {
			folio_put(src);
			free_swap_cache(src);
		} else if (slot[i].dst) {
			folio_put(slot[i].dst);
		}
		folio_put(src);
	}
	if (installed) {
		unsigned int n = hweight_long(installed);

		count_vm_events(COW_PRECOPY, n);
		*copied += n;
	}
	return done;
}

/*
 * Adaptive mode: detect COW fault streams as file readahead does, from
 * the addresses of successive COW copy faults of the mm.  Two copy faults
 * on adjacent pages start a stream of COW_PRECOPY_WINDOW_INIT pages in
 * their direction; a copy fault on the page right after the window (the
 * stream wrote its way through it) doubles the window, up to @max, if at
 * least half of the pre-copied pages were written, and halves it
 * otherwise; any other copy fault ends the stream (and resets the direction
 * to forward).
 */
static unsigned int cow_precopy_adapt(struct cow_precopy_mm *st,
				      unsigned long addr, unsigned int max,
				      int *dir)
{
	unsigned long last = READ_ONCE(st->last);
	unsigned int win = READ_ONCE(st->window);
	int d = READ_ONCE(st->dir) < 0 ? -1 : 1;

	if (win && addr == READ_ONCE(st->next)) {
		unsigned int hits = atomic_xchg(&st->hits, 0);

		if (2 * hits >= READ_ONCE(st->issued))
			win = min(2 * win, max);
		else
			win /= 2;
	} else if (addr == last + PAGE_SIZE || addr == last - PAGE_SIZE) {
		d = addr > last ? 1 : -1;
		win = min(COW_PRECOPY_WINDOW_INIT, max);
		atomic_set(&st->hits, 0);
	} else {
		/* no stream: MADV_SEQUENTIAL and PR_COW_PRECOPY_MAX go forward */
		win = 0;
		d = 1;
	}
	WRITE_ONCE(st->last, addr);
	WRITE_ONCE(st->window, win);
	WRITE_ONCE(st->dir, d);
	*dir = d;
	return win;
}

/*
 * The largest window of @vma's mm in pages, 0 when pre-copy is off for it;
 * *@adaptive when the adaptive mode sizes each window within it.
 */
static unsigned int cow_precopy_max_window(struct vm_area_struct *vma,
					   bool *adaptive, bool *writable)
{
	unsigned int max = READ_ONCE(sysctl_cow_precopy_max);
	int mode = READ_ONCE(sysctl_cow_precopy_mode);
	int policy = READ_ONCE(vma->vm_mm->cow_precopy.policy);

	/* the adaptive mode learns from the reuse faults: read-only there */
	*writable = mode == COW_PRECOPY_MODE_FIXED_WRITABLE;
	*adaptive = policy != COW_PRECOPY_POLICY_MAX &&
		    mode == COW_PRECOPY_MODE_ADAPTIVE;
	if (!max || policy == COW_PRECOPY_POLICY_DISABLE)
		return 0;
	return max;
}

/* The window for a copy fault at @addr, in pages, and its direction. */
static unsigned int cow_precopy_window(struct vm_area_struct *vma,
				       unsigned long addr, int *dir,
				       bool *adaptive, bool *writable)
{
	unsigned int max = cow_precopy_max_window(vma, adaptive, writable);
	unsigned int win;

	*dir = 1;
	if (!max) {
		*adaptive = false;
		return 0;
	}
	if (!*adaptive)
		return max;
	win = cow_precopy_adapt(&vma->vm_mm->cow_precopy, addr, max, dir);
	/* MADV_SEQUENTIAL asks for the whole window at once */
	if (vma->vm_flags & VM_SEQ_READ)
		win = max;
	return win;
}

/*
 * Pre-copy up to @win pages from @first on, in direction @dir, in batches
 * (ending on COW_PRECOPY_LARGE_SIZE boundaries with @large).  Returns the
 * positions handled; adds the pages mapped to *@copied.
 */
static unsigned int cow_precopy_run(struct vm_fault *vmf, unsigned long first,
				    int dir, unsigned int win, bool writable,
				    bool large, unsigned int *copied)
{
	unsigned int pos = 0;

	while (pos < win && !fatal_signal_pending(current)) {
		unsigned long start = cow_precopy_addr(first, dir, pos);
		unsigned int n = min(win - pos, COW_PRECOPY_BATCH);
		unsigned int got;

		if (large && !IS_ALIGNED(start, COW_PRECOPY_LARGE_SIZE))
			n = min_t(unsigned int, n,
				  (ALIGN(start, COW_PRECOPY_LARGE_SIZE) -
				   start) >> PAGE_SHIFT);
		got = cow_precopy_batch(vmf, start, dir, n, writable, large,
					copied);
		pos += got;
		if (got < n)
			break;
	}
	return pos;
}

/**
 * __cow_precopy_fault() - Pre-copy the neighbours of a COW copy.
 * @vmf: the write fault, whose new PTE is installed; the PTL is released
 *	and the mmap_lock or the VMA lock is held.
 * @src: the folio that wp_page_copy() copied, still referenced.
 *
 * Called through cow_precopy_fault().  Pre-copies up to the window given
 * by vm.cow_precopy_max, vm.cow_precopy_mode, the madvise hints of the
 * VMA and the prctl() policy of the mm, clamped to the VMA and to the
 * page table of the fault.  May sleep (MMU notifiers); never reclaims.
 */
void __cow_precopy_fault(struct vm_fault *vmf, struct folio *src)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PAGE_MASK;
	unsigned int win, avail, pos, copied = 0;
	bool adaptive, writable, large;
	int dir;

	if (!src || !folio_test_anon(src) ||
	    (vmf->flags & FAULT_FLAG_UNSHARE) || !cow_precopy_vma_ok(vma))
		return;
	win = cow_precopy_window(vma, addr, &dir, &adaptive, &writable);
	if (dir > 0)
		avail = (pmd_addr_end(addr, vma->vm_end) - addr) >> PAGE_SHIFT;
	else
		avail = (addr - max(addr & PMD_MASK, vma->vm_start)) >>
			PAGE_SHIFT;
	if (dir > 0)
		avail--;	/* the faulting page itself */
	win = min(win, avail);
	large = cow_precopy_large_ok(vma, adaptive);
	pos = cow_precopy_run(vmf, cow_precopy_addr(addr, dir, 1), dir, win,
			      writable, large, &copied);
	if (adaptive) {
		struct cow_precopy_mm *st = &vma->vm_mm->cow_precopy;

		WRITE_ONCE(st->next, cow_precopy_addr(addr, dir, pos + 1));
		WRITE_ONCE(st->issued, copied);
	}
}

/**
 * __cow_precopy_block() - Copy a COW fault's whole aligned block, then more.
 * @vmf: the write fault on @vmf->page, a page of @src; PTL not held, the
 *	mmap_lock or the VMA lock held, anon_vma prepared.
 * @src: the order-0 folio the fault would copy, referenced by the caller.
 *
 * Called through cow_precopy_block() by wp_page_copy() before it copies
 * 4K.  With vm.cow_precopy_large in a fixed mode, when the faulting page
 * and the 15 others of its %COW_PRECOPY_LARGE_SIZE-aligned block are all
 * candidates, copies the block into one large folio with
 * cow_precopy_large(): the faulting page mapped writable and dirty as
 * wp_page_copy() would, the others as pre-copies; then pre-copies the
 * window that follows the block, so that its batches are aligned too.
 * Without it, the 15 others of the fault's block would be copied one by
 * one on every fault of a sequential stream.
 *
 * Return: 0 when the fault is handled (the caller counts the COW copy and
 * drops its reference), %VM_FAULT_FALLBACK when the caller must copy 4K.
 */
vm_fault_t __cow_precopy_block(struct vm_fault *vmf, struct folio *src)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr = vmf->address & PAGE_MASK;
	unsigned long lo = ALIGN_DOWN(addr, COW_PRECOPY_LARGE_SIZE);
	unsigned long hi = lo + COW_PRECOPY_LARGE_SIZE;
	struct cow_precopy_slot slot[COW_PRECOPY_BATCH];
	unsigned int i, max, avail, copied = 0;
	bool adaptive, writable;
	spinlock_t *ptl;	/* the PTL of vmf->pmd's page table */
	pte_t *base;

	if (!folio_test_anon(src) || folio_test_large(src) ||
	    (vmf->flags & FAULT_FLAG_UNSHARE) || !cow_precopy_vma_ok(vma) ||
	    lo < vma->vm_start || hi > vma->vm_end)
		return VM_FAULT_FALLBACK;
	max = cow_precopy_max_window(vma, &adaptive, &writable);
	/* a window under a block's size would not bound the block's copies */
	if (max < COW_PRECOPY_BATCH || !cow_precopy_large_ok(vma, adaptive))
		return VM_FAULT_FALLBACK;

	base = pte_offset_map_lock(mm, vmf->pmd, lo, &ptl);
	if (!base)
		return VM_FAULT_FALLBACK;
	for (i = 0; i < COW_PRECOPY_BATCH; i++) {
		unsigned long a = lo + i * PAGE_SIZE;
		pte_t pte = ptep_get(base + i);

		slot[i].dst = NULL;
		slot[i].src = cow_precopy_candidate(vma, a, pte);
		/* the faulting PTE still as the fault found it */
		if (a == addr && (!pte_same(pte, vmf->orig_pte) ||
				  slot[i].src != vmf->page))
			slot[i].src = NULL;
		if (!slot[i].src)
			break;
		slot[i].orig = pte;
		folio_get(page_folio(slot[i].src));
	}
	pte_unmap_unlock(base, ptl);
	if (i == COW_PRECOPY_BATCH &&
	    cow_precopy_large(vmf, lo, slot, writable, addr)) {
		avail = (pmd_addr_end(lo, vma->vm_end) - hi) >> PAGE_SHIFT;
		cow_precopy_run(vmf, hi, 1, min(max, avail), writable, true,
				&copied);
		return 0;
	}
	while (i--)
		folio_put(page_folio(slot[i].src));
	return VM_FAULT_FALLBACK;
}

/**
 * __cow_precopy_reuse() - Count the first write to a pre-copied page.
 * @vma: the VMA of the write fault.
 * @folio: the anonymous folio that do_wp_page() reuses, under the PTL.
 *
 * Called through cow_precopy_reuse().  Clears the mark, counts
 * cow_precopy_used and feeds the adaptive window of the mm.
 */
void __cow_precopy_reuse(struct vm_area_struct *vma, struct folio *folio)
{
	if (folio_test_large(folio) ||
	    READ_ONCE(folio->private) != COW_PRECOPY_MARK)
		return;
	if (cmpxchg(&folio->private, COW_PRECOPY_MARK, NULL) !=
	    COW_PRECOPY_MARK)
		return;
	count_vm_event(COW_PRECOPY_USED);
	atomic_inc(&vma->vm_mm->cow_precopy.hits);
}

/**
 * __cow_precopy_unmap() - Count a pre-copied page when it is unmapped.
 * @folio: a folio whose PTE the zap path has just removed from the rmap.
 * @dirty: the PTE removed was dirty.
 *
 * Called through cow_precopy_unmap().  When @folio is an order-0
 * anonymous folio that still has the mark and is no longer mapped, clears
 * the mark and counts cow_precopy_used if the PTE was dirty (a page mapped
 * writable by COW_PRECOPY_MODE_FIXED_WRITABLE and written since: the
 * write took no fault), cow_precopy_wasted otherwise.
 */
void __cow_precopy_unmap(struct folio *folio, bool dirty)
{
	if (!folio_test_anon(folio) || folio_test_large(folio) ||
	    folio_test_ksm(folio) ||
	    READ_ONCE(folio->private) != COW_PRECOPY_MARK ||
	    folio_mapped(folio))
		return;
	if (cmpxchg(&folio->private, COW_PRECOPY_MARK, NULL) ==
	    COW_PRECOPY_MARK)
		count_vm_event(dirty ? COW_PRECOPY_USED : COW_PRECOPY_WASTED);
}

/**
 * cow_precopy_set_policy() - PR_SET_COW_PRECOPY.
 * @mm: the mm of the calling process.
 * @policy: an &enum cow_precopy_policy value.
 *
 * Return: 0, or -EINVAL for an unknown policy or no mm.
 */
int cow_precopy_set_policy(struct mm_struct *mm, unsigned long policy)
{
	if (!mm || policy >= COW_PRECOPY_NR_POLICIES)
		return -EINVAL;
	WRITE_ONCE(mm->cow_precopy.policy, policy);
	return 0;
}

/**
 * cow_precopy_get_policy() - PR_GET_COW_PRECOPY.
 * @mm: the mm of the calling process.
 *
 * Return: the &enum cow_precopy_policy of @mm, or -EINVAL for no mm.
 */
int cow_precopy_get_policy(struct mm_struct *mm)
{
	if (!mm)
		return -EINVAL;
	return READ_ONCE(mm->cow_precopy.policy);
}

static int cow_precopy_sysctl_max(const struct ctl_table *table, int write,
				  void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret;

	mutex_lock(&cow_precopy_mutex);
	ret = proc_dointvec_minmax(table, write, buffer, lenp, ppos);
	if (!ret && write) {
		if (READ_ONCE(sysctl_cow_precopy_max))
			static_branch_enable(&cow_precopy_key);
		else
			static_branch_disable(&cow_precopy_key);
	}
	mutex_unlock(&cow_precopy_mutex);
	return ret;
}

static struct ctl_table cow_precopy_sysctl_table[] = {
	{
		.procname	= "cow_precopy_max",
		.data		= &sysctl_cow_precopy_max,
		.maxlen		= sizeof(sysctl_cow_precopy_max),
		.mode		= 0644,
		.proc_handler	= cow_precopy_sysctl_max,
		.extra1		= SYSCTL_ZERO,
		.extra2		= &cow_precopy_window_max,
	},
	{
		.procname	= "cow_precopy_mode",
		.data		= &sysctl_cow_precopy_mode,
		.maxlen		= sizeof(sysctl_cow_precopy_mode),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_TWO,
	},
	{
		.procname	= "cow_precopy_large",
		.data		= &sysctl_cow_precopy_large,
		.maxlen		= sizeof(sysctl_cow_precopy_large),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
};

static int __init cow_precopy_init(void)
{
	register_sysctl_init("vm", cow_precopy_sysctl_table);
	return 0;
}
subsys_initcall(cow_precopy_init);
