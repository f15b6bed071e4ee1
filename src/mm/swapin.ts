/**
 * Swap-in (`do_swap_page`): a fault on a swap entry brings the page back through the swap
 * cache, so two mms that share a swapped page after fork get the same frame back:
 *
 *     slot in the swap cache? ── yes: take that page
 *            │ no
 *     allocate (may reclaim), check the entry is still there, read the slot in,
 *     put the page in the swap cache
 *            │
 *     lock the page (sleeping while reclaim holds it); it must still be this slot's copy
 *            │
 *     under the PTL, the entry unchanged: drop this entry's swap reference; when it was the
 *     last, drop the page from the swap cache too (the slot is freed); map it, writable only for
 *     a write fault on a page now ours alone (otherwise a later write breaks COW as usual)
 */
import { EINTR, ENOMEM } from '../locking/errno.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { folio_lock, folio_unlock } from './folio-lock.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_LRU, PG_SWAPBACKED, PG_SWAPCACHE, PG_UPTODATE } from './frame-flags.ts';
import type { Mm } from './mm-struct.ts';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pfnPte, swpOffset, type Pte } from './pte.ts';
import { alloc_user_page } from './reclaim.ts';
import { deleteFromSwapCache } from './rmap.ts';
import { protBits } from './vma-ops.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** `do_swap_page` for the swap entry `orig` at `addr`. */
export function* swapIn(mm: Mm, vma: Vma, addr: number, orig: Pte, write: boolean): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const swap = sys.swap;
  const slot = swpOffset(orig);
  let pfn = swap.lookupCache(slot);
  if (pfn >= 0) {
    f.get(pfn);
  } else {
    const fresh = yield* alloc_user_page(mm);
    if (fresh < 0) return mm.killed ? -EINTR : -ENOMEM;
    // While we slept the entry may have gone (zapped) or been swapped in by someone else.
    if (mm.pt.get(addr) !== orig || swap.isFree(slot)) {
      sys.putPage(fresh);
      return 0;
    }
    pfn = swap.lookupCache(slot);
    if (pfn >= 0) {
      sys.putPage(fresh);
      f.get(pfn);
    } else {
      pfn = fresh;
      swap.readIn(slot, f, pfn);
      f.setFlags(pfn, PG_ANON | PG_SWAPBACKED | PG_UPTODATE | PG_LRU | PG_SWAPCACHE);
      f.setOwner(pfn, vma.anonVma, vma.pgoffAt(addr));
      f.setPrivate(pfn, slot);
      swap.addToCache(slot, pfn);
      f.get(pfn); // ours; the allocation's reference is the swap cache's
    }
  }
  // Sleeps while reclaim (or anyone) holds the page locked; then the page must still be the
  // swap cache's copy of this slot, or the fault is simply retried.
  yield* folio_lock(pfn);
  if (!f.testFlags(pfn, PG_SWAPCACHE) || f.getPrivate(pfn) !== slot) {
    yield* folio_unlock(pfn);
    sys.putPage(pfn);
    return 0;
  }
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  if (mm.pt.get(addr) !== orig) {
    yield* spin_unlock(ptl);
    yield* folio_unlock(pfn);
    sys.putPage(pfn);
    return 0;
  }
  swap.free(slot);
  // The last swap entry gone: the swap copy is useless (we hold the lock, so nobody else uses it).
  if (swap.count(slot) === 0 && f.testFlags(pfn, PG_SWAPCACHE)) deleteFromSwapCache(sys, pfn);
  const exclusive = f.mapcount(pfn) === 0 && !f.testFlags(pfn, PG_SWAPCACHE);
  const bits = PTE_YOUNG | (write && exclusive ? PTE_WRITE | PTE_DIRTY : 0) | protBits(vma);
  mm.pt.set(addr, pfnPte(pfn, bits));
  if (exclusive) f.setFlags(pfn, PG_ANON_EXCLUSIVE);
  f.incMapcount(pfn);
  yield* spin_unlock(ptl);
  yield* folio_unlock(pfn);
  return 0;
}
