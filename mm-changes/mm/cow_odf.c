// SPDX-License-Identifier: GPL-2.0
/*
 * mm/cow_odf.c - on-demand fork: share PTE tables at fork, copy on demand.
 *
 * fork() spends most of its time in copy_pte_range(): for every present PTE
 * of a private mapping it takes a folio reference and a mapcount, clears the
 * anon-exclusive bit, write-protects the parent's PTE and writes the child's.
 * With on-demand fork (the ODF idea, EuroSys 2021) a fork instead points the
 * child's PMD at the parent's PTE table and write-protects both PMDs: a 2 MiB
 * range costs one PMD write instead of 512 PTE and struct page updates.
 *
 * The rules that keep this correct:
 *
 * - What is shared: a PTE table whose 2 MiB range lies inside one private
 *   anonymous VMA (no file, userfaultfd, mlock or shadow stack) of an mm that
 *   never pinned a page (MMF_HAS_PINNED), and whose entries are all empty or
 *   present (no swap, migration or marker entries: checked under the PTL).
 *
 * - Marking: a shared table is mapped by present, non-leaf PMDs with _PAGE_RW
 *   clear (x86 pmd_bad() accepts them). The hardware refuses every write
 *   below such a PMD, so neither side can change a page through it.
 *   ptdesc->pt_cow_odf counts the PMDs that point at the table. It and the
 *   _PAGE_RW bit of a sharer's PMD change only under the table's split PTL.
 *
 * - Accounting: the pages of a shared table hold one reference and one
 *   mapcount each, for the table, whichever number of mms map it, and keep
 *   their anon-exclusive bit. Each sharer counts the table in its nr_ptes and
 *   its pages in its MM_ANONPAGES (so VmRSS and VmPTE read as after a normal
 *   fork). Nobody may look at a page's mapcount or exclusive bit through a
 *   shared table: every path that would first takes an own copy (below) or
 *   treats the table as not mapped (rmap walks: page_vma_mapped_walk()), so
 *   what smaps, pagemap, GUP, KSM, migration and reclaim see is exact. A
 *   walk that meets a shared table queues an unshare of it in that mm
 *   (cow_odf_rmap_unshare()), so reclaim and migration succeed on their
 *   next pass: a sleeping child cannot pin its parent's memory.
 *
 * - Unsharing: a fault in a shared range (read or write, either side), GUP,
 *   a page-table walk (smaps, pagemap, mincore, madvise, mlock...), mprotect,
 *   mremap, khugepaged and userfaultfd first call cow_odf_unshare(): the last
 *   sharer takes the table back (pt_cow_odf is 1: make the PMD writable);
 *   any other copies it with copy_pte_range(), the fork code itself (shares
 *   the pages write-protected, dups their rmap, copies pinned pages), into a
 *   new table that it installs, flushes its TLB, and drops its count.
 *
 * - Unmapping: munmap, exit or MADV_DONTNEED of a whole shared 2 MiB range
 *   clears the sharer's PMD, flushes its TLB and drops the count without
 *   touching a page (cow_odf_zap()); the last sharer zaps it normally. Part
 *   of a range is unshared first.
 *
 * Counted in /proc/vmstat: cow_odf_shared (tables shared at fork),
 * cow_odf_copied (copied later), cow_odf_reused (taken back by the last
 * sharer without a copy), cow_odf_freed (dropped by a sharer without a copy),
 * cow_odf_fallback (fork could not share and copied as usual) and
 * cow_odf_rmap_unshare (unshares queued by rmap walks).
 *
 * Switched by vm.cow_odf (0: only processes that asked with
 * prctl(PR_SET_COW_ODF, PR_COW_ODF_ALWAYS); 1: every fork) and per process
 * by that prctl (not inherited by the child, reset by execve()).
 */

#include <linux/cow_odf.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/workqueue.h>
#include <linux/sched/signal.h>
#include <linux/wait_bit.h>
#include <linux/prctl.h>
#include <linux/sched/coredump.h>
#include <linux/sysctl.h>
#include <linux/userfaultfd_k.h>
#include <linux/vmstat.h>
#include <asm/pgalloc.h>
#include <asm/tlb.h>
#include <asm/tlbflush.h>

#include "internal.h"

DEFINE_STATIC_KEY_FALSE(cow_odf_key);
static int sysctl_cow_odf;
static DEFINE_MUTEX(cow_odf_key_mutex);

/*
 * Unsharing allocates and copies with sleeping locks dropped and retaken
 * (copy_pte_range()), so the threads of one mm serialize on a bit lock in
 * the mm's own flags: no mm ever waits on a lock another mm holds (the OOM
 * reaper and exit must not sleep behind an unrelated process that is
 * allocating). Not in MMF_INIT_MASK: a child starts unlocked.
 */
#define MMF_COW_ODF_LOCK	34
static_assert(!(BIT(MMF_COW_ODF_LOCK) &
		(MMF_INIT_MASK | BIT(MMF_COW_ODF_ALWAYS) |
		 BIT(MMF_COW_ODF_NEVER))));

/* One lockdep class for every mm's bit lock: lockdep sees it as a lock. */
#ifdef CONFIG_LOCKDEP
static struct lockdep_map cow_odf_lockdep_map =
	STATIC_LOCKDEP_MAP_INIT("mm->cow_odf_lock", &cow_odf_lockdep_map);
#endif

static void cow_odf_lock(struct mm_struct *mm)
{
	lock_map_acquire(&cow_odf_lockdep_map);
	wait_on_bit_lock(&mm->flags, MMF_COW_ODF_LOCK, TASK_UNINTERRUPTIBLE);
}

static bool cow_odf_trylock(struct mm_struct *mm)
{
	if (test_and_set_bit_lock(MMF_COW_ODF_LOCK, &mm->flags))
		return false;
	lock_map_acquire_try(&cow_odf_lockdep_map);
	return true;
}

static void cow_odf_unlock(struct mm_struct *mm)
{
	lock_map_release(&cow_odf_lockdep_map);
	clear_and_wake_up_bit(MMF_COW_ODF_LOCK, &mm->flags);
}

static pmd_t cow_odf_pmd_wrprotect(pmd_t pmd)
{
	return __pmd(pmd_val(pmd) & ~_PAGE_RW);
}

static pmd_t cow_odf_pmd_mkwrite(pmd_t pmd)
{
	return __pmd(pmd_val(pmd) | _PAGE_RW);
}

static atomic_t *cow_odf_sharers(pmd_t pmd)
{
	return &page_ptdesc(pmd_page(pmd))->pt_cow_odf;
}

static void cow_odf_enable_key(void)
{
	mutex_lock(&cow_odf_key_mutex);
	/* Never disabled again: shared tables may outlive the setting. */
	static_branch_enable(&cow_odf_key);
	mutex_unlock(&cow_odf_key_mutex);
}

static bool cow_odf_wanted(struct mm_struct *mm)
{
	if (test_bit(MMF_COW_ODF_NEVER, &mm->flags))
		return false;
	return test_bit(MMF_COW_ODF_ALWAYS, &mm->flags) ||
	       READ_ONCE(sysctl_cow_odf);
}

/* Pages that MM_ANONPAGES counts in the table @pmd points to. */
static unsigned int cow_odf_count_pages(pmd_t pmd)
{
	pte_t *pte = (pte_t *)pmd_page_vaddr(pmd);
	unsigned int i, pages = 0;

	for (i = 0; i < PTRS_PER_PTE; i++) {
		pte_t ptent = ptep_get(pte + i);

		if (pte_present(ptent) && !pte_special(ptent))
			pages++;
	}
	return pages;
}

/*
 * Fork's hot loop, one pass over the table @pmd points to, on raw x86 PTE
 * values: true if every entry is empty or present (no swap, migration or
 * marker entry: nothing an rmap walk could change; no uffd-wp bit; no KSM
 * zero page, which is counted per mm), and *@pagesp is then what
 * cow_odf_count_pages() would count.
 */
static bool cow_odf_scan(pmd_t pmd, unsigned int *pagesp)
{
	const pteval_t plain = _PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_SPECIAL |
			       _PAGE_UFFD_WP;
	pte_t *pte = (pte_t *)pmd_page_vaddr(pmd);
	unsigned int i, pages = 0;
	pteval_t diff = 0;

	/*
	 * A populated range: every entry a present page, nothing special.
	 * Only the bits in @plain matter, which nothing changes under the
	 * PTL, so plain loads do.
	 */
	for (i = 0; i < PTRS_PER_PTE; i += 4)
		diff |= ((pte_val(pte[i]) & plain) ^ _PAGE_PRESENT) |
			((pte_val(pte[i + 1]) & plain) ^ _PAGE_PRESENT) |
			((pte_val(pte[i + 2]) & plain) ^ _PAGE_PRESENT) |
			((pte_val(pte[i + 3]) & plain) ^ _PAGE_PRESENT);
	if (!diff) {
		*pagesp = PTRS_PER_PTE;
		return true;
	}

	for (i = 0; i < PTRS_PER_PTE; i++) {
		pte_t ptent = ptep_get(pte + i);

		if (likely((pte_val(ptent) & plain) == _PAGE_PRESENT)) {
			pages++;
			continue;
		}
		if (pte_none(ptent))
			continue;
		if (!pte_present(ptent) || pte_uffd_wp(ptent))
			return false;
		if (pte_special(ptent)) {
			if (pte_dirty(ptent))
				return false;
			continue;
		}
		pages++;
	}
	*pagesp = pages;
	return true;
}

/**
 * cow_odf_share() - Share a PTE table with the child at fork.
 * @dst_vma: the child's VMA.
 * @src_vma: the parent's VMA.
 * @dst_pmd: the child's PMD, empty.
 * @src_pmd: the parent's PMD, pointing to a PTE table.
 * @addr: start of the range being copied.
 * @end: end of the range being copied.
 *
 * Called by copy_pmd_range() with both mmap locks held for writing, before
 * copy_pte_range(). Shares only a whole 2 MiB range of a private anonymous
 * VMA that on-demand fork is on for; see the top of this file.
 *
 * Return: true if the table is now shared and the child maps it, false if
 * the caller must copy it.
 */
bool cow_odf_share(struct vm_area_struct *dst_vma,
		   struct vm_area_struct *src_vma, pmd_t *dst_pmd,
		   pmd_t *src_pmd, unsigned long addr, unsigned long end)
{
	struct mm_struct *src_mm = src_vma->vm_mm;
	struct mm_struct *dst_mm = dst_vma->vm_mm;
	unsigned int pages = 0;
	spinlock_t *pml, *ptl;
	bool shared = false;
	pmd_t pmdval;

	if (!cow_odf_active() || !cow_odf_wanted(src_mm))
		return false;
	if ((addr & ~PMD_MASK) || end - addr != PMD_SIZE)
		return false;
	if (!vma_is_anonymous(src_vma) || !is_cow_mapping(src_vma->vm_flags) ||
	    (src_vma->vm_flags & (VM_SHADOW_STACK | VM_LOCKED)) ||
	    userfaultfd_armed(src_vma) || userfaultfd_armed(dst_vma))
		return false;
	if (test_bit(MMF_HAS_PINNED, &src_mm->flags) || !pmd_none(*dst_pmd))
		goto fallback;

	pml = pmd_lock(src_mm, src_pmd);
	pmdval = *src_pmd;
	if (!pmd_present(pmdval) || pmd_leaf(pmdval)) {
		spin_unlock(pml);
		return false;
	}
	ptl = pte_lockptr(src_mm, src_pmd);
	spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
	if (cow_odf_scan(pmdval, &pages)) {
		if (cow_odf_pmd_val_shared(pmdval)) {
			atomic_inc(cow_odf_sharers(pmdval));
		} else {
			atomic_set(cow_odf_sharers(pmdval), 2);
			set_pmd(src_pmd, cow_odf_pmd_wrprotect(pmdval));
		}
		/* dup_mmap() flushes the parent's TLB when it is done. */
		set_pmd(dst_pmd, cow_odf_pmd_wrprotect(pmdval));
		shared = true;
	}
	spin_unlock(ptl);
	spin_unlock(pml);
	if (!shared)
		goto fallback;

	mm_inc_nr_ptes(dst_mm);
	add_mm_counter(dst_mm, MM_ANONPAGES, pages);
	count_vm_event(COW_ODF_SHARED);
	return true;

fallback:
	count_vm_event(COW_ODF_FALLBACK);
	return false;
}

/*
 * The last sharer takes the table *@pmd back (@pmd and its PTL locked).
 * Its pages may still be anon-exclusive and writable, as the parent's were
 * before the fork, and references taken before the fork (vmsplice(),
 * FOLL_GET) may still point at them: make them what a normal fork leaves
 * behind, write-protected and not exclusive, so that the next write goes
 * through do_wp_page() and copies a page that someone else still holds.
 */
static void cow_odf_take_back(struct mm_struct *mm, pmd_t *pmd,
			      unsigned long start)
{
	pmd_t pmdval = *pmd;
	pte_t *pte = (pte_t *)pmd_page_vaddr(pmdval);
	unsigned long addr;

	for (addr = start; addr < start + PMD_SIZE; addr += PAGE_SIZE, pte++) {
		pte_t ptent = ptep_get(pte);
		struct page *page;

		if (!pte_present(ptent) || pte_special(ptent))
			continue;
		page = pte_page(ptent);
		if (PageAnon(page) && PageAnonExclusive(page))
			ClearPageAnonExclusive(page);
		if (pte_write(ptent))
			ptep_set_wrprotect(mm, addr, pte);
	}
	atomic_set(cow_odf_sharers(pmdval), 0);
	/* No TLB entry below a read-only PMD is writable: no flush. */
	set_pmd(pmd, cow_odf_pmd_mkwrite(pmdval));
	count_vm_event(COW_ODF_REUSED);
}

/*
 * If *@pmd is no longer shared, or @mm is its last sharer (which then takes
 * it back, writable), there is nothing to copy: return true.
 */
static bool cow_odf_reuse(struct mm_struct *mm, pmd_t *pmd,
			  unsigned long start)
{
	spinlock_t *pml = pmd_lock(mm, pmd), *ptl;
	pmd_t pmdval = *pmd;
	bool done = true;

	if (cow_odf_pmd_val_shared(pmdval)) {
		atomic_t *sharers = cow_odf_sharers(pmdval);

		ptl = pte_lockptr(mm, pmd);
		spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
		if (atomic_read(sharers) <= 1)
			cow_odf_take_back(mm, pmd, start);
		else
			done = false;
		spin_unlock(ptl);
	}
	spin_unlock(pml);
	return done;
}

/* Copy the shared table *@pmd into the one @spmd gets, VMA by VMA. */
static int cow_odf_copy(struct vm_area_struct *vma, pmd_t *spmd, pmd_t *pmd,
			unsigned long start)
{
	unsigned long end = start + PMD_SIZE;
	struct vm_area_struct *v;
	int ret;

	if (vma->vm_start <= start && vma->vm_end >= end)
		return copy_pte_range(vma, vma, spmd, pmd, start, end, start);

	/* The VMA was split after the fork: needs the mmap lock. */
	mmap_assert_locked(vma->vm_mm);
	{
		VMA_ITERATOR(vmi, vma->vm_mm, start);

		for_each_vma_range(vmi, v, end) {
			unsigned long s = max(start, v->vm_start);

			ret = copy_pte_range(v, v, spmd, pmd, s,
					     min(end, v->vm_end), s);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * Undo a copy that was never installed: drop the rmap and reference of each
 * page in the table *@spmd points to, clear every entry (page_table_check
 * counts what set_pte_at() installed), then free the table.
 */
static void cow_odf_discard(struct vm_area_struct *vma, pmd_t *spmd,
			    unsigned long start)
{
	struct mm_struct *mm = vma->vm_mm;
	pmd_t pmdval = *spmd;
	unsigned long addr;
	int pages = 0;
	pte_t *pte;

	if (pmd_none(pmdval))
		return;
	pte = (pte_t *)pmd_page_vaddr(pmdval);
	for (addr = start; addr < start + PMD_SIZE; addr += PAGE_SIZE, pte++) {
		pte_t ptent = ptep_get(pte);
		struct vm_area_struct *v = vma;
		struct folio *folio;
		struct page *page;

		if (pte_none(ptent))
			continue;
		ptep_clear(mm, addr, pte);
		if (WARN_ON_ONCE(!pte_present(ptent)))
			continue;
		if (addr < v->vm_start || addr >= v->vm_end)
			v = vma_lookup(mm, addr);
		page = v ? vm_normal_page(v, addr, ptent) : NULL;
		if (!page)
			continue;
		folio = page_folio(page);
		folio_remove_rmap_pte(folio, page, v);
		folio_put(folio);
		pages++;
	}
	add_mm_counter(mm, MM_ANONPAGES, -pages);
	pmd_clear(spmd);
	pte_free(mm, pmd_pgtable(pmdval));
	mm_dec_nr_ptes(mm);
}

/* Point *@pmd at the copy in *@spmd and leave the shared table. */
static void cow_odf_install(struct vm_area_struct *vma, pmd_t *pmd,
			    pmd_t *spmd, unsigned long start)
{
	struct mm_struct *mm = vma->vm_mm;
	pmd_t pmdval, newval = *spmd;
	spinlock_t *pml, *ptl;
	unsigned int pages;
	atomic_t *sharers;

	pml = pmd_lock(mm, pmd);
	pmdval = *pmd;
	sharers = cow_odf_sharers(pmdval);
	ptl = pte_lockptr(mm, pmd);
	spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
	if (atomic_read(sharers) <= 1) {
		/* Every other sharer left while we copied: keep the original. */
		cow_odf_take_back(mm, pmd, start);
		spin_unlock(ptl);
		spin_unlock(pml);
		cow_odf_discard(vma, spmd, start);
		return;
	}
	/*
	 * This mm counted every page of the shared table; the copy counted
	 * again those of its VMAs (not a range munmap just detached).
	 */
	pages = cow_odf_count_pages(pmdval);
	set_pmd(pmd, newval);
	pmd_clear(spmd);
	/*
	 * No CPU of this mm may keep walking the shared table once another
	 * sharer can take it back or free it: flush before dropping the count.
	 */
	flush_tlb_mm_range(mm, start, start + PMD_SIZE, PAGE_SHIFT, true);
	atomic_dec(sharers);
	spin_unlock(ptl);
	spin_unlock(pml);

	/* copy_pte_range() counted the new table and its pages. */
	mm_dec_nr_ptes(mm);
	add_mm_counter(mm, MM_ANONPAGES, -(long)pages);
	count_vm_event(COW_ODF_COPIED);
}

/**
 * cow_odf_unshare() - Give this mm its own copy of a shared PTE table.
 * @vma: a VMA of the mm, mapping @addr.
 * @pmd: the PMD that maps @addr in the mm.
 * @addr: an address in the shared 2 MiB range.
 *
 * The caller holds the mmap lock (read or write) and may sleep. Nothing to
 * do if *@pmd is not (or no longer) shared. The last sharer takes the table
 * back without copying it.
 *
 * Return: 0, or -ENOMEM (then *@pmd is still shared).
 */
int cow_odf_unshare(struct vm_area_struct *vma, pmd_t *pmd,
		    unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = addr & PMD_MASK;
	struct mmu_notifier_range range;
	pmd_t *scratch, *spmd;
	int ret = 0;

	cow_odf_lock(mm);
	if (!cow_odf_pmd_val_shared(pmdp_get_lockless(pmd)) ||
	    cow_odf_reuse(mm, pmd, start))
		goto out;

	/*
	 * copy_pte_range() allocates the destination table into a PMD: give
	 * it one in a private PMD table, so that this mm keeps mapping the
	 * shared table until the copy is complete.
	 */
	scratch = pmd_alloc_one(mm, start);
	if (!scratch) {
		ret = -ENOMEM;
		goto out;
	}
	spmd = scratch + pmd_index(start);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, start,
				start + PMD_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	/*
	 * Like fork, write-protect PTEs inside write_protect_seq, so that
	 * GUP-fast cannot pin a page the copy is sharing. Writers serialize
	 * on the mmap lock (fork holds it for writing) and the mm's lock.
	 */
	raw_write_seqcount_begin(&mm->write_protect_seq);
	ret = cow_odf_copy(vma, spmd, pmd, start);
	raw_write_seqcount_end(&mm->write_protect_seq);
	if (ret)
		cow_odf_discard(vma, spmd, start);
	else
		cow_odf_install(vma, pmd, spmd, start);
	mmu_notifier_invalidate_range_end(&range);
	pmd_free(mm, scratch);
out:
	cow_odf_unlock(mm);
	return ret;
}

/**
 * cow_odf_unshare_vma() - cow_odf_unshare() under the VMA lock only.
 * @vma: the VMA mapping @addr, read-locked.
 * @pmd: the PMD that maps @addr.
 * @addr: an address in the shared 2 MiB range.
 *
 * For callers that may hold only the per-VMA lock (userfaultfd): unsharing
 * needs the mmap lock (the other VMAs of the range, write_protect_seq), so
 * try to take it; the caller's user retries on -EAGAIN.
 *
 * Return: 0, -ENOMEM, or -EAGAIN if the mmap lock was contended.
 */
int cow_odf_unshare_vma(struct vm_area_struct *vma, pmd_t *pmd,
			unsigned long addr)
{
	struct mm_struct *mm = vma->vm_mm;
	int ret;

	if (!mmap_read_trylock(mm))
		return -EAGAIN;
	ret = cow_odf_unshare(vma, pmd, addr);
	mmap_read_unlock(mm);
	return ret;
}

/**
 * cow_odf_unshare_addr() - Unshare the PTE table mapping @addr, if shared.
 * @vma: the VMA mapping @addr; the caller holds the mmap lock.
 * @addr: the address.
 *
 * For khugepaged and MADV_COLLAPSE before they scan a range. A failure
 * leaves the table shared, and the scan then skips it.
 */
void cow_odf_unshare_addr(struct vm_area_struct *vma, unsigned long addr)
{
	pmd_t *pmd;

	if (!cow_odf_active())
		return;
	pmd = mm_find_pmd(vma->vm_mm, addr);
	if (pmd && cow_odf_pmd_shared(pmd))
		cow_odf_unshare(vma, pmd, addr);
}

/*
 * Unshares that rmap walks ask for. Reclaim, migration (compaction, CMA,
 * offlining) and memory-failure unmap a page through rmap, which cannot
 * change a shared table (page_vma_mapped_walk() treats it as not mapped):
 * without help a forked child that sleeps would pin its parent's memory.
 * So a walk that meets a shared table queues an unshare of that table in
 * that mm, and a work item gives the mm its own copy; the caller's next
 * pass (reclaim and compaction come back) finds an ordinary table. The set
 * of requests is bounded and deduplicated per (mm, 2 MiB range); one that
 * does not fit is dropped, and the next walk asks again.
 */
#define COW_ODF_NR_REQS 64

struct cow_odf_req {
	struct mm_struct *mm;	/* mmgrab()bed while queued */
	unsigned long addr;	/* the address the walk met */
};

static struct cow_odf_req cow_odf_reqs[COW_ODF_NR_REQS];
static unsigned int cow_odf_nr_reqs;
static DEFINE_SPINLOCK(cow_odf_reqs_lock);

/*
 * Serve the queued requests, oldest first: in each mm that still has users
 * and is not being reaped, unshare the table under the mmap lock (read), as
 * khugepaged works on an mm. The lock is only tried, so that one mm busy
 * under its write lock does not hold up every other's requests: a request
 * that finds it taken is dropped, and the next rmap walk asks again. The
 * tables are charged to the mm's memory cgroup, as a fork's would have been
 * (so many sleeping children cannot place uncharged tables). At its limit
 * the charge reclaims or OOM-kills in that cgroup like any of its
 * allocations; the only exit that could wait for this work is the mm's
 * own, which cannot start while the work holds a user of the mm (its last
 * mmput() is asynchronous), and the OOM reaper only trylocks.
 */
static void cow_odf_reqs_fn(struct work_struct *work)
{
	struct mem_cgroup *memcg, *old;
	struct vm_area_struct *vma;
	struct cow_odf_req req;

	for (;;) {
		spin_lock_irq(&cow_odf_reqs_lock);
		if (!cow_odf_nr_reqs) {
			spin_unlock_irq(&cow_odf_reqs_lock);
			return;
		}
		req = cow_odf_reqs[0];
		memmove(cow_odf_reqs, cow_odf_reqs + 1,
			--cow_odf_nr_reqs * sizeof(*cow_odf_reqs));
		spin_unlock_irq(&cow_odf_reqs_lock);

		if (!test_bit(MMF_UNSTABLE, &req.mm->flags) &&
		    mmget_not_zero(req.mm)) {
			if (mmap_read_trylock(req.mm)) {
				memcg = get_mem_cgroup_from_mm(req.mm);
				old = set_active_memcg(memcg);
				vma = vma_lookup(req.mm, req.addr);
				if (vma && vma->anon_vma)
					cow_odf_unshare_addr(vma, req.addr);
				set_active_memcg(old);
				mem_cgroup_put(memcg);
				mmap_read_unlock(req.mm);
			}
			/* the last user's exit_mmap() must not run here */
			mmput_async(req.mm);
		}
		mmdrop(req.mm);
		cond_resched();
	}
}

static DECLARE_WORK(cow_odf_reqs_work, cow_odf_reqs_fn);

/**
 * cow_odf_rmap_unshare() - Ask for an unshare of a table an rmap walk met.
 * @mm: the mm whose PMD maps a shared PTE table at @addr.
 * @addr: the address the walk looked for.
 *
 * Called by page_vma_mapped_walk(), which may hold the anon_vma or i_mmap
 * lock, a folio lock and a PTL: takes only a spinlock and queues work.
 */
void cow_odf_rmap_unshare(struct mm_struct *mm, unsigned long addr)
{
	bool queued = false;
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&cow_odf_reqs_lock, flags);
	for (i = 0; i < cow_odf_nr_reqs; i++)
		if (cow_odf_reqs[i].mm == mm &&
		    !((cow_odf_reqs[i].addr ^ addr) & PMD_MASK))
			goto out;
	if (cow_odf_nr_reqs < COW_ODF_NR_REQS) {
		mmgrab(mm);
		cow_odf_reqs[cow_odf_nr_reqs].mm = mm;
		cow_odf_reqs[cow_odf_nr_reqs].addr = addr;
		cow_odf_nr_reqs++;
		queued = true;
	}
out:
	spin_unlock_irqrestore(&cow_odf_reqs_lock, flags);
	if (queued) {
		count_vm_event(COW_ODF_RMAP_UNSHARE);
		queue_work(system_unbound_wq, &cow_odf_reqs_work);
	}
}

/**
 * cow_odf_fault() - Unshare the PTE table of a fault before handling it.
 * @vmf: the fault, whose PMD maps a shared table.
 *
 * Under the per-VMA lock the other VMAs of the range are not stable: retry
 * the fault under the mmap lock.
 *
 * Return: 0 to go on with the fault, VM_FAULT_RETRY, or VM_FAULT_OOM.
 */
vm_fault_t cow_odf_fault(struct vm_fault *vmf)
{
	if (vmf->flags & FAULT_FLAG_VMA_LOCK) {
		vma_end_read(vmf->vma);
		return VM_FAULT_RETRY;
	}
	return cow_odf_unshare(vmf->vma, vmf->pmd, vmf->address) ?
		       VM_FAULT_OOM : 0;
}

/*
 * Drop this mm's reference to the shared table *@pmd (see cow_odf_zap()),
 * with the mm's cow_odf_lock() held by the caller. Spinlocks only: no memory
 * is allocated. The last sharer takes the table back (as after a normal
 * fork: its pages write-protected, not exclusive) and the caller zaps it.
 *
 * Return: true if this mm no longer maps the table, false if the caller
 * must zap its PTEs (taken back, or no longer shared).
 */
static bool cow_odf_drop_locked(struct mm_struct *mm, pmd_t *pmd,
				unsigned long start)
{
	unsigned int pages = 0;
	bool dropped = false;
	spinlock_t *pml, *ptl;
	pmd_t pmdval;

	VM_WARN_ON_ONCE(!test_bit(MMF_COW_ODF_LOCK, &mm->flags));
	pml = pmd_lock(mm, pmd);
	pmdval = *pmd;
	if (cow_odf_pmd_val_shared(pmdval)) {
		atomic_t *sharers = cow_odf_sharers(pmdval);

		ptl = pte_lockptr(mm, pmd);
		spin_lock_nested(ptl, SINGLE_DEPTH_NESTING);
		if (atomic_read(sharers) <= 1) {
			cow_odf_take_back(mm, pmd, start);
		} else {
			pages = cow_odf_count_pages(pmdval);
			pmd_clear(pmd);
			flush_tlb_mm_range(mm, start, start + PMD_SIZE,
					   PAGE_SHIFT, true);
			atomic_dec(sharers);
			dropped = true;
		}
		spin_unlock(ptl);
	}
	spin_unlock(pml);

	if (dropped) {
		mm_dec_nr_ptes(mm);
		add_mm_counter(mm, MM_ANONPAGES, -(long)pages);
		count_vm_event(COW_ODF_FREED);
	}
	return dropped;
}

static bool cow_odf_drop(struct mm_struct *mm, pmd_t *pmd,
			 unsigned long start)
{
	bool dropped;

	cow_odf_lock(mm);
	dropped = cow_odf_drop_locked(mm, pmd, start);
	cow_odf_unlock(mm);
	return dropped;
}

/*
 * True when no task can use @mm's memory any more except through the
 * current one, which is being killed: a failed unshare may then drop the
 * whole table instead of retrying (the process's memory is going away).
 */
static bool cow_odf_mm_dying(struct mm_struct *mm)
{
	return current->mm == mm && fatal_signal_pending(current) &&
	       atomic_read(&mm->mm_users) == 1;
}

/**
 * cow_odf_zap() - Unmap a shared PTE table's range from one sharer.
 * @tlb: the zap's mmu_gather.
 * @vma: the VMA being zapped.
 * @pmd: its PMD, mapping a shared table.
 * @addr: start of the range zapped in this PMD.
 * @end: end of the range zapped in this PMD.
 *
 * Called by zap_pmd_range() (munmap, exit, MADV_DONTNEED, the OOM reaper).
 * The whole 2 MiB: clear this mm's PMD and drop its reference, without
 * touching a page; the last sharer takes the table back and zaps it
 * normally. Part of it (the range holds several VMAs): unshare first, then
 * zap the copy normally.
 *
 * Exit (a full-mm teardown) and the OOM reaper (MMF_UNSTABLE, reaping
 * another task's mm) never copy: the whole mm is going away, so they drop
 * the whole table even for part of it, and the other VMAs of the range
 * find it gone. Nothing there allocates, and the reaper only trylocks (it
 * skips a table this mm is busy unsharing; exit drops it later).
 *
 * munmap, mmap over a mapping and MADV_DONTNEED unshare the tables they
 * will zap in part before they change anything (cow_odf_unshare_edges()),
 * where failing is still allowed; so a partial zap of a shared table here
 * is a caller that did not (warned once). Its failed unshare is retried
 * until it succeeds or the mm is dying (cow_odf_mm_dying()).
 *
 * Return: true if the range is done, false if the caller zaps the PTEs.
 */
bool cow_odf_zap(struct mmu_gather *tlb, struct vm_area_struct *vma,
		 pmd_t *pmd, unsigned long addr, unsigned long end)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long start = addr & PMD_MASK;
	bool dropped;

	if (!tlb->fullmm && test_bit(MMF_UNSTABLE, &mm->flags)) {
		/*
		 * Every user of the mm is being killed: the OOM reaper or
		 * process_mrelease() (only trylock another task's mm), or a
		 * zap of its own racing with them. Never allocate.
		 */
		if (current->mm != mm) {
			if (!cow_odf_trylock(mm))
				return true;
		} else {
			cow_odf_lock(mm);
		}
		dropped = cow_odf_drop_locked(mm, pmd, start);
		cow_odf_unlock(mm);
		return dropped;
	}
	if (tlb->fullmm ||
	    (addr == start && end == start + PMD_SIZE))
		return cow_odf_drop(mm, pmd, start);

	/*
	 * Zapping a shared table would unmap it from every sharer. Every
	 * known caller unshared the tables it cuts beforehand (see above):
	 * a caller that did not is a bug worth a warning.
	 */
	WARN_ON_ONCE(1);
	while (cow_odf_unshare(vma, pmd, addr)) {
		if (cow_odf_mm_dying(mm))
			return cow_odf_drop(mm, pmd, start);
		if (fatal_signal_pending(current))
			/* other users of the mm must leave first */
			schedule_timeout_uninterruptible(1);
		else
			cond_resched();
	}
	return false;
}

/*
 * The PMD of @addr in @mm, or NULL; *@next is then where the next PMD that
 * may exist starts (the end of an empty upper-level entry).
 */
static pmd_t *cow_odf_pmd_walk(struct mm_struct *mm, unsigned long addr,
			       unsigned long *next)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	*next = pgd_addr_end(addr, 0);
	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	*next = p4d_addr_end(addr, 0);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	*next = pud_addr_end(addr, 0);
	if (pud_none(*pud) || !pud_present(*pud) || pud_leaf(*pud))
		return NULL;
	*next = pmd_addr_end(addr, 0);
	return pmd_offset(pud, addr);
}

/**
 * cow_odf_unshare_range() - Unshare every shared table under a range.
 * @vma: the VMA; the caller holds the mmap lock.
 * @start: start of the range, inside @vma.
 * @end: end of the range, inside @vma.
 *
 * For a change that cannot be undone once it started (mprotect() and
 * UFFDIO_WRITEPROTECT change PTEs after the VMA): take every own copy
 * first, so that a failure changes nothing. Skips empty upper levels and
 * reschedules: a huge, mostly empty range costs its page tables, not its
 * size.
 *
 * Return: 0, or -ENOMEM (tables before the failing one are unshared).
 */
int cow_odf_unshare_range(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end)
{
	unsigned long addr, next;
	pmd_t *pmd;
	int ret;

	if (!cow_odf_active() || !vma->anon_vma)
		return 0;
	mmap_assert_locked(vma->vm_mm);
	for (addr = start; addr < end && addr >= start; addr = next) {
		pmd = cow_odf_pmd_walk(vma->vm_mm, addr, &next);
		if (pmd && cow_odf_pmd_shared(pmd)) {
			ret = cow_odf_unshare(vma, pmd, addr);
			if (ret)
				return ret;
		}
		cond_resched();
	}
	return 0;
}

/**
 * cow_odf_unshare_edges() - Unshare the tables a zap of a range cuts.
 * @vma: the VMA; the caller holds the mmap lock.
 * @start: start of the range to be zapped, inside @vma.
 * @end: end of that range, inside @vma.
 *
 * A zap of [@start, @end) drops every shared table wholly inside it
 * without allocating; only the tables holding a @start or @end that is not
 * 2 MiB-aligned are cut, and must be copied first. munmap (for each VMA it
 * gathers, whose boundaries are the cuts) and MADV_DONTNEED call this
 * while they can still fail, so that the zap never has to allocate.
 *
 * Return: 0, or -ENOMEM with nothing zapped.
 */
int cow_odf_unshare_edges(struct vm_area_struct *vma, unsigned long start,
			  unsigned long end)
{
	unsigned long cut[2] = { start, end }, next;
	pmd_t *pmd;
	int i, ret;

	if (!cow_odf_active() || !vma->anon_vma)
		return 0;
	mmap_assert_locked(vma->vm_mm);
	for (i = 0; i < 2; i++) {
		if (!(cut[i] & ~PMD_MASK))
			continue;
		pmd = cow_odf_pmd_walk(vma->vm_mm, cut[i], &next);
		if (!pmd || !cow_odf_pmd_shared(pmd))
			continue;
		ret = cow_odf_unshare(vma, pmd, cut[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * cow_odf_free_table() - Catch a shared table reaching free_pgtables().
 * @tlb: the mmu_gather.
 * @pmd: the PMD about to be cleared, mapping a shared table.
 * @addr: an address in its range.
 *
 * Every range is zapped before its page tables are freed, and zapping a
 * shared range drops it (cow_odf_zap()), so this should not happen; if it
 * does, drop the reference rather than free a table others still map.
 *
 * Return: true if the reference was dropped and the caller must not free.
 */
bool cow_odf_free_table(struct mmu_gather *tlb, pmd_t *pmd,
			unsigned long addr)
{
	WARN_ON_ONCE(1);
	return cow_odf_drop(tlb->mm, pmd, addr & PMD_MASK);
}

/**
 * cow_odf_set_policy() - PR_SET_COW_ODF.
 * @mm: the mm of the calling process.
 * @policy: PR_COW_ODF_DEFAULT, PR_COW_ODF_ALWAYS or PR_COW_ODF_NEVER.
 *
 * Return: 0, or -EINVAL for a bad @policy or no mm.
 */
int cow_odf_set_policy(struct mm_struct *mm, unsigned long policy)
{
	if (!mm || policy > PR_COW_ODF_NEVER)
		return -EINVAL;
	if (policy == PR_COW_ODF_ALWAYS)
		cow_odf_enable_key();
	assign_bit(MMF_COW_ODF_ALWAYS, &mm->flags,
		   policy == PR_COW_ODF_ALWAYS);
	assign_bit(MMF_COW_ODF_NEVER, &mm->flags, policy == PR_COW_ODF_NEVER);
	return 0;
}

/**
 * cow_odf_get_policy() - PR_GET_COW_ODF.
 * @mm: the mm of the calling process.
 *
 * Return: the policy PR_SET_COW_ODF set, or -EINVAL for no mm.
 */
int cow_odf_get_policy(struct mm_struct *mm)
{
	if (!mm)
		return -EINVAL;
	if (test_bit(MMF_COW_ODF_ALWAYS, &mm->flags))
		return PR_COW_ODF_ALWAYS;
	if (test_bit(MMF_COW_ODF_NEVER, &mm->flags))
		return PR_COW_ODF_NEVER;
	return PR_COW_ODF_DEFAULT;
}

static int cow_odf_sysctl(const struct ctl_table *table, int write,
			  void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret = proc_dointvec_minmax(table, write, buffer, lenp, ppos);

	if (!ret && write && READ_ONCE(sysctl_cow_odf))
		cow_odf_enable_key();
	return ret;
}

static struct ctl_table cow_odf_sysctl_table[] = {
	{
		.procname	= "cow_odf",
		.data		= &sysctl_cow_odf,
		.maxlen		= sizeof(sysctl_cow_odf),
		.mode		= 0644,
		.proc_handler	= cow_odf_sysctl,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
};

static int __init cow_odf_init(void)
{
	register_sysctl_init("vm", cow_odf_sysctl_table);
	return 0;
}
subsys_initcall(cow_odf_init);
