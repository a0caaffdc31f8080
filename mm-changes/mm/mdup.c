// SPDX-License-Identifier: GPL-2.0
/*
 * mdup(): duplicate a private anonymous range copy-on-write inside the
 * calling process, as fork() duplicates it into a child.
 *
 * The source range keeps its VMAs. For each source VMA piece, a new VMA is
 * linked at the destination with
 *  - vm_pgoff chosen so that rmap computes the destination address of every
 *    page of the source piece (linear_page_index() of the source start), and
 *  - an anon_vma forked from the source's (anon_vma_fork()), linked before
 *    any PTE is copied, so rmap walks of the shared pages find both ranges;
 * then the source page tables are copied with the fork() copy routines
 * (copy_pte_range(), copy_huge_pmd()) pointed at the destination address:
 * anonymous pages are shared write-protected on both sides, pinned pages and
 * KSM pages are copied at once, THPs stay PMD-mapped when both ranges have
 * the same offset in a 2 MB page, and are split on the source otherwise.
 *
 * As in fork(): the mmap lock is held for writing and each source VMA is
 * write-locked (no per-VMA-lock fault runs on it), the copy runs inside an
 * MMU-notifier PROTECTION_PAGE range and mm->write_protect_seq (so GUP-fast
 * pins taken meanwhile are dropped and retried), and the source TLB entries
 * are flushed before the lock is released. The destination VMA is
 * write-locked from the moment it is linked.
 */
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/hugetlb.h>
#include <linux/khugepaged.h>
#include <linux/mempolicy.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/perf_event.h>
#include <linux/rmap.h>
#include <linux/security.h>
#include <linux/syscalls.h>
#include <linux/userfaultfd_k.h>
#include <asm/tlb.h>
#include <asm/tlbflush.h>
#include <uapi/linux/mdup.h>

#include "internal.h"
#include "vma.h"

/**
 * mdup_supported() - whether mdup() can duplicate a VMA
 * @vma: a VMA of the source range
 *
 * Only memory with no file behind it: a private mapping of /dev/zero is
 * anonymous (no vm_ops) but holds a file reference and sits in the file's
 * i_mmap tree, which a duplicate would have to take and join. Shadow
 * stacks are left alone, as fork's on-demand sharing leaves them.
 *
 * Return: 0, or the errno mdup() returns for the VMA: -EINVAL for anything
 * but private anonymous memory (shared, file-backed, private /dev/zero,
 * hugetlb, PFN/IO maps, stacks that grow, shadow stacks), -EBUSY for a VMA
 * registered with userfaultfd.
 */
static int mdup_supported(struct vm_area_struct *vma)
{
	if (!vma_is_anonymous(vma) || vma->vm_file ||
	    vma->vm_flags & (VM_SHARED | VM_MAYSHARE | VM_HUGETLB | VM_PFNMAP |
			     VM_MIXEDMAP | VM_IO | VM_DONTEXPAND |
			     VM_GROWSDOWN | VM_GROWSUP | VM_SHADOW_STACK))
		return -EINVAL;
	if (userfaultfd_armed(vma))
		return -EBUSY;
	return 0;
}

/**
 * mdup_check_source() - validate the source range before anything changes
 * @mm: the caller's mm, mmap lock held for writing
 * @start: start of the source range
 * @end: end of the source range
 *
 * Return: 0 when every byte of [@start, @end) is mapped by supported VMAs
 * and the destination VMAs fit under vm.max_map_count; -EFAULT for a hole,
 * the errno of mdup_supported(), or -ENOMEM.
 */
static int mdup_check_source(struct mm_struct *mm, unsigned long start,
			     unsigned long end)
{
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	unsigned long next = start;
	int nr = 0, err;

	vma_iter_init(&vmi, mm, start);
	for_each_vma_range(vmi, vma, end) {
		if (vma->vm_start > next)
			return -EFAULT;
		err = mdup_supported(vma);
		if (err)
			return err;
		nr++;
		next = vma->vm_end;
	}
	if (next < end)
		return -EFAULT;
	if (mm->map_count + nr > sysctl_max_map_count)
		return -ENOMEM;
	return 0;
}

/* The PMD of @addr in @mm, or NULL if an upper level is empty. */
static pmd_t *mdup_pmd_lookup(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none_or_clear_bad(pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none_or_clear_bad(p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none_or_clear_bad(pud))
		return NULL;
	return pmd_offset(pud, addr);
}

/* The PMD of @addr in @mm, allocating upper levels; NULL on -ENOMEM. */
static pmd_t *mdup_pmd_alloc(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	p4d = p4d_alloc(mm, pgd, addr);
	if (!p4d)
		return NULL;
	pud = pud_alloc(mm, p4d, addr);
	if (!pud)
		return NULL;
	return pmd_alloc(mm, pud, addr);
}

/**
 * mdup_copy_tables() - copy the page tables of a source piece
 * @dst: destination VMA, linked, anon_vma forked from @src
 * @src: source VMA, write-locked
 * @addr: start of the piece in @src
 * @end: end of the piece in @src
 * @delta: destination address minus source address
 *
 * Walks the piece in chunks that lie in one source and one destination page
 * table. A huge PMD is copied as one when the chunk is the whole 2 MB on
 * both sides; otherwise it is split on the source first.
 *
 * Return: 0 or -ENOMEM; on error the destination holds a partial copy,
 * which the caller unmaps.
 */
static int mdup_copy_tables(struct vm_area_struct *dst,
			    struct vm_area_struct *src, unsigned long addr,
			    unsigned long end, unsigned long delta)
{
	struct mm_struct *mm = src->vm_mm;
	pmd_t *src_pmd, *dst_pmd;
	unsigned long next;
	pmd_t pmd;
	int err;

	for (; addr < end; addr = next) {
		next = min(pmd_addr_end(addr, end),
			   pmd_addr_end(addr + delta, end + delta) - delta);
		src_pmd = mdup_pmd_lookup(mm, addr);
		if (!src_pmd)
			continue;
		pmd = pmdp_get_lockless(src_pmd);
		if (pmd_none(pmd))
			continue;
		dst_pmd = mdup_pmd_alloc(mm, addr + delta);
		if (!dst_pmd)
			return -ENOMEM;
		if (is_swap_pmd(pmd) || pmd_trans_huge(pmd) || pmd_devmap(pmd)) {
			if (next - addr == PMD_SIZE &&
			    IS_ALIGNED(delta, PMD_SIZE) &&
			    pmd_none(pmdp_get(dst_pmd))) {
				err = copy_huge_pmd(mm, mm, dst_pmd, src_pmd,
						    addr, addr + delta, dst,
						    src);
				if (err == -ENOMEM)
					return err;
				if (!err)
					continue;
				/* -EAGAIN: split (pinned); copy the PTEs */
			} else {
				split_huge_pmd(src, src_pmd, addr);
			}
		}
		if (pmd_none_or_clear_bad(src_pmd))
			continue;
		if (copy_pte_range(dst, src, dst_pmd, src_pmd, addr, next,
				   addr + delta))
			return -ENOMEM;
	}
	return 0;
}

/**
 * mdup_free_tables() - free the page tables a failed copy allocated
 * @dst: the destination VMA, not in the VMA tree, its PTEs zapped and its
 *	anon_vma links dropped (no rmap walk can reach its tables)
 *
 * mdup_copy_tables() allocates PTE, PMD and PUD tables for the destination
 * before its VMA is in the tree; exit's free_pgtables() only frees tables
 * under VMAs, so a failed copy must free them itself, as unmap_region()
 * does: up to the neighbouring VMAs, never a table one of them uses.
 */
static void mdup_free_tables(struct vm_area_struct *dst)
{
	struct mm_struct *mm = dst->vm_mm;
	struct vm_area_struct *prev, *next;
	struct mmu_gather tlb;

	next = find_vma_prev(mm, dst->vm_start, &prev);
	tlb_gather_mmu(&tlb, mm);
	free_pgd_range(&tlb, dst->vm_start, dst->vm_end,
		       prev ? prev->vm_end : FIRST_USER_ADDRESS,
		       next ? next->vm_start : USER_PGTABLES_CEILING);
	tlb_finish_mmu(&tlb);
}

/**
 * mdup_one() - duplicate the part [@start, @end) of one source VMA
 * @src: the source VMA
 * @start: start of the piece, inside @src
 * @end: end of the piece, inside @src
 * @delta: destination address minus source address
 *
 * Charges the new VMA (RLIMIT_AS/RLIMIT_DATA, overcommit for VM_ACCOUNT),
 * forks its anon_vma (rmap can find it from here on), preallocates its
 * slot in the VMA tree, copies the page tables, flushes the source TLB
 * entries and only then stores the VMA in the tree, which cannot fail
 * any more. A failed copy is undone without allocating: its PTEs are
 * zapped, its page tables freed, the anon_vma links and the charges
 * dropped. The copy is not sealed (mseal() it), so that a later piece's
 * failure can unmap it again.
 *
 * Return: 0, the piece mapped at @start + @delta; or -ENOMEM, nothing
 * mapped for it.
 */
static int mdup_one(struct vm_area_struct *src, unsigned long start,
		    unsigned long end, unsigned long delta)
{
	struct mm_struct *mm = src->vm_mm;
	unsigned long pages = (end - start) >> PAGE_SHIFT;
	struct vm_area_struct *dst;
	struct vma_iterator vmi;
	int err;

	if (!may_expand_vm(mm, src->vm_flags, pages))
		return -ENOMEM;
	if ((src->vm_flags & VM_ACCOUNT) &&
	    security_vm_enough_memory_mm(mm, pages))
		return -ENOMEM;

	dst = vm_area_dup(src);
	if (!dst)
		goto unacct;
	dst->vm_start = start + delta;
	dst->vm_end = end + delta;
	dst->vm_pgoff = linear_page_index(src, start);
	vm_flags_clear(dst, VM_LOCKED_MASK | VM_SEALED);
	vm_flags_set(dst, VM_SOFTDIRTY);
	if (vma_dup_policy(src, dst))
		goto free;
	if (anon_vma_fork(dst, src))
		goto put_policy;
	vma_iter_init(&vmi, mm, dst->vm_start);
	vma_iter_config(&vmi, dst->vm_start, dst->vm_end);
	if (vma_iter_prealloc(&vmi, dst))
		goto unlink_anon;
	vma_start_write(dst);

	if (src->anon_vma) {
		err = mdup_copy_tables(dst, src, start, end, delta);
		flush_tlb_range(src, start, end);
		if (err) {
			zap_page_range_single(dst, dst->vm_start,
					      dst->vm_end - dst->vm_start,
					      NULL);
			vma_iter_free(&vmi);
			/* rmap must not reach dst once its tables are freed */
			unlink_anon_vmas(dst);
			mdup_free_tables(dst);
			goto put_policy;
		}
	}

	vma_iter_store(&vmi, dst);
	mm->map_count++;
	validate_mm(mm);
	vm_stat_account(mm, dst->vm_flags, pages);
	perf_event_mmap(dst);
	khugepaged_enter_vma(dst, dst->vm_flags);
	return 0;

unlink_anon:
	unlink_anon_vmas(dst);
put_policy:
	mpol_put(vma_policy(dst));
free:
	vm_area_free(dst);
unacct:
	if (src->vm_flags & VM_ACCOUNT)
		vm_unacct_memory(pages);
	return -ENOMEM;
}

/**
 * mdup_locked() - duplicate [@addr, @addr + @len) at @new_addr
 * @mm: the caller's mm, mmap lock held for writing
 * @addr: source start, page aligned
 * @len: length, page aligned, nonzero
 * @new_addr: destination start (MDUP_FIXED), or 0 to let the kernel choose
 *	an address with the same offset in a 2 MB page as @addr
 * @flags: MDUP_FIXED or 0
 *
 * Return: the destination start, or a negative errno with the address
 * space as before the call (source PTEs may be left write-protected, which
 * only costs a reuse fault). A source of several VMAs whose later piece
 * fails has its earlier pieces unmapped again; that munmap can itself
 * fail only when memory for the VMA tree runs out, and is warned about.
 */
static long mdup_locked(struct mm_struct *mm, unsigned long addr,
			unsigned long len, unsigned long new_addr,
			unsigned long flags)
{
	unsigned long end = addr + len, cur, base, e;
	struct mmu_notifier_range range;
	struct vm_area_struct *vma;
	long err;

	err = mdup_check_source(mm, addr, end);
	if (err)
		return err;

	if (flags & MDUP_FIXED) {
		err = security_mmap_addr(new_addr);
		if (err)
			return err;
		if (find_vma_intersection(mm, new_addr, new_addr + len))
			return -EEXIST;
	} else {
		if (len > TASK_SIZE - PMD_SIZE)
			return -ENOMEM;
		base = get_unmapped_area(NULL, 0, len + PMD_SIZE, 0, 0);
		if (IS_ERR_VALUE(base))
			return base;
		new_addr = base + ((addr - base) & (PMD_SIZE - 1));
	}

	for (cur = addr; cur < end; cur = vma->vm_end) {
		vma = find_vma(mm, cur);
		vma_start_write(vma);
	}

	mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_PAGE, 0, mm,
				addr, end);
	mmu_notifier_invalidate_range_start(&range);
	/* As in copy_page_range(): mmap lock held for writing. */
	raw_write_seqcount_begin(&mm->write_protect_seq);
	for (cur = addr; cur < end; cur = e) {
		/* Look up again: linking a VMA changes the maple tree. */
		vma = find_vma(mm, cur);
		e = min(end, vma->vm_end);
		err = mdup_one(vma, cur, e, new_addr - addr);
		if (err)
			break;
	}
	raw_write_seqcount_end(&mm->write_protect_seq);
	mmu_notifier_invalidate_range_end(&range);

	if (err) {
		/* earlier pieces, if any (mdup_one() undid the failed one) */
		if (cur > addr)
			WARN_ON_ONCE(do_munmap(mm, new_addr, cur - addr, NULL));
		return err;
	}
	return new_addr;
}

/**
 * sys_mdup - duplicate a private anonymous range copy-on-write
 * @addr: source start, page aligned
 * @len: length in bytes, page aligned, nonzero
 * @new_addr: destination start with MDUP_FIXED, else 0
 * @flags: 0 or MDUP_FIXED
 *
 * After the call both ranges hold the source contents as of the call;
 * later writes to either are private to it. Errors (docs/mdup.2): -EINVAL
 * bad alignment, zero or overflowing length, unknown flags, new_addr
 * without MDUP_FIXED, overlapping ranges, an unsupported mapping; -EFAULT
 * a hole in the source; -EBUSY a userfaultfd-registered source; -EEXIST a
 * mapped destination; -EPERM a destination below vm.mmap_min_addr;
 * -ENOMEM no address space, destination beyond TASK_SIZE, a resource
 * limit (RLIMIT_AS, RLIMIT_DATA, overcommit, vm.max_map_count) or no
 * memory; -EINTR a fatal signal while waiting for the mmap lock.
 *
 * Return: the destination start address, or a negative errno.
 */
SYSCALL_DEFINE4(mdup, unsigned long, addr, unsigned long, len,
		unsigned long, new_addr, unsigned long, flags)
{
	struct mm_struct *mm = current->mm;
	long ret;

	addr = untagged_addr(addr);
	if (flags & ~MDUP_FIXED)
		return -EINVAL;
	if (!len || offset_in_page(addr) || offset_in_page(len))
		return -EINVAL;
	if (len > TASK_SIZE || addr > TASK_SIZE - len)
		return -EINVAL;
	if (flags & MDUP_FIXED) {
		new_addr = untagged_addr(new_addr);
		if (offset_in_page(new_addr))
			return -EINVAL;
		if (new_addr > TASK_SIZE - len)
			return -ENOMEM;
		if (new_addr < addr + len && addr < new_addr + len)
			return -EINVAL;
	} else if (new_addr) {
		return -EINVAL;
	}

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	ret = mdup_locked(mm, addr, len, new_addr, flags);
	mmap_write_unlock(mm);
	return ret;
}
