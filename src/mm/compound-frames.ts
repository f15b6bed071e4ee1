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
 * mappings (`splitCompound` in FrameTable).
 *
 * Freed compound folios go on a free list per order and are reused whole; order-0 allocations
 * never take them (pfn space is plentiful; RAM is counted by the limit, not by pfns).
 */
import { CHUNK, CHUNK_SHIFT, FrameStore } from './frame-store.ts';
import { frameFlagNames } from './frame-flags.ts';

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

/** Frame storage with compact compound folios; FrameTable builds the life cycle on it. */
export class CompoundFrames extends FrameStore {
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
