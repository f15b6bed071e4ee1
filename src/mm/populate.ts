/**
 * Populating a range (mm_populate, MAP_POPULATE, MADV_POPULATE_*): every page faulted in before
 * the call returns.
 *
 * The bulk path: the kernel faults one page at a time, each under its PTL. For anonymous memory
 * this model does a whole 2 MiB region per PTL critical section instead, taking frames
 * straight from the free list; a million pages then cost a few thousand scheduling
 * points, not millions (the 4 GiB benchmark). Pages the bulk path cannot do (memory short, file
 * pages, entries already present but read-only for a write) go through the ordinary per-page
 * fault, with its reclaim and its points, so the observable result is the same.
 */
import { EFAULT, EINTR } from '../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { PAGE_SIZE, PMD_SIZE } from './constants.ts';
import { handle_mm_fault } from './fault.ts';
import { ZERO_PFN } from './frame-flags.ts';
import { HUGE_FALLBACK, huge_pmd_fault, thpAllowed } from './huge-memory.ts';
import type { Mm } from './mm-struct.ts';
import { pteIndex } from './page-table.ts';
import { PTE_DIRTY, PTE_SPECIAL, PTE_WRITE, PTE_YOUNG, pfnPte, ptePresent } from './pte.ts';
import { tryAllocPage } from './reclaim.ts';
import { addNewAnonPage, anonVmaPrepare } from './rmap.ts';
import { protBits, vmaAllows } from './vma-ops.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * Faults in every page of [start, end) for read, or for write if `write`. Takes the mmap lock
 * for read. @returns 0, -EFAULT if part of the range is unmapped or forbids the access, or a
 * fault's error (-ENOMEM, -EINTR).
 */
export function* populateRange(mm: Mm, start: number, end: number, write: boolean): Gen<number> {
  if (mm.killed) return -EINTR;
  yield* mmap_read_lock(mm);
  let ret = 0;
  let addr = start;
  while (addr < end && ret === 0) {
    const vma = mm.vmas.findNext(addr);
    if (vma === undefined || vma.start >= end) break;
    if (vma.start > addr || !vmaAllows(vma, write)) ret = -EFAULT;
    else ret = yield* populateVma(mm, vma, addr, Math.min(end, vma.end), write);
    addr = vma.end;
  }
  yield* mmap_read_unlock(mm);
  return ret;
}

function* populateVma(mm: Mm, vma: Vma, start: number, end: number, write: boolean): Gen<number> {
  if (vma.hpageShift !== 0) {
    // hugetlb: one fault per huge page.
    const size = 2 ** vma.hpageShift;
    for (let b = start - (start % size); b < end; b += size) {
      const a = Math.max(b, start);
      while (!satisfied(mm, a, write)) {
        const r = yield* handle_mm_fault(mm, vma, a, write);
        if (r !== 0) return r;
      }
    }
    return 0;
  }
  for (let base = start - (start % PMD_SIZE); base < end; base += PMD_SIZE) {
    const s = Math.max(start, base);
    const e = Math.min(end, base + PMD_SIZE);
    if (mm.pt.hugePmdCount !== 0 || mm.sys.thpMode !== 'never') {
      // A huge PMD where THP allows one (or is already there): one fault does the region.
      const r = yield* populateHuge(mm, vma, base, write);
      if (r !== HUGE_FALLBACK) {
        if (r !== 0) return r;
        continue;
      }
    }
    if (vma.isAnon) yield* bulkAnon(mm, vma, s, e, write);
    for (let a = s; a < e; a += PAGE_SIZE) {
      // Whatever the bulk step left (or could not do) takes the ordinary fault path.
      while (!satisfied(mm, a, write)) {
        const r = yield* handle_mm_fault(mm, vma, a, write);
        if (r !== 0) return r;
      }
    }
  }
  return 0;
}

/**
 * The region at `base` by one PMD fault, if it is (or may become) PMD-mapped. @returns 0 when
 * the region is done, a fault's error, or HUGE_FALLBACK for the per-page path.
 */
function* populateHuge(mm: Mm, vma: Vma, base: number, write: boolean): Gen<number> {
  for (;;) {
    const pmd = mm.pt.getPmd(base);
    if (pmd !== 0 && ptePresent(pmd) && (!write || (pmd & PTE_WRITE) !== 0)) return 0;
    if (pmd === 0 && !(mm.pt.pmdNone(base) && thpAllowed(mm.sys, vma, base))) return HUGE_FALLBACK;
    const r = yield* huge_pmd_fault(mm, vma, base, write);
    if (r !== 0) return r;
  }
}

function satisfied(mm: Mm, addr: number, write: boolean): boolean {
  const pte = mm.pt.get(addr);
  return ptePresent(pte) && (!write || (pte & PTE_WRITE) !== 0);
}

/**
 * One region's anonymous pages in one PTL critical section. Frames come straight off the free
 * list, inside the section: taking one never sleeps, and a shortage just ends the bulk step.
 */
function* bulkAnon(mm: Mm, vma: Vma, start: number, end: number, write: boolean): Gen<void> {
  const sys = mm.sys;
  const n = (end - start) / PAGE_SIZE;
  if (write) anonVmaPrepare(sys, vma);
  const extra = protBits(vma);
  const ptl = mm.ptl(start);
  yield* spin_lock(ptl);
  const pt = mm.pt;
  const leaf = pt.allocLeaf(start);
  const first = pteIndex(start);
  for (let i = 0; i < n; i++) {
    if (pt.getAt(leaf, first + i) !== 0) continue;
    if (!write) {
      pt.setAt(leaf, first + i, pfnPte(ZERO_PFN, PTE_SPECIAL | extra));
      continue;
    }
    const pfn = tryAllocPage(sys);
    if (pfn < 0) break;
    pt.setAt(leaf, first + i, pfnPte(pfn, PTE_WRITE | PTE_DIRTY | PTE_YOUNG | extra));
    addNewAnonPage(sys, pfn, vma, start + i * PAGE_SIZE);
  }
  yield* spin_unlock(ptl);
}
