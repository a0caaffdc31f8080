/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-demand fork (mm/cow_odf.c): fork() shares the last-level page tables of
 * private anonymous memory instead of copying them; the first fault or
 * page-table change in a shared 2 MiB range copies the table.
 */
#ifndef _LINUX_COW_ODF_H
#define _LINUX_COW_ODF_H

#include <linux/jump_label.h>
#include <linux/mm_types.h>
#include <linux/pgtable.h>

struct mmu_gather;

#ifdef CONFIG_COW_ODF
DECLARE_STATIC_KEY_FALSE(cow_odf_key);

/**
 * cow_odf_active() - Has on-demand fork ever been enabled?
 *
 * Return: false, a patched-out branch, until vm.cow_odf or PR_SET_COW_ODF
 * first turns it on.
 */
static inline bool cow_odf_active(void)
{
	return static_branch_unlikely(&cow_odf_key);
}

/**
 * cow_odf_pmd_val_shared() - Does this PMD value point to a shared PTE table?
 * @pmd: a PMD value.
 *
 * A PTE table shared by on-demand fork is mapped by a present, non-leaf PMD
 * with _PAGE_RW clear: the hardware then refuses every write below it, and
 * no other code clears _PAGE_RW in a non-leaf PMD.
 *
 * Return: true if @pmd maps a shared PTE table.
 */
static inline bool cow_odf_pmd_val_shared(pmd_t pmd)
{
	return pmd_present(pmd) && !pmd_leaf(pmd) &&
	       !(pmd_flags(pmd) & _PAGE_RW);
}

/**
 * cow_odf_pmd_shared() - Does *@pmd point to a shared PTE table?
 * @pmd: a PMD entry.
 *
 * Costs a patched-out branch until on-demand fork is first enabled.
 *
 * Return: true if *@pmd maps a shared PTE table.
 */
static inline bool cow_odf_pmd_shared(pmd_t *pmd)
{
	return cow_odf_active() &&
	       cow_odf_pmd_val_shared(pmdp_get_lockless(pmd));
}

bool cow_odf_share(struct vm_area_struct *dst_vma,
		   struct vm_area_struct *src_vma, pmd_t *dst_pmd,
		   pmd_t *src_pmd, unsigned long addr, unsigned long end);
int cow_odf_unshare(struct vm_area_struct *vma, pmd_t *pmd,
		    unsigned long addr);
int cow_odf_unshare_vma(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr);
void cow_odf_unshare_addr(struct vm_area_struct *vma, unsigned long addr);
void cow_odf_rmap_unshare(struct mm_struct *mm, unsigned long addr);
int cow_odf_unshare_range(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end);
int cow_odf_unshare_edges(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end);
vm_fault_t cow_odf_fault(struct vm_fault *vmf);
bool cow_odf_zap(struct mmu_gather *tlb, struct vm_area_struct *vma,
		 pmd_t *pmd, unsigned long addr, unsigned long end);
bool cow_odf_free_table(struct mmu_gather *tlb, pmd_t *pmd,
			unsigned long addr);
int cow_odf_set_policy(struct mm_struct *mm, unsigned long policy);
int cow_odf_get_policy(struct mm_struct *mm);
#else
static inline bool cow_odf_active(void)
{
	return false;
}

static inline bool cow_odf_pmd_val_shared(pmd_t pmd)
{
	return false;
}

static inline bool cow_odf_pmd_shared(pmd_t *pmd)
{
	return false;
}

static inline bool cow_odf_share(struct vm_area_struct *dst_vma,
				 struct vm_area_struct *src_vma,
				 pmd_t *dst_pmd, pmd_t *src_pmd,
				 unsigned long addr, unsigned long end)
{
	return false;
}

static inline int cow_odf_unshare(struct vm_area_struct *vma, pmd_t *pmd,
				  unsigned long addr)
{
	return 0;
}

static inline int cow_odf_unshare_vma(struct vm_area_struct *vma,
				      pmd_t *pmd, unsigned long addr)
{
	return 0;
}

static inline void cow_odf_unshare_addr(struct vm_area_struct *vma,
					unsigned long addr)
{
}

static inline int cow_odf_unshare_range(struct vm_area_struct *vma,
					unsigned long start, unsigned long end)
{
	return 0;
}

static inline int cow_odf_unshare_edges(struct vm_area_struct *vma,
					unsigned long start, unsigned long end)
{
	return 0;
}

static inline vm_fault_t cow_odf_fault(struct vm_fault *vmf)
{
	return 0;
}

static inline bool cow_odf_zap(struct mmu_gather *tlb,
			       struct vm_area_struct *vma, pmd_t *pmd,
			       unsigned long addr, unsigned long end)
{
	return false;
}

static inline bool cow_odf_free_table(struct mmu_gather *tlb, pmd_t *pmd,
				      unsigned long addr)
{
	return false;
}

static inline void cow_odf_rmap_unshare(struct mm_struct *mm,
					unsigned long addr)
{
}
#endif /* CONFIG_COW_ODF */

#endif /* _LINUX_COW_ODF_H */
