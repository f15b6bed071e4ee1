/**
 * In-memory swap space: slots holding saved page contents, per-slot swap
 * counts and the swap cache.
 *
 * A slot's count is the number of swap-entry references to it (PTEs holding a
 * swap entry for it; fork duplicates them, as swap_duplicate does). The swap
 * cache maps a slot to the frame currently holding its data while that frame
 * exists (on the way out during reclaim, and on the way back in). A slot is
 * freed when its count is 0 and it is not in the swap cache — the model of the
 * kernel's swap_map reaching zero with SWAP_HAS_CACHE clear. Saved contents are
 * a copy of the page's words, or nothing for a page that was all zeros.
 *
 * Kernel-level misuse (dup or free of a free slot, count underflow) is recorded
 * in the problem sink and never thrown (problems.ts).
 */
import type { FrameTable } from './frames.ts';
import { mmProblem, type MmProblemKind, type MmProblemSink } from './problems.ts';

/** Options for {@link SwapSpace}. */
export interface SwapOptions {
  /** Number of slots (swap size in pages). Default: unlimited. */
  limit?: number;
  /** Where misuse is reported; defaults to a fresh array. */
  problems?: MmProblemSink;
}

/** Swap slots, counts, saved contents and the swap cache. */
export class SwapSpace {
  /** Misuse records (see problems.ts). */
  readonly problems: MmProblemSink;
  private counts = new Int32Array(16);
  /** pfn + 1 of the swap-cache frame; 0 = not cached. */
  private cache = new Int32Array(16);
  private used = new Uint8Array(16);
  private readonly data: (Uint32Array | null)[] = [];
  private readonly freeSlots: number[] = [];
  private nextUnused = 0;
  private inUseCount = 0;
  private slotLimit: number;

  /** Create an empty swap space. */
  constructor(options: SwapOptions = {}) {
    this.problems = options.problems ?? [];
    this.slotLimit = options.limit ?? 0x7fffffff;
  }

  /** Most slots in use at once; lowering it only stops new allocations. */
  get limit(): number {
    return this.slotLimit;
  }
  set limit(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`SwapSpace.limit: ${String(n)} is not a count`);
    this.slotLimit = n;
  }

  /** Slots in use. */
  get inUse(): number {
    return this.inUseCount;
  }

  /**
   * Allocate a slot: count 0, not cached, contents zero (folio_alloc_swap).
   * The caller adds it to the swap cache or dups it; an unused slot is given
   * back with `release`.
   * @returns the slot, or -1 if the swap space is full.
   */
  alloc(): number {
    if (this.inUseCount >= this.slotLimit) return -1;
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.nextUnused++;
      if (slot >= this.used.length) this.grow();
      this.data.push(null);
    }
    this.used[slot] = 1;
    this.counts[slot] = 0;
    this.cache[slot] = 0;
    this.data[slot] = null;
    this.inUseCount++;
    return slot;
  }

  /** True if `slot` is not allocated. */
  isFree(slot: number): boolean {
    return !(slot >= 0 && slot < this.nextUnused) || this.used[slot] === 0;
  }

  /** Swap-entry references to `slot` (0 for a free slot). */
  count(slot: number): number {
    return this.isFree(slot) ? 0 : this.counts[slot]!;
  }

  /** One more swap-entry reference (swap_duplicate, e.g. fork copying a swap PTE). */
  dup(slot: number): void {
    if (this.live(slot, 'dup of')) this.counts[slot]!++;
  }

  /**
   * One swap-entry reference fewer (swap_free); frees the slot if that was the
   * last one and the slot is not in the swap cache.
   * @returns true if the slot was freed.
   */
  free(slot: number): boolean {
    if (!this.live(slot, 'free of')) return false;
    if (this.counts[slot]! <= 0) {
      this.report('swap-count-underflow', slot, 'swap count underflow');
      return false;
    }
    this.counts[slot]!--;
    return this.maybeRelease(slot);
  }

  /** Give back a slot nobody references and nothing caches (put_swap_folio on an aborted swap-out). */
  release(slot: number): boolean {
    return this.live(slot, 'release of') && this.maybeRelease(slot);
  }

  // ------------------------------------------------------------ swap cache

  /** Record `pfn` as the swap-cache frame of `slot`. The frame's private word is the caller's to set. */
  addToCache(slot: number, pfn: number): void {
    if (this.live(slot, 'add to swap cache of')) this.cache[slot] = pfn + 1;
  }

  /** The swap-cache frame of `slot`, or -1. */
  lookupCache(slot: number): number {
    return this.isFree(slot) ? -1 : this.cache[slot]! - 1;
  }

  /**
   * Remove `slot` from the swap cache; frees the slot if its count is 0.
   * @returns true if the slot was freed.
   */
  deleteFromCache(slot: number): boolean {
    if (!this.live(slot, 'delete from swap cache of')) return false;
    this.cache[slot] = 0;
    return this.maybeRelease(slot);
  }

  // ------------------------------------------------------------ contents

  /** Save frame `pfn`'s contents into `slot` (swap_writepage). */
  writeOut(slot: number, frames: FrameTable, pfn: number): void {
    if (this.live(slot, 'write to')) this.data[slot] = frames.saveContents(pfn);
  }

  /** Load `slot`'s saved contents into frame `pfn` (swap_read_folio). */
  readIn(slot: number, frames: FrameTable, pfn: number): void {
    if (this.live(slot, 'read from')) frames.loadContents(pfn, this.data[slot] ?? null);
  }

  /** True if the slot's saved contents are all zeros. */
  isZero(slot: number): boolean {
    return this.isFree(slot) || this.data[slot] === null;
  }

  /** Word at byte `offset` of the slot's saved contents (for oracles). */
  read32(slot: number, offset: number): number {
    if (this.isFree(slot)) return 0;
    const d = this.data[slot];
    return d === null || d === undefined ? 0 : d[offset >>> 2]!;
  }

  // ------------------------------------------------------------ internals

  private maybeRelease(slot: number): boolean {
    if (this.counts[slot] !== 0 || this.cache[slot] !== 0) return false;
    this.used[slot] = 0;
    this.data[slot] = null;
    this.freeSlots.push(slot);
    this.inUseCount--;
    return true;
  }

  private live(slot: number, what: string): boolean {
    if (!Number.isInteger(slot) || slot < 0) throw new RangeError(`SwapSpace: ${String(slot)} is not a slot`);
    if (!this.isFree(slot)) return true;
    this.report('swap-slot-free', slot, `${what} a free swap slot`);
    return false;
  }

  private grow(): void {
    const n = this.used.length * 2;
    const c = new Int32Array(n);
    c.set(this.counts);
    this.counts = c;
    const k = new Int32Array(n);
    k.set(this.cache);
    this.cache = k;
    const u = new Uint8Array(n);
    u.set(this.used);
    this.used = u;
  }

  private report(kind: MmProblemKind, slot: number, what: string): void {
    this.problems.push(mmProblem(kind, `swap: ${what}: slot ${String(slot)}`, -1, -1, slot));
  }
}
