/**
 * The reference model for the mm property tests: what each process should see at each virtual
 * page, with none of the machinery (no frames, no page tables, no swap, no reclaim).
 *
 * A page is one of:
 *   private copy   words of its own (anonymous memory, or a private file page once written)
 *   view           a page of a file (shared mappings; private file pages not yet written)
 * plus its protection. Files are word maps with a size. Fork deep-copies private copies and
 * keeps views pointing at the same file.
 *
 * MADV_FREE makes a word "maybe zero": reclaim may discard the page, or not, so a load may see
 * the old value or zero until the word is stored to again. Tracking that per word is weaker than
 * the truth (a page is discarded as a whole) but sound, and simple.
 */
import { PAGE_SIZE } from '../../src/mm/constants.ts';

/** One word of a private copy. */
export interface RefWord {
  v: number;
  maybeZero: boolean;
}

/** A file (or shmem object): words by byte offset / 4, and a size in bytes. */
export class RefFile {
  readonly words = new Map<number, number>();
  constructor(public size: number) {}

  get pages(): number {
    return Math.ceil(this.size / PAGE_SIZE);
  }

  read(byteOffset: number): number {
    return this.words.get(byteOffset / 4) ?? 0;
  }

  write(byteOffset: number, v: number): void {
    if (v === 0) this.words.delete(byteOffset / 4);
    else this.words.set(byteOffset / 4, v);
    if (byteOffset + 4 > this.size) this.size = byteOffset + 4;
  }
}

/** One mapped page of a process. */
export interface RefPage {
  prot: number;
  shared: boolean;
  /** The file page behind it, or null for anonymous private memory. */
  backing: { file: RefFile; pgoff: number } | null;
  /** Private copy (word index -> word); null while it is a view (or untouched anonymous memory). */
  priv: Map<number, RefWord> | null;
}

/** What a load may return: one value, two (maybe zero), or a fault. */
export type Expect = { fault: true } | { fault: false; values: number[] };

/** A process: its mapped pages by address. */
export class RefProc {
  readonly pages = new Map<number, RefPage>();

  clone(): RefProc {
    const c = new RefProc();
    for (const [a, p] of this.pages) {
      c.pages.set(a, { ...p, priv: p.priv === null ? null : new Map([...p.priv].map(([k, w]) => [k, { ...w }])) });
    }
    return c;
  }

  /** Sorted mapped page addresses. */
  addresses(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }

  /** What the page's word `w` holds, ignoring protection; fault = past end of file. */
  content(p: RefPage, w: number): Expect {
    if (p.priv !== null) {
      const word = p.priv.get(w);
      if (word === undefined) return { fault: false, values: [0] };
      return { fault: false, values: word.maybeZero ? [word.v, 0] : [word.v] };
    }
    if (p.backing === null) return { fault: false, values: [0] };
    if (p.backing.pgoff >= p.backing.file.pages) return { fault: true };
    return { fault: false, values: [p.backing.file.read(p.backing.pgoff * PAGE_SIZE + w * 4)] };
  }

  /** A load, as the CPU sees it. */
  read(addr: number): Expect {
    const p = this.pages.get(addr - (addr % PAGE_SIZE));
    if (p === undefined || p.prot === 0) return { fault: true };
    return this.content(p, (addr % PAGE_SIZE) / 4);
  }

  /** A store. @returns false if it faults (nothing changes). */
  write(addr: number, v: number): boolean {
    const p = this.pages.get(addr - (addr % PAGE_SIZE));
    if (p === undefined || (p.prot & 2) === 0) return false;
    const w = (addr % PAGE_SIZE) / 4;
    if (p.shared) {
      const b = p.backing!;
      if (b.pgoff >= b.file.pages) return false;
      b.file.write(b.pgoff * PAGE_SIZE + w * 4, v);
      return true;
    }
    if (p.priv === null) {
      if (p.backing !== null) {
        const b = p.backing;
        if (b.pgoff >= b.file.pages) return false;
        // Copy-on-write: the private copy starts as the file page is now.
        p.priv = new Map();
        for (const [k, val] of b.file.words) {
          const off = k * 4 - b.pgoff * PAGE_SIZE;
          if (off >= 0 && off < PAGE_SIZE) p.priv.set(off / 4, { v: val, maybeZero: false });
        }
      } else {
        p.priv = new Map();
      }
    }
    p.priv.set(w, { v: v >>> 0, maybeZero: false });
    return true;
  }

  /**
   * A write fault that stores nothing (GUP for write: make_device_exclusive, pin_user_pages):
   * a private page gets its own copy, as a store would make it. @returns false if a store would fault.
   */
  writeFault(addr: number): boolean {
    const p = this.pages.get(addr - (addr % PAGE_SIZE));
    if (p === undefined || (p.prot & 2) === 0) return false;
    if (p.shared) return p.backing === null || p.backing.pgoff < p.backing.file.pages;
    if (p.priv !== null) return true;
    if (p.backing !== null) {
      const b = p.backing;
      if (b.pgoff >= b.file.pages) return false;
      p.priv = new Map();
      for (const [k, val] of b.file.words) {
        const off = k * 4 - b.pgoff * PAGE_SIZE;
        if (off >= 0 && off < PAGE_SIZE) p.priv.set(off / 4, { v: val, maybeZero: false });
      }
    } else {
      p.priv = new Map();
    }
    return true;
  }
}
