// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-Write policy for PMD-mapped transparent huge pages.
 *
 * A write fault on a THP that another process still maps (after fork())
 * cannot reuse it.  Since v5.8, do_huge_pmd_wp_page() splits the faulting
 * PMD and the retried fault copies 4K: no 2M copy latency, but the range
 * stays mapped by 512 PTEs until khugepaged happens to collapse it, and
 * every later write in it is a 4K COW fault of its own.  vm.cow_thp_policy
 * chooses what the fault does:
 *
 *  COW_THP_POLICY_SPLIT (0, the default): as 6.12.
 *  COW_THP_POLICY_COPY (1): allocate a THP, copy all 512 pages (the target
 *	subpage last, yielding between subpages) and map it with a PMD, as
 *	kernels before v5.8 did.  If the THP cannot be allocated or charged,
 *	or the source is poisoned, fall back to the split.
 *  COW_THP_POLICY_ADAPTIVE (2): split and copy 4K as 6.12 does; when a COW copy
 *	makes the number of the range's PTEs that map pages other than the
 *	source THP reach vm.cow_thp_recollapse_pct percent of 512, queue a
 *	task_work that collapses the 2M range (madvise_collapse(), the code
 *	behind MADV_COLLAPSE) before the task returns to user space.  The
 *	collapse copies every page of the range, written or still shared,
 *	into a new THP that only this process maps: it never maps a page that
 *	the other process still maps.
 *
 * The threshold is met by exactly one COW copy per range (the count grows
 * by one per copy and is taken under the PTL), so a collapse that fails
 * (a pinned page, no huge page free) is not retried on every later fault.
 *
 * Counted in /proc/vmstat: cow_thp_copy (whole THP copies),
 * cow_thp_copy_fallback (copy policy, split instead), cow_thp_recollapse
 * and cow_thp_recollapse_fail (adaptive collapses done and failed).  The
 * splits themselves are cow_thp_split (CONFIG_COW_STAT).
 */

#define pr_fmt(fmt) "cow_thp: " fmt

#include <linux/cow_thp.h>
#include <linux/init.h>
#include <linux/jump_label.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/sysctl.h>
#include <linux/task_work.h>
#include <linux/userfaultfd_k.h>
#include <linux/vmstat.h>

#include <asm/tlbflush.h>

#include "internal.h"

/* Enabled while vm.cow_thp_policy is not COW_THP_POLICY_SPLIT. */
DEFINE_STATIC_KEY_FALSE(cow_thp_key);

static int sysctl_cow_thp_policy = COW_THP_POLICY_SPLIT;
static int sysctl_cow_thp_recollapse_pct = 50;
static int cow_thp_policy_max = COW_THP_POLICY_ADAPTIVE;
/* Serialises the updates of cow_thp_key. */
static DEFINE_MUTEX(cow_thp_mutex);

/* A 2M range to collapse when the task returns to user space. */
struct cow_thp_work {
	struct callback_head cb;
	struct mm_struct *mm;
	unsigned long haddr;
};

/**
 * cow_thp_alloc_copy() - A charged, up-to-date copy of a large folio.
 * @vmf: the write fault that copies @src.
 * @src: the large anonymous folio to copy; the caller holds a reference.
 * @addr: where the copy will map its first page (aligned to its size).
 *
 * Allocates a folio of @src's order as a huge page fault of that order
 * would (vma_thp_gfp_mask(), the VMA's memory policy), charges it to the
 * mm's memory cgroup and copies @src into it, the subpage of
 * @vmf->address last, yielding between subpages.  Shared by the THP copy
 * policy and whole-mTHP COW (mm/cow_mthp.c).
 *
 * Return: the copy, with one reference, or NULL when it cannot be
 * allocated or charged or @src is poisoned.
 */
struct folio *cow_thp_alloc_copy(struct vm_fault *vmf, struct folio *src,
				 unsigned long addr)
{
	struct vm_area_struct *vma = vmf->vma;
	gfp_t gfp = vma_thp_gfp_mask(vma);
	struct folio *dst;

	dst = vma_alloc_folio(gfp, folio_order(src), vma, addr, true);
	if (!dst)
		return NULL;
	if (mem_cgroup_charge(dst, vma->vm_mm, gfp) ||
	    copy_user_large_folio(dst, src, vmf->address, vma)) {
		folio_put(dst);
		return NULL;
	}
	folio_throttle_swaprate(dst, gfp);
	/* the copy is visible before the entry that maps it */
	__folio_mark_uptodate(dst);
	return dst;
}

/**
 * __cow_thp_copy_pmd() - Copy a shared THP instead of splitting its PMD.
 * @vmf: the write fault on the PMD @vmf->orig_pmd, which maps @src; the
 *	PMD lock (@vmf->ptl) is not held.
 * @src: the THP, anonymous, mapped by another process too; the caller
 *	holds a reference on it, so no other fault can reuse it meanwhile.
 *
 * Allocates and charges a THP as a huge page fault would, copies @src into
 * it and, if the PMD did not change meanwhile, replaces the mapping as
 * wp_page_copy() replaces a PTE: clear and flush, the new folio's rmap and
 * LRU, the new PMD, and only then the old folio's rmap.  The page table
 * deposited for the PMD stays deposited; the mm's RSS does not change.
 *
 * Return: %VM_FAULT_FALLBACK when the caller should split the PMD, 0 when
 * the fault is done (or must be retried because the PMD changed).
 */
vm_fault_t __cow_thp_copy_pmd(struct vm_fault *vmf, struct folio *src)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mm_struct *mm = vma->vm_mm;
	unsigned long haddr = vmf->address & HPAGE_PMD_MASK;
	struct mmu_notifier_range range;
	struct folio *dst;
	pmd_t entry;

	if (READ_ONCE(sysctl_cow_thp_policy) != COW_THP_POLICY_COPY)
		return VM_FAULT_FALLBACK;
	/* an unshare keeps the mapping read-only: the 4K path does that */
	if ((vmf->flags & FAULT_FLAG_UNSHARE) || userfaultfd_armed(vma) ||
	    pmd_uffd_wp(vmf->orig_pmd) || !folio_test_anon(src))
		return VM_FAULT_FALLBACK;
	if (!thp_vma_suitable_order(vma, haddr, PMD_ORDER) ||
	    !thp_vma_allowable_order(vma, vma->vm_flags,
				     TVA_IN_PF | TVA_ENFORCE_SYSFS, PMD_ORDER))
		goto fallback;

	dst = cow_thp_alloc_copy(vmf, src, haddr);
	if (!dst)
		goto fallback;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, haddr,
				haddr + HPAGE_PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	spin_lock(vmf->ptl);
	if (unlikely(!pmd_same(*vmf->pmd, vmf->orig_pmd))) {
		spin_unlock(vmf->ptl);
		mmu_notifier_invalidate_range_end(&range);
		folio_put(dst);
		return 0;
	}
	entry = mk_huge_pmd(&dst->page, vma->vm_page_prot);
	entry = maybe_pmd_mkwrite(pmd_mkdirty(entry), vma);
	pmdp_huge_clear_flush(vma, haddr, vmf->pmd);
	folio_add_new_anon_rmap(dst, vma, haddr, RMAP_EXCLUSIVE);
	folio_add_lru_vma(dst, vma);
	set_pmd_at(mm, haddr, vmf->pmd, entry);
	update_mmu_cache_pmd(vma, vmf->address, vmf->pmd);
	/* as in wp_page_copy(): only after the switch and the flush */
	folio_remove_rmap_pmd(src, &src->page, vma);
	deferred_split_folio(dst, false);
	spin_unlock(vmf->ptl);
	mmu_notifier_invalidate_range_end(&range);
	/* the reference the old PMD held */
	folio_put(src);
	count_vm_event(COW_THP_COPY);
	return 0;

fallback:
	count_vm_event(COW_THP_COPY_FALLBACK);
	return VM_FAULT_FALLBACK;
}

static void cow_thp_collapse_fn(struct callback_head *cb)
{
	struct cow_thp_work *w = container_of(cb, struct cow_thp_work, cb);
	struct mm_struct *mm = w->mm;
	unsigned long haddr = w->haddr;
	struct vm_area_struct *vma, *prev;
	int ret = -EAGAIN;

	kfree(w);
	if (mm == current->mm && !mmap_read_lock_killable(mm)) {
		vma = vma_lookup(mm, haddr);
		if (vma && vma_is_anonymous(vma) &&
		    haddr + HPAGE_PMD_SIZE <= vma->vm_end)
			ret = madvise_collapse(vma, &prev, haddr,
					       haddr + HPAGE_PMD_SIZE);
		mmap_read_unlock(mm);
	}
	count_vm_event(ret ? COW_THP_RECOLLAPSE_FAIL : COW_THP_RECOLLAPSE);
	mmdrop(mm);
}

/* PTEs of the PMD range of @haddr that map a page outside @src. */
static int cow_thp_nr_moved(struct vm_fault *vmf, unsigned long haddr,
			    struct folio *src)
{
	unsigned long first = folio_pfn(src);
	spinlock_t *ptl;	/* the PTE table lock */
	pte_t *pte;
	int i, nr = 0;

	pte = pte_offset_map_lock(vmf->vma->vm_mm, vmf->pmd, haddr, &ptl);
	if (!pte)
		return -1;
	for (i = 0; i < HPAGE_PMD_NR; i++) {
		pte_t ptent = ptep_get(pte + i);

		if (pte_present(ptent) &&
		    pte_pfn(ptent) - first >= HPAGE_PMD_NR)
			nr++;
	}
	pte_unmap_unlock(pte, ptl);
	return nr;
}

/**
 * __cow_thp_copied() - Queue the collapse of a range the COW has moved.
 * @vmf: the write fault, done: its copy is mapped, the PTL released.
 * @src: the folio that was copied (referenced by the caller), or NULL.
 *
 * Only for the adaptive policy, a PMD-order anonymous @src, a user fault
 * of the current mm and a 2M range inside the VMA.  Counts, under the PTL,
 * the range's PTEs mapping pages outside @src; when the count equals the
 * threshold, queues cow_thp_collapse_fn() with TWA_RESUME: the collapse
 * takes mmap_lock for write, which a fault cannot.
 */
void __cow_thp_copied(struct vm_fault *vmf, struct folio *src)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long haddr = vmf->address & HPAGE_PMD_MASK;
	struct cow_thp_work *w;
	int need;

	if (READ_ONCE(sysctl_cow_thp_policy) != COW_THP_POLICY_ADAPTIVE || !src ||
	    folio_order(src) != HPAGE_PMD_ORDER || !folio_test_anon(src))
		return;
	if (!(vmf->flags & FAULT_FLAG_USER) ||
	    (vmf->flags & FAULT_FLAG_UNSHARE) ||
	    (current->flags & PF_KTHREAD) || current->mm != vma->vm_mm)
		return;
	if (haddr < vma->vm_start || haddr + HPAGE_PMD_SIZE > vma->vm_end ||
	    userfaultfd_armed(vma))
		return;
	need = DIV_ROUND_UP(HPAGE_PMD_NR *
			    READ_ONCE(sysctl_cow_thp_recollapse_pct), 100);
	if (cow_thp_nr_moved(vmf, haddr, src) != need)
		return;

	w = kmalloc(sizeof(*w), GFP_KERNEL | __GFP_NOWARN);
	if (!w) {
		count_vm_event(COW_THP_RECOLLAPSE_FAIL);
		return;
	}
	init_task_work(&w->cb, cow_thp_collapse_fn);
	w->mm = vma->vm_mm;
	w->haddr = haddr;
	mmgrab(w->mm);
	if (task_work_add(current, &w->cb, TWA_RESUME)) {
		mmdrop(w->mm);
		kfree(w);
		count_vm_event(COW_THP_RECOLLAPSE_FAIL);
	}
}

static int cow_thp_sysctl_policy(const struct ctl_table *table, int write,
				 void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret;

	mutex_lock(&cow_thp_mutex);
	ret = proc_dointvec_minmax(table, write, buffer, lenp, ppos);
	if (!ret && write) {
		if (READ_ONCE(sysctl_cow_thp_policy) != COW_THP_POLICY_SPLIT)
			static_branch_enable(&cow_thp_key);
		else
			static_branch_disable(&cow_thp_key);
	}
	mutex_unlock(&cow_thp_mutex);
	return ret;
}

static struct ctl_table cow_thp_sysctl_table[] = {
	{
		.procname	= "cow_thp_policy",
		.data		= &sysctl_cow_thp_policy,
		.maxlen		= sizeof(sysctl_cow_thp_policy),
		.mode		= 0644,
		.proc_handler	= cow_thp_sysctl_policy,
		.extra1		= SYSCTL_ZERO,
		.extra2		= &cow_thp_policy_max,
	},
	{
		.procname	= "cow_thp_recollapse_pct",
		.data		= &sysctl_cow_thp_recollapse_pct,
		.maxlen		= sizeof(sysctl_cow_thp_recollapse_pct),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ONE,
		.extra2		= SYSCTL_ONE_HUNDRED,
	},
};

static int __init cow_thp_init(void)
{
	register_sysctl_init("vm", cow_thp_sysctl_table);
	return 0;
}
subsys_initcall(cow_thp_init);
