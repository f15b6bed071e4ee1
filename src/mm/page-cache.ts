/**
 * An in-memory page cache for files, over a simple in-memory "disk".
 *
 * Each file has a size, a pgoff → pfn index of its cached pages and a backing
 * store holding the contents last written back. Pages come in on demand: a
 * miss allocates a frame, fills it from the backing store and marks it
 * uptodate (the kernel's filemap_grab/read path, without I/O delays). Reclaim
 * of a file page is the mm layer's job: write back if dirty, unmap, `remove`.
 *
 * The cache holds one reference on each cached frame (as the kernel's page
 * cache does) and sets the frame's owner to the file id and its index to the
 * pgoff. Lookups return the pfn without taking a reference: take one with
 * `frames.get` before any scheduling point.
 *
 * The index per file is a dense Int32Array (pfn + 1, 0 = absent) grown by
 * doubling: 4 bytes per page of file size, fine for files of the sizes that
 * scenarios use (a 4 GiB file costs a 4 MiB index). Backing contents are
 * sparse: only pages written back with non-zero data keep a buffer.
 *
 * Out of frames: `grab`, `pwrite32` and `pread32` report failure instead of
 * reclaiming (the caller reclaims and retries).
 */
import { PAGE_SIZE, PAGE_SHIFT } from './constants.ts';
import type { FrameTable } from './frames.ts';
import { PG_DIRTY, PG_UPTODATE } from './frame-flags.ts';

/** Largest page offset in a file (pgoffs are Int32 in frame metadata). */
export const MAX_PGOFF = 0x7fffffff;

interface FileState {
  size: number;
  /** pfn + 1 per pgoff; 0 = not cached. */
  index: Int32Array;
  cached: number;
  /** Contents as last written back, by pgoff; absent = zeros. */
  backing: Map<number, Uint32Array>;
}

/** Page cache and backing store of every file in the simulated system. */
export class PageCache {
  private readonly files: FileState[] = [];
  private total = 0;

  /** Create a cache allocating its pages from `frames`. */
  constructor(private readonly frames: FrameTable) {}

  /** Create a file of `size` bytes, all zeros, nothing cached. @returns its id (0, 1, 2, ...). */
  createFile(size = 0): number {
    checkSize(size);
    this.files.push({ size, index: new Int32Array(Math.max(4, pagesOf(size))), cached: 0, backing: new Map() });
    return this.files.length - 1;
  }

  /** Number of files created. */
  get fileCount(): number {
    return this.files.length;
  }

  /** Size in bytes (the kernel's i_size). */
  fileSize(file: number): number {
    return this.file(file).size;
  }

  /** Size in whole or partial pages. */
  filePages(file: number): number {
    return pagesOf(this.file(file).size);
  }

  /** Set the size without touching cached pages (i_size_write; growing a file). Use `truncate` to shrink. */
  setFileSize(file: number, size: number): void {
    checkSize(size);
    this.file(file).size = size;
  }

  /** The cached frame at `pgoff`, or -1 (no reference taken; the kernel's filemap lookup). */
  lookup(file: number, pgoff: number): number {
    const f = this.file(file);
    return pgoff >= 0 && pgoff < f.index.length ? f.index[pgoff]! - 1 : -1;
  }

  /**
   * Cache `pfn` at `pgoff`: takes a reference for the cache and sets the
   * frame's owner and index.
   * @returns false if another frame is already cached there (-EEXIST).
   */
  insert(file: number, pgoff: number, pfn: number): boolean {
    if (!this.place(file, pgoff, pfn)) return false;
    this.frames.get(pfn);
    return true;
  }

  /**
   * Drop the page at `pgoff` from the cache, clearing its owner and dropping
   * the cache's reference (which frees it unless someone else holds one).
   * @returns the pfn removed, or -1 if none was cached.
   */
  remove(file: number, pgoff: number): number {
    const f = this.file(file);
    const pfn = pgoff >= 0 && pgoff < f.index.length ? f.index[pgoff]! - 1 : -1;
    if (pfn < 0) return -1;
    f.index[pgoff] = 0;
    f.cached--;
    this.total--;
    if (!this.frames.isFree(pfn)) this.frames.setOwner(pfn, -1, 0);
    this.frames.put(pfn);
    return pfn;
  }

  /** The first cached pgoff in [from, to), or -1 (allocation-free, ascending). */
  nextCached(file: number, from: number, to: number): number {
    const f = this.file(file);
    const end = Math.min(to, f.index.length);
    for (let p = Math.max(0, from); p < end; p++) if (f.index[p] !== 0) return p;
    return -1;
  }

  /** Pages cached for `file`. */
  cachedCount(file: number): number {
    return this.file(file).cached;
  }

  /** Pages cached over all files. */
  get totalCached(): number {
    return this.total;
  }

  /**
   * The cached frame at `pgoff`, reading it in from the backing store on a
   * miss (a fresh frame, uptodate, clean, holding only the cache's reference).
   * @returns the pfn, or -1 if no frame could be allocated.
   */
  grab(file: number, pgoff: number): number {
    const f = this.file(file);
    const hit = pgoff >= 0 && pgoff < f.index.length ? f.index[pgoff]! - 1 : -1;
    if (hit >= 0) return hit;
    checkPgoff(pgoff);
    const pfn = this.frames.alloc(PG_UPTODATE);
    if (pfn < 0) return -1;
    this.frames.loadContents(pfn, f.backing.get(pgoff) ?? null);
    this.place(file, pgoff, pfn);
    return pfn;
  }

  /**
   * Write the cached page at `pgoff` to the backing store and clear its dirty
   * flag (writeback, done synchronously).
   * @returns false if the page is not cached.
   */
  writeback(file: number, pgoff: number): boolean {
    const pfn = this.lookup(file, pgoff);
    if (pfn < 0) return false;
    const data = this.frames.saveContents(pfn);
    const backing = this.file(file).backing;
    if (data === null) backing.delete(pgoff);
    else backing.set(pgoff, data);
    this.frames.clearFlags(pfn, PG_DIRTY);
    return true;
  }

  /** The word at `byteOffset` as the backing store holds it, ignoring the cache (for oracles). */
  readBacking32(file: number, byteOffset: number): number {
    checkWordOffset(byteOffset);
    const page = this.file(file).backing.get(Math.floor(byteOffset / PAGE_SIZE));
    return page === undefined ? 0 : page[(byteOffset % PAGE_SIZE) >>> 2]!;
  }

  /**
   * Store a 32-bit word at byte `byteOffset` (4-aligned) through the cache,
   * marking the page dirty and growing the file if the word lies beyond its
   * end (pwrite).
   * @returns false if a page was needed and no frame could be allocated.
   */
  pwrite32(file: number, byteOffset: number, value: number): boolean {
    checkWordOffset(byteOffset);
    const pfn = this.grab(file, Math.floor(byteOffset / PAGE_SIZE));
    if (pfn < 0) return false;
    this.frames.write32(pfn, byteOffset % PAGE_SIZE, value);
    this.frames.setFlags(pfn, PG_DIRTY);
    const f = this.file(file);
    if (byteOffset + 4 > f.size) f.size = byteOffset + 4;
    return true;
  }

  /**
   * Read the 32-bit word at byte `byteOffset` (4-aligned) through the cache,
   * reading the page in on a miss (pread). Beyond end of file reads 0 and
   * caches nothing.
   * @returns the word (unsigned), or -1 if a page was needed and no frame could be allocated.
   */
  pread32(file: number, byteOffset: number): number {
    checkWordOffset(byteOffset);
    if (byteOffset >= this.file(file).size) return 0;
    const pfn = this.grab(file, Math.floor(byteOffset / PAGE_SIZE));
    return pfn < 0 ? -1 : this.frames.read32(pfn, byteOffset % PAGE_SIZE);
  }

  /**
   * Shrink or grow the file to `size` bytes. Cached pages wholly beyond the new
   * end are removed (their cache reference dropped) and their backing contents
   * discarded; words of the last partial page past the end are zeroed, so a
   * later extension reads zeros. The caller unmaps those pages from every mm
   * first (unmap_mapping_range), as truncate does.
   * @returns the number of cached pages removed.
   */
  truncate(file: number, size: number): number {
    checkSize(size);
    const f = this.file(file);
    const keep = pagesOf(size);
    let removed = 0;
    for (let p = this.nextCached(file, keep, f.index.length); p >= 0; p = this.nextCached(file, p + 1, f.index.length)) {
      this.remove(file, p);
      removed++;
    }
    for (const p of [...f.backing.keys()]) if (p >= keep) f.backing.delete(p);
    const tail = size % PAGE_SIZE;
    if (tail !== 0) {
      const last = keep - 1;
      const firstWord = Math.ceil(tail / 4);
      const pfn = this.lookup(file, last);
      if (pfn >= 0) for (let w = firstWord; w < PAGE_SIZE / 4; w++) this.frames.write32(pfn, w * 4, 0);
      f.backing.get(last)?.fill(0, firstWord);
    }
    f.size = size;
    return removed;
  }

  // ------------------------------------------------------------ internals

  private file(file: number): FileState {
    const f = this.files[file];
    if (f === undefined) throw new Error(`PageCache: no file with id ${String(file)}`);
    return f;
  }

  /** Store pfn at pgoff and set its owner; no reference change. False if occupied. */
  private place(file: number, pgoff: number, pfn: number): boolean {
    checkPgoff(pgoff);
    const f = this.file(file);
    if (pgoff >= f.index.length) {
      let n = f.index.length * 2;
      while (n <= pgoff) n *= 2;
      const bigger = new Int32Array(Math.min(n, MAX_PGOFF + 1));
      bigger.set(f.index);
      f.index = bigger;
    }
    if (f.index[pgoff] !== 0) return false;
    f.index[pgoff] = pfn + 1;
    f.cached++;
    this.total++;
    this.frames.setOwner(pfn, file, pgoff);
    return true;
  }
}

function pagesOf(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_PGOFF * PAGE_SIZE) {
    throw new Error(`PageCache: file size ${String(size)} must be an integer in [0, 2^${String(31 + PAGE_SHIFT)})`);
  }
}

function checkPgoff(pgoff: number): void {
  if (!Number.isInteger(pgoff) || pgoff < 0 || pgoff > MAX_PGOFF) {
    throw new Error(`PageCache: pgoff ${String(pgoff)} must be an integer in [0, 2^31)`);
  }
}

function checkWordOffset(byteOffset: number): void {
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
    throw new RangeError(`PageCache: byte offset ${String(byteOffset)} must be a non-negative multiple of 4`);
  }
  checkPgoff(Math.floor(byteOffset / PAGE_SIZE));
}
