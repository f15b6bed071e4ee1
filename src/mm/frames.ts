/**
 * Physical memory: the life cycle of page frames.
 *
 * A frame is named by its pfn, a dense index; its metadata is stored by
 * FrameStore (frame-store.ts) and its contents by PageContents
 * (page-contents.ts), allocated only when first written with a non-zero word.
 * An unwritten frame reads as zeros, which is also what a freshly allocated
 * frame must read as (anon faults hand out zeroed pages).
 *
 * pfn 0 is the shared zero page (ZERO_PFN): never freed, never written, not
 * refcounted (get/put/mapcount changes on it are no-ops, as the kernel maps it
 * with a special PTE and never touches its counts).
 *
 * Device frames (ZONE_DEVICE: device-private, or device-coherent) are created in
 * ranges by a device (the model of memremap_pages). They never enter the RAM free
 * list and are not counted against the RAM limit: when the last reference is
 * dropped they go idle (as the kernel hands them back to the driver's
 * page_free) and the driver re-initialises them with `initDevicePage`.
 *
 * Kernel-level misuse (a put on a free frame, freeing a mapped frame, writing
 * the zero page) is recorded in the problem sink and never thrown; see
 * problems.ts. Each frame has a generation, bumped every time it is freed, so a
 * holder of (pfn, generation) can tell "still my page" from "freed and maybe
 * reused".
 */
import type { BufferAllocator } from '../sim/buffer-pool.js';
import { PAGE_SIZE } from './constants.ts';
import { CompoundFrames, chunksOf } from './compound-frames.ts';
import { CHUNK, CHUNK_MASK, CHUNK_SHIFT } from './frame-store.ts';
import { PageContents } from './page-contents.ts';
import {
  PG_BUDDY,
  PG_DEVICE_COHERENT,
  PG_DEVICE_PRIVATE,
  PG_LOCKED,
  ZONE_DEVICE_MASK,
  PG_OWNED_BY_TABLE,
  PG_UPTODATE,
  PG_ZERO,
  ZERO_PFN,
  frameFlagNames,
} from './frame-flags.ts';
import { mmProblem, type MmProblemKind, type MmProblemSink } from './problems.ts';

export * from './frame-flags.ts';

/** What one FOLL_PIN pin adds to a small folio's refcount (include/linux/mm.h). */
export const GUP_PIN_COUNTING_BIAS = 1024;

/** Options for {@link FrameTable}. */
export interface FrameTableOptions {
  /** Most RAM frames allocated at once (the zero page is not counted). Default: unlimited. */
  limit?: number;
  /** Where misuse is reported; defaults to a fresh array (see `problems`). */
  problems?: MmProblemSink;
  /** Storage for metadata chunks and page contents; default: fresh buffers. */
  allocate?: BufferAllocator;
}

/** Physical page frames with refcounts, mapcounts, flags, owner/index and contents. */
export class FrameTable extends CompoundFrames {
  /** Misuse records (see problems.ts). */
  readonly problems: MmProblemSink;

  protected override readonly data: PageContents;
  protected override readonly priv = new Map<number, number>();

  /** Create physical memory holding only the zero page. */
  constructor(options: FrameTableOptions = {}) {
    super(options.allocate);
    this.data = new PageContents(options.allocate);
    this.problems = options.problems ?? [];
    this.ramLimit = options.limit ?? Number.MAX_SAFE_INTEGER;
    const z = this.takeUnused(1);
    this.flg[0]![z] = PG_ZERO | PG_UPTODATE;
    this.refc[0]![z] = 1;
    this.own[0]![z] = -1;
  }

  // ------------------------------------------------------------ allocation

  /** Most RAM frames allocatable at once. Lowering it below the in-use count only stops new allocations. */
  get limit(): number {
    return this.ramLimit;
  }
  set limit(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`FrameTable.limit: ${String(n)} is not a count`);
    this.ramLimit = n;
  }
  /** RAM frames currently allocated (zero page excluded). */
  get ramInUse(): number {
    return this.ramUsed;
  }
  /** Device frames (private or coherent) currently in use (refcount > 0). */
  get deviceInUse(): number {
    return this.deviceUsed;
  }
  /** Device frames (private or coherent) created in total. */
  get deviceFrames(): number {
    return this.deviceTotal;
  }
  /** RAM frames on the free list. */
  get freeListLength(): number {
    return this.freeLen;
  }

  /**
   * Allocate a RAM frame with refcount 1, mapcount 0, the given flags, no
   * owner and zero contents (the kernel's alloc_page). Frees are reused last
   * in, first out, so runs are deterministic.
   * @returns the pfn, or -1 when `limit` frames are in use (the caller reclaims).
   * @throws Error if flags include a table-owned flag (PG_ZERO, PG_DEVICE_PRIVATE, PG_BUDDY).
   */
  alloc(flags = 0): number {
    if ((flags & PG_OWNED_BY_TABLE) !== 0) {
      throw new Error(`FrameTable.alloc: flags ${frameFlagNames(flags)} include a table-owned flag`);
    }
    if (this.ramUsed >= this.ramLimit) return -1;
    let pfn = this.freeHead;
    if (pfn >= 0) {
      const c = pfn >>> CHUNK_SHIFT;
      const i = pfn & CHUNK_MASK;
      this.freeHead = this.idx[c]![i]!;
      this.freeLen--;
    } else {
      pfn = this.takeUnused(1);
    }
    const c = pfn >>> CHUNK_SHIFT;
    const i = pfn & CHUNK_MASK;
    this.refc[c]![i] = 1;
    this.mapc[c]![i] = 0;
    this.flg[c]![i] = flags;
    this.own[c]![i] = -1;
    this.idx[c]![i] = 0;
    this.ramUsed++;
    return pfn;
  }

  /**
   * Create `count` device frames with consecutive pfns, all idle (refcount 0,
   * flagged `type` | PG_BUDDY), owned by `owner` (the device's pgmap owner id).
   * `type` is PG_DEVICE_PRIVATE (default) or PG_DEVICE_COHERENT. They are not
   * counted against `limit`.
   * @returns the first pfn.
   */
  createDevicePages(count: number, owner: number, type: number = PG_DEVICE_PRIVATE): number {
    if (!Number.isInteger(count) || count <= 0) {
      throw new Error(`FrameTable.createDevicePages: count ${String(count)} must be a positive integer`);
    }
    if (type !== PG_DEVICE_PRIVATE && type !== PG_DEVICE_COHERENT) {
      throw new Error(`FrameTable.createDevicePages: type ${frameFlagNames(type)} is not device_private or device_coherent`);
    }
    const first = this.takeUnused(count);
    for (let pfn = first; pfn < first + count; pfn++) {
      const c = pfn >>> CHUNK_SHIFT;
      const i = pfn & CHUNK_MASK;
      this.flg[c]![i] = type | PG_BUDDY;
      this.own[c]![i] = owner;
      this.idx[c]![i] = 0;
    }
    this.deviceTotal += count;
    return first;
  }

  /**
   * Bring an idle device frame (private or coherent) into use with refcount 1 and
   * the given extra flags (the kernel's zone_device_page_init).
   * @returns false (and a problem) if the frame is not an idle device frame.
   */
  initDevicePage(pfn: number, flags = 0): boolean {
    this.checkPfn(pfn);
    if ((flags & PG_OWNED_BY_TABLE) !== 0) {
      throw new Error(`FrameTable.initDevicePage: flags ${frameFlagNames(flags)} include a table-owned flag`);
    }
    const c = pfn >>> CHUNK_SHIFT;
    const i = pfn & CHUNK_MASK;
    const f = this.flg[c]![i]!;
    if ((f & PG_BUDDY) === 0 || (f & ZONE_DEVICE_MASK) === 0) {
      this.report('frame-use-after-free', pfn, 'initDevicePage on a frame that is not an idle device page');
      return false;
    }
    this.flg[c]![i] = (f & ZONE_DEVICE_MASK) | flags;
    this.refc[c]![i] = 1;
    this.mapc[c]![i] = 0;
    this.deviceUsed++;
    return true;
  }

  // ------------------------------------------------------------ references

  /** Take a reference (folio_get). A get on a free frame is reported and ignored. */
  get(pfn: number): void {
    this.touched?.();
    if (!this.live(pfn, 'get on')) return;
    const h = this.headChunk(pfn);
    if (h >= 0) this.cRef[h]!++;
    else this.refc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!++;
  }

  /** Take a reference unless the frame is already free (folio_try_get). */
  tryGet(pfn: number): boolean {
    this.touched?.();
    this.checkPfn(pfn);
    if (pfn === ZERO_PFN) return true;
    if (this.isFreeUnchecked(pfn)) return false;
    const h = this.headChunk(pfn);
    if (h >= 0) this.cRef[h]!++;
    else this.refc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!++;
    return true;
  }

  /**
   * Drop a reference (folio_put); at zero the frame is freed: contents and
   * private word dropped, generation bumped, RAM frames back on the free list,
   * device-private frames idle. Freeing a frame that is still mapped or locked
   * is reported (the kernel's "Bad page state") and the frame is freed anyway,
   * so later use of it is caught as use-after-free.
   * @returns true if this put freed the frame (for a device-private frame:
   *   the moment the kernel calls the driver's page_free).
   */
  put(pfn: number): boolean {
    this.touched?.();
    this.checkPfn(pfn);
    if (pfn === ZERO_PFN) return false;
    const h = this.headChunk(pfn);
    if (h >= 0) return this.putCompound(h, pfn);
    const c = pfn >>> CHUNK_SHIFT;
    const i = pfn & CHUNK_MASK;
    const f = this.flg[c]![i]!;
    if ((f & PG_BUDDY) !== 0) {
      this.report('frame-put-on-free', pfn, 'put on a free page');
      return false;
    }
    const r = --this.refc[c]![i]!;
    if (r > 0) return false;
    if (this.mapc[c]![i]! > 0) this.report('frame-freed-while-mapped', pfn, 'page freed while still mapped');
    if ((f & PG_LOCKED) !== 0) this.report('frame-freed-while-locked', pfn, 'page freed while locked');
    this.release(pfn, c, i, f);
    return true;
  }

  /**
   * `try_grab_folio(FOLL_PIN)` of a small folio: a DMA pin, counted as GUP_PIN_COUNTING_BIAS
   * references, so pins stay distinct from plain references (see {@link maybeDmaPinned}).
   */
  pin(pfn: number): void {
    this.touched?.();
    if (!this.live(pfn, 'pin of')) return;
    const h = this.headChunk(pfn); // a page of a compound folio pins the folio
    if (h >= 0) this.cRef[h]! += GUP_PIN_COUNTING_BIAS;
    else this.refc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]! += GUP_PIN_COUNTING_BIAS;
  }

  /**
   * The first half of `unpin_user_page`: turns one pin back into a plain reference, which the
   * caller then puts (through the memory system, so a freed page is reported as freed).
   * @returns false (and reports) if the frame holds no pin.
   */
  unpin(pfn: number): boolean {
    this.touched?.();
    if (!this.live(pfn, 'unpin of')) return false;
    if (this.refcount(pfn) < GUP_PIN_COUNTING_BIAS) {
      this.report('frame-unpin-unpinned', pfn, 'unpin of a page that is not pinned');
      return false;
    }
    const h = this.headChunk(pfn);
    if (h >= 0) this.cRef[h]! -= GUP_PIN_COUNTING_BIAS - 1;
    else this.refc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]! -= GUP_PIN_COUNTING_BIAS - 1;
    return true;
  }

  /** `folio_maybe_dma_pinned` of a small folio: at least a pin's worth of references. */
  maybeDmaPinned(pfn: number): boolean {
    return this.refcount(pfn) >= GUP_PIN_COUNTING_BIAS;
  }

  /** Current refcount (0 for a free frame). */

  /** Current refcount (0 for a free frame); for a page of a compound folio, the folio's. */
  refcount(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) return this.cRef[h]!;
    return this.refc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!;
  }

  // ------------------------------------------------------------ mapcount

  /** One more page-table mapping (the rmap add). No-op for the zero page. */
  incMapcount(pfn: number): void {
    this.touched?.();
    if (!this.live(pfn, 'mapping')) return;
    const h = this.headChunk(pfn);
    if (h >= 0) this.addPageMap(h, pfn, 1);
    else this.mapc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!++;
  }

  /** One mapping fewer (the rmap remove). Underflow and free frames are reported. */
  decMapcount(pfn: number): void {
    this.touched?.();
    if (!this.live(pfn, 'unmapping')) return;
    const h = this.headChunk(pfn);
    if (h >= 0) {
      if (this.pageMap(pfn) <= 0) this.report('frame-mapcount-underflow', pfn, 'mapcount underflow');
      else this.addPageMap(h, pfn, -1);
      return;
    }
    const c = pfn >>> CHUNK_SHIFT;
    const i = pfn & CHUNK_MASK;
    if (this.mapc[c]![i]! <= 0) {
      this.report('frame-mapcount-underflow', pfn, 'mapcount underflow');
      return;
    }
    this.mapc[c]![i]!--;
  }

  /**
   * Number of page-table mappings (0 for the zero page and free frames); for a page of a
   * compound folio, the kernel's page_mapcount: the folio's entire mapcount plus the page's own
   * PTE mappings.
   */
  mapcount(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) return this.cEntire[h]! + this.pageMap(pfn);
    return this.mapc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!;
  }

  // ------------------------------------------------------------ flags, owner, index

  /** All flag bits (a compound folio's flags are its head's, as folio flags are). */
  flags(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) return this.cFlg[h]!;
    return this.flg[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!;
  }

  /** True if every bit of `mask` is set. */
  testFlags(pfn: number, mask: number): boolean {
    return (this.flags(pfn) & mask) === mask;
  }

  /** Set flag bits (not the table-owned ones). */
  setFlags(pfn: number, mask: number): void {
    this.checkSettable(mask);
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) this.cFlg[h]! |= mask;
    else this.flg[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]! |= mask;
  }

  /** Clear flag bits (not the table-owned ones). */
  clearFlags(pfn: number, mask: number): void {
    this.checkSettable(mask);
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) this.cFlg[h]! &= ~mask;
    else this.flg[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]! &= ~mask;
  }

  /** Set one flag and say whether it was already set (test_and_set_bit). */
  testAndSetFlag(pfn: number, flag: number): boolean {
    const old = this.testFlags(pfn, flag);
    if (!old) this.setFlags(pfn, flag);
    return old;
  }

  /** Clear one flag and say whether it was set (test_and_clear_bit). */
  testAndClearFlag(pfn: number, flag: number): boolean {
    const old = this.testFlags(pfn, flag);
    if (old) this.clearFlags(pfn, flag);
    return old;
  }

  /** Take PG_locked if it is clear (folio_trylock); waiting is the locking layer's business. */
  trylock(pfn: number): boolean {
    return !this.testAndSetFlag(pfn, PG_LOCKED);
  }

  /** Clear PG_locked (folio_unlock without the wake-up). */
  unlock(pfn: number): void {
    this.clearFlags(pfn, PG_LOCKED);
  }

  /** Owner id: a file id, or an anon object id when PG_ANON is set; -1 for none. */
  owner(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) return this.cOwn[h]!;
    return this.own[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!;
  }

  /** Page index within the owner (file pgoff or anon linear index); -1 for a free frame. */
  index(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) return (this.cFlg[h]! & PG_BUDDY) !== 0 ? -1 : this.cIdx[h]! + (pfn - h * CHUNK);
    const c = pfn >>> CHUNK_SHIFT;
    const i = pfn & CHUNK_MASK;
    return (this.flg[c]![i]! & PG_BUDDY) !== 0 ? -1 : this.idx[c]![i]!;
  }

  /** Set owner and index (the kernel's folio->mapping and folio->index). */
  setOwner(pfn: number, owner: number, index: number): void {
    if (!this.live(pfn, 'setting the owner of')) return;
    const h = this.headChunk(pfn);
    if (h >= 0) {
      // The folio's index is its first page's: a page's index is the folio's plus its offset.
      this.cOwn[h] = owner;
      this.cIdx[h] = index - (pfn - h * CHUNK);
      return;
    }
    const c = pfn >>> CHUNK_SHIFT;
    const i = pfn & CHUNK_MASK;
    this.own[c]![i] = owner;
    this.idx[c]![i] = index;
  }

  /** The private word (e.g. the swap slot of a swap-cache page), or -1. Sparse: few frames have one. */
  getPrivate(pfn: number): number {
    return this.priv.get(pfn) ?? -1;
  }

  /** Set the private word. */
  setPrivate(pfn: number, value: number): void {
    this.checkPfn(pfn);
    this.priv.set(pfn, value);
  }

  /** Clear the private word. */
  clearPrivate(pfn: number): void {
    this.priv.delete(pfn);
  }

  // ------------------------------------------------------------ lifetime queries

  /** Free (RAM frame on the free list, idle device frame, or never handed out). The zero page is never free. */
  isFree(pfn: number): boolean {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.nextUnused) return true;
    const h = this.headChunk(pfn);
    if (h >= 0) return (this.cFlg[h]! & PG_BUDDY) !== 0;
    return (this.flg[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]! & PG_BUDDY) !== 0;
  }

  /** Times this frame has been freed; pair it with the pfn to detect reuse. */
  generation(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h >= 0) return this.cGen[h]! >>> 0;
    return this.gen[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]!;
  }

  /** True if a reference taken at `generation` no longer names a live page. */
  isStale(pfn: number, generation: number): boolean {
    return this.isFree(pfn) || this.generation(pfn) !== generation;
  }

  /** True for the shared zero page (is_zero_pfn). */
  isZeroPfn(pfn: number): boolean {
    return pfn === ZERO_PFN;
  }

  /** True for a device-private frame, in use or idle (is_device_private_page). */
  isDevicePrivate(pfn: number): boolean {
    return (this.flags(pfn) & PG_DEVICE_PRIVATE) !== 0;
  }

  /** True for a device-coherent frame, in use or idle (is_device_coherent_page). */
  isDeviceCoherent(pfn: number): boolean {
    return (this.flags(pfn) & PG_DEVICE_COHERENT) !== 0;
  }

  /** True for any device frame, private or coherent (is_zone_device_page): never on the LRU. */
  isZoneDevice(pfn: number): boolean {
    return (this.flags(pfn) & ZONE_DEVICE_MASK) !== 0;
  }

  // ------------------------------------------------------------ contents

  /** Read the 32-bit word at byte `offset` (4-aligned, < 4096). Unwritten pages read 0. */
  read32(pfn: number, offset: number): number {
    this.checkOffset(offset);
    this.checkPfn(pfn);
    if (this.isFreeUnchecked(pfn)) {
      this.report('frame-use-after-free', pfn, 'read of a free page');
      return 0;
    }
    return this.data.read(pfn, offset >>> 2);
  }

  /** Write the 32-bit word (stored as unsigned) at byte `offset`. The zero page and free frames are reported, not written. */
  write32(pfn: number, offset: number, value: number): void {
    this.checkOffset(offset);
    if (this.writable(pfn, 'write')) this.data.write(pfn, offset >>> 2, value);
  }

  /** Copy all of `src` into `dst` (copy_highpage, for COW and migration). */
  copyPage(dst: number, src: number): void {
    this.checkPfn(src);
    if (this.isFreeUnchecked(src)) {
      this.report('frame-use-after-free', src, 'copy from a free page');
      return;
    }
    if (dst !== src && this.writable(dst, 'copy to')) this.data.load(dst, this.data.peek(src) ?? null);
  }

  /** Make the page all zeros (clear_highpage). */
  clearPage(pfn: number): void {
    if (this.writable(pfn, 'clear')) this.data.drop(pfn);
  }

  /** A copy of the page's words, or null if it is all zeros (never written). */
  saveContents(pfn: number): Uint32Array | null {
    this.checkPfn(pfn);
    if (this.isFreeUnchecked(pfn)) {
      this.report('frame-use-after-free', pfn, 'save of a free page');
      return null;
    }
    const buf = this.data.peek(pfn);
    return buf === undefined ? null : buf.slice();
  }

  /**
   * The page's words without copying them (read them before the page changes), or null if it
   * is all zeros: bulk readers (a device copying a whole range) need no copy per page.
   */
  peekContents(pfn: number): Readonly<Uint32Array> | null {
    this.checkPfn(pfn);
    if (this.isFreeUnchecked(pfn)) {
      this.report('frame-use-after-free', pfn, 'read of a free page');
      return null;
    }
    return this.data.peek(pfn) ?? null;
  }

  /** Replace the page's words with a copy of `data`, or zeros for null. */
  loadContents(pfn: number, data: Uint32Array | null): void {
    if (this.writable(pfn, 'load')) this.data.load(pfn, data);
  }

  /** True if the frame owns a contents buffer (it has been written non-zero). */
  hasContents(pfn: number): boolean {
    return this.data.has(pfn);
  }

  /** Number of frames owning a contents buffer. */
  get contentPages(): number {
    return this.data.size;
  }

  // ------------------------------------------------------------ accounting and checks

  /** Bytes held by page contents buffers (including recycled spares). */
  contentBytes(): number {
    return this.data.bytes();
  }

  /**
   * Check internal consistency (for tests): the free list holds exactly the
   * free RAM frames, once each; counts agree; free frames have refcount and
   * mapcount 0 and no contents.
   * @throws Error describing the first inconsistency.
   */
  checkInvariants(): void {
    const onList = new Set<number>();
    for (let p = this.freeHead; p >= 0; p = this.idx[p >>> CHUNK_SHIFT]![p & CHUNK_MASK]!) {
      if (onList.has(p)) throw new Error(`free list cycles at pfn ${String(p)}`);
      onList.add(p);
    }
    if (onList.size !== this.freeLen) throw new Error(`free list length ${String(onList.size)} != ${String(this.freeLen)}`);
    let ram = 0;
    let dev = 0;
    let compound = 0;
    for (let pfn = 1; pfn < this.nextUnused; pfn++) {
      const h = this.headChunk(pfn);
      if (h >= 0) {
        if ((this.cFlg[h]! & PG_ZERO) !== 0) {
          pfn = (h + 1) * CHUNK - 1;
          continue;
        }
        const free = (this.cFlg[h]! & PG_BUDDY) !== 0;
        if (free !== (this.cRef[h] === 0)) throw new Error(`${this.describe(pfn)}: free iff refcount 0 violated`);
        if (free && (this.cEntire[h] !== 0 || this.cPteMaps[h] !== 0)) throw new Error(`${this.describe(pfn)}: free with mapcount`);
        const nr = 2 ** this.cOrder[h]!;
        if (!free) {
          if ((this.cFlg[h]! & PG_DEVICE_PRIVATE) !== 0) dev += nr;
          else ram += nr;
          compound++;
        }
        pfn = (h + chunksOf(this.cOrder[h]!)) * CHUNK - 1;
        continue;
      }
      const f = this.flags(pfn);
      const free = (f & PG_BUDDY) !== 0;
      const device = (f & ZONE_DEVICE_MASK) !== 0;
      if (free !== (this.refcount(pfn) === 0)) throw new Error(`${this.describe(pfn)}: free iff refcount 0 violated`);
      if (free && this.mapcount(pfn) !== 0) throw new Error(`${this.describe(pfn)}: free with mapcount`);
      if (free && this.data.has(pfn)) throw new Error(`${this.describe(pfn)}: free with contents`);
      if (free && !device && !onList.has(pfn)) throw new Error(`${this.describe(pfn)}: free but not on free list`);
      if (!free && onList.has(pfn)) throw new Error(`${this.describe(pfn)}: on free list but allocated`);
      if (!free) {
        if (device) dev++;
        else ram++;
      }
    }
    if (compound !== this.compoundUsed) throw new Error(`compoundInUse ${String(this.compoundUsed)} != counted ${String(compound)}`);
    if (ram !== this.ramUsed) throw new Error(`ramInUse ${String(this.ramUsed)} != counted ${String(ram)}`);
    if (dev !== this.deviceUsed) throw new Error(`deviceInUse ${String(this.deviceUsed)} != counted ${String(dev)}`);
  }

  // ------------------------------------------------------------ internals

  protected override release(pfn: number, c: number, i: number, f: number): void {
    this.gen[c]![i] = (this.gen[c]![i]! + 1) >>> 0;
    this.mapc[c]![i] = 0;
    this.data.drop(pfn);
    if (this.priv.size !== 0) this.priv.delete(pfn);
    if ((f & ZONE_DEVICE_MASK) !== 0) {
      // Device frames keep their owner and type: they stay the device's memory while idle.
      this.flg[c]![i] = (f & ZONE_DEVICE_MASK) | PG_BUDDY;
      this.deviceUsed--;
      return;
    }
    this.flg[c]![i] = PG_BUDDY;
    this.own[c]![i] = -1;
    this.idx[c]![i] = this.freeHead;
    this.freeHead = pfn;
    this.freeLen++;
    this.ramUsed--;
  }

  /** Checks for count and owner changes: false for the zero page (silently) and for free frames (reported). */
  protected override live(pfn: number, what: string): boolean {
    this.checkPfn(pfn);
    if (pfn === ZERO_PFN) return false;
    if (this.isFreeUnchecked(pfn)) {
      this.report('frame-use-after-free', pfn, `${what} a free page`);
      return false;
    }
    return true;
  }

  /** Shared checks before changing contents; reports and returns false if not allowed. */
  private writable(pfn: number, what: string): boolean {
    this.checkPfn(pfn);
    if (pfn === ZERO_PFN || (this.headChunk(pfn) >= 0 && (this.cFlg[this.headChunk(pfn)]! & PG_ZERO) !== 0)) {
      this.report('zero-page-write', pfn, `${what} the shared zero page`);
      return false;
    }
    if (this.isFreeUnchecked(pfn)) {
      this.report('frame-use-after-free', pfn, `${what} a free page`);
      return false;
    }
    return true;
  }

  private isFreeUnchecked(pfn: number): boolean {
    const h = this.headChunk(pfn);
    if (h >= 0) return (this.cFlg[h]! & PG_BUDDY) !== 0;
    return (this.flg[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]! & PG_BUDDY) !== 0;
  }

  private checkOffset(offset: number): void {
    if (!(offset >= 0 && offset < PAGE_SIZE) || (offset & 3) !== 0) {
      throw new RangeError(`FrameTable: byte offset ${String(offset)} is not a 4-aligned offset within a page`);
    }
  }

  private checkSettable(mask: number): void {
    if ((mask & PG_OWNED_BY_TABLE) !== 0) {
      throw new Error(`FrameTable: flags ${frameFlagNames(mask)} are owned by the frame table`);
    }
  }

  protected override report(kind: MmProblemKind, pfn: number, what: string): void {
    const gen = pfn >= 0 && pfn < this.nextUnused ? this.generation(pfn) : -1;
    this.problems.push(mmProblem(kind, `BUG: Bad page state: ${what}: ${this.describe(pfn)}`, pfn, gen));
  }
}
