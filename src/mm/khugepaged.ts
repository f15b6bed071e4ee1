/**
 * MADV_HUGEPAGE / MADV_NOHUGEPAGE, and collapsing base pages into a huge page (mm/khugepaged.c):
 * MADV_COLLAPSE, and the same collapse khugepaged performs, run on request (`khugepaged_scan_mm`).
 *
 * A collapse of the 2 MiB region at `haddr` (collapse_huge_page):
 *
 *     allocate a 2 MiB folio (may reclaim)                        mmap lock not held
 *     mmap_write_lock; revalidate the VMA; anon_vma lock (write)
 *       start(CLEAR [haddr, haddr + 2 MiB))
 *         under the region's lock: detach the PTE table (pmdp_collapse_flush)
 *       end
 *       check every entry (__collapse_huge_page_isolate): none or the zero page (at most
 *       max_ptes_none of them), or a present anonymous page referenced only by its mappings;
 *       a swap or other non-present entry, a pinned page, too many shared pages: put the table
 *       back and fail
 *       copy each page into the folio, drop the old mappings and references
 *       map the folio by the PMD, writable and dirty
 *     unlock both
 *
 * The CLEAR invalidation covers only the detaching of the table, as in the kernel: the copy
 * happens with the region unmapped, so faults there wait on the mmap lock.
 *
 * Results of MADV_COLLAPSE: 0 when every aligned region in the range is PMD-mapped afterwards;
 * -EINVAL for an unsuitable VMA or a region with nothing to collapse; -EAGAIN for a transient
 * failure (swap entries, pinned or locked pages); -ENOMEM when no huge folio can be had.
 */
import { GFP_KERNEL, might_alloc } from '../locking/alloc.js';
import { EAGAIN, EINTR, EINVAL, ENOMEM } from './mm-errno.ts';
import { mmap_read_lock, mmap_read_unlock, mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { down_write, up_write } from '../locking/rwsem.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { MMU_NOTIFY_CLEAR } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import { PAGE_SIZE, PMD_SIZE, TASK_SIZE, pageAlignUp } from './constants.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER } from './compound-frames.ts';
import { PG_ANON, PG_LOCKED, PG_SWAPCACHE } from './frame-flags.ts';
import { mapNewAnonHuge, thpAllowed, thpStats, vma_adjust_trans_huge } from './huge-memory.ts';
import type { Mm } from './mm-struct.ts';
import { pteIndex } from './page-table.ts';
import { PTE_KIND_BITS, PTE_KIND_NONE, PTE_KIND_PRESENT, PTE_SPECIAL, PTE_DIRTY, PTE_WRITE, PTE_YOUNG, ptePfn, type Pte } from './pte.ts';
import { shrink } from './reclaim.ts';
import { anonVmaPrepare, freeSwapCacheIfOrphan } from './rmap.ts';
import { protBits } from './vma-ops.ts';
import { VM_HUGEPAGE, VM_HUGETLB, VM_NOHUGEPAGE, VM_SHARED, VM_WRITE } from './vma-flags.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Allow huge pages in the range (sets VM_HUGEPAGE). */
export const MADV_HUGEPAGE = 14;
/** Forbid huge pages in the range (sets VM_NOHUGEPAGE). */
export const MADV_NOHUGEPAGE = 15;
/** Collapse the range into huge pages now. */
export const MADV_COLLAPSE = 25;

/** Limits of one collapse (khugepaged's sysfs knobs; MADV_COLLAPSE lifts them). */
interface CollapseControl {
  /** khugepaged (true) or MADV_COLLAPSE (false). */
  readonly khugepaged: boolean;
  /** Most none or zero-page entries allowed. */
  readonly maxPtesNone: number;
  /** Most pages mapped by more than one mm allowed. */
  readonly maxPtesShared: number;
}

const MADVISE_CC: CollapseControl = { khugepaged: false, maxPtesNone: HPAGE_PMD_NR - 1, maxPtesShared: HPAGE_PMD_NR };
const KHUGEPAGED_CC: CollapseControl = { khugepaged: true, maxPtesNone: HPAGE_PMD_NR - 1, maxPtesShared: HPAGE_PMD_NR / 2 };

/**
 * `hugepage_madvise` for MADV_HUGEPAGE / MADV_NOHUGEPAGE over [start, end), holding the mmap
 * lock for write. A VMA split at a boundary inside a huge PMD splits that PMD first.
 * @returns 0, or -ENOMEM if part of the range is unmapped (the mapped parts are still changed).
 */
export function* madvise_hugepage(mm: Mm, start: number, end: number, advice: number): Gen<number> {
  yield* mmap_write_lock(mm);
  let ret = 0;
  let addr = start;
  while (addr < end) {
    const vma = mm.vmas.findNext(addr);
    if (vma === undefined || vma.start >= end) {
      ret = -ENOMEM;
      break;
    }
    if (vma.start > addr) ret = -ENOMEM;
    const s = Math.max(addr, vma.start);
    const e = Math.min(end, vma.end);
    const flags = advice === MADV_HUGEPAGE ? (vma.flags | VM_HUGEPAGE) & ~VM_NOHUGEPAGE : (vma.flags | VM_NOHUGEPAGE) & ~VM_HUGEPAGE;
    if (flags !== vma.flags) {
      yield* vma_adjust_trans_huge(mm, vma, s, e);
      mm.vmas.modifyFlags(vma, s, e, flags);
    }
    addr = e;
  }
  yield* mmap_write_unlock(mm);
  return ret;
}

/** `madvise_collapse` over [start, end). @returns 0 or a negative errno (see the module comment). */
export function* madvise_collapse(mm: Mm, start: number, end: number): Gen<number> {
  if (mm.killed) return -EINTR;
  if (!Number.isSafeInteger(start) || start < 0 || start % PAGE_SIZE !== 0) return -EINVAL;
  const e = pageAlignUp(end);
  if (e > TASK_SIZE) return -ENOMEM;
  yield* mmap_read_lock(mm);
  const vma = mm.vmas.find(start);
  const ok = vma !== undefined && vma.isAnon && (vma.flags & (VM_SHARED | VM_HUGETLB | VM_NOHUGEPAGE)) === 0;
  yield* mmap_read_unlock(mm);
  if (!ok) return -EINVAL;
  let last = 0;
  let done = 0;
  let tried = 0;
  for (let haddr = Math.ceil(start / PMD_SIZE) * PMD_SIZE; haddr + PMD_SIZE <= e; haddr += PMD_SIZE) {
    tried++;
    const r = yield* collapse_region(mm, haddr, MADVISE_CC);
    if (r === 0) done++;
    else last = r;
  }
  if (tried === 0) return -EINVAL;
  return done === tried ? 0 : last;
}

/**
 * One khugepaged pass over `mm`, run on request: every 2 MiB region of every VMA where the THP
 * mode allows huge pages is collapsed if khugepaged's limits allow. @returns regions collapsed.
 */
export function* khugepaged_scan_mm(mm: Mm): Gen<number> {
  if (mm.killed || mm.dead) return 0;
  yield* mmap_read_lock(mm);
  const regions: number[] = [];
  for (const v of mm.vmas) {
    for (let haddr = Math.ceil(v.start / PMD_SIZE) * PMD_SIZE; haddr + PMD_SIZE <= v.end; haddr += PMD_SIZE) {
      if (thpAllowed(mm.sys, v, haddr) && mm.pt.getPmd(haddr) === 0) regions.push(haddr);
    }
  }
  yield* mmap_read_unlock(mm);
  let n = 0;
  for (const haddr of regions) if ((yield* collapse_region(mm, haddr, KHUGEPAGED_CC)) === 0) n++;
  return n;
}

/** Collapses the region at `haddr` (collapse_huge_page). @returns 0 or a negative errno. */
function* collapse_region(mm: Mm, haddr: number, cc: CollapseControl): Gen<number> {
  const sys = mm.sys;
  if (mm.pt.getPmd(haddr) !== 0) return 0; // already PMD-mapped
  if (mm.pt.leafAt(haddr) < 0) return -EINVAL; // nothing there (SCAN_PMD_NULL)
  // The allocation happens with the mmap lock dropped; MADV_COLLAPSE may reclaim for it.
  yield sys.world.point('alloc_huge_page (collapse)', sys.allocator, Access.Write);
  might_alloc(GFP_KERNEL);
  let folio = sys.frames.allocCompound(HPAGE_PMD_ORDER);
  if (folio < 0 && !cc.khugepaged) {
    yield* shrink(sys, HPAGE_PMD_NR);
    folio = sys.frames.allocCompound(HPAGE_PMD_ORDER);
  }
  if (folio < 0) return -ENOMEM;
  yield* mmap_write_lock(mm);
  const ret = yield* collapseLocked(mm, haddr, folio, cc);
  yield* mmap_write_unlock(mm);
  if (ret !== 0) sys.putPage(folio);
  return ret;
}

function* collapseLocked(mm: Mm, haddr: number, folio: number, cc: CollapseControl): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const pt = mm.pt;
  const vma = mm.vmas.find(haddr);
  // hugepage_vma_revalidate: the VMA may have changed while the lock was dropped.
  if (vma === undefined || !suitable(mm, vma, haddr, cc)) return -EINVAL;
  if (pt.getPmd(haddr) !== 0) return 0;
  const leaf = pt.leafAt(haddr);
  if (leaf < 0) return -EINVAL;
  const first = pteIndex(haddr);
  // Check before detaching (the kernel checks while detached; nothing can change meanwhile here).
  const check = scan(mm, leaf, first, cc);
  if (check !== 0) return check;
  const lock = sys.anonLock(anonVmaPrepare(sys, vma));
  yield* down_write(lock);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, haddr, haddr + PMD_SIZE);
  yield* mmu_notifier_invalidate_range_start(range);
  const ptl = mm.ptl(haddr);
  yield* spin_lock(ptl);
  // Take the old entries out of the table (pmdp_collapse_flush detaches it whole).
  const old: Pte[] = new Array<Pte>(HPAGE_PMD_NR);
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    old[i] = pt.getAt(leaf, first + i);
    if (old[i] !== 0) pt.setAt(leaf, first + i, 0);
  }
  pt.removeLeafTable(haddr);
  yield* spin_unlock(ptl);
  yield* mmu_notifier_invalidate_range_end(range);
  // __collapse_huge_page_copy: contents into the new folio, old pages released.
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pte = old[i]!;
    if ((pte & PTE_KIND_BITS) !== PTE_KIND_PRESENT || (pte & PTE_SPECIAL) !== 0) continue;
    const src = ptePfn(pte);
    if (f.hasContents(src)) f.loadContents(folio + i, f.saveContents(src));
    f.decMapcount(src);
    freeSwapCacheIfOrphan(sys, src);
    sys.putPage(src);
  }
  yield* spin_lock(ptl);
  const bits = ((vma.flags & VM_WRITE) !== 0 ? PTE_WRITE : 0) | PTE_DIRTY | PTE_YOUNG | protBits(vma);
  mapNewAnonHuge(mm, vma, haddr, folio, bits);
  yield* spin_unlock(ptl);
  yield* up_write(lock);
  thpStats(sys).collapse++;
  return 0;
}

function suitable(mm: Mm, vma: Vma, haddr: number, cc: CollapseControl): boolean {
  if (!vma.isAnon || (vma.flags & (VM_SHARED | VM_HUGETLB | VM_NOHUGEPAGE)) !== 0) return false;
  if (haddr < vma.start || haddr + PMD_SIZE > vma.end) return false;
  if ((vma.start / PAGE_SIZE - vma.pgoff) % HPAGE_PMD_NR !== 0) return false;
  return !cc.khugepaged || thpAllowed(mm.sys, vma, haddr);
}

/** `hpage_collapse_scan_pmd` / `__collapse_huge_page_isolate`'s checks. @returns 0 or an errno. */
function scan(mm: Mm, leaf: number, first: number, cc: CollapseControl): number {
  const f = mm.sys.frames;
  let none = 0;
  let shared = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pte = mm.pt.getAt(leaf, first + i);
    const kind = pte & PTE_KIND_BITS;
    if (kind === PTE_KIND_NONE || (kind === PTE_KIND_PRESENT && (pte & PTE_SPECIAL) !== 0)) {
      if (++none > cc.maxPtesNone) return -EINVAL;
      continue;
    }
    if (kind !== PTE_KIND_PRESENT) return -EAGAIN; // swap, migration, device entries
    const pfn = ptePfn(pte);
    // A device-coherent page is no LRU page to collapse (v6.0: SCAN_PAGE_NULL, -EINVAL).
    if (f.isZoneDevice(pfn)) return -EINVAL;
    if (!f.testFlags(pfn, PG_ANON) || f.testFlags(pfn, PG_LOCKED)) return -EAGAIN;
    if (f.mapcount(pfn) > 1 && ++shared > cc.maxPtesShared) return -EAGAIN;
    // Only the mappings (and the swap cache) may hold references: anything more is a pin.
    const expected = f.isCompound(pfn)
      ? f.entireMapcount(pfn) + f.pteMapcountTotal(pfn)
      : f.mapcount(pfn);
    if (f.refcount(pfn) !== expected + (f.testFlags(pfn, PG_SWAPCACHE) ? 1 : 0)) return -EAGAIN;
  }
  return 0;
}
