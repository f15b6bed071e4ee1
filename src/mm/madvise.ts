/**
 * madvise (mm/madvise.c): DONTNEED, FREE and the POPULATE pair, with the mmap lock held for read
 * (so faults run concurrently with them).
 *
 * MADV_DONTNEED zaps each VMA part under its own CLEAR invalidation (zap_page_range_single):
 * anonymous memory reads as zeros afterwards, file memory as the file.
 *
 * MADV_FREE (anonymous private memory only) keeps the pages mapped but marks them lazily
 * freeable: clean, old, and no longer swap-backed. Reclaim may then discard one instead of
 * swapping it out, so it reads as zeros, unless it was written again first (a store sets the
 * dirty bit, which makes it live data again). Pages shared with another mm are left alone.
 * Swapped-out pages in the range are simply dropped.
 */
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { MMU_NOTIFY_CLEAR } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { PAGE_SIZE, PMD_SIZE, TASK_SIZE, pageAlignUp } from './constants.ts';
import { PG_ANON, PG_DIRTY, PG_LOCKED, PG_SWAPBACKED, PG_SWAPCACHE } from './frame-flags.ts';
import { EINTR, EINVAL, ENOMEM } from './mm-errno.ts';
import { free_huge_range } from './huge-pmd-ops.ts';
import { unmap_hugepage_range } from './hugetlb.ts';
import { MADV_COLLAPSE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, madvise_collapse, madvise_hugepage } from './khugepaged.ts';
export { MADV_COLLAPSE, MADV_HUGEPAGE, MADV_NOHUGEPAGE } from './khugepaged.ts';
import type { Mm } from './mm-struct.ts';
import { populateRange } from './populate.ts';
import { KIND_MASK_ANY, PTE_DIRTY, PTE_KIND_BITS, PTE_KIND_PRESENT, PTE_KIND_SWAP, PTE_SPECIAL, PTE_YOUNG, ptePfn } from './pte.ts';
import { deleteFromSwapCache, freeSwapEntry } from './rmap.ts';
import { VM_HUGETLB, VM_LOCKED, VM_PFNMAP, VM_SHARED } from './vma-flags.ts';
import type { Vma } from './vma.ts';
import { TlbGather, zapRange } from './zap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The pages are not needed: zap them. */
export const MADV_DONTNEED = 4;
/** The pages may be discarded by reclaim instead of swapped, until written again. */
export const MADV_FREE = 8;
const THP_ADVICE = new Set([MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE]);

/** Fault the range in for read. */
export const MADV_POPULATE_READ = 22;
/** Fault the range in for write. */
export const MADV_POPULATE_WRITE = 23;

/**
 * `madvise(start, len, advice)`. @returns 0; -EINVAL (unaligned start, unknown advice, FREE on
 * memory that is not private anonymous, DONTNEED on locked/PFN/hugetlb VMAs); -ENOMEM (part of
 * the range unmapped; the mapped parts are still advised, as in the kernel).
 */
export function* sys_madvise(mm: Mm, start: number, len: number, advice: number): Gen<number> {
  if (mm.killed) return -EINTR;
  if (!Number.isSafeInteger(start) || start < 0 || start % PAGE_SIZE !== 0 || !Number.isSafeInteger(len) || len < 0) return -EINVAL;
  if (advice !== MADV_DONTNEED && advice !== MADV_FREE && advice !== MADV_POPULATE_READ && advice !== MADV_POPULATE_WRITE && !THP_ADVICE.has(advice)) return -EINVAL;
  if (len === 0) return 0;
  const end = start + pageAlignUp(len);
  if (end > TASK_SIZE) return -ENOMEM;
  if (advice === MADV_HUGEPAGE || advice === MADV_NOHUGEPAGE) return yield* madvise_hugepage(mm, start, end, advice);
  if (advice === MADV_COLLAPSE) return yield* madvise_collapse(mm, start, end);
  if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE) {
    const r = yield* populateRange(mm, start, end, advice === MADV_POPULATE_WRITE);
    return r === 0 && !mm.vmas.isCovered(start, end) ? -ENOMEM : r;
  }
  yield* mmap_read_lock(mm);
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
    const r = advice === MADV_DONTNEED ? yield* dontneed(mm, vma, s, e) : yield* free(mm, vma, s, e);
    if (r !== 0) {
      ret = r;
      break;
    }
    addr = e;
  }
  yield* mmap_read_unlock(mm);
  return ret;
}

/** `zap_page_range_single` over one VMA part, as MADV_DONTNEED does. */
function* dontneed(mm: Mm, vma: Vma, s: number, e: number): Gen<number> {
  if ((vma.flags & (VM_LOCKED | VM_PFNMAP)) !== 0) return -EINVAL;
  if (vma.hpageShift !== 0) return yield* dontneedHugetlb(mm, vma, s, e);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, s, e);
  const tlb = new TlbGather(mm.sys);
  yield* mmu_notifier_invalidate_range_start(range);
  yield* zapRange(mm, s, e, tlb);
  yield* mmu_notifier_invalidate_range_end(range);
  tlb.finish();
  return 0;
}

/** MADV_DONTNEED of hugetlb memory (v5.18+): whole huge pages only, start aligned, end rounded down. */
function* dontneedHugetlb(mm: Mm, vma: Vma, s: number, e: number): Gen<number> {
  const size = 2 ** vma.hpageShift;
  if (s % size !== 0) return -EINVAL;
  const end = e - (e % size);
  if (end <= s) return 0;
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, s, end);
  const tlb = new TlbGather(mm.sys);
  yield* mmu_notifier_invalidate_range_start(range);
  yield* unmap_hugepage_range(mm, vma, s, end, tlb, false);
  yield* mmu_notifier_invalidate_range_end(range);
  tlb.finish();
  return 0;
}

/** `madvise_free_single_vma`. */
function* free(mm: Mm, vma: Vma, s: number, e: number): Gen<number> {
  if (!vma.isAnon || (vma.flags & (VM_SHARED | VM_HUGETLB)) !== 0) return -EINVAL;
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, s, e);
  yield* mmu_notifier_invalidate_range_start(range);
  const pt = mm.pt;
  if (pt.hugePmdCount !== 0) yield* free_huge_range(mm, s, e);
  let addr = pt.nextEntry(s, e, KIND_MASK_ANY);
  while (addr >= 0) {
    const base = addr - (addr % PMD_SIZE);
    const stop = Math.min(e, base + PMD_SIZE);
    const ptl = mm.ptl(addr);
    yield* spin_lock(ptl);
    for (let a = pt.nextEntry(Math.max(s, base), stop, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, stop, KIND_MASK_ANY)) {
      freeOne(mm, a);
    }
    yield* spin_unlock(ptl);
    addr = stop < e ? pt.nextEntry(stop, e, KIND_MASK_ANY) : -1;
  }
  yield* mmu_notifier_invalidate_range_end(range);
  return 0;
}

function freeOne(mm: Mm, addr: number): void {
  const sys = mm.sys;
  const f = sys.frames;
  const pte = mm.pt.get(addr);
  const kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_SWAP) {
    mm.pt.clear(addr);
    freeSwapEntry(sys, ptePfn(pte));
    return;
  }
  if (kind !== PTE_KIND_PRESENT || (pte & PTE_SPECIAL) !== 0) return;
  const pfn = ptePfn(pte);
  if (f.isZoneDevice(pfn)) return; // device-coherent: the device owns it, it is never lazily freed
  if (!f.testFlags(pfn, PG_ANON) || f.mapcount(pfn) !== 1 || f.testFlags(pfn, PG_LOCKED)) return;
  if (f.testFlags(pfn, PG_SWAPCACHE)) {
    // Its swap copy is stale from here on; if another swap entry still needs it, leave it be.
    if (sys.swap.count(f.getPrivate(pfn)) > 0 || f.refcount(pfn) !== 2) return;
    deleteFromSwapCache(sys, pfn);
  }
  f.clearFlags(pfn, PG_SWAPBACKED | PG_DIRTY);
  mm.pt.set(addr, pte - (pte & (PTE_DIRTY | PTE_YOUNG)));
}
