/**
 * Compound folios (transparent huge pages, hugetlb pages) in the frame table, kept compact.
 *
 * A compound folio of order 9 (2 MiB) takes one chunk of frames (the chunk's upper half of
 * pfns stays unused while the folio is whole); one of order 18 (1 GiB) fills 256 chunks. Its chunks have no per-frame arrays. What the kernel
 * keeps in the head page lives here once per folio, indexed by the head's chunk:
 *
 *     refcount   the folio's references (every PMD and PTE mapping holds one, as in the kernel)
 *     entire     the entire mapcount: PMD (or PUD) entries mapping the whole folio
 *     flags, owner, index, generation, order
 *
 * and per page only the per-page mapcount (PTE mappings of that page), allocated per chunk on
 * the first PTE mapping (after a PMD split), so a PMD-mapped folio costs a few dozen bytes for
 * its 512 pages. A page's mapcount as the kernel's page_mapcount reports it is entire + its own.
 *
 * Splitting the folio itself (split_huge_page) turns its chunks into ordinary chunks: per-frame
 * arrays are made and each page becomes an order-0 folio holding the references of its own
 * mappings (`splitCompound`).
 *
 * PMD-sized device-private folios (v6.19 device THP migration) are compound folios too, made idle
 * by `createDeviceFolios`, brought into use by `initDeviceFolio` and idle again (the driver's, not
 * on a free list) when their last reference goes; split, their pages are device pages.
 *
 * Freed compound folios go on a free list per order and are reused whole; order-0 allocations
 * never take them (pfn space is plentiful; RAM is counted by the limit, not by pfns).
 */
import { CHUNK, CHUNK_MASK, CHUNK_SHIFT, FrameStore } from './frame-store.ts';
import { PG_BUDDY, PG_DEVICE_PRIVATE, PG_LOCKED, PG_OWNED_BY_TABLE, PG_SWAPCACHE, PG_UPTODATE, PG_ZERO, frameFlagNames } from './frame-flags.ts';
import type { PageContents } from './page-contents.ts';
import type { MmProblemKind } from './problems.ts';

/** Order of a PMD-sized folio (2 MiB of 4 KiB pages). */
export const HPAGE_PMD_ORDER = 9;
/** Order of a PUD-sized folio (1 GiB). */
export const HPAGE_PUD_ORDER = 18;
/**
 * A hugetlb pool folio. Compound folios keep 32-bit flag words, so folio-only flags sit above
 * the 16 PG_* bits of ordinary frames; the pool holds a reference on each folio it owns.
 */
export const FOLIO_HUGETLB = 1 << 16;
/** Pages in a PMD-sized folio. */
export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;

/** Chunks a compound folio of `order` occupies. */
export function chunksOf(order: number): number {
  return Math.max(1, 2 ** (order - CHUNK_SHIFT));
}

function grownI32(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  if (need < a.length) return a;
  let n = a.length * 2;
  while (n <= need) n *= 2;
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

/**
 * Frame storage with compact compound folios and their life cycle (allocation, references,
 * entire mappings, splitting, freeing; device-private folios too); FrameTable (frames.ts) builds
 * the ordinary frames' life cycle on it and supplies contents, problems and frees.
 */
export abstract class CompoundFrames extends FrameStore {
  /** Per chunk: head chunk + 1 for a chunk of a compound folio, 0 for an ordinary chunk. */
  protected cHead: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: folio refcount. */
  protected cRef: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: entire mapcount. */
  protected cEntire: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: owner id. */
  protected cOwn: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: index of the first page in the owner. */
  protected cIdx: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: generation. */
  protected cGen: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: flags (PG_BUDDY while on the free list). */
  protected cFlg: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: order. */
  protected cOrder: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per head chunk: PTE mappings of all its pages together. */
  protected cPteMaps: Int32Array<ArrayBuffer> = new Int32Array(64);
  /** Per chunk of a compound folio: per-page mapcounts, once any page was PTE-mapped. */
  protected readonly cPageMap: (Int32Array | undefined)[] = [];
  /** Free compound folios by order: head chunks. */
  protected readonly cFree: number[][] = [];
  /** Compound folios currently allocated. */
  protected compoundUsed = 0;

  /** Head chunk of `pfn`'s compound folio, or -1 for an ordinary frame. */
  protected headChunk(pfn: number): number {
    const c = pfn >>> CHUNK_SHIFT;
    return c < this.cHead.length ? this.cHead[c]! - 1 : -1;
  }

  /** True if `pfn` belongs to a compound folio (in use or free). */
  isCompound(pfn: number): boolean {
    this.checkPfn(pfn);
    return this.headChunk(pfn) >= 0;
  }

  /** pfn of the head of `pfn`'s folio (the pfn itself for an ordinary frame; page_folio). */
  folioHead(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    return h < 0 ? pfn : h * CHUNK;
  }

  /** Order of `pfn`'s folio: 0 for an ordinary frame. */
  folioOrder(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    return h < 0 ? 0 : this.cOrder[h]!;
  }

  /** Pages in `pfn`'s folio (folio_nr_pages). */
  folioNrPages(pfn: number): number {
    return 2 ** this.folioOrder(pfn);
  }

  /** Entire mapcount of `pfn`'s folio (0 for an ordinary frame). */
  entireMapcount(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    return h < 0 ? 0 : this.cEntire[h]!;
  }

  /** PTE mappings of all pages of `pfn`'s folio together (0 for an ordinary frame). */
  pteMapcountTotal(pfn: number): number {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    return h < 0 ? 0 : this.cPteMaps[h]!;
  }

  /** The kernel's folio_mapcount for a compound folio: entire * pages is not it; entire + PTE maps. */
  folioMapcount(pfn: number): number {
    return this.entireMapcount(pfn) + this.pteMapcountTotal(pfn);
  }

  /** Compound folios in use. */
  get compoundInUse(): number {
    return this.compoundUsed;
  }

  /** Per-page mapcount of a page of a compound folio (PTE mappings only). */
  protected pageMap(pfn: number): number {
    const a = this.cPageMap[pfn >>> CHUNK_SHIFT];
    return a === undefined ? 0 : a[pfn & (CHUNK - 1)]!;
  }

  /** Adds `d` to a compound page's per-page mapcount. @returns the new value. */
  protected addPageMap(h: number, pfn: number, d: number): number {
    const c = pfn >>> CHUNK_SHIFT;
    let a = this.cPageMap[c];
    if (a === undefined) {
      a = new Int32Array(CHUNK);
      this.cPageMap[c] = a;
    }
    this.cPteMaps[h] = this.cPteMaps[h]! + d;
    return (a[pfn & (CHUNK - 1)] = a[pfn & (CHUNK - 1)]! + d);
  }

  /** A free compound folio of `order` from the free list, or fresh chunks: its head chunk. */
  protected takeCompound(order: number): number {
    const list = this.cFree[order];
    const reused = list?.pop();
    if (reused !== undefined) return reused;
    return this.takeFreshCompound(order);
  }

  /** Fresh chunks for a compound folio of `order` (never a freed one): its head chunk. */
  protected takeFreshCompound(order: number): number {
    const n = chunksOf(order);
    const h = this.takeChunks(n);
    this.growCompound(h + n);
    for (let k = 0; k < n; k++) this.cHead[h + k] = h + 1;
    this.cOrder[h] = order;
    return h;
  }

  /** Puts a compound folio on its free list (metadata already reset by the caller). */
  protected freeCompound(h: number): void {
    const order = this.cOrder[h]!;
    const n = chunksOf(order);
    for (let k = 0; k < n; k++) this.cPageMap[h + k] = undefined;
    (this.cFree[order] ??= []).push(h);
  }

  /** Makes the chunks of folio `h` ordinary (split_huge_page): per-frame arrays, no head. */
  protected unmarkCompound(h: number): number {
    const n = chunksOf(this.cOrder[h]!);
    for (let k = 0; k < n; k++) {
      this.pushChunk(h + k);
      this.cHead[h + k] = 0;
    }
    return n;
  }

  // ------------------------------------------------------------ compound folios

  /**
   * Allocate a compound folio of `order` (9: 2 MiB, 18: 1 GiB) with refcount 1, no mappings,
   * the given flags and zero contents (folio_alloc of a large folio). Counts 2^order pages
   * against the limit.
   * @returns the head pfn, or -1 when the limit leaves no room for the whole folio.
   */
  allocCompound(order: number, flags = 0): number {
    if (!Number.isInteger(order) || order < HPAGE_PMD_ORDER || order > 30) {
      throw new Error(`FrameTable.allocCompound: order ${String(order)} is not between ${String(HPAGE_PMD_ORDER)} and 30`);
    }
    if ((flags & PG_OWNED_BY_TABLE) !== 0) {
      throw new Error(`FrameTable.allocCompound: flags ${frameFlagNames(flags)} include a table-owned flag`);
    }
    const nr = 2 ** order;
    if (this.ramUsed + nr > this.ramLimit) return -1;
    // Fresh chunks start at a chunk boundary: the rest of a partly used chunk joins the free list.
    while (this.nextUnused % CHUNK !== 0) {
      const pfn = this.takeUnused(1);
      const c = pfn >>> CHUNK_SHIFT;
      const i = pfn & CHUNK_MASK;
      this.flg[c]![i] = PG_BUDDY;
      this.own[c]![i] = -1;
      this.idx[c]![i] = this.freeHead;
      this.freeHead = pfn;
      this.freeLen++;
    }
    const h = this.takeCompound(order);
    this.cRef[h] = 1;
    this.cEntire[h] = 0;
    this.cPteMaps[h] = 0;
    this.cFlg[h] = flags;
    this.cOwn[h] = -1;
    this.cIdx[h] = 0;
    this.ramUsed += nr;
    this.compoundUsed++;
    return h * CHUNK;
  }

  /**
   * The huge zero folio (order 9, all zeros, PG_ZERO): allocated once per run outside the limit
   * and never freed; PMDs map it special, so nothing counts its mappings.
   */
  allocHugeZero(): number {
    const limit = this.ramLimit;
    this.ramLimit = Number.MAX_SAFE_INTEGER;
    const pfn = this.allocCompound(HPAGE_PMD_ORDER);
    this.ramLimit = limit;
    const h = this.headChunk(pfn);
    this.cFlg[h] = PG_ZERO | PG_UPTODATE;
    this.ramUsed -= HPAGE_PMD_NR;
    this.compoundUsed--;
    return pfn;
  }

  /**
   * Create `count` idle device-private folios of `order` (memremap_pages of a device that hands
   * out PMD-sized folios, v6.19+), each taking fresh chunks as a RAM compound folio does. They
   * are not counted against `limit`. @returns the head pfns, ascending.
   */
  createDeviceFolios(count: number, order: number): number[] {
    if (!Number.isInteger(count) || count <= 0) throw new Error(`FrameTable.createDeviceFolios: count ${String(count)} must be a positive integer`);
    if (order !== HPAGE_PMD_ORDER) throw new Error(`FrameTable.createDeviceFolios: only order ${String(HPAGE_PMD_ORDER)} device folios are modelled`);
    while (this.nextUnused % CHUNK !== 0) {
      const pfn = this.takeUnused(1);
      this.flg[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK] = PG_DEVICE_PRIVATE | PG_BUDDY;
      this.own[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK] = -1;
    }
    const heads: number[] = [];
    for (let k = 0; k < count; k++) {
      const h = this.takeFreshCompound(order);
      this.cRef[h] = 0;
      this.cEntire[h] = 0;
      this.cPteMaps[h] = 0;
      this.cFlg[h] = PG_DEVICE_PRIVATE | PG_BUDDY;
      this.cOwn[h] = -1;
      this.cIdx[h] = 0;
      heads.push(h * CHUNK);
    }
    this.deviceTotal += count * 2 ** order;
    return heads;
  }

  /**
   * Bring an idle device-private folio into use with refcount 1 (zone_device_folio_init).
   * @returns false (and a problem) if `head` is not the head of an idle device-private folio.
   */
  initDeviceFolio(head: number, flags = 0): boolean {
    this.checkPfn(head);
    if ((flags & PG_OWNED_BY_TABLE) !== 0) throw new Error(`FrameTable.initDeviceFolio: flags ${frameFlagNames(flags)} include a table-owned flag`);
    const h = this.headChunk(head);
    if (h < 0 || h * CHUNK !== head || (this.cFlg[h]! & (PG_DEVICE_PRIVATE | PG_BUDDY)) !== (PG_DEVICE_PRIVATE | PG_BUDDY)) {
      this.report('frame-use-after-free', head, 'initDeviceFolio on a frame that is not the head of an idle device-private folio');
      return false;
    }
    this.cFlg[h] = PG_DEVICE_PRIVATE | flags;
    this.cRef[h] = 1;
    this.cEntire[h] = 0;
    this.cPteMaps[h] = 0;
    this.deviceUsed += 2 ** this.cOrder[h]!;
    this.compoundUsed++;
    return true;
  }

  /** Make every page of `pfn`'s folio read as zeros (clear_huge_page). */
  clearFolioContents(pfn: number): void {
    const head = this.folioHead(pfn);
    const nr = this.folioNrPages(head);
    if (this.data.size !== 0) for (let k = 0; k < nr; k++) this.data.drop(head + k);
  }

  /** Copy every page of folio `src` into folio `dst` of the same size (copy_user_large_folio). */
  copyFolioContents(dst: number, src: number): void {
    const nr = this.folioNrPages(src);
    for (let k = 0; k < nr; k++) {
      const buf = this.data.peek(src + k);
      if (buf !== undefined) this.data.load(dst + k, buf);
      else this.data.drop(dst + k);
    }
  }

  /** Take `n` references at once (folio_ref_add). */
  getN(pfn: number, n: number): void {
    this.touched?.();
    if (!this.live(pfn, 'get on')) return;
    const h = this.headChunk(pfn);
    if (h >= 0) this.cRef[h] = this.cRef[h]! + n;
    else this.refc[pfn >>> CHUNK_SHIFT]![pfn & CHUNK_MASK]! += n;
  }

  /** One more PMD/PUD mapping of the whole folio at `pfn` (folio_add_*_rmap_pmd). */
  incEntireMapcount(pfn: number): void {
    this.touched?.();
    if (!this.live(pfn, 'mapping')) return;
    const h = this.headChunk(pfn);
    if (h < 0) throw new Error(`FrameTable.incEntireMapcount: pfn ${String(pfn)} is not part of a compound folio`);
    this.cEntire[h]!++;
  }

  /** One PMD/PUD mapping of the whole folio fewer (folio_remove_rmap_pmd). */
  decEntireMapcount(pfn: number): void {
    this.touched?.();
    if (!this.live(pfn, 'unmapping')) return;
    const h = this.headChunk(pfn);
    if (h < 0) throw new Error(`FrameTable.decEntireMapcount: pfn ${String(pfn)} is not part of a compound folio`);
    if (this.cEntire[h]! <= 0) {
      this.report('frame-mapcount-underflow', pfn, 'entire mapcount underflow');
      return;
    }
    this.cEntire[h]!--;
  }

  /**
   * Split the compound folio containing `pfn` into order-0 pages (split_huge_page's last step,
   * once no PMD maps it any more): each page keeps the references of its own PTE mappings, the
   * head page also every other reference the folio had (the caller's), and pages left with none
   * are freed at once. Flags, owner and index carry over; PG_locked stays on the head only.
   * With `eachRef`, the caller's references are spread one per page instead (it took
   * nr - 1 more first): what a split of an unmapped, isolated folio needs, where every new folio
   * stays the caller's (migrate_vma's split of a folio it migrates, a driver's backing folio).
   * @returns the freed pfns, or null (and a problem) if the folio is still PMD-mapped, free or
   *   in the swap cache.
   */
  splitCompound(pfn: number, eachRef = false): number[] | null {
    this.checkPfn(pfn);
    const h = this.headChunk(pfn);
    if (h < 0) return [];
    if (this.cEntire[h] !== 0 || (this.cFlg[h]! & (PG_BUDDY | PG_SWAPCACHE)) !== 0) {
      this.report('frame-split-refused', pfn, 'split of a folio that is free, PMD-mapped or in the swap cache');
      return null;
    }
    this.touched?.();
    const head = h * CHUNK;
    const nr = 2 ** this.cOrder[h]!;
    const extra = this.cRef[h]! - this.cPteMaps[h]! - (eachRef ? nr - 1 : 0);
    const flags = this.cFlg[h]!;
    const owner = this.cOwn[h]!;
    const index = this.cIdx[h]!;
    const gen = this.cGen[h]! >>> 0;
    const maps = new Int32Array(nr);
    for (let k = 0; k < nr; k++) maps[k] = this.pageMap(head + k);
    const n = this.unmarkCompound(h);
    for (let k = 0; k < n; k++) this.cPageMap[h + k] = undefined;
    this.compoundUsed--;
    const freed: number[] = [];
    for (let k = 0; k < nr; k++) {
      const p = head + k;
      const c = p >>> CHUNK_SHIFT;
      const i = p & CHUNK_MASK;
      this.mapc[c]![i] = maps[k]!;
      this.refc[c]![i] = maps[k]! + (k === 0 ? extra : eachRef ? 1 : 0);
      this.flg[c]![i] = k === 0 || eachRef ? flags : flags & ~PG_LOCKED;
      this.own[c]![i] = owner;
      this.idx[c]![i] = (index + k) | 0;
      this.gen[c]![i] = gen;
      if (this.refc[c]![i] === 0) freed.push(p);
    }
    for (const p of freed) this.release(p, p >>> CHUNK_SHIFT, p & CHUNK_MASK, this.flg[p >>> CHUNK_SHIFT]![p & CHUNK_MASK]!);
    // pfns of the chunks the folio did not use become ordinary free frames (for device memory:
    // idle pfns nobody hands out).
    for (let p = head + nr; p < (h + n) * CHUNK; p++) {
      const c = p >>> CHUNK_SHIFT;
      const i = p & CHUNK_MASK;
      if ((flags & PG_DEVICE_PRIVATE) !== 0) {
        this.flg[c]![i] = PG_DEVICE_PRIVATE | PG_BUDDY;
        this.own[c]![i] = -1;
        continue;
      }
      this.flg[c]![i] = PG_BUDDY;
      this.own[c]![i] = -1;
      this.idx[c]![i] = this.freeHead;
      this.freeHead = p;
      this.freeLen++;
    }
    return freed;
  }

  /** The last-reference part of `put` for a compound folio. */
  protected putCompound(h: number, pfn: number): boolean {
    const f = this.cFlg[h]!;
    if ((f & PG_BUDDY) !== 0) {
      this.report('frame-put-on-free', pfn, 'put on a free page');
      return false;
    }
    if (--this.cRef[h]! > 0) return false;
    if (this.cEntire[h]! > 0 || this.cPteMaps[h]! > 0) this.report('frame-freed-while-mapped', pfn, 'page freed while still mapped');
    if ((f & PG_LOCKED) !== 0) this.report('frame-freed-while-locked', pfn, 'page freed while locked');
    const head = h * CHUNK;
    const nr = 2 ** this.cOrder[h]!;
    if (this.data.size !== 0) for (let k = 0; k < nr; k++) this.data.drop(head + k);
    if (this.priv.size !== 0) this.priv.delete(head);
    this.cGen[h] = (this.cGen[h]! + 1) | 0;
    this.cEntire[h] = 0;
    this.cPteMaps[h] = 0;
    this.cOwn[h] = -1;
    if ((f & PG_DEVICE_PRIVATE) !== 0) {
      // Idle again, the driver's (page_free); it stays a folio of its order.
      this.cFlg[h] = PG_DEVICE_PRIVATE | PG_BUDDY;
      this.deviceUsed -= nr;
      this.compoundUsed--;
      return true;
    }
    this.cFlg[h] = PG_BUDDY;
    this.freeCompound(h);
    this.ramUsed -= nr;
    this.compoundUsed--;
    return true;
  }

  // ------------------------------------------------------------ what the life cycle shares

  /** Page contents (FrameTable makes them). */
  protected abstract readonly data: PageContents;
  /** Private words, sparse (FrameTable's). */
  protected abstract readonly priv: Map<number, number>;
  /** Head of the RAM free list (linked through `idx`), -1 when empty. */
  protected freeHead = -1;
  /** Frames on the RAM free list. */
  protected freeLen = 0;
  /** RAM frames allocated (zero page excluded). */
  protected ramUsed = 0;
  /** Device-private frames in use. */
  protected deviceUsed = 0;
  /** Device-private frames created. */
  protected deviceTotal = 0;
  /** Most RAM frames allocatable at once. */
  protected ramLimit = Number.MAX_SAFE_INTEGER;

  /**
   * Called on every reference or mapcount change. Frame state is shared by every address space
   * and by reclaim, whatever lock the caller holds; the mm layer uses this to tell the explorer
   * that the step touched state its scheduling point does not name.
   */
  touched: (() => void) | null = null;

  /** Records kernel-level misuse (FrameTable's problem sink). */
  protected abstract report(kind: MmProblemKind, pfn: number, what: string): void;
  /** Checks for count and owner changes (false for the zero page, and for a free frame: reported). */
  protected abstract live(pfn: number, what: string): boolean;
  /** Frees an ordinary frame whose last reference went. */
  protected abstract release(pfn: number, c: number, i: number, f: number): void;


  protected override describeCompound(pfn: number): string {
    const h = this.headChunk(pfn);
    const head = h * CHUNK;
    return (
      `pfn:${String(pfn)} (page ${String(pfn - head)} of order-${String(this.cOrder[h])} folio ${String(head)}) ` +
      `gen:${String(this.cGen[h])} refcount:${String(this.cRef[h])} entire_mapcount:${String(this.cEntire[h])} ` +
      `mapcount:${String(this.pageMap(pfn))} flags:${frameFlagNames(this.cFlg[h]!) + ((this.cFlg[h]! & FOLIO_HUGETLB) !== 0 ? '|hugetlb' : '') || '0'} owner:${String(this.cOwn[h])} ` +
      `index:${String(this.cIdx[h]! + (pfn - head))}`
    );
  }

  /** Bytes of the compact compound metadata (per-chunk arrays and per-page mapcounts). */
  compoundBytes(): number {
    let n = 9 * this.cHead.byteLength;
    for (const a of this.cPageMap) if (a !== undefined) n += a.byteLength;
    return n;
  }

  private growCompound(chunks: number): void {
    if (chunks < this.cHead.length) return;
    this.cHead = grownI32(this.cHead, chunks);
    this.cRef = grownI32(this.cRef, chunks);
    this.cEntire = grownI32(this.cEntire, chunks);
    this.cOwn = grownI32(this.cOwn, chunks);
    this.cIdx = grownI32(this.cIdx, chunks);
    this.cGen = grownI32(this.cGen, chunks);
    this.cFlg = grownI32(this.cFlg, chunks);
    this.cOrder = grownI32(this.cOrder, chunks);
    this.cPteMaps = grownI32(this.cPteMaps, chunks);
  }
}
