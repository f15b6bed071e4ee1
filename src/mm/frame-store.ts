/**
 * Storage layout of page-frame metadata: structure-of-arrays in chunks.
 *
 * Per frame: refcount, mapcount, owner, index (Int32 each), generation
 * (Uint32) and flags (Uint16) — 22 bytes. Frames live in fixed chunks of 1024,
 * one ArrayBuffer per chunk viewed as the six arrays, instead of one array per
 * field grown by doubling: at the 2^20 frames of a fully faulted 4 GiB region a
 * doubling array would overshoot to 2^21 and double the bytes per frame, while
 * a chunk bounds the overshoot to 1024 frames and nothing is ever copied.
 * Access is `field[pfn >>> CHUNK_SHIFT][pfn & CHUNK_MASK]`.
 *
 * A compound folio (a transparent huge page, a hugetlb page) occupies whole
 * chunks (a 2 MiB folio one chunk, its upper 512 pfns unused) and has no
 * per-frame arrays at all: its chunks hold placeholders, and its metadata is
 * kept once per folio by CompoundFrames (compound-frames.ts). That is what keeps
 * a PMD-mapped huge page far below a byte of metadata per 4 KiB. (Chunks of 512
 * would fit a 2 MiB folio exactly, but double the typed-array objects per base
 * page: +0.7 heap bytes a page.)
 *
 * This class knows nothing of the meaning of the fields; FrameTable (frames.ts)
 * builds the page lifecycle on it.
 */
import { freshBuffer, type BufferAllocator } from '../sim/buffer-pool.js';
import { frameFlagNames, PG_BUDDY } from './frame-flags.ts';

/** log2 of the frames per chunk. */
export const CHUNK_SHIFT = 10;
/** Frames per chunk. */
export const CHUNK = 1 << CHUNK_SHIFT;
/** Mask of a pfn's index within its chunk. */
export const CHUNK_MASK = CHUNK - 1;
/** Metadata bytes per chunk: five 32-bit fields and one 16-bit field per frame. */
export const CHUNK_BYTES = CHUNK * (5 * 4 + 2);
/** Largest number of frames (pfns are Int32 in page-table entries). */
export const MAX_FRAMES = 0x7fffffff;

const NO_I32 = new Int32Array(0);
const NO_U32 = new Uint32Array(0);
const NO_U16 = new Uint16Array(0);

/** Chunked structure-of-arrays storage of frame metadata. */
export class FrameStore {
  /** Reference counts, per chunk. */
  protected readonly refc: Int32Array[] = [];
  /** Mapcounts, per chunk. */
  protected readonly mapc: Int32Array[] = [];
  /** Owner ids, per chunk. */
  protected readonly own: Int32Array[] = [];
  /** Page index in the owner; for a free RAM frame, the next frame on the free list. */
  protected readonly idx: Int32Array[] = [];
  /** Generations (times freed), per chunk. */
  protected readonly gen: Uint32Array[] = [];
  /** Flag words, per chunk. */
  protected readonly flg: Uint16Array[] = [];
  /** One past the highest pfn handed out. */
  protected nextUnused = 0;
  /** Chunks with real per-frame arrays (compound chunks hold placeholders). */
  protected baseChunks = 0;

  /** `allocate` gives the chunks' storage (a world's run-scoped pool in the model). */
  constructor(protected readonly allocate: BufferAllocator = freshBuffer) {}

  /** One past the highest pfn ever handed out; every pfn below it is valid. */
  get capacity(): number {
    return this.nextUnused;
  }

  /** Bytes of typed-array metadata (excludes page contents). */
  metadataBytes(): number {
    return this.baseChunks * CHUNK_BYTES;
  }

  /** One-line description for messages: `pfn:5 gen:2 refcount:1 mapcount:0 flags:anon owner:3 index:9`. */
  describe(pfn: number): string {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.nextUnused) return `pfn:${String(pfn)} (invalid)`;
    const c = pfn >>> CHUNK_SHIFT;
    const i = pfn & CHUNK_MASK;
    if (this.flg[c]!.length === 0) return this.describeCompound(pfn);
    const f = this.flg[c]![i]!;
    // A free RAM frame's index field is the free-list link, not an index: don't print it as one.
    const index = (f & PG_BUDDY) !== 0 ? -1 : this.idx[c]![i]!;
    return (
      `pfn:${String(pfn)} gen:${String(this.gen[c]![i])} refcount:${String(this.refc[c]![i])} ` +
      `mapcount:${String(this.mapc[c]![i])} flags:${frameFlagNames(f) || '0'} ` +
      `owner:${String(this.own[c]![i])} index:${String(index)}`
    );
  }

  /** Hand out `count` fresh consecutive pfns (zeroed metadata), adding chunks as needed. */
  protected takeUnused(count: number): number {
    const first = this.nextUnused;
    const end = first + count;
    if (end > MAX_FRAMES) throw new Error('FrameTable: pfn space (2^31 frames) exhausted');
    while (this.refc.length * CHUNK < end) this.pushChunk(this.refc.length);
    this.nextUnused = end;
    return first;
  }

  /**
   * Hand out `n` fresh whole chunks without per-frame arrays (placeholders), for a compound
   * folio. The caller first moves `nextUnused` to a chunk boundary.
   * @returns the first chunk's number.
   */
  protected takeChunks(n: number): number {
    if (this.nextUnused % CHUNK !== 0) throw new Error('FrameStore.takeChunks: not at a chunk boundary');
    const first = this.nextUnused >>> CHUNK_SHIFT;
    if (this.nextUnused + n * CHUNK > MAX_FRAMES) throw new Error('FrameTable: pfn space (2^31 frames) exhausted');
    for (let k = 0; k < n; k++) {
      this.refc.push(NO_I32);
      this.mapc.push(NO_I32);
      this.own.push(NO_I32);
      this.idx.push(NO_I32);
      this.gen.push(NO_U32);
      this.flg.push(NO_U16);
    }
    this.nextUnused += n * CHUNK;
    return first;
  }

  /** Give chunk `c` (a placeholder, or new at the end) real, zeroed per-frame arrays. */
  protected pushChunk(c: number): void {
    const buf = this.allocate(CHUNK_BYTES);
    this.refc[c] = new Int32Array(buf, 0, CHUNK);
    this.mapc[c] = new Int32Array(buf, 4 * CHUNK, CHUNK);
    this.own[c] = new Int32Array(buf, 8 * CHUNK, CHUNK);
    this.idx[c] = new Int32Array(buf, 12 * CHUNK, CHUNK);
    this.gen[c] = new Uint32Array(buf, 16 * CHUNK, CHUNK);
    this.flg[c] = new Uint16Array(buf, 20 * CHUNK, CHUNK);
    this.baseChunks++;
  }

  /** Description of a pfn in a compound chunk (overridden where compound folios exist). */
  protected describeCompound(pfn: number): string {
    return `pfn:${String(pfn)} (compound)`;
  }

  /** Throw for a pfn outside the table: that is a bug in the model itself, not kernel misuse. */
  protected checkPfn(pfn: number): void {
    if (!(pfn >= 0 && pfn < this.nextUnused) || (pfn | 0) !== pfn) {
      throw new RangeError(`FrameTable: pfn ${String(pfn)} is not a valid frame (capacity ${String(this.nextUnused)})`);
    }
  }
}
