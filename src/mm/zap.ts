/**
 * Zapping page-table entries (the kernel's unmap_page_range / zap_pte_range) and the TLB gather
 * that frees the pages afterwards. munmap, exit, madvise(DONTNEED) and the OOM reaper share it.
 *
 * When pages are freed matters to device drivers: the kernel batches the pages a zap removes in
 * an mmu_gather and frees them when the TLB is flushed, normally at tlb_finish_mmu, after
 * invalidate_range_end; only when a batch fills up does a flush (and free) happen mid-zap.
 * Device-private and device-exclusive entries are no TLB entries: their references are dropped
 * at once, inside the zap (zap_nonpresent_ptes), so a device page's page_free runs before end.
 *
 *     start(range) ── zap: clear PTEs, drop rmap, queue pages ── end(range) ── finish: free pages
 *
 * So a registration cache that keeps DMA going after its start callback returned sees the page
 * freed after end, which is what S-REGCACHE-1 relies on.
 *
 * A zap takes the split PTL of each 2 MiB region it touches once, and handles every entry of the
 * region inside that one critical section, as zap_pte_range does.
 */
import { exclusiveEntriesUncounted, exclusiveEntryGone } from './device-exclusive-entry.ts';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { PAGE_SIZE, PMD_SIZE } from './constants.ts';
import { PG_ANON, PG_DIRTY } from './frame-flags.ts';
import type { MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import {
  KIND_MASK_ANY,
  PTE_DIRTY,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_PRESENT,
  PTE_KIND_SWAP,
  PTE_SPECIAL,
  ptePfn,
} from './pte.ts';
import { zap_huge_range } from './huge-pmd-ops.ts';
import { freeSwapCacheIfOrphan, freeSwapEntry } from './rmap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Pages a gather holds before it flushes mid-zap (about what one kernel batch page holds). */
export const GATHER_BATCH = 512;

/** The kernel's mmu_gather: pages whose mapping is gone, freed at flush time. */
export class TlbGather {
  private readonly pfns: number[] = [];

  constructor(readonly sys: MemorySystem) {}

  /** Queues the reference a removed mapping held. */
  add(pfn: number): void {
    this.pfns.push(pfn);
    if (this.pfns.length >= GATHER_BATCH) this.flush();
  }

  /**
   * Frees every queued page (tlb_flush_mmu, free_pages_and_swap_cache): a page left in the swap
   * cache with no mapping and no swap entry naming its slot is dropped from it first, or it
   * would stay allocated until reclaim happened upon it.
   */
  flush(): void {
    const p = this.pfns;
    const sys = this.sys;
    for (let i = 0; i < p.length; i++) {
      const pfn = p[i]!;
      freeSwapCacheIfOrphan(sys, pfn);
      sys.putPage(pfn);
    }
    p.length = 0;
  }

  /** `tlb_finish_mmu`: the final flush. */
  finish(): void {
    this.flush();
  }
}

/**
 * Zaps every entry of `mm` in [start, end) (inside one VMA), queueing freed pages on `tlb`.
 * The caller holds the mmap lock and has started an invalidation covering the range.
 */
export function* zapRange(mm: Mm, start: number, end: number, tlb: TlbGather): Gen<void> {
  const pt = mm.pt;
  if (pt.hugePmdCount + pt.hugePudCount !== 0) yield* zap_huge_range(mm, start, end, tlb);
  let addr = pt.nextEntry(start, end, KIND_MASK_ANY);
  while (addr >= 0) {
    const base = addr - (addr % PMD_SIZE);
    const stop = Math.min(end, base + PMD_SIZE);
    const ptl = mm.ptl(addr);
    yield* spin_lock(ptl);
    // Rescan the whole region under the lock: entries may have appeared since the lockless look.
    for (let a = pt.nextEntry(Math.max(start, base), stop, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, stop, KIND_MASK_ANY)) {
      zapOne(mm, a, tlb);
    }
    yield* spin_unlock(ptl);
    addr = stop < end ? pt.nextEntry(stop, end, KIND_MASK_ANY) : -1;
  }
}

/** Clears one entry (the caller holds its PTL). */
export function zapOne(mm: Mm, addr: number, tlb: TlbGather): void {
  const sys = mm.sys;
  const pte = mm.pt.clear(addr);
  const kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_PRESENT) {
    cpu_mapping_changed(mm, addr);
    if ((pte & PTE_SPECIAL) !== 0) return;
    const pfn = ptePfn(pte);
    const f = sys.frames;
    if ((pte & PTE_DIRTY) !== 0 && !f.isFree(pfn) && !f.testFlags(pfn, PG_ANON)) f.setFlags(pfn, PG_DIRTY);
    f.decMapcount(pfn);
    tlb.add(pfn);
  } else if (kind === PTE_KIND_SWAP) {
    freeSwapEntry(sys, ptePfn(pte));
  } else if (kind === PTE_KIND_DEVICE_PRIVATE) {
    // Not a TLB entry: zap_nonpresent_ptes puts the page at once, under the PTL, so the
    // driver's page_free runs inside the zap, before invalidate_range_end.
    const pfn = ptePfn(pte);
    sys.frames.decMapcount(pfn);
    sys.putPage(pfn);
  } else if (kind === PTE_KIND_DEVICE_EXCLUSIVE) {
    // The entry holds a reference (put at once, as a device-private one); it counts in the
    // mapcount only since v6.15.
    const pfn = ptePfn(pte);
    exclusiveEntryGone(mm, addr, pfn);
    if (!exclusiveEntriesUncounted(mm)) sys.frames.decMapcount(pfn);
    sys.putPage(pfn);
  }
  // Migration entries hold no reference: clearing them is all.
}
