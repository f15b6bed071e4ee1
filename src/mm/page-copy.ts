/**
 * What a driver's migration copy does with pages: `copy_highpage`, `clear_highpage`, and
 * `alloc_page_vma` for a system destination page. Pages are pfns, as everywhere in hmmsim.
 */
import { currentWorld } from '../sim/world.js';
import { memoryOf, type MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import { alloc_user_page } from './reclaim.ts';

type Gen<T> = Generator<unknown, T, unknown>;

function sys(): MemorySystem {
  const s = memoryOf(currentWorld());
  if (s === undefined) throw new Error('page copy: the run has no memory');
  return s;
}

/** `copy_highpage(to, from)`: the whole page's contents. */
export function copy_highpage(to: number, from: number): void {
  sys().frames.copyPage(to, from);
}

/** `clear_highpage(page)`: all zeros. */
export function clear_highpage(page: number): void {
  sys().frames.clearPage(page);
}

/**
 * `alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma, addr)` for `mm`: a zeroed system page with one
 * reference (may reclaim and sleep). @returns the pfn, or null when memory is exhausted.
 */
export function* alloc_page_vma(mm: Mm): Gen<number | null> {
  const pfn = yield* alloc_user_page(mm);
  return pfn < 0 ? null : pfn;
}
