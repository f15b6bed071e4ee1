/**
 * A four-level page table (PGD → PUD → PMD → PTE, 512 entries each, 4 KiB
 * pages, 48-bit virtual addresses) stored in typed arrays.
 *
 * Upper levels are index arrays: a PGD entry holds a PUD-table id, a PUD entry
 * a PMD-table id, a PMD entry a leaf-table id (0 = no table; ids start at 1).
 * Each leaf (PTE) table is one 3 KiB ArrayBuffer viewed as an Int32Array of 512
 * pfns/slots and a Uint16Array of 512 bits words, so one entry costs 6 bytes
 * (the PTE value layout is in pte.ts). Leaf tables are allocated on demand and
 * recycled through a pool; a leaf's id is stable from allocation until
 * `freeEmptyTables` frees it, so the mm layer can keep a split page-table lock
 * per leaf id. Ids are reused after a free; each id carries a generation,
 * bumped on free, so a holder can tell a reused table from its own.
 *
 * Per leaf the table keeps a count of present and of non-none entries, which
 * lets iteration skip whole 2 MiB spans without scanning them, and lets
 * `freeEmptyTables` find empty leaves in O(1) each.
 *
 * Huge leaves: a PMD entry may map 2 MiB and a PUD entry 1 GiB directly (a
 * transparent huge page, a hugetlb page). Such a slot holds HUGE_LEAF (-1)
 * instead of a table id, and the entry's value, encoded like a PTE (pte.ts),
 * sits in a per-table Float64Array made on the first huge leaf of that table.
 * PTE-level iteration (`nextEntry`) skips huge leaves; `get` reports, for an
 * address under a present huge leaf, what a PTE mapping that one page would
 * hold (the head pfn plus the page's offset, the leaf's bits; for a device-private or migration
 * PMD entry too), so lookups that
 * only read (the CPU, the coherence oracle) need not care. Writing a PTE under a
 * huge leaf is a model bug and throws: the caller must split it first.
 *
 * Addresses are numbers in [0, 2^48). A byte address names the entry of the
 * page containing it. 32-bit operators are applied only to offsets within a
 * 1 GiB span; whole addresses are split with exact divisions (constants.ts).
 */
import { PAGE_SIZE, PGDIR_SIZE, PMD_SIZE, PTRS_PER_TABLE, PUD_SIZE, VA_SPACE_SIZE, hexAddr } from './constants.ts';
import { freshBuffer, type BufferAllocator } from '../sim/buffer-pool.js';
import { KIND_MASK_ANY, KIND_MASK_PRESENT, PTE_KIND_BITS as KIND_MASK_BITS, PTE_KIND_DEVICE_PRIVATE, PTE_KIND_MIGRATION, PTE_KIND_PRESENT, type Pte } from './pte.ts';

const LEAF_BYTES = PTRS_PER_TABLE * 6;
/** What a PMD or PUD slot holds when its entry is a huge leaf rather than a table id. */
export const HUGE_LEAF = -1;
/** Result of `leafAt` for an address covered by a huge leaf. */
export const LEAF_IS_HUGE = -2;
const NO_TABLE = new Int32Array(0);
const NO_BITS = new Uint16Array(0);

/** Index of `addr`'s entry within its leaf table (the kernel's pte_index). */
export function pteIndex(addr: number): number {
  return (addr % PMD_SIZE) >>> 12;
}

/** Index of `addr`'s entry within its PMD table (pmd_index). */
export function pmdIndex(addr: number): number {
  return (addr % PUD_SIZE) >>> 21;
}

/** Index of `addr`'s entry within its PUD table (pud_index). */
export function pudIndex(addr: number): number {
  return Math.floor(addr / PUD_SIZE) % PTRS_PER_TABLE;
}

/** Index of `addr`'s entry within the PGD (pgd_index). */
export function pgdIndex(addr: number): number {
  return Math.floor(addr / PGDIR_SIZE) % PTRS_PER_TABLE;
}

function grown<T extends Int32Array | Uint32Array | Float64Array>(a: T, need: number): T {
  if (need < a.length) return a;
  let n = a.length * 2;
  while (n <= need) n *= 2;
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** The page table of one mm. */
export class PageTable {
  private readonly pgd: Int32Array;
  /** PUD tables by id (entries: PMD-table ids). Slot 0 is unused. */
  private readonly pud: Int32Array[] = [NO_TABLE];
  /** PMD tables by id (entries: leaf ids). Slot 0 is unused. */
  private readonly pmd: Int32Array[] = [NO_TABLE];
  /** Non-zero entries per PUD / PMD table, to know when one becomes empty. */
  private pudUsed = new Int32Array(4);
  private pmdUsed = new Int32Array(4);
  private readonly pudFree: number[] = [];
  private readonly pmdFree: number[] = [];

  /** Leaf pfn/slot arrays and bits arrays by leaf id. Slot 0 is unused. */
  private readonly lpfn: Int32Array[] = [NO_TABLE];
  private readonly lbits: Uint16Array[] = [NO_BITS];
  private leafPresent = new Int32Array(16);
  private leafUsed = new Int32Array(16);
  private leafGen = new Uint32Array(16);
  /** Address of a live leaf's first entry; -1 when the id is free. */
  private leafBase: Float64Array;
  private readonly leafFree: number[] = [];
  /** Huge PMD entry values by PMD-table id (made on the table's first huge leaf). */
  private readonly pmdVal: (Float64Array | undefined)[] = [undefined];
  /** Huge PUD entry values by PUD-table id. */
  private readonly pudVal: (Float64Array | undefined)[] = [undefined];
  private nHugePmd = 0;
  private nHugePud = 0;

  private nPresent = 0;
  private nUsed = 0;
  private nLeaves = 0;

  /**
   * `allocate` gives the storage of the tables (a world's run-scoped pool in the model, so the
   * explorer's millions of runs reuse the same buffers).
   */
  constructor(private readonly allocate: BufferAllocator = freshBuffer) {
    this.pgd = new Int32Array(allocate(PTRS_PER_TABLE * 4));
    this.leafBase = new Float64Array(allocate(16 * 8)).fill(-1);
  }

  // ------------------------------------------------------------ whole-address access

  /** The entry for `addr` (0, the none entry, if no leaf table covers it). */
  get(addr: number): Pte {
    const leaf = this.leafAt(addr);
    if (leaf < 0) return leaf === LEAF_IS_HUGE ? this.hugeSubpage(addr) : 0;
    const i = pteIndex(addr);
    return this.lpfn[leaf]![i]! * 0x10000 + this.lbits[leaf]![i]!;
  }

  /** Store `pte` for `addr`, allocating tables as needed (none entries allocate nothing). */
  set(addr: number, pte: Pte): void {
    if (pte === 0) {
      this.clear(addr);
      return;
    }
    this.setAt(this.allocLeaf(addr), pteIndex(addr), pte);
  }

  /** Clear the entry for `addr` and return what it held (ptep_get_and_clear). */
  clear(addr: number): Pte {
    const leaf = this.leafAt(addr);
    if (leaf === LEAF_IS_HUGE) throw new Error(`PageTable.clear: ${hexAddr(addr)} is under a huge leaf; split it first`);
    if (leaf < 0) return 0;
    const i = pteIndex(addr);
    const old = this.lpfn[leaf]![i]! * 0x10000 + this.lbits[leaf]![i]!;
    if (old !== 0) this.setAt(leaf, i, 0);
    return old;
  }

  // ------------------------------------------------------------ leaf tables

  /**
   * Id of the leaf table covering `addr`, -1 if none, LEAF_IS_HUGE (-2) if a huge PMD or PUD
   * entry covers it (no allocation; pte_offset_map).
   */
  leafAt(addr: number): number {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pudId = this.pgd[hi >>> 9]!;
    if (pudId === 0) return -1;
    const pmdId = this.pud[pudId]![hi & 511]!;
    if (pmdId === 0) return -1;
    if (pmdId === HUGE_LEAF) return LEAF_IS_HUGE;
    const leaf = this.pmd[pmdId]![(addr - hi * PUD_SIZE) >>> 21]!;
    return leaf === 0 ? -1 : leaf === HUGE_LEAF ? LEAF_IS_HUGE : leaf;
  }

  /** Id of the leaf table covering `addr`, allocating it and upper tables if needed (pte_alloc). */
  allocLeaf(addr: number): number {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const g = hi >>> 9;
    let pudId = this.pgd[g]!;
    if (pudId === 0) {
      pudId = this.newUpper(this.pud, this.pudFree);
      this.pudUsed = grown(this.pudUsed, pudId);
      this.pgd[g] = pudId;
    }
    const pudT = this.pud[pudId]!;
    const u = hi & 511;
    let pmdId = pudT[u]!;
    if (pmdId === HUGE_LEAF) throw new Error(`PageTable.allocLeaf: ${hexAddr(addr)} is under a huge PUD leaf`);
    if (pmdId === 0) {
      pmdId = this.newUpper(this.pmd, this.pmdFree);
      this.pmdUsed = grown(this.pmdUsed, pmdId);
      pudT[u] = pmdId;
      this.pudUsed[pudId]!++;
    }
    const pmdT = this.pmd[pmdId]!;
    const m = (addr - hi * PUD_SIZE) >>> 21;
    let leaf = pmdT[m]!;
    if (leaf === HUGE_LEAF) throw new Error(`PageTable.allocLeaf: ${hexAddr(addr)} is under a huge PMD leaf; split it first`);
    if (leaf === 0) {
      leaf = this.newLeaf(hi * PUD_SIZE + m * PMD_SIZE);
      pmdT[m] = leaf;
      this.pmdUsed[pmdId]!++;
    }
    return leaf;
  }

  /** Entry `index` (0..511) of leaf `leaf`. */
  getAt(leaf: number, index: number): Pte {
    return this.lpfn[leaf]![index]! * 0x10000 + this.lbits[leaf]![index]!;
  }

  /** Store entry `index` of leaf `leaf`, keeping the present/non-none counts. */
  setAt(leaf: number, index: number, pte: Pte): void {
    const bits = this.lbits[leaf]!;
    const oldKind = bits[index]! & 7;
    let nb = pte & 0xffff;
    const newKind = nb & 7;
    // A none entry is all zeros, whatever pfn the caller left in the value.
    const pfn = newKind === 0 ? 0 : (pte - nb) / 0x10000;
    if (newKind === 0) nb = 0;
    if (oldKind !== newKind) {
      if (oldKind === PTE_KIND_PRESENT) {
        this.nPresent--;
        this.leafPresent[leaf]!--;
      } else if (newKind === PTE_KIND_PRESENT) {
        this.nPresent++;
        this.leafPresent[leaf]!++;
      }
      if (oldKind === 0) {
        this.nUsed++;
        this.leafUsed[leaf]!++;
      } else if (newKind === 0) {
        this.nUsed--;
        this.leafUsed[leaf]!--;
      }
    }
    bits[index] = nb;
    this.lpfn[leaf]![index] = pfn;
  }

  /** Address of the first entry of a live leaf, or -1 if the id is not live. */
  leafStart(leaf: number): number {
    return leaf > 0 && leaf < this.lpfn.length ? this.leafBase[leaf]! : -1;
  }

  /** Generation of a leaf id (bumped each time a table with this id is freed). */
  leafGeneration(leaf: number): number {
    return this.leafGen[leaf]!;
  }

  /** Present entries in leaf `leaf`. */
  leafPresentCount(leaf: number): number {
    return this.leafPresent[leaf]!;
  }

  /** Non-none entries in leaf `leaf`. */
  leafEntryCount(leaf: number): number {
    return this.leafUsed[leaf]!;
  }

  // ------------------------------------------------------------ iteration

  /** Address of the first present entry in [from, to), or -1. */
  nextPresent(from: number, to: number): number {
    return this.nextEntry(from, to, KIND_MASK_PRESENT);
  }

  /**
   * Address of the first entry in [from, to) whose kind is in `kindMask`
   * (bit `1 << kind`, e.g. KIND_MASK_ANY, KIND_MASK_SWAP_FORMAT; the none kind
   * is ignored), or -1. Allocation-free; skips missing tables and leaves
   * without a matching entry in O(1) per 2 MiB (PMD), 1 GiB (PUD) or 512 GiB
   * (PGD) span. Entries come out in ascending address order when called again
   * from the returned address plus PAGE_SIZE.
   */
  nextEntry(from: number, to: number, kindMask: number): number {
    const mask = kindMask & KIND_MASK_ANY;
    const presentOnly = mask === KIND_MASK_PRESENT;
    const end = Math.min(to, VA_SPACE_SIZE);
    let addr = Math.max(0, from - (from % PAGE_SIZE));
    while (addr < end) {
      const hi = Math.floor(addr / PUD_SIZE);
      const pudId = this.pgd[hi >>> 9]!;
      if (pudId === 0) {
        addr = ((hi >>> 9) + 1) * PGDIR_SIZE;
        continue;
      }
      const pmdId = this.pud[pudId]![hi & 511]!;
      if (pmdId <= 0) {
        addr = (hi + 1) * PUD_SIZE;
        continue;
      }
      const lo = addr - hi * PUD_SIZE;
      const m = lo >>> 21;
      const base = hi * PUD_SIZE + m * PMD_SIZE;
      const leaf = this.pmd[pmdId]![m]!;
      if (leaf > 0 && (presentOnly ? this.leafPresent[leaf]! : this.leafUsed[leaf]!) !== 0) {
        const bits = this.lbits[leaf]!;
        const stop = end - base >= PMD_SIZE ? PTRS_PER_TABLE : Math.ceil((end - base) / PAGE_SIZE);
        for (let t = (lo >>> 12) & 511; t < stop; t++) {
          if (((mask >>> (bits[t]! & 7)) & 1) !== 0) return base + t * PAGE_SIZE;
        }
      }
      addr = base + PMD_SIZE;
    }
    return -1;
  }

  // ------------------------------------------------------------ huge leaves

  /** The huge PMD entry covering `addr`, or 0 (none, or a PTE table is there: pmd_trans_huge). */
  getPmd(addr: number): Pte {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pudId = this.pgd[hi >>> 9]!;
    if (pudId === 0) return 0;
    const pmdId = this.pud[pudId]![hi & 511]!;
    if (pmdId <= 0) return 0;
    const m = (addr - hi * PUD_SIZE) >>> 21;
    return this.pmd[pmdId]![m] === HUGE_LEAF ? this.pmdVal[pmdId]![m]! : 0;
  }

  /** True if the PMD slot covering `addr` is empty: no table and no huge leaf (pmd_none). */
  pmdNone(addr: number): boolean {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pudId = this.pgd[hi >>> 9]!;
    if (pudId === 0) return true;
    const pmdId = this.pud[pudId]![hi & 511]!;
    if (pmdId === HUGE_LEAF) return false;
    return pmdId === 0 || this.pmd[pmdId]![(addr - hi * PUD_SIZE) >>> 21] === 0;
  }

  /**
   * Store a huge PMD entry for the 2 MiB region of `addr` (set_pmd_at). The slot must be empty
   * or hold a huge leaf already; a none value clears it.
   * @throws Error if a PTE table or a PUD leaf is there.
   */
  setPmd(addr: number, val: Pte): void {
    if (val === 0) {
      this.clearPmd(addr);
      return;
    }
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pmdId = this.pmdTableFor(addr, hi);
    const m = (addr - hi * PUD_SIZE) >>> 21;
    const pmdT = this.pmd[pmdId]!;
    const cur = pmdT[m]!;
    if (cur > 0) throw new Error(`PageTable.setPmd: a PTE table maps ${hexAddr(addr)}; remove it first`);
    let vals = this.pmdVal[pmdId];
    if (vals === undefined) {
      vals = new Float64Array(PTRS_PER_TABLE);
      this.pmdVal[pmdId] = vals;
    }
    if (cur === 0) {
      pmdT[m] = HUGE_LEAF;
      this.pmdUsed[pmdId]!++;
      this.nHugePmd++;
    }
    vals[m] = val;
  }

  /** Clear the huge PMD entry covering `addr` and return it (pmdp_huge_get_and_clear); 0 if none. */
  clearPmd(addr: number): Pte {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pudId = this.pgd[hi >>> 9]!;
    if (pudId === 0) return 0;
    const pmdId = this.pud[pudId]![hi & 511]!;
    if (pmdId <= 0) return 0;
    const m = (addr - hi * PUD_SIZE) >>> 21;
    const pmdT = this.pmd[pmdId]!;
    if (pmdT[m] !== HUGE_LEAF) return 0;
    const old = this.pmdVal[pmdId]![m]!;
    this.pmdVal[pmdId]![m] = 0;
    pmdT[m] = 0;
    this.pmdUsed[pmdId]!--;
    this.nHugePmd--;
    return old;
  }

  /**
   * Detach the (empty) PTE table of `addr`'s 2 MiB region so a huge PMD can take its place
   * (collapse). @throws Error if the table still has entries.
   */
  removeLeafTable(addr: number): void {
    const leaf = this.leafAt(addr);
    if (leaf < 0) return;
    if (this.leafUsed[leaf] !== 0) throw new Error(`PageTable.removeLeafTable: the table at ${hexAddr(addr)} is not empty`);
    const hi = Math.floor(addr / PUD_SIZE);
    const pmdId = this.pud[this.pgd[hi >>> 9]!]![hi & 511]!;
    this.pmd[pmdId]![(addr - hi * PUD_SIZE) >>> 21] = 0;
    this.pmdUsed[pmdId]!--;
    this.freeLeaf(leaf);
  }

  /** The huge PUD entry covering `addr`, or 0. */
  getPud(addr: number): Pte {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pudId = this.pgd[hi >>> 9]!;
    if (pudId === 0) return 0;
    return this.pud[pudId]![hi & 511] === HUGE_LEAF ? this.pudVal[pudId]![hi & 511]! : 0;
  }

  /** True if the PUD slot covering `addr` is empty (pud_none). */
  pudNone(addr: number): boolean {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pudId = this.pgd[hi >>> 9]!;
    return pudId === 0 || this.pud[pudId]![hi & 511] === 0;
  }

  /** Store a huge PUD entry for the 1 GiB region of `addr`; the slot must be empty or a huge leaf. */
  setPud(addr: number, val: Pte): void {
    if (val === 0) {
      this.clearPud(addr);
      return;
    }
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const g = hi >>> 9;
    let pudId = this.pgd[g]!;
    if (pudId === 0) {
      pudId = this.newUpper(this.pud, this.pudFree);
      this.pudUsed = grown(this.pudUsed, pudId);
      this.pgd[g] = pudId;
    }
    const pudT = this.pud[pudId]!;
    const u = hi & 511;
    if (pudT[u]! > 0) throw new Error(`PageTable.setPud: a PMD table maps ${hexAddr(addr)}`);
    let vals = this.pudVal[pudId];
    if (vals === undefined) {
      vals = new Float64Array(PTRS_PER_TABLE);
      this.pudVal[pudId] = vals;
    }
    if (pudT[u] === 0) {
      pudT[u] = HUGE_LEAF;
      this.pudUsed[pudId]!++;
      this.nHugePud++;
    }
    vals[u] = val;
  }

  /** Clear the huge PUD entry covering `addr` and return it; 0 if none. */
  clearPud(addr: number): Pte {
    checkAddr(addr);
    const hi = Math.floor(addr / PUD_SIZE);
    const pudId = this.pgd[hi >>> 9]!;
    if (pudId === 0) return 0;
    const u = hi & 511;
    const pudT = this.pud[pudId]!;
    if (pudT[u] !== HUGE_LEAF) return 0;
    const old = this.pudVal[pudId]![u]!;
    this.pudVal[pudId]![u] = 0;
    pudT[u] = 0;
    this.pudUsed[pudId]!--;
    this.nHugePud--;
    return old;
  }

  /**
   * Base address of the first huge leaf (PMD or PUD) overlapping [from, to), or -1. The base
   * may lie below `from` when a leaf straddles it. Skips empty upper tables as `nextEntry` does.
   */
  nextHuge(from: number, to: number): number {
    if (this.nHugePmd === 0 && this.nHugePud === 0) return -1;
    const end = Math.min(to, VA_SPACE_SIZE);
    let addr = Math.max(0, from - (from % PMD_SIZE));
    while (addr < end) {
      const hi = Math.floor(addr / PUD_SIZE);
      const pudId = this.pgd[hi >>> 9]!;
      if (pudId === 0) {
        addr = ((hi >>> 9) + 1) * PGDIR_SIZE;
        continue;
      }
      const pmdId = this.pud[pudId]![hi & 511]!;
      if (pmdId === HUGE_LEAF) return hi * PUD_SIZE;
      if (pmdId === 0 || this.pmdVal[pmdId] === undefined) {
        addr = (hi + 1) * PUD_SIZE;
        continue;
      }
      const pmdT = this.pmd[pmdId]!;
      const stop = Math.min(PTRS_PER_TABLE, Math.ceil((end - hi * PUD_SIZE) / PMD_SIZE));
      for (let m = (addr - hi * PUD_SIZE) >>> 21; m < stop; m++) {
        if (pmdT[m] === HUGE_LEAF) return hi * PUD_SIZE + m * PMD_SIZE;
      }
      addr = (hi + 1) * PUD_SIZE;
    }
    return -1;
  }

  /** Huge PMD leaves in the table. */
  get hugePmdCount(): number {
    return this.nHugePmd;
  }

  /** Huge PUD leaves in the table. */
  get hugePudCount(): number {
    return this.nHugePud;
  }

  /** What a PTE mapping the page at `addr` would hold, from the huge leaf covering it. */
  private hugeSubpage(addr: number): Pte {
    let val = this.getPmd(addr);
    let size = PMD_SIZE;
    if (val === 0) {
      val = this.getPud(addr);
      size = PUD_SIZE;
    }
    // A present leaf, or a pfn-carrying one (a device-private or migration PMD entry, v6.19+),
    // names the page at its offset; other non-present leaves read as they are.
    const kind = val & KIND_MASK_BITS;
    if (kind !== PTE_KIND_PRESENT && kind !== PTE_KIND_MIGRATION && kind !== PTE_KIND_DEVICE_PRIVATE) return val;
    return val + Math.floor((addr % size) / PAGE_SIZE) * 0x10000;
  }

  private pmdTableFor(addr: number, hi: number): number {
    const g = hi >>> 9;
    let pudId = this.pgd[g]!;
    if (pudId === 0) {
      pudId = this.newUpper(this.pud, this.pudFree);
      this.pudUsed = grown(this.pudUsed, pudId);
      this.pgd[g] = pudId;
    }
    const pudT = this.pud[pudId]!;
    const u = hi & 511;
    let pmdId = pudT[u]!;
    if (pmdId === HUGE_LEAF) throw new Error(`PageTable: ${hexAddr(addr)} is under a huge PUD leaf`);
    if (pmdId === 0) {
      pmdId = this.newUpper(this.pmd, this.pmdFree);
      this.pmdUsed = grown(this.pmdUsed, pmdId);
      pudT[u] = pmdId;
      this.pudUsed[pudId]!++;
    }
    return pmdId;
  }

  // ------------------------------------------------------------ freeing tables

  /**
   * Free every empty table whose whole span lies inside [start, end): leaf
   * tables with no entries, then PMD and PUD tables left without children (as
   * munmap's free_pgtables does; pass the kernel's floor and ceiling — the end
   * of the previous VMA and the start of the next — to also free tables the
   * unmapped range shared only with holes). Tables still holding entries are
   * kept. Freed leaf ids have their generation bumped and may be reused.
   * @returns the number of tables freed, all levels together.
   */
  freeEmptyTables(start: number, end: number): number {
    const lo = Math.max(0, start);
    const hi = Math.min(end, VA_SPACE_SIZE);
    if (!(lo < hi)) return 0;
    let freed = 0;
    const gLast = Math.min(Math.floor((hi - 1) / PGDIR_SIZE), PTRS_PER_TABLE - 1);
    for (let g = Math.floor(lo / PGDIR_SIZE); g <= gLast; g++) {
      const pudId = this.pgd[g]!;
      if (pudId === 0) continue;
      const gBase = g * PGDIR_SIZE;
      const pudT = this.pud[pudId]!;
      for (let u = 0; u < PTRS_PER_TABLE; u++) {
        const uBase = gBase + u * PUD_SIZE;
        if (uBase >= hi) break;
        const pmdId = pudT[u]!;
        if (pmdId <= 0 || uBase + PUD_SIZE <= lo) continue;
        const pmdT = this.pmd[pmdId]!;
        for (let m = 0; m < PTRS_PER_TABLE; m++) {
          const mBase = uBase + m * PMD_SIZE;
          if (mBase + PMD_SIZE > hi) break;
          const leaf = pmdT[m]!;
          if (leaf <= 0 || mBase < lo || this.leafUsed[leaf] !== 0) continue;
          pmdT[m] = 0;
          this.pmdUsed[pmdId]!--;
          this.freeLeaf(leaf);
          freed++;
        }
        if (this.pmdUsed[pmdId] === 0 && uBase >= lo && uBase + PUD_SIZE <= hi) {
          pudT[u] = 0;
          this.pudUsed[pudId]!--;
          this.pmdFree.push(pmdId);
          freed++;
        }
      }
      if (this.pudUsed[pudId] === 0 && gBase >= lo && gBase + PGDIR_SIZE <= hi) {
        this.pgd[g] = 0;
        this.pudFree.push(pudId);
        freed++;
      }
    }
    return freed;
  }

  // ------------------------------------------------------------ counts and accounting

  /** Present entries in the whole table. */
  get presentCount(): number {
    return this.nPresent;
  }

  /** Non-none entries in the whole table. */
  get entryCount(): number {
    return this.nUsed;
  }

  /** Live leaf tables. */
  get leafCount(): number {
    return this.nLeaves;
  }

  /** Bytes of typed arrays held, including pooled free leaf tables. */
  bytes(): number {
    const upper = (this.pud.length + this.pmd.length - 2 + 1) * PTRS_PER_TABLE * 4;
    const leaves = (this.lpfn.length - 1) * LEAF_BYTES;
    let huge = 0;
    for (const v of this.pmdVal) if (v !== undefined) huge += v.byteLength;
    for (const v of this.pudVal) if (v !== undefined) huge += v.byteLength;
    const meta =
      huge + this.pudUsed.byteLength + this.pmdUsed.byteLength + this.leafPresent.byteLength +
      this.leafUsed.byteLength + this.leafGen.byteLength + this.leafBase.byteLength;
    return upper + leaves + meta;
  }

  /**
   * Recount everything from the entries and compare with the kept counts (for tests).
   * @throws Error describing the first mismatch.
   */
  checkInvariants(): void {
    let present = 0;
    let used = 0;
    let leaves = 0;
    for (let leaf = 1; leaf < this.lpfn.length; leaf++) {
      if (this.leafBase[leaf]! < 0) continue;
      leaves++;
      let p = 0;
      let n = 0;
      const bits = this.lbits[leaf]!;
      for (let t = 0; t < PTRS_PER_TABLE; t++) {
        const k = bits[t]! & 7;
        if (k === PTE_KIND_PRESENT) p++;
        if (k !== 0) n++;
        else if (bits[t] !== 0 || this.lpfn[leaf]![t] !== 0) throw new Error(`leaf ${String(leaf)}: none entry not zero`);
      }
      if (p !== this.leafPresent[leaf] || n !== this.leafUsed[leaf]) {
        throw new Error(`leaf ${String(leaf)} at ${hexAddr(this.leafBase[leaf]!)}: counts ${String(p)}/${String(n)} != kept`);
      }
      if (this.leafAt(this.leafBase[leaf]!) !== leaf) throw new Error(`leaf ${String(leaf)} not reachable from its base`);
      present += p;
      used += n;
    }
    if (present !== this.nPresent || used !== this.nUsed || leaves !== this.nLeaves) {
      throw new Error(`totals ${String(present)}/${String(used)}/${String(leaves)} != kept`);
    }
  }

  // ------------------------------------------------------------ internals

  private newUpper(tables: Int32Array[], free: number[]): number {
    const id = free.pop();
    if (id !== undefined) return id; // freed upper tables are empty, hence already zero
    tables.push(new Int32Array(this.allocate(PTRS_PER_TABLE * 4)));
    (tables === this.pmd ? this.pmdVal : this.pudVal).push(undefined);
    return tables.length - 1;
  }

  private newLeaf(base: number): number {
    let leaf = this.leafFree.pop();
    if (leaf === undefined) {
      leaf = this.lpfn.length;
      const buf = this.allocate(LEAF_BYTES);
      this.lpfn.push(new Int32Array(buf, 0, PTRS_PER_TABLE));
      this.lbits.push(new Uint16Array(buf, PTRS_PER_TABLE * 4, PTRS_PER_TABLE));
      this.leafPresent = grown(this.leafPresent, leaf);
      this.leafUsed = grown(this.leafUsed, leaf);
      this.leafGen = grown(this.leafGen, leaf);
      if (leaf >= this.leafBase.length) {
        const old = this.leafBase.length;
        this.leafBase = grown(this.leafBase, leaf);
        this.leafBase.fill(-1, old);
      }
    }
    this.leafBase[leaf] = base;
    this.nLeaves++;
    return leaf;
  }

  private freeLeaf(leaf: number): void {
    // Only empty leaves are freed, and a none entry is all zeros, so the pooled buffer is clean.
    this.leafBase[leaf] = -1;
    this.leafGen[leaf] = (this.leafGen[leaf]! + 1) >>> 0;
    this.leafFree.push(leaf);
    this.nLeaves--;
  }
}

function checkAddr(addr: number): void {
  if (!(addr >= 0 && addr < VA_SPACE_SIZE)) {
    throw new RangeError(`PageTable: address ${String(addr)} is outside the 48-bit address space`);
  }
}
