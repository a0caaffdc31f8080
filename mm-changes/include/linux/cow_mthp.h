/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy-on-Write of multi-size THPs (mTHP) as a whole (mm/cow_mthp.c).
 *
 * 6.12 copies 4K when a process writes a page of a large anonymous folio
 * that another process still maps, and leaves the rest of the folio shared
 * and the copy a lone order-0 page.  With vm.cow_mthp_copy set, the first
 * such write copies the whole folio into a new folio of the same order.
 * Off by default: the hook is then one static branch.
 */
#ifndef _LINUX_COW_MTHP_H
#define _LINUX_COW_MTHP_H

#include <linux/mm_types.h>

#ifdef CONFIG_COW_MTHP

#include <linux/jump_label.h>

DECLARE_STATIC_KEY_FALSE(cow_mthp_key);

vm_fault_t __cow_mthp_copy(struct vm_fault *vmf, struct folio *src);

/**
 * cow_mthp_copy() - Copy a whole shared mTHP on a write fault.
 * @vmf: the write fault on @vmf->page, a page of @src; PTL not held.
 * @src: the large anonymous folio of @vmf->page, below PMD order; the
 *	caller holds a reference on it.
 *
 * Call from wp_page_copy() before it allocates an order-0 copy.
 *
 * Return: %VM_FAULT_FALLBACK when the caller should copy 4K as usual,
 * otherwise the fault is handled (0).
 */
static __always_inline vm_fault_t cow_mthp_copy(struct vm_fault *vmf,
						struct folio *src)
{
	if (static_branch_unlikely(&cow_mthp_key))
		return __cow_mthp_copy(vmf, src);
	return VM_FAULT_FALLBACK;
}

#else /* !CONFIG_COW_MTHP */

static inline vm_fault_t cow_mthp_copy(struct vm_fault *vmf,
				       struct folio *src)
{
	return VM_FAULT_FALLBACK;
}

#endif /* CONFIG_COW_MTHP */

#endif /* _LINUX_COW_MTHP_H */
