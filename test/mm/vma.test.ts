import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MMAP_MIN_ADDR, PAGE_SIZE, TASK_SIZE } from '../../src/mm/constants.ts';
import { Vma, VmaSet, canMerge } from '../../src/mm/vma.ts';
import {
  VM_EXEC,
  VM_IO,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_WRITE,
} from '../../src/mm/vma-flags.ts';

const P = PAGE_SIZE;
const BASE = MMAP_MIN_ADDR;
const RW = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE;

describe('VmaSet: unit', () => {
  it('insert, find (vma_lookup), findNext (find_vma), findIntersection, prev/next', () => {
    const s = new VmaSet();
    const a = s.insert({ start: BASE, end: BASE + 2 * P, flags: RW });
    const b = s.insert({ start: BASE + 4 * P, end: BASE + 5 * P, flags: VM_READ });
    expect(s.count).toBe(2);
    expect(s.find(BASE + P + 5)).toBe(a);
    expect(s.find(BASE + 2 * P)).toBeUndefined();
    expect(s.findNext(BASE + 2 * P)).toBe(b);
    expect(s.findNext(BASE + 5 * P)).toBeUndefined();
    expect(s.findIntersection(BASE + 2 * P, BASE + 4 * P)).toBeUndefined();
    expect(s.findIntersection(BASE + 2 * P, BASE + 4 * P + 1)).toBe(b);
    expect(s.prev(b)).toBe(a);
    expect(s.next(a)).toBe(b);
    expect(s.prev(a)).toBeUndefined();
    expect(a.isAnon).toBe(true);
    expect(a.pgoff).toBe(BASE / P);
    expect(a.pgoffAt(BASE + P)).toBe(BASE / P + 1);
    expect(String(a)).toMatch(/^0x10000-0x12000 rw-p \d+ anon #\d+$/);
  });

  it('rejects unaligned, empty, out-of-range and overlapping inserts with clear messages', () => {
    const s = new VmaSet();
    s.insert({ start: BASE, end: BASE + 2 * P, flags: RW });
    expect(() => s.insert({ start: BASE + 1, end: BASE + 2 * P, flags: RW })).toThrow(/not page aligned/);
    expect(() => s.insert({ start: BASE + 3 * P, end: BASE + 3 * P, flags: RW })).toThrow(/empty/);
    expect(() => s.insert({ start: TASK_SIZE - P, end: TASK_SIZE + P, flags: RW })).toThrow(/beyond user space/);
    expect(() => s.insert({ start: BASE + P, end: BASE + 3 * P, flags: RW })).toThrow(/overlaps/);
    expect(() => s.insert({ start: BASE + 3 * P, end: BASE + 4 * P, flags: RW, file: 1, pgoff: -1 })).toThrow(/pgoff/);
  });

  it('merges adjacent anon mappings, and file mappings only with contiguous pgoff', () => {
    const s = new VmaSet();
    const a = s.insert({ start: BASE, end: BASE + P, flags: RW });
    const c = s.insert({ start: BASE + 2 * P, end: BASE + 3 * P, flags: RW });
    const m = s.insert({ start: BASE + P, end: BASE + 2 * P, flags: RW });
    expect(m).toBe(a);
    expect(s.count).toBe(1);
    expect(a.end).toBe(BASE + 3 * P);
    expect(c.detached).toBe(true);
    const f1 = s.insert({ start: BASE + 10 * P, end: BASE + 11 * P, flags: VM_READ, file: 3, pgoff: 5 });
    s.insert({ start: BASE + 11 * P, end: BASE + 12 * P, flags: VM_READ, file: 3, pgoff: 7 });
    expect(s.count).toBe(3);
    s.insert({ start: BASE + 9 * P, end: BASE + 10 * P, flags: VM_READ, file: 3, pgoff: 4 });
    expect(s.count).toBe(3);
    expect(s.find(BASE + 9 * P)).toBe(s.find(BASE + 10 * P));
    expect(f1.detached).toBe(true); // the lower VMA survives a merge
    s.checkInvariants();
  });

  it('special mappings never merge; anon objects merge when equal or unassigned', () => {
    const s = new VmaSet();
    s.insert({ start: BASE, end: BASE + P, flags: VM_READ | VM_IO });
    s.insert({ start: BASE + P, end: BASE + 2 * P, flags: VM_READ | VM_IO });
    expect(s.count).toBe(2);
    const x = new Vma(1, 0, P, RW, -1, 0, 4);
    expect(canMerge(x, new Vma(2, P, 2 * P, RW, -1, 1, 4))).toBe(true);
    expect(canMerge(x, new Vma(2, P, 2 * P, RW, -1, 1, -1))).toBe(true);
    expect(canMerge(x, new Vma(2, P, 2 * P, RW, -1, 1, 5))).toBe(false);
    expect(canMerge(x, new Vma(2, P, 2 * P, RW, -1, 2, 4))).toBe(false); // pgoff gap
    expect(canMerge(x, new Vma(2, 2 * P, 3 * P, RW, -1, 2, 4))).toBe(false); // not adjacent
    expect(canMerge(x, new Vma(2, P, 2 * P, RW | VM_SOFTDIRTY, -1, 1, 4))).toBe(true);
    const t = new VmaSet();
    t.insert({ start: BASE, end: BASE + P, flags: RW, anonVma: -1 });
    const v = t.insert({ start: BASE + P, end: BASE + 2 * P, flags: RW | VM_SOFTDIRTY, anonVma: 9 });
    expect(t.count).toBe(1);
    expect(v.anonVma).toBe(9);
    expect(v.flags & VM_SOFTDIRTY).toBe(VM_SOFTDIRTY); // soft-dirty survives the merge
  });

  it('split keeps the original as the lower part and fixes pgoff', () => {
    const s = new VmaSet();
    const v = s.insert({ start: BASE, end: BASE + 4 * P, flags: VM_READ, file: 2, pgoff: 10 });
    const up = s.split(v, BASE + P);
    expect([v.start, v.end, v.pgoff]).toEqual([BASE, BASE + P, 10]);
    expect([up.start, up.end, up.pgoff, up.file]).toEqual([BASE + P, BASE + 4 * P, 11, 2]);
    expect(up.id).not.toBe(v.id);
    expect(() => s.split(v, BASE)).toThrow(/strictly inside/);
    expect(() => s.split(v, BASE + P + 1)).toThrow(/strictly inside/);
    expect(s.count).toBe(2); // not merged back: split is a primitive
    expect(s.tryMerge(up)).toBe(v);
    expect(s.count).toBe(1);
    expect(() => s.split(up, BASE + 2 * P)).toThrow(/not in this set \(detached\)/);
  });

  it('removeRange splits at both ends, skips holes and returns detached pieces', () => {
    const s = new VmaSet();
    s.insert({ start: BASE, end: BASE + 4 * P, flags: RW });
    s.insert({ start: BASE + 6 * P, end: BASE + 10 * P, flags: VM_READ });
    const removed = s.removeRange(BASE + 2 * P, BASE + 8 * P);
    expect(removed.map((v) => [v.start, v.end])).toEqual([
      [BASE + 2 * P, BASE + 4 * P],
      [BASE + 6 * P, BASE + 8 * P],
    ]);
    expect(removed.every((v) => v.detached)).toBe(true);
    expect(s.toArray().map((v) => [v.start, v.end])).toEqual([
      [BASE, BASE + 2 * P],
      [BASE + 8 * P, BASE + 10 * P],
    ]);
    expect(s.removeRange(BASE + 20 * P, BASE + 30 * P)).toEqual([]);
    s.checkInvariants();
  });

  it('modifyFlags splits, sets and re-merges; equal flags change nothing', () => {
    const s = new VmaSet();
    const v = s.insert({ start: BASE, end: BASE + 6 * P, flags: RW });
    expect(s.modifyFlags(v, BASE + 2 * P, BASE + 4 * P, RW)).toBe(v);
    expect(s.count).toBe(1);
    const ro = VM_READ | VM_MAYREAD | VM_MAYWRITE;
    const mid = s.modifyFlags(v, BASE + 2 * P, BASE + 4 * P, ro);
    expect([mid.start, mid.end, mid.flags]).toEqual([BASE + 2 * P, BASE + 4 * P, ro]);
    expect(s.count).toBe(3);
    expect(s.changeFlags(BASE, BASE + 6 * P, 0, VM_WRITE | VM_MAYWRITE)).toBe(3);
    expect(s.count).toBe(1);
    expect(s.toArray()[0]!.flags).toBe(VM_READ | VM_MAYREAD);
    expect(() => s.modifyFlags(s.toArray()[0]!, BASE, BASE + 7 * P, RW)).toThrow(/not inside/);
    s.checkInvariants();
  });

  it('isCovered', () => {
    const s = new VmaSet();
    s.insert({ start: BASE, end: BASE + 2 * P, flags: RW });
    s.insert({ start: BASE + 2 * P, end: BASE + 3 * P, flags: VM_READ });
    expect(s.isCovered(BASE, BASE + 3 * P)).toBe(true);
    expect(s.isCovered(BASE + P, BASE + 4 * P)).toBe(false);
    expect(s.isCovered(BASE - P, BASE + P)).toBe(false);
  });

  it('findGap top-down and bottom-up', () => {
    const s = new VmaSet();
    expect(s.findGap(P)).toBe(TASK_SIZE - P);
    expect(s.findGap(P, { topDown: false })).toBe(MMAP_MIN_ADDR);
    s.insert({ start: BASE, end: BASE + 2 * P, flags: RW });
    s.insert({ start: BASE + 3 * P, end: BASE + 5 * P, flags: VM_READ });
    const opts = { low: BASE, high: BASE + 8 * P };
    expect(s.findGap(P, { ...opts, topDown: false })).toBe(BASE + 2 * P);
    expect(s.findGap(2 * P, { ...opts, topDown: false })).toBe(BASE + 5 * P);
    expect(s.findGap(P, { ...opts, topDown: true })).toBe(BASE + 7 * P);
    expect(s.findGap(4 * P, opts)).toBe(-1);
    expect(() => s.findGap(100)).toThrow(/multiple/);
  });
});

// ---------------------------------------------------------------- model-based

const N = 48; // pages in the modelled window
const flagsArb = fc.constantFrom(VM_READ, RW, VM_READ | VM_EXEC, RW | VM_SHARED | VM_MAYSHARE, 0);
interface PageState {
  flags: number;
  file: number;
  pgoff: number;
}
type Op =
  | { op: 'mmap'; p: number; n: number; flags: number; file: number; pgoff: number }
  | { op: 'munmap'; p: number; n: number }
  | { op: 'mprotect'; p: number; n: number; set: number; clear: number }
  | { op: 'gap'; n: number; lo: number; hi: number; topDown: boolean };

const rangeArb = fc.tuple(fc.nat(N - 1), fc.integer({ min: 1, max: 16 })).map(([p, n]) => ({ p, n: Math.min(n, N - p) }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(rangeArb, flagsArb, fc.constantFrom(-1, -1, 0, 1), fc.nat(3))
      .map(([r, flags, file, pgoff]) => ({ op: 'mmap' as const, ...r, flags, file, pgoff })),
  },
  { weight: 2, arbitrary: rangeArb.map((r) => ({ op: 'munmap' as const, ...r })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(rangeArb, fc.constantFrom(0, VM_READ, VM_WRITE, VM_EXEC), fc.constantFrom(0, VM_WRITE, VM_EXEC, VM_READ))
      .map(([r, set, clear]) => ({ op: 'mprotect' as const, ...r, set, clear })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 8 }), fc.nat(N), fc.nat(N), fc.boolean())
      .map(([n, a, b, topDown]) => ({ op: 'gap' as const, n, lo: Math.min(a, b), hi: Math.max(a, b), topDown })),
  },
);

function compatible(a: PageState | undefined, b: PageState | undefined): boolean {
  return a !== undefined && b !== undefined && a.flags === b.flags && a.file === b.file && b.pgoff === a.pgoff + 1;
}

describe('VmaSet: against an array-of-pages model', () => {
  it('random mmap(MAP_FIXED)/munmap/mprotect/gap sequences', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const s = new VmaSet();
        const model: (PageState | undefined)[] = new Array<PageState | undefined>(N).fill(undefined);
        const addr = (p: number): number => BASE + p * P;
        for (const o of ops) {
          if (o.op === 'mmap') {
            s.removeRange(addr(o.p), addr(o.p + o.n));
            const v = s.insert({ start: addr(o.p), end: addr(o.p + o.n), flags: o.flags, file: o.file, pgoff: o.pgoff });
            expect(v.start).toBeLessThanOrEqual(addr(o.p));
            expect(v.end).toBeGreaterThanOrEqual(addr(o.p + o.n));
            for (let i = 0; i < o.n; i++) {
              const pgoff = o.file < 0 ? addr(o.p + i) / P : o.pgoff + i;
              model[o.p + i] = { flags: o.flags, file: o.file, pgoff };
            }
          } else if (o.op === 'munmap') {
            const removed = s.removeRange(addr(o.p), addr(o.p + o.n));
            let pages = 0;
            for (const v of removed) {
              expect(v.detached).toBe(true);
              expect(v.start).toBeGreaterThanOrEqual(addr(o.p));
              expect(v.end).toBeLessThanOrEqual(addr(o.p + o.n));
              for (let a = v.start; a < v.end; a += P) {
                const m = model[(a - BASE) / P];
                expect(m).toBeDefined();
                expect([v.flags, v.file, v.pgoffAt(a)]).toEqual([m!.flags, m!.file, m!.pgoff]);
                pages++;
              }
            }
            const mapped = model.slice(o.p, o.p + o.n).filter((m) => m !== undefined).length;
            expect(pages).toBe(mapped);
            for (let i = o.p; i < o.p + o.n; i++) model[i] = undefined;
          } else if (o.op === 'mprotect') {
            s.changeFlags(addr(o.p), addr(o.p + o.n), o.set, o.clear);
            for (let i = o.p; i < o.p + o.n; i++) {
              const m = model[i];
              if (m) model[i] = { ...m, flags: (m.flags | o.set) & ~o.clear };
            }
          } else {
            const got = s.findGap(o.n * P, { low: addr(o.lo), high: addr(o.hi), topDown: o.topDown });
            const fits: number[] = [];
            for (let p = o.lo; p + o.n <= o.hi; p++) {
              if (model.slice(p, p + o.n).every((m) => m === undefined)) fits.push(addr(p));
            }
            const want = fits.length === 0 ? -1 : o.topDown ? fits[fits.length - 1]! : fits[0]!;
            expect(got).toBe(want);
          }
          s.checkInvariants();
          for (let i = 0; i < N; i++) {
            const v = s.find(addr(i));
            const m = model[i];
            if (m === undefined) expect(v).toBeUndefined();
            else expect([v?.flags, v?.file, v?.pgoffAt(addr(i))]).toEqual([m.flags, m.file, m.pgoff]);
          }
          // Adjacent compatible VMAs are merged: one VMA per maximal compatible run of pages.
          let runs = 0;
          for (let i = 0; i < N; i++) if (model[i] !== undefined && !compatible(model[i - 1], model[i])) runs++;
          expect(s.count).toBe(runs);
        }
      }),
      { numRuns: 400 },
    );
  });
});
