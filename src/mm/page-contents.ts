/**
 * Lazily allocated page contents, keyed by pfn.
 *
 * Most simulated pages are never written with data (a fault maps a zeroed
 * page, a scenario writes a few marker words), so a frame owns a 4 KiB buffer
 * only from its first non-zero write; a frame without one reads as zeros. This
 * keeps a million mapped pages at metadata cost only. Buffers of dropped pages
 * are kept in a small pool and reused, so steady-state churn (COW, migration,
 * swap) does not allocate.
 *
 * This store does no liveness checks: FrameTable decides whether an access is
 * allowed and reports misuse before calling in.
 */
import { freshBuffer, type BufferAllocator } from '../sim/buffer-pool.js';
import { PAGE_SIZE, WORDS_PER_PAGE } from './constants.ts';

/** Recycled buffers kept at most; beyond that they go to the GC. */
const SPARE_BUFFERS_MAX = 256;

/** Sparse pfn → 4 KiB word buffer map with buffer recycling. */
export class PageContents {
  private readonly pages = new Map<number, Uint32Array>();
  private readonly spare: Uint32Array[] = [];

  /** `allocate` gives the pages' storage (a world's run-scoped pool in the model). */
  constructor(private readonly allocate: BufferAllocator = freshBuffer) {}

  /** Word at index `word` (0..1023) of page `pfn`; 0 for a page without a buffer. */
  read(pfn: number, word: number): number {
    const buf = this.pages.get(pfn);
    return buf === undefined ? 0 : buf[word]!;
  }

  /** Store a word (as unsigned 32-bit). Writing 0 to a page without a buffer allocates nothing. */
  write(pfn: number, word: number, value: number): void {
    let buf = this.pages.get(pfn);
    if (buf === undefined) {
      if (value >>> 0 === 0) return;
      buf = this.take();
      this.pages.set(pfn, buf);
    }
    buf[word] = value;
  }

  /** The page's buffer itself (not a copy), or undefined if it reads as zeros. */
  peek(pfn: number): Uint32Array | undefined {
    return this.pages.get(pfn);
  }

  /** Replace page `pfn`'s words with a copy of `data`, or zeros for null. */
  load(pfn: number, data: Uint32Array | null): void {
    if (data === null) {
      this.drop(pfn);
      return;
    }
    if (data.length !== WORDS_PER_PAGE) {
      throw new Error(`PageContents.load: ${String(data.length)} words, expected ${String(WORDS_PER_PAGE)}`);
    }
    let buf = this.pages.get(pfn);
    if (buf === undefined) {
      buf = this.take();
      this.pages.set(pfn, buf);
    }
    if (buf !== data) buf.set(data);
  }

  /** Make page `pfn` read as zeros again, recycling its buffer. */
  drop(pfn: number): void {
    const buf = this.pages.get(pfn);
    if (buf === undefined) return;
    this.pages.delete(pfn);
    if (this.spare.length < SPARE_BUFFERS_MAX) this.spare.push(buf);
  }

  /** True if page `pfn` owns a buffer. */
  has(pfn: number): boolean {
    return this.pages.has(pfn);
  }

  /** Number of pages owning a buffer. */
  get size(): number {
    return this.pages.size;
  }

  /** Bytes of buffers held, including recycled spares. */
  bytes(): number {
    return (this.pages.size + this.spare.length) * PAGE_SIZE;
  }

  private take(): Uint32Array {
    const b = this.spare.pop();
    if (b === undefined) return new Uint32Array(this.allocate(PAGE_SIZE));
    b.fill(0);
    return b;
  }
}
