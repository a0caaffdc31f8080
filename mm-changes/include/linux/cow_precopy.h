/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copy-on-Write pre-copy: hooks for the COW write fault paths.
 *
 * When a write fault copies page N of a private anonymous mapping, the
 * neighbours N+1.. (or N-1.. for a backward stream) that a write would
 * also copy are copied in the same fault and mapped read-only but
 * exclusive, so that their own write fault is a cheap reuse.  Off by
 * default: vm.cow_precopy_max enables it and toggles cow_precopy_key, so
 * a kernel with the feature off pays one static branch per hook.  See
 * mm/cow_precopy.c.
 */
#ifndef _LINUX_COW_PRECOPY_H
#define _LINUX_COW_PRECOPY_H

#include <linux/errno.h>
#include <linux/mm_types.h>

/**
 * enum cow_precopy_policy - Per-process choice, set with prctl().
 * @COW_PRECOPY_POLICY_DEFAULT: follow vm.cow_precopy_mode and the madvise
 *	hints of each range (PR_COW_PRECOPY_DEFAULT).
 * @COW_PRECOPY_POLICY_DISABLE: never pre-copy in this process
 *	(PR_COW_PRECOPY_DISABLE).
 * @COW_PRECOPY_POLICY_MAX: always use the full vm.cow_precopy_max window
 *	in this process, except in MADV_RANDOM ranges (PR_COW_PRECOPY_MAX).
 * @COW_PRECOPY_NR_POLICIES: number of policies.
 *
 * The values are those of the PR_COW_PRECOPY_* prctl arguments.
 */
enum cow_precopy_policy {
	COW_PRECOPY_POLICY_DEFAULT,
	COW_PRECOPY_POLICY_DISABLE,
	COW_PRECOPY_POLICY_MAX,
	COW_PRECOPY_NR_POLICIES
};

#ifdef CONFIG_COW_PRECOPY

#include <linux/jump_label.h>
#include <linux/sched.h>
#include <linux/string.h>

struct vm_fault;

DECLARE_STATIC_KEY_FALSE(cow_precopy_key);

void __cow_precopy_fault(struct vm_fault *vmf, struct folio *src);
vm_fault_t __cow_precopy_block(struct vm_fault *vmf, struct folio *src);
void __cow_precopy_reuse(struct vm_area_struct *vma, struct folio *folio);
void __cow_precopy_unmap(struct folio *folio, bool dirty);
int cow_precopy_set_policy(struct mm_struct *mm, unsigned long policy);
int cow_precopy_get_policy(struct mm_struct *mm);

/**
 * cow_precopy_fault() - Pre-copy the neighbours of a finished COW copy.
 * @vmf: the write fault; the new PTE for @vmf->address is installed and
 *	the PTL is released.
 * @src: the folio that was copied (the caller still holds a reference).
 *
 * Call from wp_page_copy() once a copy has been mapped.  Does nothing
 * unless vm.cow_precopy_max is nonzero.
 */
static __always_inline void cow_precopy_fault(struct vm_fault *vmf,
					      struct folio *src)
{
	if (static_branch_unlikely(&cow_precopy_key))
		__cow_precopy_fault(vmf, src);
}

/**
 * cow_precopy_block() - Copy a COW fault's aligned block into one folio.
 * @vmf: the write fault, before wp_page_copy() copies 4K; PTL not held.
 * @src: the order-0 anonymous folio of @vmf->page (referenced).
 *
 * Call from wp_page_copy().  With vm.cow_precopy_large, copies the
 * fault's whole 16-page block into one folio and pre-copies the window
 * after it.
 *
 * Return: 0 when the fault is handled, %VM_FAULT_FALLBACK otherwise.
 */
static __always_inline vm_fault_t cow_precopy_block(struct vm_fault *vmf,
						    struct folio *src)
{
	if (static_branch_unlikely(&cow_precopy_key))
		return __cow_precopy_block(vmf, src);
	return VM_FAULT_FALLBACK;
}

/**
 * cow_precopy_reuse() - A write fault reuses an exclusive anonymous folio.
 * @vma: the VMA of the fault.
 * @folio: the folio about to be made writable, order 0 or large.
 *
 * Call from the reuse path of do_wp_page(), under the PTL.  Counts
 * cow_precopy_used when @folio was pre-copied and not written since.
 */
static __always_inline void cow_precopy_reuse(struct vm_area_struct *vma,
					      struct folio *folio)
{
	if (static_branch_unlikely(&cow_precopy_key))
		__cow_precopy_reuse(vma, folio);
}

/**
 * cow_precopy_unmap() - An anonymous or file folio lost a PTE mapping.
 * @folio: the folio, after folio_remove_rmap_ptes().
 * @dirty: the PTE that was removed was dirty.
 *
 * Call from the zap path.  When @folio was pre-copied and is now
 * unmapped, counts cow_precopy_used if it was written through a writable
 * pre-copy PTE (@dirty), cow_precopy_wasted if it was never written.
 */
static __always_inline void cow_precopy_unmap(struct folio *folio, bool dirty)
{
	if (static_branch_unlikely(&cow_precopy_key))
		__cow_precopy_unmap(folio, dirty);
}

/**
 * cow_precopy_mm_init() - Reset the pre-copy state of a new mm.
 * @mm: the mm being initialised by mm_init().
 *
 * The stream state starts empty.  The prctl() policy is inherited from
 * current->mm, as fork() and execve() inherit PR_SET_THP_DISABLE.
 */
static inline void cow_precopy_mm_init(struct mm_struct *mm)
{
	int policy = current->mm ?
		READ_ONCE(current->mm->cow_precopy.policy) :
		COW_PRECOPY_POLICY_DEFAULT;

	memset(&mm->cow_precopy, 0, sizeof(mm->cow_precopy));
	mm->cow_precopy.policy = policy;
}

#else /* !CONFIG_COW_PRECOPY */

static inline void cow_precopy_fault(struct vm_fault *vmf, struct folio *src)
{
}

static inline vm_fault_t cow_precopy_block(struct vm_fault *vmf,
					   struct folio *src)
{
	return VM_FAULT_FALLBACK;
}

static inline void cow_precopy_reuse(struct vm_area_struct *vma,
				     struct folio *folio)
{
}

static inline void cow_precopy_unmap(struct folio *folio, bool dirty)
{
}

static inline void cow_precopy_mm_init(struct mm_struct *mm)
{
}

static inline int cow_precopy_set_policy(struct mm_struct *mm,
					 unsigned long policy)
{
	return -EINVAL;
}

static inline int cow_precopy_get_policy(struct mm_struct *mm)
{
	return -EINVAL;
}

#endif /* CONFIG_COW_PRECOPY */

#endif /* _LINUX_COW_PRECOPY_H */
