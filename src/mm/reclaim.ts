/**
 * Page allocation under a memory limit, and direct reclaim.
 *
 * An allocation that finds every frame in use reclaims before it fails, as the kernel's slow
 * path does:
 *
 *     alloc ── free frame? ── yes ──> done
 *                 │ no
 *                 v
 *     direct reclaim (fs_reclaim held, PF_MEMALLOC set): pick a page by the clock hand,
 *       lock it, unmap it from every mm through the rmap (CLEAR invalidation per mapping),
 *       write it out (anon: to swap; file: to its backing store), free it
 *                 │ nothing freed
 *                 v
 *     OOM: kill the biggest mm, wake the OOM reaper, wait for memory (oom.ts)
 *
 * The lockdep annotation is the kernel's: the whole reclaim runs inside fs_reclaim (taken when
 * the mask allows filesystem recursion, with the notifier map primed either way), and the task is
 * PF_MEMALLOC so nothing it allocates recurses into reclaim. A driver lock held across a
 * GFP_KERNEL allocation and taken in a notifier callback therefore closes a cycle through
 * fs_reclaim, whether or not this run actually reclaimed (S-LOCKDEP-RECLAIM-1).
 *
 * Victims come from a clock hand over pfns: deterministic, no per-page list to keep (a list
 * would cost bytes per mapped page), and fair enough for scenarios of a few pages.
 */
import { GFP_KERNEL, __GFP_DIRECT_RECLAIM, __GFP_FS, might_alloc, type Allocation, type Allocator } from '../locking/alloc.js';
import { currentKernel } from '../locking/kernel.js';
import { PF_MEMALLOC } from '../lockdep/task-state.ts';
import { down_read, up_read } from '../locking/rwsem.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_CLEAR } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import { PAGE_SIZE } from './constants.ts';
import { folio_trylock, folio_unlock } from './folio-lock.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_BUDDY, PG_DIRTY, PG_LOCKED, PG_LRU, PG_SWAPBACKED, PG_SWAPCACHE, PG_ZERO, ZONE_DEVICE_MASK } from './frame-flags.ts';
import type { MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import { out_of_memory, wait_for_memory } from './oom.ts';
import { split_folio } from './split.ts';
import { PTE_DIRTY, PTE_EXCLUSIVE, PTE_SOFT_DIRTY, PTE_SPECIAL, isDeviceExclusiveEntry, ptePfn, ptePresent, swapPte } from './pte.ts';
import { exclusiveEntriesUncounted, exclusiveEntryGone } from './device-exclusive-entry.ts';
import { deleteFromSwapCache, freeSwapCacheIfOrphan, rmapLockOf, rmapTargets, type RmapTarget } from './rmap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** PF_MEMALLOC: the task is reclaim itself; its allocations may dip into reserves. */
function inReclaim(): boolean {
  const k = currentKernel();
  return (k.lockdep.memallocFlags(k.current.id) & PF_MEMALLOC) !== 0;
}

/**
 * Allocates a page for a user mapping of `mm` (GFP_HIGHUSER_MOVABLE, modelled as GFP_KERNEL),
 * reclaiming and, failing that, OOM-killing as needed. Zeroed (a fresh frame reads zeros).
 * @returns the pfn (refcount 1), or -1 when the allocation fails: no memory and nothing to kill,
 *   or `mm` itself was killed.
 */
export function* alloc_user_page(mm: Mm): Gen<number> {
  const sys = mm.sys;
  for (;;) {
    yield sys.world.point('alloc_page', sys.allocator, Access.Write);
    might_alloc(GFP_KERNEL);
    const pfn = sys.frames.alloc();
    if (pfn >= 0) return pfn;
    if (mm.killed) return -1;
    if ((yield* try_to_free_pages(sys, GFP_KERNEL)) > 0) continue;
    if (!(yield* out_of_memory(sys))) return -1;
    if (mm.killed) return -1;
    yield* wait_for_memory(sys);
  }
}

/**
 * A frame without the reclaim and OOM machinery: the caller's fast path (bulk populate). -1
 * when memory is short; the caller then falls back to `alloc_user_page`.
 */
export function tryAllocPage(sys: MemorySystem): number {
  return sys.frames.alloc();
}

/** kmalloc's backing under a memory limit: slab memory is not charged, but a shortage reclaims. */
export class ReclaimingAllocator implements Allocator {
  constructor(readonly sys: MemorySystem) {}

  *alloc(size: number, gfp: number): Gen<Allocation | null> {
    const sys = this.sys;
    for (;;) {
      if (!sys.memoryShort || inReclaim()) return { size, freed: false };
      if ((gfp & __GFP_DIRECT_RECLAIM) === 0) return null;
      if ((yield* try_to_free_pages(sys, gfp)) > 0) return { size, freed: false };
      // The kernel only OOM-kills for allocations that may recurse into filesystems.
      if ((gfp & __GFP_FS) !== 0 && !(yield* out_of_memory(sys))) return null;
      yield* wait_for_memory(sys);
    }
  }
}

/**
 * Direct reclaim (`__perform_reclaim`): fs_reclaim held and PF_MEMALLOC set around an attempt to
 * free `sys.reclaimBatch` pages. @returns the number of pages freed.
 */
export function* try_to_free_pages(sys: MemorySystem, gfp: number): Gen<number> {
  const k = currentKernel();
  const task = k.current.id;
  if (k.validating) k.lockdep.fsReclaimAcquire(task, gfp, k.where);
  const saved = k.lockdep.memallocNoreclaimSave(task);
  const freed = yield* shrink(sys, sys.reclaimBatch);
  k.lockdep.memallocNoreclaimRestore(task, saved);
  if (k.validating) k.lockdep.fsReclaimRelease(task, gfp, k.where);
  return freed;
}

/**
 * True if reclaim may consider `pfn`: on the LRU, in use, not locked, a normal page. Device
 * pages (private or coherent) are never on the LRU: the device owns them.
 */
function candidate(sys: MemorySystem, pfn: number): boolean {
  const f = sys.frames.flags(pfn);
  if ((f & PG_LRU) !== 0 && sys.frames.isCompound(pfn) && sys.frames.folioHead(pfn) !== pfn) return false; // a tail: the head stands for the folio
  return (f & PG_LRU) !== 0 && (f & (PG_BUDDY | PG_LOCKED | PG_ZERO | ZONE_DEVICE_MASK)) === 0;
}

/** Scans pfns from the clock hand, reclaiming up to `nr` pages. @returns pages freed. */
export function* shrink(sys: MemorySystem, nr: number): Gen<number> {
  const cap = sys.frames.capacity;
  let freed = 0;
  for (let scanned = 1; freed < nr && scanned < cap; scanned++) {
    if (sys.clockHand >= cap) sys.clockHand = 1;
    const pfn = sys.clockHand++;
    if (!candidate(sys, pfn)) continue;
    if (yield* reclaim_folio(sys, pfn)) freed++;
  }
  return freed;
}

/**
 * Tries to reclaim one page (shrink_folio_list for a single folio). @returns true if it was
 * freed. Gives up, leaving the page in place, when it is still mapped afterwards, busy (extra
 * references), dirty lazily-freed memory, or swap is full.
 */
export function* reclaim_folio(sys: MemorySystem, pfn: number): Gen<boolean> {
  const f = sys.frames;
  yield sys.world.point(`isolate pfn ${pfn}`, sys.allocator, Access.Write);
  sys.world.touchUndeclared(); // reads frame state that faults and zaps change under their own locks
  if (!candidate(sys, pfn)) return false;
  f.get(pfn); // isolation reference
  if (!(yield* folio_trylock(pfn))) {
    // shrink_folio_list skips a folio someone holds locked rather than wait for it.
    sys.putPage(pfn);
    return false;
  }
  // A huge page is split first, then its head is reclaimed like any page (the rest later).
  if (f.folioOrder(pfn) !== 0 && (yield* split_folio(sys, pfn)) !== 0) return yield* release(sys, pfn);
  const anon = f.testFlags(pfn, PG_ANON);
  if (anon && f.testFlags(pfn, PG_SWAPBACKED) && !f.testFlags(pfn, PG_SWAPCACHE)) {
    const slot = sys.swap.alloc();
    if (slot < 0) return yield* release(sys, pfn);
    sys.swap.addToCache(slot, pfn);
    f.setPrivate(pfn, slot);
    f.setFlags(pfn, PG_SWAPCACHE | PG_DIRTY);
    f.get(pfn); // the swap cache's reference
  }
  const lock = rmapLockOf(sys, pfn);
  let ok = true;
  if (lock !== null) {
    yield* down_read(lock);
    for (const t of rmapTargets(sys, pfn)) {
      if (!(yield* try_to_unmap_one(sys, t, pfn))) {
        ok = false;
        break;
      }
    }
    yield* up_read(lock);
  }
  yield sys.world.point(`free pfn ${pfn}`, sys.allocator, Access.Write);
  if (!ok || f.mapcount(pfn) > 0) return yield* release(sys, pfn);
  if (anon && f.testFlags(pfn, PG_SWAPCACHE)) {
    if (f.refcount(pfn) !== 2) return yield* release(sys, pfn);
    const slot = f.getPrivate(pfn);
    if (f.testFlags(pfn, PG_DIRTY)) sys.swap.writeOut(slot, f, pfn);
    f.clearFlags(pfn, PG_DIRTY);
    deleteFromSwapCache(sys, pfn);
    yield* folio_unlock(pfn);
    return sys.putPage(pfn);
  }
  if (anon) {
    // Lazily freed (MADV_FREE) and still clean: its mappings were discarded, nothing to save.
    if (f.refcount(pfn) !== 1) return yield* release(sys, pfn);
    yield* folio_unlock(pfn);
    return sys.putPage(pfn);
  }
  if (f.refcount(pfn) !== 2) return yield* release(sys, pfn);
  const file = f.owner(pfn);
  const pgoff = f.index(pfn);
  if (f.testFlags(pfn, PG_DIRTY)) sys.cache.writeback(file, pgoff);
  sys.cacheRemove(file, pgoff);
  yield* folio_unlock(pfn);
  return sys.putPage(pfn);
}

/**
 * Puts a page back after a failed attempt: drop it from the swap cache if nothing needs that
 * copy any more, unlock, drop the isolation reference.
 */
function* release(sys: MemorySystem, pfn: number): Gen<false> {
  freeSwapCacheIfOrphan(sys, pfn, true);
  yield* folio_unlock(pfn);
  sys.putPage(pfn);
  return false;
}

/**
 * `try_to_unmap_one` for one mapping: a CLEAR invalidation over the page, then (under the PTL)
 * the PTE becomes a swap entry (anon), nothing (file, or clean lazily-freed anon), and the
 * mapping's reference is dropped. No mmap lock is held: only the folio lock and the rmap lock.
 * @returns false to abort the whole reclaim of this page (a dirty lazily-freed page).
 */
function* try_to_unmap_one(sys: MemorySystem, t: RmapTarget, pfn: number): Gen<boolean> {
  const { mm, addr } = t;
  if (mm.dead) return true;
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
  yield* mmu_notifier_invalidate_range_start(range);
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  const ok = unmapLocked(sys, mm, addr, pfn);
  yield* spin_unlock(ptl);
  yield* mmu_notifier_invalidate_range_end(range);
  return ok;
}

function unmapLocked(sys: MemorySystem, mm: Mm, addr: number, pfn: number): boolean {
  const f = sys.frames;
  const pte = mm.pt.get(addr);
  if (ptePfn(pte) !== pfn) return true;
  // Since v6.15 the reverse-map walkers handle device-exclusive entries as mappings (clean and
  // old); before, the walk did not see them, so a folio with one stayed mapped and busy.
  const exclusive = isDeviceExclusiveEntry(pte) && !exclusiveEntriesUncounted(mm);
  if (!exclusive && (!ptePresent(pte) || (pte & PTE_SPECIAL) !== 0)) return true;
  if (exclusive) exclusiveEntryGone(mm, addr, pfn);
  const dirty = (pte & PTE_DIRTY) !== 0;
  if (f.testFlags(pfn, PG_ANON) && !f.testFlags(pfn, PG_SWAPBACKED)) {
    // A lazily freed page written since MADV_FREE is live data again: keep it (and all of it).
    if (dirty || f.testFlags(pfn, PG_DIRTY)) {
      f.setFlags(pfn, PG_SWAPBACKED);
      return false;
    }
    mm.pt.clear(addr);
  } else if (f.testFlags(pfn, PG_ANON)) {
    if (!f.testFlags(pfn, PG_SWAPCACHE)) return false; // nowhere to put it (cannot happen while locked)
    if (dirty) f.setFlags(pfn, PG_DIRTY);
    const exclusive = f.testFlags(pfn, PG_ANON_EXCLUSIVE) ? PTE_EXCLUSIVE : 0;
    sys.swap.dup(f.getPrivate(pfn));
    mm.pt.set(addr, swapPte(f.getPrivate(pfn), exclusive | (pte & PTE_SOFT_DIRTY)));
    f.clearFlags(pfn, PG_ANON_EXCLUSIVE);
  } else {
    if (dirty) f.setFlags(pfn, PG_DIRTY);
    mm.pt.clear(addr);
  }
  f.decMapcount(pfn);
  sys.putPage(pfn);
  cpu_mapping_changed(mm, addr);
  return true;
}
