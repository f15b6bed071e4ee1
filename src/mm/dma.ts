/**
 * What devices do with physical pages: pin a user page (pin_user_pages, FOLL_PIN), DMA to and
 * from a page by pfn, and unpin.
 *
 * A pin is counted as the kernel counts it for a small folio: GUP_PIN_COUNTING_BIAS references,
 * so `folio_maybe_dma_pinned` can tell pins from plain references, and the mm is marked as having
 * pinned pages (MMF_HAS_PINNED). fork reads both: since v5.9 it copies a maybe-pinned anonymous
 * page for the child instead of sharing it (fork.ts).
 *
 * A pinned page cannot be freed: unmapping it drops the mappings' references, the pin's stays.
 * DMA is by pfn, so nothing stops a device from touching a page the kernel already freed; that is
 * reported as a page-use-after-free finding (and, if the device still declares the page in its
 * shadow, as device-maps-freed-page when it is freed):
 *
 *     pin_user_page(mm, a)  -> pfn (+1 reference)     dma_read32(w, pfn, off)  -> word
 *     unpin_user_page(w, pfn)  (-1; may free it)       dma_write32(w, pfn, off, v)
 */
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { PAGE_SIZE } from './constants.ts';
import { memoryOf } from './memory.ts';
import { FOLL_WRITE } from './gup-longterm.ts';
import { pin_user_pages } from './gup.ts';
import { EINTR } from './mm-errno.ts';
import type { Mm } from './mm-struct.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * `pin_user_pages` of one page: faults it in (for write: breaking COW first) and pins it. With
 * FOLL_LONGTERM in `gupFlags` (v6.0+), a device-coherent page is migrated to system memory
 * first and the system page is pinned (gup-longterm.ts).
 * @returns the pfn, or -EFAULT (no VMA, or an access it forbids) / -EINTR / -ENOMEM / -EBUSY
 *   (a device-coherent page that could not be migrated out).
 */
export function* pin_user_page(mm: Mm, addr: number, write: boolean, gupFlags = 0): Gen<number> {
  if (mm.killed) return -EINTR;
  const pages = [0];
  yield* mmap_read_lock(mm);
  const r = yield* pin_user_pages(mm, addr - (addr % PAGE_SIZE), 1, gupFlags | (write ? FOLL_WRITE : 0), pages);
  yield* mmap_read_unlock(mm);
  return r === 1 ? pages[0]! : r;
}

/** `unpin_user_page`: drops the pin (freeing the page if nothing else holds it). */
export function unpin_user_page(world: World, pfn: number): void {
  const sys = memoryOf(world);
  if (sys !== undefined && sys.frames.unpin(pfn)) sys.putPage(pfn);
}

/** What a DMA step names: the frame's memory (one object per pfn, for the explorer). */
function frameObject(world: World, pfn: number): { name: string } {
  const key = `mm.frame.${pfn}`;
  let o = world.locals.get(key) as { name: string } | undefined;
  if (o === undefined) {
    o = { name: `pfn ${pfn}` };
    world.locals.set(key, o);
  }
  return o;
}

/** A device reads the word at byte `offset` of frame `pfn`. A freed frame is reported and reads 0. */
export function* dma_read32(world: World, pfn: number, offset: number): Gen<number> {
  yield world.point(`dma read pfn ${pfn}+${offset}`, frameObject(world, pfn), Access.Read);
  const sys = memoryOf(world);
  return sys === undefined ? 0 : sys.frames.read32(pfn, offset);
}

/** A device writes the word at byte `offset` of frame `pfn`. A freed frame is reported, not written. */
export function* dma_write32(world: World, pfn: number, offset: number, value: number): Gen<void> {
  yield world.point(`dma write pfn ${pfn}+${offset}`, frameObject(world, pfn), Access.Write);
  memoryOf(world)?.frames.write32(pfn, offset, value >>> 0);
}
