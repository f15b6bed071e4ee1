import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PAGE_SIZE, PGDIR_SIZE, PMD_SIZE, PUD_SIZE, VA_SPACE_SIZE } from '../../src/mm/constants.ts';
import { PageTable, pgdIndex, pmdIndex, pteIndex, pudIndex } from '../../src/mm/page-table.ts';
import {
  KIND_MASK_ANY,
  KIND_MASK_PRESENT,
  KIND_MASK_SWAP_FORMAT,
  PTE_WRITE,
  type Pte,
  type PteKind,
  kindMask,
  makeWritableMigrationEntry,
  mkPte,
  pfnPte,
  pteKind,
  swapPte,
} from '../../src/mm/pte.ts';

/** Region bases chosen so random addresses straddle leaf, PMD, PUD and PGD boundaries and the top of the space. */
const BASES = [0, PMD_SIZE - 8 * PAGE_SIZE, PUD_SIZE - 8 * PAGE_SIZE, PGDIR_SIZE - 8 * PAGE_SIZE, 2 ** 47, VA_SPACE_SIZE - 16 * PAGE_SIZE];
const addrArb = fc.tuple(fc.constantFrom(...BASES), fc.nat(15)).map(([b, p]) => b + p * PAGE_SIZE);
const pteArb: fc.Arbitrary<Pte> = fc
  .tuple(fc.constantFrom<PteKind>(0, 1, 1, 1, 2, 3, 4, 5), fc.nat(2 ** 31 - 1), fc.nat(0x3f).map((f) => f << 3))
  .map(([k, p, f]) => mkPte(k, p, f));

type Op =
  | { op: 'set'; addr: number; pte: Pte }
  | { op: 'clear'; addr: number }
  | { op: 'get'; addr: number }
  | { op: 'iter'; from: number; to: number; mask: number }
  | { op: 'free'; from: number; to: number };

const maskArb = fc.constantFrom(KIND_MASK_PRESENT, KIND_MASK_ANY, KIND_MASK_SWAP_FORMAT, kindMask(3) | kindMask(5));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), addr: addrArb, pte: pteArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('clear' as const), addr: addrArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), addr: addrArb }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(addrArb, addrArb, maskArb)
      .map(([a, b, mask]) => ({ op: 'iter' as const, from: Math.min(a, b), to: Math.max(a, b) + PAGE_SIZE, mask })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...BASES, 0), fc.constantFrom(PMD_SIZE, PUD_SIZE, PGDIR_SIZE, VA_SPACE_SIZE))
      .map(([a, len]) => {
        const from = a - (a % PMD_SIZE);
        return { op: 'free' as const, from, to: Math.min(from + len, VA_SPACE_SIZE) };
      }),
  },
);

function iterate(pt: PageTable, from: number, to: number, mask: number): number[] {
  const out: number[] = [];
  for (let a = pt.nextEntry(from, to, mask); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, to, mask)) out.push(a);
  return out;
}

describe('PageTable: unit', () => {
  it('index helpers split a 48-bit address', () => {
    const addr = 3 * PGDIR_SIZE + 5 * PUD_SIZE + 7 * PMD_SIZE + 9 * PAGE_SIZE + 123;
    expect([pgdIndex(addr), pudIndex(addr), pmdIndex(addr), pteIndex(addr)]).toEqual([3, 5, 7, 9]);
    const top = VA_SPACE_SIZE - 1;
    expect([pgdIndex(top), pudIndex(top), pmdIndex(top), pteIndex(top)]).toEqual([511, 511, 511, 511]);
  });

  it('get on an empty table is none and allocates nothing; set none allocates nothing', () => {
    const pt = new PageTable();
    expect(pt.get(0x1000)).toBe(0);
    pt.set(0x1000, 0);
    expect(pt.leafCount).toBe(0);
    expect(pt.leafAt(0x1000)).toBe(-1);
    expect(pt.clear(0x1000)).toBe(0);
  });

  it('set/get/clear with counts; byte addresses name their page', () => {
    const pt = new PageTable();
    const a = 0x7f0000001000;
    pt.set(a, pfnPte(42, PTE_WRITE));
    pt.set(a + PAGE_SIZE, swapPte(7));
    expect(pt.get(a + 100)).toBe(pfnPte(42, PTE_WRITE));
    expect(pt.presentCount).toBe(1);
    expect(pt.entryCount).toBe(2);
    expect(pt.leafCount).toBe(1);
    const leaf = pt.leafAt(a);
    expect(leaf).toBeGreaterThan(0);
    expect(pt.leafStart(leaf)).toBe(a - (a % PMD_SIZE));
    expect(pt.leafPresentCount(leaf)).toBe(1);
    expect(pt.leafEntryCount(leaf)).toBe(2);
    expect(pt.getAt(leaf, pteIndex(a))).toBe(pfnPte(42, PTE_WRITE));
    expect(pt.clear(a)).toBe(pfnPte(42, PTE_WRITE));
    expect(pt.presentCount).toBe(0);
    expect(pt.entryCount).toBe(1);
    pt.checkInvariants();
  });

  it('allocLeaf is stable and leafAt agrees; ids are reused after a free with a new generation', () => {
    const pt = new PageTable();
    const a = 5 * PMD_SIZE;
    const leaf = pt.allocLeaf(a);
    expect(pt.allocLeaf(a + PMD_SIZE - 1)).toBe(leaf);
    expect(pt.leafAt(a)).toBe(leaf);
    const other = pt.allocLeaf(a + PMD_SIZE);
    expect(other).not.toBe(leaf);
    const gen = pt.leafGeneration(leaf);
    expect(pt.freeEmptyTables(a, a + PMD_SIZE)).toBe(1);
    expect(pt.leafAt(a)).toBe(-1);
    expect(pt.leafStart(leaf)).toBe(-1);
    expect(pt.leafGeneration(leaf)).toBe(gen + 1);
    expect(pt.allocLeaf(7 * PUD_SIZE)).toBe(leaf);
    pt.checkInvariants();
  });

  it('freeEmptyTables keeps tables with entries and tables only partly inside the range', () => {
    const pt = new PageTable();
    pt.set(0, pfnPte(1, 0));
    pt.allocLeaf(PMD_SIZE);
    pt.allocLeaf(2 * PMD_SIZE);
    expect(pt.freeEmptyTables(0, PMD_SIZE + PAGE_SIZE)).toBe(0); // leaf 0 has an entry, leaf 1 only partly covered
    expect(pt.freeEmptyTables(0, 2 * PMD_SIZE)).toBe(1);
    expect(pt.leafAt(0)).toBeGreaterThan(0);
    expect(pt.leafAt(PMD_SIZE)).toBe(-1);
    pt.clear(0);
    // Everything empty and the whole space covered: leaves, PMD, PUD tables all go.
    expect(pt.freeEmptyTables(0, VA_SPACE_SIZE)).toBe(4);
    expect(pt.leafCount).toBe(0);
    expect(pt.bytes()).toBeGreaterThan(0); // pooled tables stay allocated for reuse
    pt.checkInvariants();
  });

  it('iteration skips empty upper levels: one entry at each end of the space', () => {
    const pt = new PageTable();
    pt.set(0, pfnPte(1, 0));
    pt.set(VA_SPACE_SIZE - PAGE_SIZE, pfnPte(2, 0));
    pt.set(PUD_SIZE, makeWritableMigrationEntry(3));
    expect(iterate(pt, 0, VA_SPACE_SIZE, KIND_MASK_PRESENT)).toEqual([0, VA_SPACE_SIZE - PAGE_SIZE]);
    expect(iterate(pt, 0, VA_SPACE_SIZE, KIND_MASK_ANY)).toEqual([0, PUD_SIZE, VA_SPACE_SIZE - PAGE_SIZE]);
    expect(pt.nextPresent(PAGE_SIZE, VA_SPACE_SIZE - PAGE_SIZE)).toBe(-1);
    expect(pt.nextPresent(PAGE_SIZE + 5, VA_SPACE_SIZE)).toBe(VA_SPACE_SIZE - PAGE_SIZE);
  });

  it('rejects addresses outside the 48-bit space', () => {
    const pt = new PageTable();
    expect(() => pt.set(VA_SPACE_SIZE, pfnPte(1, 0))).toThrow(RangeError);
    expect(() => pt.get(-1)).toThrow(RangeError);
  });
});

describe('PageTable: against a Map model', () => {
  it('random set/clear/get/iterate/free sequences', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const pt = new PageTable();
        const model = new Map<number, Pte>();
        const leafOf = new Map<number, number>(); // leaf-span base -> leaf id while the span has entries
        for (const o of ops) {
          switch (o.op) {
            case 'set':
              pt.set(o.addr, o.pte);
              if (o.pte === 0) model.delete(o.addr);
              else model.set(o.addr, o.pte);
              break;
            case 'clear':
              expect(pt.clear(o.addr)).toBe(model.get(o.addr) ?? 0);
              model.delete(o.addr);
              break;
            case 'get':
              expect(pt.get(o.addr)).toBe(model.get(o.addr) ?? 0);
              break;
            case 'iter': {
              const want = [...model.entries()]
                .filter(([a, p]) => a >= o.from && a < o.to && ((o.mask >> pteKind(p)) & 1) === 1)
                .map(([a]) => a)
                .sort((x, y) => x - y);
              expect(iterate(pt, o.from, o.to, o.mask)).toEqual(want);
              break;
            }
            case 'free': {
              pt.freeEmptyTables(o.from, o.to);
              for (let base = o.from; base + PMD_SIZE <= o.to && base < o.from + 64 * PMD_SIZE; base += PMD_SIZE) {
                const hasEntries = [...model.keys()].some((a) => a >= base && a < base + PMD_SIZE);
                if (!hasEntries) expect(pt.leafAt(base)).toBe(-1);
              }
              break;
            }
          }
          // Leaf ids stay stable while their span holds entries.
          for (const a of model.keys()) {
            const base = a - (a % PMD_SIZE);
            const leaf = pt.leafAt(a);
            expect(leaf).toBeGreaterThan(0);
            const seen = leafOf.get(base);
            if (seen !== undefined) expect(leaf).toBe(seen);
            leafOf.set(base, leaf);
          }
          for (const base of [...leafOf.keys()]) {
            if (![...model.keys()].some((a) => a >= base && a < base + PMD_SIZE)) leafOf.delete(base);
          }
        }
        expect(pt.entryCount).toBe(model.size);
        expect(pt.presentCount).toBe([...model.values()].filter((p) => pteKind(p) === 1).length);
        expect(iterate(pt, 0, VA_SPACE_SIZE, KIND_MASK_ANY)).toEqual([...model.keys()].sort((x, y) => x - y));
        pt.checkInvariants();
      }),
      { numRuns: 300 },
    );
  });
});
