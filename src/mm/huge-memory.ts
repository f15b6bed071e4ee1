/**
 * Transparent huge pages (mm/huge_memory.c): anonymous 2 MiB folios mapped by one PMD entry.
 *
 * Policy: a per-run mode (never, madvise, always; the sysfs `enabled` knob) and the VMA's
 * MADV_HUGEPAGE / MADV_NOHUGEPAGE. A PMD fault happens where the kernel's __handle_mm_fault
 * tries one: the PMD slot is empty (no PTE table yet), the aligned 2 MiB lies inside a private
 * anonymous VMA whose page offsets are 2 MiB aligned too, and the mode allows it.
 *
 *     read fault    map the huge zero page (one shared, never freed, special, read-only)
 *     write fault   a new 2 MiB folio, writable and dirty; when none is free, fall back to base
 *                   pages (no direct reclaim: the kernel's default defrag does none for faults)
 *     write to a read-only huge PMD (do_huge_pmd_wp_page, v5.8+):
 *                   exclusive (anon-exclusive, or the only reference) -> make it writable;
 *                   else (shared with a fork child, the huge zero page) split the PMD and let the
 *                   PTE fault copy one base page
 *
 * Locking: a huge PMD changes under the split lock of its 2 MiB region, the lock every access to
 * the region names (the kernel uses the PMD table's own lock; one lock per 2 MiB is finer than
 * the kernel's, and keeps the explorer's view of which steps conflict exact).
 *
 * Splitting a PMD (__split_huge_pmd) raises its own CLEAR invalidation over the 2 MiB region,
 * inside whatever invalidation the caller holds open (madvise, mremap, fork's pinned case), or on
 * its own where the caller has none (a VMA split by munmap or mprotect, the COW fault):
 *
 *     start(CLEAR [haddr, haddr + 2 MiB))
 *       under the region's lock: the PMD becomes a PTE table of 512 entries with the same bits;
 *       the folio's entire mapcount -1, each page's mapcount +1, 511 more references
 *     end
 *
 * The folio stays whole (PTE-mapped); only reclaim and MADV_FREE of part of it split the folio
 * itself (split.ts). Zap, fork, mprotect, mremap and MADV_FREE of huge PMDs: huge-pmd-ops.ts.
 */
import { GFP_KERNEL, might_alloc } from '../locking/alloc.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_CLEAR } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import { PAGE_SIZE, PMD_SIZE } from './constants.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER } from './compound-frames.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_LOCKED, PG_LRU, PG_SWAPBACKED, PG_SWAPCACHE, PG_UPTODATE, ZERO_PFN } from './frame-flags.ts';
import type { MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import { LEAF_IS_HUGE, pteIndex } from './page-table.ts';
import {
  PTE_DIRTY,
  PTE_FLAG_BITS,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_PRESENT,
  PTE_PROTNONE,
  PTE_SPECIAL,
  PTE_WRITE,
  PTE_YOUNG,
  pfnPte,
  ptePfn,
  type Pte,
} from './pte.ts';
import { anonVmaPrepare } from './rmap.ts';
import { protBits } from './vma-ops.ts';
import { VM_HUGEPAGE, VM_HUGETLB, VM_NOHUGEPAGE, VM_SHARED } from './vma-flags.ts';
import type { Vma } from './vma.ts';
import { folio_wait_locked } from './folio-lock.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The THP mode (/sys/kernel/mm/transparent_hugepage/enabled). */
export type ThpMode = 'never' | 'madvise' | 'always';

/** A huge-page handler's answer meaning "not handled here: take the PTE path" (VM_FAULT_FALLBACK). */
export const HUGE_FALLBACK = 1;

let defaultMode: ThpMode = 'never';

/**
 * The THP mode of runs that do not name one in their memory options (the sysfs knob). Default
 * `never`, so scenarios written before huge pages existed keep their behaviour.
 */
export function setDefaultThpMode(mode: ThpMode): void {
  defaultMode = mode;
}

/** The current default THP mode. */
export function defaultThpMode(): ThpMode {
  return defaultMode;
}

/** Counters of one run's THP activity (the kernel's thp_* vmstat events). */
export interface ThpStats {
  /** PMD-mapped folios allocated by faults (thp_fault_alloc). */
  faultAlloc: number;
  /** PMD faults that fell back to base pages (thp_fault_fallback). */
  faultFallback: number;
  /** Huge zero page PMDs installed. */
  zeroPageMaps: number;
  /** PMDs split into PTE tables (thp_split_pmd). */
  splitPmd: number;
  /** Folios split into base pages (thp_split_page). */
  splitPage: number;
  /** Collapses into a huge PMD (thp_collapse_alloc). */
  collapse: number;
}

const STATS_KEY = 'mm.thpStats';

/** This run's THP counters. */
export function thpStats(sys: MemorySystem): ThpStats {
  let s = sys.world.locals.get(STATS_KEY) as ThpStats | undefined;
  if (s === undefined) {
    s = { faultAlloc: 0, faultFallback: 0, zeroPageMaps: 0, splitPmd: 0, splitPage: 0, collapse: 0 };
    sys.world.locals.set(STATS_KEY, s);
  }
  return s;
}

/** First address of the 2 MiB region containing `addr` (addr & HPAGE_PMD_MASK). */
export function pmdBase(addr: number): number {
  return addr - (addr % PMD_SIZE);
}

/**
 * `thp_vma_allowable_order` + `thp_vma_suitable_order` for the PMD at `addr`: may a fault there
 * map a huge page? Private anonymous VMAs only (shmem and file THP are not modelled).
 */
export function thpAllowed(sys: MemorySystem, vma: Vma, addr: number): boolean {
  const mode = sys.thpMode;
  if (mode === 'never') return false;
  const f = vma.flags;
  if (!vma.isAnon || (f & (VM_SHARED | VM_HUGETLB | VM_NOHUGEPAGE)) !== 0) return false;
  if (mode === 'madvise' && (f & VM_HUGEPAGE) === 0) return false;
  const haddr = pmdBase(addr);
  if (haddr < vma.start || haddr + PMD_SIZE > vma.end) return false;
  return (vma.start / PAGE_SIZE - vma.pgoff) % HPAGE_PMD_NR === 0;
}

/**
 * Where mmap puts a private anonymous mapping with no address given: with THP enabled and a
 * length that is a multiple of 2 MiB, a 2 MiB aligned gap (the kernel's thp_get_unmapped_area,
 * used for anonymous mappings since v6.7), so every 2 MiB of it can be PMD-mapped; otherwise
 * (or when no aligned gap fits) the ordinary gap. @returns the address or -1.
 */
export function thp_get_unmapped_area(mm: Mm, len: number): number {
  if (mm.sys.thpMode === 'never' || len % PMD_SIZE !== 0) return mm.vmas.findGap(len);
  const g = mm.vmas.findGap(len + PMD_SIZE);
  if (g < 0) return mm.vmas.findGap(len);
  // The gap found is the highest one of len + 2 MiB bytes: take its highest aligned start.
  return Math.floor((g + PMD_SIZE) / PMD_SIZE) * PMD_SIZE;
}

/** The huge zero folio of the run, allocated on first use and never freed. */
export function hugeZeroPfn(sys: MemorySystem): number {
  if (sys.hugeZero < 0) sys.hugeZero = sys.frames.allocHugeZero();
  return sys.hugeZero;
}

/** True if `pmd` maps the huge zero page. */
export function isHugeZeroPmd(sys: MemorySystem, pmd: Pte): boolean {
  return (pmd & PTE_SPECIAL) !== 0 && sys.hugeZero >= 0 && ptePfn(pmd) === sys.hugeZero;
}

/**
 * The order of the leaf mapping `addr` in `mm`: 9 under a huge PMD, 18 under a huge PUD, 0
 * otherwise. What hmm_range_fault reports as HMM_PFN_ORDER (spec §4.2/§4.3: the same order on
 * every page of the huge mapping); the hmm layer reads it here.
 */
export function leafOrder(mm: Mm, addr: number): number {
  const pt = mm.pt;
  if (pt.leafAt(addr) !== LEAF_IS_HUGE) return 0;
  return pt.getPmd(addr) !== 0 ? 9 : 18;
}

/** Tells the coherence oracle that every page of [start, start + bytes) changed for the CPU. */
export function cpuRangeChanged(mm: Mm, start: number, bytes: number): void {
  for (let a = start; a < start + bytes; a += PAGE_SIZE) cpu_mapping_changed(mm, a);
}

/**
 * The huge part of handle_mm_fault for page-aligned `addr`: a fault under a huge PMD, or one
 * where a new huge PMD may go. @returns 0, a negative errno, or HUGE_FALLBACK for the PTE path.
 */
export function* huge_pmd_fault(mm: Mm, vma: Vma, addr: number, write: boolean): Gen<number> {
  const pt = mm.pt;
  const pmd = pt.getPmd(addr);
  if (pmd !== 0) {
    // A migration or device-private PMD (device THP migration, v6.19+): the page-table view of
    // the faulting page is its own entry of that kind, which do_swap_page's path handles (wait
    // for the migration; migrate_to_ram of the whole folio).
    if ((pmd & PTE_KIND_BITS) !== PTE_KIND_PRESENT) return HUGE_FALLBACK;
    if (write && (pmd & PTE_WRITE) === 0) return yield* do_huge_pmd_wp_page(mm, vma, addr, pmd);
    return 0;
  }
  if (pt.pmdNone(addr) && thpAllowed(mm.sys, vma, addr)) return yield* do_huge_pmd_anonymous_page(mm, vma, addr, write);
  return HUGE_FALLBACK;
}

/** `do_huge_pmd_anonymous_page`. @returns 0, or HUGE_FALLBACK when no huge folio is free. */
export function* do_huge_pmd_anonymous_page(mm: Mm, vma: Vma, addr: number, write: boolean): Gen<number> {
  const sys = mm.sys;
  const haddr = pmdBase(addr);
  const ptl = mm.ptl(haddr);
  anonVmaPrepare(sys, vma);
  if (!write) {
    const zero = hugeZeroPfn(sys);
    yield* spin_lock(ptl);
    if (mm.pt.pmdNone(haddr)) {
      mm.pt.setPmd(haddr, pfnPte(zero, PTE_SPECIAL | protBits(vma)));
      thpStats(sys).zeroPageMaps++;
    }
    yield* spin_unlock(ptl);
    return 0;
  }
  const folio = yield* alloc_huge_folio(mm);
  if (folio < 0) {
    thpStats(sys).faultFallback++;
    return HUGE_FALLBACK;
  }
  yield* spin_lock(ptl);
  if (mm.pt.pmdNone(haddr)) {
    mapNewAnonHuge(mm, vma, haddr, folio, PTE_WRITE | PTE_DIRTY | PTE_YOUNG | protBits(vma));
    thpStats(sys).faultAlloc++;
  } else {
    sys.putPage(folio);
  }
  yield* spin_unlock(ptl);
  return 0;
}

/**
 * A 2 MiB folio for an anonymous fault (vma_alloc_folio with GFP_TRANSHUGE_LIGHT): from the
 * free huge folios or fresh memory, never by reclaiming. @returns the head pfn or -1.
 */
export function* alloc_huge_folio(mm: Mm): Gen<number> {
  const sys = mm.sys;
  yield sys.world.point('alloc_huge_page', sys.allocator, Access.Write);
  might_alloc(GFP_KERNEL);
  return sys.frames.allocCompound(HPAGE_PMD_ORDER);
}

/** Maps a fresh folio by the PMD at `haddr` (folio_add_new_anon_rmap + set_pmd_at); the caller holds the lock. */
export function mapNewAnonHuge(mm: Mm, vma: Vma, haddr: number, folio: number, bits: number): void {
  const f = mm.sys.frames;
  mm.pt.setPmd(haddr, pfnPte(folio, bits));
  f.setFlags(folio, PG_ANON | PG_ANON_EXCLUSIVE | PG_SWAPBACKED | PG_UPTODATE | PG_LRU);
  f.setOwner(folio, vma.anonVma, vma.pgoffAt(haddr));
  f.incEntireMapcount(folio);
}

/** `do_huge_pmd_wp_page`: reuse the folio if it is exclusively ours, else split and fall back. */
function* do_huge_pmd_wp_page(mm: Mm, vma: Vma, addr: number, orig: Pte): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const haddr = pmdBase(addr);
  if (!isHugeZeroPmd(sys, orig)) {
    const folio = ptePfn(orig);
    const ptl = mm.ptl(haddr);
    yield* spin_lock(ptl);
    if (mm.pt.getPmd(haddr) !== orig) {
      yield* spin_unlock(ptl);
      return 0;
    }
    if (f.testFlags(folio, PG_LOCKED)) {
      // Someone holds the folio lock (reclaim, a split): wait for them, then fault again.
      f.get(folio);
      yield* spin_unlock(ptl);
      yield* folio_wait_locked(folio);
      sys.putPage(folio);
      return 0;
    }
    const exclusive =
      f.testFlags(folio, PG_ANON_EXCLUSIVE) || (f.testFlags(folio, PG_ANON) && !f.testFlags(folio, PG_SWAPCACHE) && f.refcount(folio) === 1);
    if (exclusive) {
      f.setFlags(folio, PG_ANON_EXCLUSIVE);
      mm.pt.setPmd(haddr, orig | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
      yield* spin_unlock(ptl);
      return 0;
    }
    yield* spin_unlock(ptl);
  }
  yield* __split_huge_pmd(mm, haddr);
  return HUGE_FALLBACK;
}

/**
 * `__split_huge_pmd`: the huge PMD over `addr`'s region becomes a PTE table, under its own CLEAR
 * invalidation of the 2 MiB region (nested in the caller's, if any). Nothing to do if the PMD is
 * no longer huge when the lock is taken.
 */
export function* __split_huge_pmd(mm: Mm, addr: number): Gen<void> {
  const haddr = pmdBase(addr);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, haddr, haddr + PMD_SIZE);
  yield* mmu_notifier_invalidate_range_start(range);
  const ptl = mm.ptl(haddr);
  yield* spin_lock(ptl);
  const pmd = mm.pt.getPmd(haddr);
  if (pmd !== 0) split_huge_pmd_locked(mm, haddr, pmd);
  yield* spin_unlock(ptl);
  yield* mmu_notifier_invalidate_range_end(range);
}

/** `__split_huge_pmd_locked`: replace the huge PMD by 512 PTEs with its bits; the caller holds the lock. */
export function split_huge_pmd_locked(mm: Mm, haddr: number, pmd: Pte): void {
  const sys = mm.sys;
  const f = sys.frames;
  const pt = mm.pt;
  pt.clearPmd(haddr);
  const leaf = pt.allocLeaf(haddr);
  const first = pteIndex(haddr);
  thpStats(sys).splitPmd++;
  if (isHugeZeroPmd(sys, pmd)) {
    // The small zero page takes the huge one's place (__split_huge_zero_page_pmd).
    const zero = pfnPte(ZERO_PFN, PTE_SPECIAL | (pmd & PTE_PROTNONE));
    for (let i = 0; i < HPAGE_PMD_NR; i++) pt.setAt(leaf, first + i, zero);
    return;
  }
  const head = ptePfn(pmd);
  const kind = pmd & PTE_KIND_BITS;
  if (kind === PTE_KIND_MIGRATION) {
    // A migration PMD (device THP migration, v6.19+) becomes migration PTEs: no counts to move.
    for (let i = 0; i < HPAGE_PMD_NR; i++) pt.setAt(leaf, first + i, pmd + i * 0x10000);
    return;
  }
  // A present PMD becomes present PTEs; a device-private one (v6.19+) device-private PTEs.
  const bits = pmd & PTE_FLAG_BITS;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    pt.setAt(leaf, first + i, kind === PTE_KIND_DEVICE_PRIVATE ? pmd + i * 0x10000 : pfnPte(head + i, bits));
    f.incMapcount(head + i);
  }
  f.getN(head, HPAGE_PMD_NR - 1);
  f.decEntireMapcount(head);
}

/**
 * `vma_adjust_trans_huge`: before a VMA is split at `start` or `end`, split any huge PMD that
 * straddles the new boundary (each under its own invalidation, outside any the caller raises).
 */
export function* vma_adjust_trans_huge(mm: Mm, vma: Vma, start: number, end: number): Gen<void> {
  if (mm.pt.hugePmdCount === 0) return;
  for (const a of [start, end]) {
    if (a <= vma.start || a >= vma.end || a % PMD_SIZE === 0) continue;
    if (mm.pt.getPmd(a) !== 0) yield* __split_huge_pmd(mm, a);
  }
}

/** `vma_adjust_trans_huge` for every VMA [start, end) cuts (munmap's detach). */
export function* split_huge_at_boundaries(mm: Mm, start: number, end: number): Gen<void> {
  if (mm.pt.hugePmdCount === 0) return;
  for (const a of [start, end]) {
    const v = mm.vmas.find(a);
    if (v !== undefined) yield* vma_adjust_trans_huge(mm, v, a, a);
  }
}
