/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy-on-Write of PMD-mapped transparent huge pages: the policy chosen by
 * vm.cow_thp_policy (mm/cow_thp.c).
 *
 * 6.12 splits the PMD of a shared THP on a write fault and copies 4K; the
 * range then stays PTE-mapped.  COW_THP_POLICY_COPY copies the whole THP instead,
 * COW_THP_POLICY_ADAPTIVE splits as 6.12 does and collapses the range back into a
 * PMD-mapped THP of its own once enough of it has been copied.  The default
 * is the 6.12 behaviour, and a kernel left at it pays one static branch per
 * hook.
 */
#ifndef _LINUX_COW_THP_H
#define _LINUX_COW_THP_H

#include <linux/mm_types.h>

/**
 * enum cow_thp_policy - Values of vm.cow_thp_policy.
 * @COW_THP_POLICY_SPLIT: split the PMD and copy 4K (6.12, the default).
 * @COW_THP_POLICY_COPY: copy the whole THP and map the copy with a PMD.
 * @COW_THP_POLICY_ADAPTIVE: split and copy 4K; when the share
 *	vm.cow_thp_recollapse_pct of the range's pages has been copied,
 *	collapse the range into a new THP on the way back to user space.
 */
enum cow_thp_policy {
	COW_THP_POLICY_SPLIT,
	COW_THP_POLICY_COPY,
	COW_THP_POLICY_ADAPTIVE,
};

#ifdef CONFIG_COW_THP

#include <linux/jump_label.h>

DECLARE_STATIC_KEY_FALSE(cow_thp_key);

vm_fault_t __cow_thp_copy_pmd(struct vm_fault *vmf, struct folio *src);
struct folio *cow_thp_alloc_copy(struct vm_fault *vmf, struct folio *src,
				 unsigned long addr);
void __cow_thp_copied(struct vm_fault *vmf, struct folio *src);

/**
 * cow_thp_active() - Is a policy other than %COW_THP_POLICY_SPLIT set?
 *
 * Return: true while vm.cow_thp_policy is not 0 (a static branch).
 */
static __always_inline bool cow_thp_active(void)
{
	return static_branch_unlikely(&cow_thp_key);
}

/**
 * cow_thp_copy_pmd() - Copy a shared PMD-mapped THP on a write fault.
 * @vmf: the write fault; @vmf->orig_pmd maps @src, the PMD lock is not held.
 * @src: the shared THP; the caller holds a reference on it.
 *
 * Call from do_huge_pmd_wp_page() where 6.12 would split the PMD.
 *
 * Return: %VM_FAULT_FALLBACK if the caller should split the PMD as usual
 * (policy not %COW_THP_POLICY_COPY, or the copy could not be made), otherwise the
 * fault is handled (0: the copy is mapped, or the PMD changed meanwhile and
 * the fault is retried).
 */
static __always_inline vm_fault_t cow_thp_copy_pmd(struct vm_fault *vmf,
						   struct folio *src)
{
	if (static_branch_unlikely(&cow_thp_key))
		return __cow_thp_copy_pmd(vmf, src);
	return VM_FAULT_FALLBACK;
}

/**
 * cow_thp_copied() - A COW fault has copied one page of a private mapping.
 * @vmf: the write fault; the copy is mapped and the PTL is released.
 * @src: the folio that was copied, or NULL for the zero page; the caller
 *	holds a reference on it.
 *
 * Call from wp_page_copy().  In the adaptive policy, when @src is a
 * PMD-order THP and this copy makes the share of its 2M range mapped to
 * other pages reach vm.cow_thp_recollapse_pct, queues the collapse of the
 * range for the return to user space.
 */
static __always_inline void cow_thp_copied(struct vm_fault *vmf,
					   struct folio *src)
{
	if (static_branch_unlikely(&cow_thp_key))
		__cow_thp_copied(vmf, src);
}

#else /* !CONFIG_COW_THP */

static inline bool cow_thp_active(void)
{
	return false;
}

static inline vm_fault_t cow_thp_copy_pmd(struct vm_fault *vmf,
					  struct folio *src)
{
	return VM_FAULT_FALLBACK;
}

static inline void cow_thp_copied(struct vm_fault *vmf, struct folio *src)
{
}

#endif /* CONFIG_COW_THP */

#endif /* _LINUX_COW_THP_H */
