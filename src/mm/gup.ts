/**
 * get_user_pages and pin_user_pages (mm/gup.c): take a reference (FOLL_GET) or a DMA pin
 * (FOLL_PIN) on the pages backing a user range, faulting them in as an access would.
 *
 *     slow path (the caller holds the mmap lock for read), per page:
 *       VMA: none, VM_IO/VM_PFNMAP, write to !VM_WRITE, read of !VM_READ    -EFAULT
 *       again: PTL; the entry present and allowing the access (write: writable)?
 *                 grab the page (a page of a huge mapping grabs its folio); next page
 *              unlock; handle_mm_fault(write) (a device-private entry is migrated back to
 *                 system memory by its driver; -EFAULT, -ENOMEM, -EINTR end the walk); again
 *     fast path (no mmap lock): a lockless read of each entry, grabbing present pages that
 *       allow the access, are not special (the zero page, a mixed map's raw pfn) and, for
 *       FOLL_LONGTERM, are long-term pinnable; at the first other entry the rest of the range
 *       goes to the slow path under the mmap read lock.
 *     FOLL_LONGTERM (__gup_longterm_locked): after the walk, if a folio taken may not stay
 *       pinned (device-coherent memory; the model has no CMA or movable zone), every page taken
 *       is let go, the device-coherent ones migrated to system memory (gup-longterm.ts), and
 *       the walk starts again; a migration that fails ends it with -EBUSY, nothing taken.
 *
 * Returns the number of pages taken (pages[0..n)), or a negative errno when none was. The
 * caller releases them: put_page for FOLL_GET, unpin_user_pages for FOLL_PIN.
 *
 * Not modelled: FOLL_FORCE, the unshare fault a read pin of a shared anonymous page takes
 * (gup_must_unshare), and FOLL_NOWAIT / FOLL_UNLOCKABLE retries.
 */
import { EAGAIN, EFAULT, EINTR } from '../locking/errno.js';
import { mmap_assert_locked, mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { PAGE_SIZE } from './constants.ts';
import { MEMORY_DEVICE_COHERENT, page_pgmap } from './device-private.ts';
import { unpin_user_page } from './dma.ts';
import { handle_mm_fault } from './fault.ts';
import { FOLL_LONGTERM, FOLL_WRITE, migrate_longterm_unpinnable_pages } from './gup-longterm.ts';

export { FOLL_LONGTERM, FOLL_WRITE };
import type { Mm } from './mm-struct.ts';
import { PTE_KIND_BITS, PTE_KIND_PRESENT, PTE_PROTNONE, PTE_SPECIAL, PTE_WRITE, ptePfn } from './pte.ts';
import { VM_IO, VM_PFNMAP, VM_READ, VM_WRITE } from './vma-flags.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Take a page reference (get_user_pages). Internal: set by the entry point. */
export const FOLL_GET = 0x04;
/** Take a DMA pin (pin_user_pages). Internal: set by the entry point. */
export const FOLL_PIN = 0x40000;

/**
 * `folio_is_longterm_pinnable`: may this page stay pinned indefinitely? Device-coherent memory
 * must stay evictable; everything else the model has can be (it has no CMA or movable zone).
 */
export function folio_is_longterm_pinnable(world: World, pfn: number): boolean {
  return page_pgmap(world, pfn)?.type !== MEMORY_DEVICE_COHERENT;
}

/** Takes the reference `flags` ask for on the page behind a present entry. */
function grab(mm: Mm, pfn: number, flags: number): void {
  if ((flags & FOLL_PIN) !== 0) {
    mm.sys.frames.pin(pfn);
    mm.hasPinned = true;
  } else {
    mm.sys.frames.get(pfn);
  }
}

/** The entry allows this access without a fault (follow_page_pte's check). */
function entryAllows(pte: number, write: boolean): boolean {
  return (pte & PTE_KIND_BITS) === PTE_KIND_PRESENT && (pte & PTE_PROTNONE) === 0 && (!write || (pte & PTE_WRITE) !== 0);
}

/** `__get_user_pages`: the slow path. Mmap lock held. @returns pages taken or -errno. */
function* __get_user_pages(mm: Mm, start: number, nrPages: number, flags: number, pages: number[], at: number): Gen<number> {
  mmap_assert_locked(mm);
  const write = (flags & FOLL_WRITE) !== 0;
  let done = 0;
  for (; done < nrPages; done++) {
    if (mm.killed) return done > 0 ? done : -EINTR;
    const addr = start + done * PAGE_SIZE;
    const vma = mm.vmas.find(addr);
    // check_vma_flags
    if (vma === undefined || (vma.flags & (VM_IO | VM_PFNMAP)) !== 0 || (vma.flags & (write ? VM_WRITE : VM_READ)) === 0) {
      return done > 0 ? done : -EFAULT;
    }
    for (;;) {
      const ptl = mm.ptl(addr);
      yield* spin_lock(ptl);
      const pte = mm.pt.get(addr);
      const ok = entryAllows(pte, write);
      if (ok) {
        const pfn = ptePfn(pte);
        grab(mm, pfn, flags);
        pages[at + done] = pfn;
      }
      yield* spin_unlock(ptl);
      if (ok) break;
      const r = yield* handle_mm_fault(mm, vma, addr, write);
      if (r < 0) return done > 0 ? done : r;
    }
  }
  return done;
}

/**
 * `__gup_longterm_locked`: the slow path, then for FOLL_LONGTERM the check that every folio may
 * stay pinned (check_and_migrate_movable_pages). Mmap lock held.
 */
function* __gup_longterm_locked(mm: Mm, start: number, nrPages: number, flags: number, pages: number[], at: number): Gen<number> {
  const world = mm.world;
  for (;;) {
    const n = yield* __get_user_pages(mm, start, nrPages, flags, pages, at);
    if (n <= 0 || (flags & FOLL_LONGTERM) === 0) return n;
    let movable = false;
    for (let i = at; i < at + n && !movable; i++) movable = !folio_is_longterm_pinnable(world, pages[i]!);
    if (!movable) return n;
    const r = yield* migrate_longterm_unpinnable_pages(mm, pages, at, at + n, (flags & FOLL_PIN) !== 0);
    if (r !== -EAGAIN) return r;
  }
}

/** `get_user_pages(start, nr_pages, gup_flags, pages)`: the caller holds the mmap read lock. */
export function get_user_pages(mm: Mm, start: number, nrPages: number, gupFlags: number, pages: number[]): Gen<number> {
  return __gup_longterm_locked(mm, start, nrPages, (gupFlags & ~FOLL_PIN) | FOLL_GET, pages, 0);
}

/** `pin_user_pages(start, nr_pages, gup_flags, pages)`: the caller holds the mmap read lock. */
export function pin_user_pages(mm: Mm, start: number, nrPages: number, gupFlags: number, pages: number[]): Gen<number> {
  return __gup_longterm_locked(mm, start, nrPages, (gupFlags & ~FOLL_GET) | FOLL_PIN, pages, 0);
}

/** The lockless walk (gup_fast): how many leading pages it took. */
function* gupFast(mm: Mm, start: number, nrPages: number, flags: number, pages: number[]): Gen<number> {
  const world = mm.world;
  const write = (flags & FOLL_WRITE) !== 0;
  let n = 0;
  for (; n < nrPages; n++) {
    const addr = start + n * PAGE_SIZE;
    yield world.point(`gup_fast ${mm.name}:0x${addr.toString(16)}`, mm.ptl(addr), Access.Read);
    const pte = mm.pt.get(addr);
    if (!entryAllows(pte, write) || (pte & PTE_SPECIAL) !== 0) break;
    const pfn = ptePfn(pte);
    if ((flags & FOLL_LONGTERM) !== 0 && !folio_is_longterm_pinnable(world, pfn)) break;
    grab(mm, pfn, flags);
    pages[n] = pfn;
  }
  return n;
}

/** `get_user_pages_fast` / `pin_user_pages_fast`, no mmap lock held. */
function* gupFastFallback(mm: Mm, start: number, nrPages: number, flags: number, pages: number[]): Gen<number> {
  const n = yield* gupFast(mm, start, nrPages, flags, pages);
  if (n === nrPages) return n;
  yield* mmap_read_lock(mm);
  const r = yield* __gup_longterm_locked(mm, start + n * PAGE_SIZE, nrPages - n, flags, pages, n);
  yield* mmap_read_unlock(mm);
  if (r < 0) return n > 0 ? n : r;
  return n + r;
}

/** `get_user_pages_fast(start, nr_pages, gup_flags, pages)`. */
export function get_user_pages_fast(mm: Mm, start: number, nrPages: number, gupFlags: number, pages: number[]): Gen<number> {
  return gupFastFallback(mm, start, nrPages, (gupFlags & ~FOLL_PIN) | FOLL_GET, pages);
}

/** `pin_user_pages_fast(start, nr_pages, gup_flags, pages)`. */
export function pin_user_pages_fast(mm: Mm, start: number, nrPages: number, gupFlags: number, pages: number[]): Gen<number> {
  return gupFastFallback(mm, start, nrPages, (gupFlags & ~FOLL_GET) | FOLL_PIN, pages);
}

/** `unpin_user_pages(pages, npages)`. */
export function unpin_user_pages(world: World, pages: readonly number[], npages: number): void {
  for (let i = 0; i < npages; i++) unpin_user_page(world, pages[i]!);
}
