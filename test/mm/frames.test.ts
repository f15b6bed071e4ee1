import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FrameTable,
  PG_ANON,
  PG_BUDDY,
  PG_DEVICE_PRIVATE,
  PG_DIRTY,
  PG_LOCKED,
  PG_UPTODATE,
  PG_ZERO,
  ZERO_PFN,
} from '../../src/mm/frames.ts';

describe('FrameTable: allocation and freeing', () => {
  it('starts with only the zero page, which is allocated and not counted', () => {
    const f = new FrameTable();
    expect(f.capacity).toBe(1);
    expect(f.ramInUse).toBe(0);
    expect(f.isFree(ZERO_PFN)).toBe(false);
    expect(f.flags(ZERO_PFN) & PG_ZERO).toBe(PG_ZERO);
    expect(f.isZeroPfn(0)).toBe(true);
    f.checkInvariants();
  });

  it('alloc gives refcount 1, mapcount 0, the flags, no owner, zero contents', () => {
    const f = new FrameTable();
    const p = f.alloc(PG_ANON | PG_UPTODATE);
    expect(p).toBeGreaterThan(0);
    expect(f.refcount(p)).toBe(1);
    expect(f.mapcount(p)).toBe(0);
    expect(f.flags(p)).toBe(PG_ANON | PG_UPTODATE);
    expect(f.owner(p)).toBe(-1);
    expect(f.read32(p, 0)).toBe(0);
    expect(f.ramInUse).toBe(1);
  });

  it('put to zero frees, bumps the generation and reuses the frame LIFO', () => {
    const f = new FrameTable();
    const a = f.alloc();
    const b = f.alloc();
    const genA = f.generation(a);
    f.write32(a, 8, 42);
    f.setPrivate(a, 7);
    expect(f.put(a)).toBe(true);
    expect(f.isFree(a)).toBe(true);
    expect(f.flags(a)).toBe(PG_BUDDY);
    expect(f.generation(a)).toBe(genA + 1);
    expect(f.isStale(a, genA)).toBe(true);
    expect(f.hasContents(a)).toBe(false);
    expect(f.getPrivate(a)).toBe(-1);
    expect(f.index(a)).toBe(-1);
    const c = f.alloc();
    expect(c).toBe(a);
    expect(f.isStale(c, genA)).toBe(true); // reused: the old reference is told apart by generation
    expect(f.isStale(c, f.generation(c))).toBe(false);
    expect(f.read32(c, 8)).toBe(0); // a reused frame reads as zeros
    expect(f.isStale(b, f.generation(b))).toBe(false);
    f.checkInvariants();
  });

  it('honours the frame limit, and lowering/raising it takes effect', () => {
    const f = new FrameTable({ limit: 2 });
    const a = f.alloc();
    expect(f.alloc()).toBeGreaterThan(0);
    expect(f.alloc()).toBe(-1);
    f.put(a);
    expect(f.alloc()).toBe(a);
    f.limit = 3;
    expect(f.alloc()).toBeGreaterThan(0);
    expect(f.alloc()).toBe(-1);
    expect(f.ramInUse).toBe(3);
    expect(() => (f.limit = -1)).toThrow(/count/);
  });

  it('rejects table-owned flags and invalid pfns as tool errors', () => {
    const f = new FrameTable();
    expect(() => f.alloc(PG_BUDDY)).toThrow(/table-owned/);
    expect(() => f.alloc(PG_DEVICE_PRIVATE)).toThrow(/table-owned/);
    const p = f.alloc();
    expect(() => f.setFlags(p, PG_ZERO)).toThrow(/owned/);
    expect(() => f.get(999)).toThrow(RangeError);
    expect(() => f.put(-1)).toThrow(RangeError);
    expect(() => f.read32(p, 2)).toThrow(RangeError);
    expect(() => f.read32(p, 4096)).toThrow(RangeError);
  });
});

describe('FrameTable: misuse is reported, not thrown', () => {
  it('put on a free page', () => {
    const f = new FrameTable();
    const p = f.alloc();
    f.put(p);
    expect(f.put(p)).toBe(false);
    expect(f.problems.map((x) => x.kind)).toEqual(['frame-put-on-free']);
    expect(f.problems[0]!.pfn).toBe(p);
    expect(f.problems[0]!.message).toMatch(/Bad page state/);
    f.checkInvariants();
  });

  it('freeing a mapped or locked page reports and still frees', () => {
    const f = new FrameTable();
    const p = f.alloc();
    f.incMapcount(p);
    f.setFlags(p, PG_LOCKED);
    expect(f.put(p)).toBe(true);
    expect(f.problems.map((x) => x.kind)).toEqual(['frame-freed-while-mapped', 'frame-freed-while-locked']);
    expect(f.isFree(p)).toBe(true);
    expect(f.mapcount(p)).toBe(0);
    f.checkInvariants();
  });

  it('get, map, unmap, read, write, copy and setOwner on a free page', () => {
    const f = new FrameTable();
    const p = f.alloc();
    const q = f.alloc();
    f.put(p);
    f.get(p);
    f.incMapcount(p);
    f.decMapcount(p);
    expect(f.read32(p, 0)).toBe(0);
    f.write32(p, 0, 1);
    f.copyPage(q, p);
    f.copyPage(p, q);
    f.setOwner(p, 1, 1);
    expect(f.problems.every((x) => x.kind === 'frame-use-after-free')).toBe(true);
    expect(f.problems).toHaveLength(8);
    expect(f.refcount(p)).toBe(0);
    expect(f.tryGet(p)).toBe(false); // try-get on a freed page fails quietly
    expect(f.problems).toHaveLength(8);
    f.checkInvariants();
  });

  it('mapcount underflow', () => {
    const f = new FrameTable();
    const p = f.alloc();
    f.decMapcount(p);
    expect(f.problems.map((x) => x.kind)).toEqual(['frame-mapcount-underflow']);
    expect(f.mapcount(p)).toBe(0);
  });

  it('the zero page is never written, freed or counted', () => {
    const f = new FrameTable();
    f.write32(ZERO_PFN, 0, 5);
    f.clearPage(ZERO_PFN);
    const p = f.alloc();
    f.write32(p, 0, 9);
    f.copyPage(ZERO_PFN, p);
    expect(f.problems.map((x) => x.kind)).toEqual(['zero-page-write', 'zero-page-write', 'zero-page-write']);
    expect(f.read32(ZERO_PFN, 0)).toBe(0);
    f.get(ZERO_PFN);
    f.incMapcount(ZERO_PFN);
    expect(f.put(ZERO_PFN)).toBe(false);
    expect(f.put(ZERO_PFN)).toBe(false);
    expect(f.refcount(ZERO_PFN)).toBe(1);
    expect(f.mapcount(ZERO_PFN)).toBe(0);
    expect(f.isFree(ZERO_PFN)).toBe(false);
    expect(f.tryGet(ZERO_PFN)).toBe(true);
  });
});

describe('FrameTable: contents', () => {
  it('lazy: only written frames own a buffer; writing 0 to a fresh page allocates nothing', () => {
    const f = new FrameTable();
    const p = f.alloc();
    f.write32(p, 0, 0);
    expect(f.hasContents(p)).toBe(false);
    f.write32(p, 4092, 0xdeadbeef);
    expect(f.hasContents(p)).toBe(true);
    expect(f.read32(p, 4092)).toBe(0xdeadbeef);
    expect(f.read32(p, 0)).toBe(0);
    expect(f.contentPages).toBe(1);
    f.clearPage(p);
    expect(f.hasContents(p)).toBe(false);
    expect(f.read32(p, 4092)).toBe(0);
  });

  it('copyPage preserves every word, and copying a zero page clears the target', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1023 }), fc.nat({ max: 0xffffffff })), { maxLength: 40 }), (writes) => {
        const f = new FrameTable();
        const src = f.alloc();
        const dst = f.alloc();
        f.write32(dst, 0, 77); // stale data in the target must not survive the copy
        const model = new Map<number, number>();
        for (const [w, v] of writes) {
          f.write32(src, w * 4, v);
          model.set(w, v);
        }
        f.copyPage(dst, src);
        const got: number[] = [];
        const want: number[] = [];
        for (let w = 0; w < 1024; w++) {
          got.push(f.read32(dst, w * 4));
          want.push(model.get(w) ?? 0);
        }
        expect(got).toEqual(want);
        // The copy is independent of its source.
        f.write32(src, 0, 1);
        expect(f.read32(dst, 0)).toBe(model.get(0) ?? 0);
        f.checkInvariants();
      }),
    );
  });

  it('saveContents / loadContents round trip; null means zeros', () => {
    const f = new FrameTable();
    const p = f.alloc();
    expect(f.saveContents(p)).toBeNull();
    f.write32(p, 40, 123);
    const saved = f.saveContents(p)!;
    f.write32(p, 40, 5);
    const q = f.alloc();
    f.loadContents(q, saved);
    expect(f.read32(q, 40)).toBe(123);
    f.loadContents(q, null);
    expect(f.read32(q, 40)).toBe(0);
    expect(() => f.loadContents(q, new Uint32Array(3))).toThrow(/words/);
  });
});

describe('FrameTable: flags, owner, lock, device-private', () => {
  it('flag helpers and trylock', () => {
    const f = new FrameTable();
    const p = f.alloc();
    expect(f.trylock(p)).toBe(true);
    expect(f.trylock(p)).toBe(false);
    f.unlock(p);
    expect(f.trylock(p)).toBe(true);
    expect(f.testAndSetFlag(p, PG_DIRTY)).toBe(false);
    expect(f.testAndSetFlag(p, PG_DIRTY)).toBe(true);
    expect(f.testAndClearFlag(p, PG_DIRTY)).toBe(true);
    expect(f.testFlags(p, PG_DIRTY)).toBe(false);
    f.setOwner(p, 12, 345);
    expect([f.owner(p), f.index(p)]).toEqual([12, 345]);
    expect(f.describe(p)).toContain('owner:12 index:345');
  });

  it('device-private frames: idle until initialised, not counted against the RAM limit, idle again at put', () => {
    const f = new FrameTable({ limit: 1 });
    const first = f.createDevicePages(4, 99);
    expect(f.deviceFrames).toBe(4);
    expect(f.isFree(first)).toBe(true);
    expect(f.isDevicePrivate(first + 3)).toBe(true);
    expect(f.initDevicePage(first + 1)).toBe(true);
    expect(f.deviceInUse).toBe(1);
    expect(f.refcount(first + 1)).toBe(1);
    expect(f.owner(first + 1)).toBe(99);
    const ram = f.alloc();
    expect(ram).toBeGreaterThan(first + 3); // RAM allocation still possible: device pages don't count
    f.write32(first + 1, 0, 7);
    expect(f.initDevicePage(first + 1)).toBe(false); // already in use
    expect(f.problems).toHaveLength(1);
    const gen = f.generation(first + 1);
    expect(f.put(first + 1)).toBe(true); // page_free time
    expect(f.isFree(first + 1)).toBe(true);
    expect(f.isDevicePrivate(first + 1)).toBe(true);
    expect(f.generation(first + 1)).toBe(gen + 1);
    expect(f.hasContents(first + 1)).toBe(false);
    f.put(ram);
    expect(f.alloc()).toBe(ram); // a device page never enters the RAM free list
    expect(f.initDevicePage(ram)).toBe(false);
    f.checkInvariants();
  });
});

type Op =
  | { op: 'alloc' }
  | { op: 'get' | 'put' | 'tryGet' | 'map' | 'unmap'; i: number };

describe('FrameTable: refcount and free-list invariants (model-based)', () => {
  it('random alloc/get/put/tryGet/map/unmap match a model', () => {
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ op: 'alloc' }),
      fc.record({ op: fc.constantFrom('get', 'put', 'tryGet', 'map', 'unmap' as const), i: fc.nat(40) }) as fc.Arbitrary<Op>,
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(opArb, { maxLength: 200 }), (limit, ops) => {
        const f = new FrameTable({ limit });
        const ref = new Map<number, number>(); // live pfn -> refcount
        const map = new Map<number, number>();
        const known: number[] = []; // every pfn ever handed out
        let problems = 0;
        for (const o of ops) {
          if (o.op === 'alloc') {
            const p = f.alloc(PG_ANON);
            if (ref.size >= limit) {
              expect(p).toBe(-1);
            } else {
              expect(p).toBeGreaterThan(0);
              expect(ref.has(p)).toBe(false);
              ref.set(p, 1);
              map.set(p, 0);
              if (!known.includes(p)) known.push(p);
            }
          } else {
            if (known.length === 0) continue;
            const p = known[o.i % known.length]!;
            const live = ref.has(p);
            const r = ref.get(p) ?? 0;
            const m = map.get(p) ?? 0;
            switch (o.op) {
              case 'get':
                f.get(p);
                if (live) ref.set(p, r + 1);
                else problems++;
                break;
              case 'tryGet':
                expect(f.tryGet(p)).toBe(live);
                if (live) ref.set(p, r + 1);
                break;
              case 'map':
                f.incMapcount(p);
                if (live) map.set(p, m + 1);
                else problems++;
                break;
              case 'unmap':
                f.decMapcount(p);
                if (live && m > 0) map.set(p, m - 1);
                else problems++;
                break;
              case 'put': {
                const freed = f.put(p);
                expect(freed).toBe(live && r === 1);
                if (!live) problems++;
                else if (r === 1) {
                  if (m > 0) problems++;
                  ref.delete(p);
                  map.delete(p);
                } else ref.set(p, r - 1);
                break;
              }
            }
          }
          expect(f.problems).toHaveLength(problems);
        }
        expect(f.ramInUse).toBe(ref.size);
        for (const p of known) {
          expect(f.isFree(p)).toBe(!ref.has(p));
          expect(f.refcount(p)).toBe(ref.get(p) ?? 0);
          expect(f.mapcount(p)).toBe(map.get(p) ?? 0);
        }
        expect(f.freeListLength).toBe(f.capacity - 1 - ref.size);
        f.checkInvariants();
      }),
      { numRuns: 300 },
    );
  });
});
