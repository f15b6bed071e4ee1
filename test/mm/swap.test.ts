import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameTable } from '../../src/mm/frames.ts';
import { SwapSpace } from '../../src/mm/swap.ts';

describe('SwapSpace', () => {
  it('round trip: page contents survive swap-out, free of the frame, and swap-in to another frame', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1023), fc.nat({ max: 0xffffffff })), { maxLength: 30 }), (writes) => {
        const frames = new FrameTable();
        const swap = new SwapSpace();
        const src = frames.alloc();
        const model = new Map<number, number>();
        for (const [w, v] of writes) {
          frames.write32(src, w * 4, v);
          model.set(w, v);
        }
        const slot = swap.alloc();
        swap.writeOut(slot, frames, src);
        swap.dup(slot);
        frames.write32(src, 0, 0x55); // later writes to the frame do not reach the slot
        frames.put(src);
        const dst = frames.alloc();
        swap.readIn(slot, frames, dst);
        const got: number[] = [];
        const saved: number[] = [];
        const want: number[] = [];
        for (let w = 0; w < 1024; w++) {
          got.push(frames.read32(dst, w * 4));
          saved.push(swap.read32(slot, w * 4));
          want.push(model.get(w) ?? 0);
        }
        expect(got).toEqual(want);
        expect(saved).toEqual(want);
        expect(swap.isZero(slot)).toBe(![...model.values()].some((v) => v !== 0));
      }),
      { numRuns: 50 },
    );
  });

  it('swap counts: fork shares an entry, the slot is freed at the last free', () => {
    const swap = new SwapSpace();
    const s = swap.alloc();
    swap.dup(s);
    swap.dup(s);
    expect(swap.count(s)).toBe(2);
    expect(swap.free(s)).toBe(false);
    expect(swap.isFree(s)).toBe(false);
    expect(swap.free(s)).toBe(true);
    expect(swap.isFree(s)).toBe(true);
    expect(swap.inUse).toBe(0);
    expect(swap.alloc()).toBe(s); // reused
  });

  it('the swap cache keeps a slot alive until both the count and the cache are gone', () => {
    const swap = new SwapSpace();
    const s = swap.alloc();
    swap.addToCache(s, 17);
    swap.dup(s);
    expect(swap.lookupCache(s)).toBe(17);
    expect(swap.free(s)).toBe(false); // still cached
    expect(swap.isFree(s)).toBe(false);
    expect(swap.deleteFromCache(s)).toBe(true);
    expect(swap.lookupCache(s)).toBe(-1);
    expect(swap.isFree(s)).toBe(true);
    const t = swap.alloc();
    expect(swap.release(t)).toBe(true); // an aborted swap-out gives the slot back
  });

  it('honours the slot limit', () => {
    const swap = new SwapSpace({ limit: 2 });
    const a = swap.alloc();
    expect(swap.alloc()).toBeGreaterThanOrEqual(0);
    expect(swap.alloc()).toBe(-1);
    swap.release(a);
    expect(swap.alloc()).toBe(a);
    swap.limit = 40;
    for (let i = 0; i < 38; i++) expect(swap.alloc()).toBeGreaterThanOrEqual(0); // grows its arrays
    expect(swap.alloc()).toBe(-1);
  });

  it('misuse is reported, not thrown', () => {
    const swap = new SwapSpace();
    const s = swap.alloc();
    expect(swap.free(s)).toBe(false); // count is 0
    swap.release(s);
    swap.dup(s);
    swap.free(s);
    swap.addToCache(s, 1);
    expect(swap.problems.map((p) => p.kind)).toEqual([
      'swap-count-underflow',
      'swap-slot-free',
      'swap-slot-free',
      'swap-slot-free',
    ]);
    expect(swap.problems[1]!.slot).toBe(s);
    expect(() => swap.dup(-1)).toThrow(RangeError);
  });

  it('random alloc/dup/free/cache sequences match a model', () => {
    const opArb = fc.oneof(
      fc.constant({ op: 'alloc' as const, i: 0 }),
      fc.record({ op: fc.constantFrom('dup', 'free', 'cache', 'uncache', 'release' as const), i: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 100 }), (ops) => {
        const swap = new SwapSpace({ limit: 6 });
        const count = new Map<number, number>();
        const cached = new Set<number>();
        const known: number[] = [];
        let problems = 0;
        const gone = (s: number): boolean => (count.get(s) ?? 0) === 0 && !cached.has(s);
        for (const o of ops) {
          if (o.op === 'alloc') {
            const s = swap.alloc();
            if (count.size >= 6) expect(s).toBe(-1);
            else {
              expect(count.has(s)).toBe(false);
              count.set(s, 0);
              if (!known.includes(s)) known.push(s);
            }
            continue;
          }
          if (known.length === 0) continue;
          const s = known[o.i % known.length]!;
          const live = count.has(s);
          if (!live) {
            if (o.op === 'release') swap.release(s);
            else if (o.op === 'dup') swap.dup(s);
            else if (o.op === 'free') swap.free(s);
            else if (o.op === 'cache') swap.addToCache(s, 3);
            else swap.deleteFromCache(s);
            problems++;
          } else if (o.op === 'dup') {
            swap.dup(s);
            count.set(s, count.get(s)! + 1);
          } else if (o.op === 'free') {
            if (count.get(s) === 0) {
              swap.free(s);
              problems++;
            } else {
              count.set(s, count.get(s)! - 1);
              expect(swap.free(s)).toBe(gone(s));
              if (gone(s)) count.delete(s);
            }
          } else if (o.op === 'cache') {
            swap.addToCache(s, 9);
            cached.add(s);
          } else if (o.op === 'uncache') {
            cached.delete(s);
            expect(swap.deleteFromCache(s)).toBe(gone(s));
            if (gone(s)) count.delete(s);
          } else {
            expect(swap.release(s)).toBe(gone(s));
            if (gone(s)) count.delete(s);
          }
          expect(swap.problems).toHaveLength(problems);
        }
        expect(swap.inUse).toBe(count.size);
        for (const s of known) {
          expect(swap.isFree(s)).toBe(!count.has(s));
          expect(swap.count(s)).toBe(count.get(s) ?? 0);
          expect(swap.lookupCache(s) >= 0).toBe(count.has(s) && cached.has(s));
        }
      }),
      { numRuns: 300 },
    );
  });
});
