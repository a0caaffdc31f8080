// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-Write of a whole multi-size THP (mTHP) on its first write.
 *
 * A write fault on a page of a large anonymous folio that another process
 * still maps copies that 4K page in 6.12: the writer ends with an order-0
 * copy beside the rest of the shared folio, which stays partially mapped
 * by it, and every later write in the folio is one more 4K COW fault.  With
 * vm.cow_mthp_copy = 1 the first such write copies the whole folio into a
 * new folio of the same order instead, as a huge page fault of that order
 * would allocate it, and maps it in one step:
 *
 *  1. under the PTL, check that the folio's naturally aligned range lies in
 *     the VMA and that each of its PTEs is present, read-only, not uffd-wp
 *     or NUMA-hinting, and maps the matching page of the folio, which is
 *     not AnonExclusive; the folio is anonymous, not KSM, not maybe pinned;
 *  2. without the PTL, allocate, charge and copy with cow_thp_alloc_copy()
 *     (target subpage last, yielding between subpages);
 *  3. one MMU notifier range; under the PTL the same checks again; clear
 *     every PTE, one TLB flush, then the new folio's rmap, LRU and PTEs,
 *     and only after the flush the old folio's rmap, as wp_page_copy() does
 *     for one PTE.
 *
 * The written page is mapped writable and dirty; the others read-only but
 * AnonExclusive, with the soft-dirty bit their PTE had, so their first
 * write is a reuse fault (no copy) and soft-dirty stays exact.  When a
 * check fails or memory is short, the fault copies 4K as 6.12 does
 * (counted in cow_mthp_copy_fallback); whole copies count in
 * cow_mthp_copy.  PMD-order folios are left to vm.cow_thp_policy.
 */

#define pr_fmt(fmt) "cow_mthp: " fmt

#include <linux/bitmap.h>
#include <linux/cow_mthp.h>
#include <linux/cow_thp.h>
#include <linux/hugetlb.h>
#include <linux/init.h>
#include <linux/jump_label.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/sysctl.h>
#include <linux/userfaultfd_k.h>
#include <linux/vmstat.h>

#include <asm/tlbflush.h>

#include "internal.h"

/* Enabled while vm.cow_mthp_copy is 1. */
DEFINE_STATIC_KEY_FALSE(cow_mthp_key);

static int sysctl_cow_mthp_copy;
/* Serialises the updates of cow_mthp_key. */
static DEFINE_MUTEX(cow_mthp_mutex);

/* The largest folio handled: one below PMD order (1M with 4K pages). */
#define COW_MTHP_MAX_NR		(HPAGE_PMD_NR / 2)

/*
 * May the @nr PTEs at @pte, for @addr.., be replaced by a copy of @src?
 * Called under their PTL.
 */
static bool cow_mthp_ptes_ok(struct folio *src, pte_t *pte, unsigned int nr)
{
	unsigned long pfn = folio_pfn(src);
	unsigned int i;

	if (folio_maybe_dma_pinned(src) || folio_test_ksm(src))
		return false;
	for (i = 0; i < nr; i++) {
		pte_t ptent = ptep_get(pte + i);

		if (!pte_present(ptent) || pte_write(ptent) ||
		    pte_uffd_wp(ptent) || pte_protnone(ptent) ||
		    pte_pfn(ptent) != pfn + i ||
		    PageAnonExclusive(folio_page(src, i)))
			return false;
	}
	return true;
}

/**
 * __cow_mthp_copy() - Copy a whole shared mTHP on a write fault.
 * @vmf: the write fault on @vmf->page, a page of @src; PTL not held.
 * @src: large anonymous folio below PMD order, referenced by the caller.
 *
 * Return: 0 when the copy is mapped, %VM_FAULT_FALLBACK when the caller
 * must copy 4K instead.
 */
vm_fault_t __cow_mthp_copy(struct vm_fault *vmf, struct folio *src)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	unsigned int order = folio_order(src), nr = 1U << order, i;
	DECLARE_BITMAP(soft_dirty, COW_MTHP_MAX_NR);
	struct mmu_notifier_range range;
	unsigned long addr, size, target;
	struct folio *dst;
	spinlock_t *ptl;	/* the PTE table lock */
	pte_t *pte;
	bool ok;

	if (!READ_ONCE(sysctl_cow_mthp_copy) || nr > COW_MTHP_MAX_NR ||
	    !folio_test_anon(src) || (vmf->flags & FAULT_FLAG_UNSHARE) ||
	    userfaultfd_armed(vma))
		return VM_FAULT_FALLBACK;
	size = (unsigned long)nr << PAGE_SHIFT;
	target = vmf->address & PAGE_MASK;
	addr = target - (folio_page_idx(src, vmf->page) << PAGE_SHIFT);
	if (!IS_ALIGNED(addr, size) || addr < vma->vm_start ||
	    addr + size > vma->vm_end ||
	    !thp_vma_allowable_order(vma, vma->vm_flags,
				     TVA_IN_PF | TVA_ENFORCE_SYSFS, order))
		goto fallback;

	pte = pte_offset_map_lock(mm, vmf->pmd, addr, &ptl);
	if (!pte)
		goto fallback;
	ok = cow_mthp_ptes_ok(src, pte, nr);
	pte_unmap_unlock(pte, ptl);
	if (!ok)
		goto fallback;

	dst = cow_thp_alloc_copy(vmf, src, addr);
	if (!dst)
		goto fallback;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, addr,
				addr + size);
	mmu_notifier_invalidate_range_start(&range);
	pte = pte_offset_map_lock(mm, vmf->pmd, addr, &ptl);
	if (!pte || !cow_mthp_ptes_ok(src, pte, nr)) {
		if (pte)
			pte_unmap_unlock(pte, ptl);
		mmu_notifier_invalidate_range_end(&range);
		goto put;
	}
	flush_cache_range(vma, addr, addr + size);
	bitmap_zero(soft_dirty, COW_MTHP_MAX_NR);
	for (i = 0; i < nr; i++) {
		pte_t old = ptep_get_and_clear(mm, addr + i * PAGE_SIZE,
					       pte + i);

		if (pte_soft_dirty(old))
			__set_bit(i, soft_dirty);
	}
	flush_tlb_range(vma, addr, addr + size);
	/* one reference per PTE: the allocation's is the first */
	folio_ref_add(dst, nr - 1);
	folio_add_new_anon_rmap(dst, vma, addr, RMAP_EXCLUSIVE);
	folio_add_lru_vma(dst, vma);
	for (i = 0; i < nr; i++) {
		unsigned long a = addr + i * PAGE_SIZE;
		pte_t entry = mk_pte(folio_page(dst, i), vma->vm_page_prot);

		entry = pte_sw_mkyoung(entry);
		if (a == target) {
			entry = maybe_mkwrite(pte_mkdirty(entry), vma);
		} else {
			/* read-only, exclusive: the first write reuses it */
			entry = pte_wrprotect(entry);
			if (test_bit(i, soft_dirty))
				entry = pte_mksoft_dirty(entry);
		}
		set_pte_at(mm, a, pte + i, entry);
	}
	update_mmu_cache_range(vmf, vma, addr, pte, nr);
	/* only after the switch and the flush (see wp_page_copy()) */
	folio_remove_rmap_ptes(src, folio_page(src, 0), nr, vma);
	pte_unmap_unlock(pte, ptl);
	mmu_notifier_invalidate_range_end(&range);
	/* the references the old PTEs held */
	folio_put_refs(src, nr);
	count_vm_event(COW_MTHP_COPY);
	return 0;

put:
	folio_put(dst);
fallback:
	count_vm_event(COW_MTHP_COPY_FALLBACK);
	return VM_FAULT_FALLBACK;
}

static int cow_mthp_sysctl(const struct ctl_table *table, int write,
			   void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret;

	mutex_lock(&cow_mthp_mutex);
	ret = proc_dointvec_minmax(table, write, buffer, lenp, ppos);
	if (!ret && write) {
		if (READ_ONCE(sysctl_cow_mthp_copy))
			static_branch_enable(&cow_mthp_key);
		else
			static_branch_disable(&cow_mthp_key);
	}
	mutex_unlock(&cow_mthp_mutex);
	return ret;
}

static struct ctl_table cow_mthp_sysctl_table[] = {
	{
		.procname	= "cow_mthp_copy",
		.data		= &sysctl_cow_mthp_copy,
		.maxlen		= sizeof(sysctl_cow_mthp_copy),
		.mode		= 0644,
		.proc_handler	= cow_mthp_sysctl,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
};

static int __init cow_mthp_init(void)
{
	register_sysctl_init("vm", cow_mthp_sysctl_table);
	return 0;
}
subsys_initcall(cow_mthp_init);
