/**
 * The VMA set of one mm: non-overlapping virtual memory areas kept sorted by
 * address, with the operations mmap, munmap and mprotect are built from.
 *
 * A Vma is an object with identity, as a vm_area_struct is: the fault path
 * holds one across scheduling points (under the mmap lock), so split and merge
 * change VMAs in place the way the kernel does — a split shrinks the original
 * to the lower part and returns a new VMA for the upper part; a merge grows
 * one VMA and detaches the other (`detached` lets a holder notice).
 *
 * Storage is a sorted array with binary search: lookups are O(log n); insert
 * and remove are O(n) array moves, cheap for the few thousand VMAs of any
 * realistic scenario (the kernel's limit is 65530). The gap finder is a linear
 * scan.
 *
 * Anonymous VMAs get pgoff = start / PAGE_SIZE at creation, as the kernel
 * does, so an anon page's linear index (the frame's `index`) stays valid across
 * splits and merges, and contiguity of pgoff is one merge rule for anon and
 * file VMAs alike.
 *
 * Invalid arguments (unaligned, empty or overlapping ranges, a VMA not in this
 * set) throw Error: those are errors of the tool user. The mm layer checks what
 * the kernel reports as -EINVAL/-ENOMEM before calling in.
 */
import { MMAP_MIN_ADDR, PAGE_SIZE, TASK_SIZE, hexAddr, isPageAligned } from './constants.ts';
import { VM_IGNORE_MERGE, VM_SOFTDIRTY, VM_SPECIAL, vmFlagsString } from './vma-flags.ts';

/** One virtual memory area, [start, end). Change it only through its VmaSet (except `anonVma`). */
export class Vma {
  /** Unique within its VmaSet; split pieces get new ids. */
  readonly id: number;
  /** First address (page aligned). */
  start: number;
  /** One past the last address (page aligned). */
  end: number;
  /** VM_* flags. */
  flags: number;
  /** File id for a file mapping, -1 for anonymous memory. */
  readonly file: number;
  /** Page offset of `start` in the file (anon: the linear page index of `start`). */
  pgoff: number;
  /** Anon object id (the kernel's anon_vma), -1 until the mm layer assigns one at the first anon fault. */
  anonVma: number;
  /** True once removed from its set (unmapped, or merged into a neighbour). */
  detached = false;
  /** hugetlb: log2 of the huge page size (21 or 30); 0 for any other VMA. */
  hpageShift = 0;

  /** Create a VMA (VmaSet does this; exported for tests and for fork's copies). */
  constructor(id: number, start: number, end: number, flags: number, file: number, pgoff: number, anonVma: number) {
    this.id = id;
    this.start = start;
    this.end = end;
    this.flags = flags;
    this.file = file;
    this.pgoff = pgoff;
    this.anonVma = anonVma;
  }

  /** True for anonymous memory (no file). */
  get isAnon(): boolean {
    return this.file < 0;
  }

  /** Number of pages covered. */
  get pages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }

  /** True if `addr` lies inside. */
  contains(addr: number): boolean {
    return addr >= this.start && addr < this.end;
  }

  /** Page offset of `addr` in the backing object (the kernel's linear_page_index). */
  pgoffAt(addr: number): number {
    return this.pgoff + Math.floor((addr - this.start) / PAGE_SIZE);
  }

  /** Like a /proc/pid/maps line: `0x1000-0x3000 rw-p 0 anon #3`. */
  toString(): string {
    const what = this.file < 0 ? 'anon' : `file${String(this.file)}`;
    return `${hexAddr(this.start)}-${hexAddr(this.end)} ${vmFlagsString(this.flags)} ${String(this.pgoff)} ${what} #${String(this.id)}`;
  }
}

/** What `VmaSet.insert` needs to create a VMA. */
export interface VmaSpec {
  /** First address, page aligned. */
  start: number;
  /** End address (exclusive), page aligned. */
  end: number;
  /** VM_* flags. */
  flags: number;
  /** File id, or -1 / omitted for anonymous memory. */
  file?: number;
  /** Page offset in the file (file mappings; anon VMAs always use start / PAGE_SIZE). */
  pgoff?: number;
  /** Anon object id, default -1. */
  anonVma?: number;
}

/** Options for {@link VmaSet.findGap}. */
export interface GapOptions {
  /** Lowest address to hand out (default MMAP_MIN_ADDR). */
  low?: number;
  /** Highest end address (exclusive, default TASK_SIZE). */
  high?: number;
  /** Search from the top down, as the kernel's default mmap layout does (default true). */
  topDown?: boolean;
}

/**
 * True if `a` (directly below) and `b` (directly above) may be one VMA: equal
 * flags (ignoring soft-dirty), neither special, same file or both anonymous,
 * contiguous pgoff, and anon objects equal or at most one assigned.
 */
export function canMerge(a: Vma, b: Vma): boolean {
  return (
    a.end === b.start &&
    ((a.flags ^ b.flags) & ~VM_IGNORE_MERGE) === 0 &&
    (a.flags & VM_SPECIAL) === 0 &&
    a.file === b.file &&
    a.hpageShift === b.hpageShift &&
    b.pgoff === a.pgoff + a.pages &&
    (a.anonVma === b.anonVma || a.anonVma < 0 || b.anonVma < 0)
  );
}

/** The sorted set of VMAs of one mm. */
export class VmaSet {
  private readonly list: Vma[] = [];
  private nextId = 1;

  /** Number of VMAs (the kernel's map_count). */
  get count(): number {
    return this.list.length;
  }

  /** VMAs in ascending address order. Do not modify the set while iterating. */
  [Symbol.iterator](): IterableIterator<Vma> {
    return this.list[Symbol.iterator]();
  }

  /** The VMAs as a new array, ascending. */
  toArray(): Vma[] {
    return this.list.slice();
  }

  /** The VMA containing `addr`, or undefined (the kernel's vma_lookup). */
  find(addr: number): Vma | undefined {
    const v = this.list[this.firstEndAbove(addr)];
    return v !== undefined && v.start <= addr ? v : undefined;
  }

  /** The first VMA ending above `addr`, which may start above it (the kernel's find_vma). */
  findNext(addr: number): Vma | undefined {
    return this.list[this.firstEndAbove(addr)];
  }

  /** The first VMA intersecting [start, end), or undefined (find_vma_intersection). */
  findIntersection(start: number, end: number): Vma | undefined {
    const v = this.list[this.firstEndAbove(start)];
    return v !== undefined && v.start < end ? v : undefined;
  }

  /** The VMA before `vma` in address order, or undefined. */
  prev(vma: Vma): Vma | undefined {
    return this.list[this.indexOf(vma) - 1];
  }

  /** The VMA after `vma` in address order, or undefined. */
  next(vma: Vma): Vma | undefined {
    return this.list[this.indexOf(vma) + 1];
  }

  /** True if every address of [start, end) lies in some VMA. */
  isCovered(start: number, end: number): boolean {
    let addr = start;
    for (let i = this.firstEndAbove(start); addr < end; i++) {
      const v = this.list[i];
      if (v === undefined || v.start > addr) return false;
      addr = v.end;
    }
    return true;
  }

  /**
   * Add a mapping over a free range and merge it with compatible neighbours
   * (what mmap does after finding the range).
   * @returns the VMA now covering the range (a neighbour if it merged).
   * @throws Error if the range is unaligned, empty, outside user space or overlaps a VMA.
   */
  insert(spec: VmaSpec): Vma {
    const { start, end } = spec;
    checkRange('VmaSet.insert', start, end);
    const file = spec.file ?? -1;
    const i = this.firstEndAbove(start);
    const above = this.list[i];
    if (above !== undefined && above.start < end) {
      throw new Error(`VmaSet.insert: [${hexAddr(start)}, ${hexAddr(end)}) overlaps VMA ${above.toString()}`);
    }
    const pgoff = file < 0 ? start / PAGE_SIZE : (spec.pgoff ?? 0);
    if (!Number.isSafeInteger(pgoff) || pgoff < 0) {
      throw new Error(`VmaSet.insert: pgoff ${String(pgoff)} must be a non-negative integer`);
    }
    const vma = new Vma(this.nextId++, start, end, spec.flags, file, pgoff, spec.anonVma ?? -1);
    this.list.splice(i, 0, vma);
    return this.tryMerge(vma);
  }

  /**
   * Split `vma` at `addr`: `vma` keeps [start, addr), a new VMA gets [addr, end)
   * with the same flags, file, anon object and the matching pgoff (split_vma).
   * @returns the new upper VMA.
   */
  split(vma: Vma, addr: number): Vma {
    const i = this.indexOf(vma);
    if (!isPageAligned(addr) || addr <= vma.start || addr >= vma.end) {
      throw new Error(`VmaSet.split: ${String(addr)} is not a page-aligned address strictly inside ${vma.toString()}`);
    }
    const upper = new Vma(this.nextId++, addr, vma.end, vma.flags, vma.file, vma.pgoffAt(addr), vma.anonVma);
    upper.hpageShift = vma.hpageShift;
    vma.end = addr;
    this.list.splice(i + 1, 0, upper);
    return upper;
  }

  /**
   * Merge `vma` with its neighbours where `canMerge` allows. The lower VMA of
   * a merged pair survives and grows; the other is detached.
   * @returns the VMA now covering `vma`'s range.
   */
  tryMerge(vma: Vma): Vma {
    let i = this.indexOf(vma);
    let cur = vma;
    const below = this.list[i - 1];
    if (below !== undefined && canMerge(below, cur)) {
      this.absorb(below, cur, i);
      cur = below;
      i--;
    }
    const above = this.list[i + 1];
    if (above !== undefined && canMerge(cur, above)) this.absorb(cur, above, i + 1);
    return cur;
  }

  /**
   * Remove [start, end) from the set, splitting VMAs that straddle its ends
   * (munmap). Holes inside the range are fine.
   * @returns the removed pieces, ascending, each detached and trimmed to the range.
   */
  removeRange(start: number, end: number): Vma[] {
    checkRange('VmaSet.removeRange', start, end);
    let i = this.firstEndAbove(start);
    const first = this.list[i];
    if (first === undefined || first.start >= end) return [];
    if (first.start < start) {
      this.split(first, start);
      i++;
    }
    let j = i;
    for (let v = this.list[j]; v !== undefined && v.start < end; v = this.list[++j]) {
      if (v.end > end) this.split(v, end);
    }
    const removed = this.list.splice(i, j - i);
    for (const v of removed) v.detached = true;
    return removed;
  }

  /**
   * Give [start, end) of `vma` new flags, splitting off the parts outside the
   * range and merging the result with compatible neighbours (the kernel's
   * vma_modify_flags as used by mprotect_fixup). Equal flags change nothing.
   * @returns the VMA now covering [start, end).
   */
  modifyFlags(vma: Vma, start: number, end: number, flags: number): Vma {
    this.indexOf(vma);
    checkRange('VmaSet.modifyFlags', start, end);
    if (start < vma.start || end > vma.end) {
      throw new Error(`VmaSet.modifyFlags: [${hexAddr(start)}, ${hexAddr(end)}) is not inside ${vma.toString()}`);
    }
    if (flags === vma.flags) return vma;
    let v = vma;
    if (start > v.start) v = this.split(v, start);
    if (end < v.end) this.split(v, end);
    v.flags = flags;
    return this.tryMerge(v);
  }

  /**
   * Set and clear flag bits on every VMA part inside [start, end) (holes are
   * skipped; the mm layer checks coverage first where the kernel requires it).
   * @returns the number of VMA parts whose flags changed.
   */
  changeFlags(start: number, end: number, set: number, clear: number): number {
    checkRange('VmaSet.changeFlags', start, end);
    let changed = 0;
    let addr = start;
    while (addr < end) {
      const v = this.findNext(addr);
      if (v === undefined || v.start >= end) break;
      const s = Math.max(v.start, addr);
      const e = Math.min(v.end, end);
      const flags = (v.flags | set) & ~clear;
      if (flags !== v.flags) {
        this.modifyFlags(v, s, e, flags);
        changed++;
      }
      addr = e;
    }
    return changed;
  }

  /**
   * A free range of `length` bytes for mmap without a fixed address (the
   * kernel's get_unmapped_area, without guard gaps): the highest fitting
   * address when top-down, the lowest otherwise.
   * @returns the start address, or -1 if no gap is large enough (-ENOMEM).
   */
  findGap(length: number, options: GapOptions = {}): number {
    if (!isPageAligned(length) || length === 0) {
      throw new Error(`VmaSet.findGap: length ${String(length)} must be a positive multiple of ${String(PAGE_SIZE)}`);
    }
    const low = options.low ?? MMAP_MIN_ADDR;
    const high = options.high ?? TASK_SIZE;
    if (options.topDown ?? true) {
      let gapEnd = high;
      for (let i = this.list.length - 1; i >= 0; i--) {
        const v = this.list[i]!;
        if (v.start >= gapEnd) continue;
        if (gapEnd - Math.max(v.end, low) >= length) return gapEnd - length;
        gapEnd = v.start;
        if (gapEnd <= low) return -1;
      }
      return gapEnd - low >= length ? gapEnd - length : -1;
    }
    let gapStart = low;
    for (const v of this.list) {
      if (v.end <= gapStart) continue;
      if (Math.min(v.start, high) - gapStart >= length) return gapStart;
      gapStart = v.end;
      if (gapStart >= high) return -1;
    }
    return high - gapStart >= length ? gapStart : -1;
  }

  /**
   * Check ordering, alignment, non-overlap, attachment and that no two
   * adjacent VMAs could merge (for tests).
   * @throws Error describing the first violation.
   */
  checkInvariants(): void {
    let prev: Vma | undefined;
    for (const v of this.list) {
      if (!isPageAligned(v.start) || !isPageAligned(v.end) || v.start >= v.end) throw new Error(`bad range ${v.toString()}`);
      if (v.detached) throw new Error(`detached VMA in set: ${v.toString()}`);
      if (prev !== undefined) {
        if (prev.end > v.start) throw new Error(`overlap: ${prev.toString()} / ${v.toString()}`);
        if (canMerge(prev, v)) throw new Error(`unmerged neighbours: ${prev.toString()} / ${v.toString()}`);
      }
      prev = v;
    }
  }

  // ------------------------------------------------------------ internals

  /** Index of the first VMA with end > addr (list.length if none). */
  private firstEndAbove(addr: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.list[mid]!.end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(vma: Vma): number {
    const i = this.firstEndAbove(vma.start);
    if (this.list[i] !== vma) {
      throw new Error(`VmaSet: ${vma.toString()} is not in this set${vma.detached ? ' (detached)' : ''}`);
    }
    return i;
  }

  /** Grow `low` over `high` (at index `hi`) and drop `high`. */
  private absorb(low: Vma, high: Vma, hi: number): void {
    low.end = high.end;
    // Soft-dirty is ignored when merging; keep it if either part had it, so no write goes unreported.
    low.flags |= high.flags & VM_SOFTDIRTY;
    if (low.anonVma < 0) low.anonVma = high.anonVma;
    this.list.splice(hi, 1);
    high.detached = true;
  }
}

function checkRange(what: string, start: number, end: number): void {
  if (!isPageAligned(start) || !isPageAligned(end)) {
    throw new Error(`${what}: [${String(start)}, ${String(end)}) is not page aligned`);
  }
  if (start >= end) throw new Error(`${what}: empty range [${hexAddr(start)}, ${hexAddr(end)})`);
  if (end > TASK_SIZE) throw new Error(`${what}: [${hexAddr(start)}, ${hexAddr(end)}) extends beyond user space`);
}
