/**
 * Reverse mapping: from a page to the (mm, VMA, address) triples that map it, the way the kernel
 * finds them, from the page's owner and index rather than from a list kept per page:
 *
 *     anonymous page: owner = anon object id, index = linear page index (its low 32 bits)
 *        every VMA (of every live mm) with that anon object maps it at
 *        vma.start + (index - vma.pgoff) * PAGE_SIZE, if that lies inside the VMA
 *     page-cache page: owner = file id, index = page offset in the file
 *        every VMA mapping that file maps it at the same formula
 *
 * Keeping no per-page list is what holds a mapped page to 28 bytes of metadata (22 of frame, 6
 * of PTE). The price is a walk over the VMAs of every mm, fine for the handful of mms a scenario
 * has. A triple is a candidate: the caller checks the PTE under its lock, since the page table
 * may have changed since the walk.
 *
 * Also here: the per-page rmap bookkeeping every mapping site shares (a new anonymous page, the
 * freeing of a swap entry), so the refcount and mapcount conventions live in one place:
 *
 *     refcount = mapcount + (in page cache ? 1 : 0) + (in swap cache ? 1 : 0) + transient refs
 */
import type { RwSemaphore } from '../locking/rwsem.js';
import { PAGE_SIZE } from './constants.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_LOCKED, PG_LRU, PG_SWAPBACKED, PG_SWAPCACHE, PG_UPTODATE } from './frame-flags.ts';
import type { MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import type { Vma } from './vma.ts';

/** One place a page may be mapped. */
export interface RmapTarget {
  readonly mm: Mm;
  readonly vma: Vma;
  readonly addr: number;
}

/** Every (mm, VMA, address) that may map `pfn`, in mm then address order. */
export function rmapTargets(sys: MemorySystem, pfn: number): RmapTarget[] {
  const frames = sys.frames;
  const anon = frames.testFlags(pfn, PG_ANON);
  const owner = frames.owner(pfn);
  const index = frames.index(pfn);
  const out: RmapTarget[] = [];
  if (owner < 0) return out;
  for (const mm of sys.mms) {
    if (mm.dead) continue;
    for (const vma of mm.vmas) {
      if (anon ? vma.anonVma !== owner : vma.file !== owner) continue;
      const off = indexOffset(index, vma.pgoff);
      if (off >= vma.pages) continue;
      out.push({ mm, vma, addr: vma.start + off * PAGE_SIZE });
    }
  }
  return out;
}

/**
 * `index - pgoff` in [0, 2^32). A frame keeps its index in 32 bits, while an anonymous VMA's
 * pgoff is its address in pages, up to 2^35; the frame stores the low 32 bits of the true
 * index, so the difference is exact modulo 2^32, which is enough for any VMA under 16 TiB.
 */
export function indexOffset(index: number, pgoff: number): number {
  const d = (index - (pgoff % 2 ** 32)) % 2 ** 32;
  return d + (d < 0 ? 2 ** 32 : 0); // (+ 0 also turns -0 into 0)
}

/** The rmap lock reclaim holds while walking `pfn`'s mappings (anon_vma or i_mmap rwsem). */
export function rmapLockOf(sys: MemorySystem, pfn: number): RwSemaphore | null {
  const owner = sys.frames.owner(pfn);
  if (owner < 0) return null;
  return sys.frames.testFlags(pfn, PG_ANON) ? sys.anonLock(owner) : sys.fileLock(owner);
}

/** `anon_vma_prepare`: gives the VMA an anon object before its first anonymous page. */
export function anonVmaPrepare(sys: MemorySystem, vma: Vma): number {
  if (vma.anonVma < 0) vma.anonVma = sys.newAnonId();
  return vma.anonVma;
}

/**
 * `folio_add_new_anon_rmap` + LRU add: a freshly allocated page becomes the anonymous page at
 * `addr` of `vma`, exclusively owned. The caller's allocation reference becomes the mapping's.
 */
export function addNewAnonPage(sys: MemorySystem, pfn: number, vma: Vma, addr: number): void {
  const f = sys.frames;
  f.setFlags(pfn, PG_ANON | PG_ANON_EXCLUSIVE | PG_SWAPBACKED | PG_UPTODATE | PG_LRU);
  f.setOwner(pfn, vma.anonVma, vma.pgoffAt(addr));
  f.incMapcount(pfn);
}

/**
 * Takes `pfn` out of the swap cache (the slot it caches keeps its swap-entry references) and
 * drops the cache's reference. The caller holds another reference or knows the page may go.
 */
export function deleteFromSwapCache(sys: MemorySystem, pfn: number): void {
  const slot = sys.frames.getPrivate(pfn);
  if (slot >= 0) sys.swap.deleteFromCache(slot);
  sys.frames.clearPrivate(pfn);
  sys.frames.clearFlags(pfn, PG_SWAPCACHE);
  sys.putPage(pfn);
}

/**
 * `free_swap_and_cache`: one swap-entry reference fewer; if that was the last one and the slot's
 * page sits unmapped and unlocked in the swap cache, the page is dropped too (nobody can find it
 * any more).
 */
export function freeSwapEntry(sys: MemorySystem, slot: number): void {
  const swap = sys.swap;
  swap.free(slot);
  if (swap.isFree(slot) || swap.count(slot) > 0) return;
  const pfn = swap.lookupCache(slot);
  if (pfn < 0) return;
  const f = sys.frames;
  if (f.mapcount(pfn) > 0 || f.testFlags(pfn, PG_LOCKED)) return;
  deleteFromSwapCache(sys, pfn);
}

/**
 * `free_swap_cache`: a page left in the swap cache with no mapping, no swap entry naming its
 * slot and nobody holding its lock is useless there; drop it from the cache (the caller still
 * holds a reference, so the page itself goes when that is put). Without this such a page would
 * stay allocated until reclaim happened upon it.
 */
export function freeSwapCacheIfOrphan(sys: MemorySystem, pfn: number, lockHeld = false): void {
  const f = sys.frames;
  if (!f.testFlags(pfn, PG_SWAPCACHE) || f.mapcount(pfn) !== 0) return;
  if (!lockHeld && f.testFlags(pfn, PG_LOCKED)) return;
  if (sys.swap.count(f.getPrivate(pfn)) !== 0) return;
  deleteFromSwapCache(sys, pfn);
}
