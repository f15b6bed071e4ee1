import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { INTERVAL_TREE_MAX_KEY, IntervalTree, NO_NODE } from '../../src/notifier/interval-tree.ts';

const PAGE = 4096;

/** Naive model entry: insertion sequence number breaks ties between equal starts. */
interface Entry {
  id: number;
  start: number;
  last: number;
  payload: number;
  seq: number;
}

function expectedOverlaps(model: Entry[], qs: number, ql: number): number[] {
  return model
    .filter((e) => e.start <= ql && e.last >= qs)
    .sort((a, b) => a.start - b.start || a.seq - b.seq)
    .map((e) => e.id);
}

function payloads(t: IntervalTree, ids: number[]): number[] {
  return ids.map((id) => t.payloadOf(id));
}

describe('IntervalTree: unit', () => {
  it('empty tree', () => {
    const t = new IntervalTree();
    expect(t.size).toBe(0);
    expect(t.iterFirst(0, INTERVAL_TREE_MAX_KEY)).toBe(NO_NODE);
    expect(t.overlaps(0, Infinity)).toEqual([]);
    t.checkInvariants();
  });

  it('single interval, touching boundaries are inclusive', () => {
    const t = new IntervalTree();
    const id = t.insert(0, PAGE - 1, 7);
    expect(id).toBeGreaterThan(0);
    expect(t.size).toBe(1);
    expect(t.startOf(id)).toBe(0);
    expect(t.lastOf(id)).toBe(PAGE - 1);
    expect(t.payloadOf(id)).toBe(7);
    expect(t.overlaps(PAGE - 1, PAGE - 1)).toEqual([id]);
    expect(t.overlaps(0, 0)).toEqual([id]);
    expect(t.overlaps(PAGE, 2 * PAGE - 1)).toEqual([]);
    expect(t.iterFirst(PAGE, PAGE)).toBe(NO_NODE);
    expect(t.overlaps(0, Infinity)).toEqual([id]);
    t.checkInvariants();
  });

  it('interval starting exactly at the query end overlaps; one past does not', () => {
    const t = new IntervalTree();
    const a = t.insert(2 * PAGE, 3 * PAGE - 1, 1);
    expect(t.overlaps(PAGE, 2 * PAGE)).toEqual([a]);
    expect(t.overlaps(PAGE, 2 * PAGE - 1)).toEqual([]);
    expect(t.overlaps(3 * PAGE - 1, 5 * PAGE)).toEqual([a]);
    expect(t.overlaps(3 * PAGE, 5 * PAGE)).toEqual([]);
  });

  it('finds an interval in the right subtree of a match that ends exactly at the query start', () => {
    const t = new IntervalTree();
    const a = t.insert(0, 10, 0);
    const b = t.insert(5, 5, 1); // right child of a; subtree max == query start
    t.checkInvariants();
    expect(t.overlaps(5, 5)).toEqual([a, b]);
    expect(t.overlaps(10, 12)).toEqual([a]);
    const c = t.insert(3, 5, 2);
    expect(t.overlaps(5, 5)).toEqual([a, c, b]);
  });

  it('duplicates are kept and returned in insertion order', () => {
    const t = new IntervalTree();
    const ids = [0, 1, 2, 3, 4].map((p) => t.insert(PAGE, 2 * PAGE - 1, p));
    expect(new Set(ids).size).toBe(5);
    expect(t.size).toBe(5);
    t.checkInvariants();
    expect(t.overlaps(PAGE, PAGE)).toEqual(ids);
    expect(payloads(t, t.overlaps(0, Infinity))).toEqual([0, 1, 2, 3, 4]);
    t.remove(ids[2]!);
    t.checkInvariants();
    expect(payloads(t, t.overlaps(0, Infinity))).toEqual([0, 1, 3, 4]);
  });

  it('iterates in ascending start order', () => {
    const t = new IntervalTree();
    const starts = [50, 10, 40, 20, 30, 0, 60];
    for (const s of starts) t.insert(s * PAGE, s * PAGE + 100 * PAGE, s);
    t.checkInvariants();
    expect(payloads(t, t.overlaps(25 * PAGE, 45 * PAGE))).toEqual([0, 10, 20, 30, 40]);
    const seen: number[] = [];
    t.forEachOverlap(0, Infinity, (id, payload) => {
      expect(t.payloadOf(id)).toBe(payload);
      seen.push(payload);
    });
    expect(seen).toEqual([0, 10, 20, 30, 40, 50, 60]);
  });

  it('iterFirst/iterNext visit a long interval among short ones', () => {
    const t = new IntervalTree();
    for (let i = 0; i < 100; i++) t.insert(i * 10 * PAGE, i * 10 * PAGE + PAGE - 1, i);
    const big = t.insert(5 * PAGE, 995 * PAGE, 1000);
    const hits: number[] = [];
    for (let n = t.iterFirst(500 * PAGE, 520 * PAGE); n !== NO_NODE; n = t.iterNext(n, 500 * PAGE, 520 * PAGE)) {
      hits.push(t.payloadOf(n));
    }
    expect(hits).toEqual([1000, 50, 51, 52]);
    expect(t.overlaps(991 * PAGE, 995 * PAGE)).toEqual([big]);
  });

  it('removal of every node, in several orders', () => {
    for (const order of ['asc', 'desc', 'interleaved'] as const) {
      const t = new IntervalTree(4);
      const ids: number[] = [];
      for (let i = 0; i < 200; i++) ids.push(t.insert(((i * 37) % 200) * PAGE, ((i * 37) % 200) * PAGE + 3 * PAGE - 1, i));
      t.checkInvariants();
      const seq =
        order === 'asc' ? ids : order === 'desc' ? [...ids].reverse() : ids.map((_, i) => ids[(i * 7) % ids.length]!);
      for (const id of seq) {
        t.remove(id);
        t.checkInvariants();
        expect(t.has(id)).toBe(false);
      }
      expect(t.size).toBe(0);
      expect(t.overlaps(0, Infinity)).toEqual([]);
    }
  });

  it('reuses freed ids (most recently freed first)', () => {
    const t = new IntervalTree();
    const a = t.insert(0, 9, 0);
    const b = t.insert(10, 19, 1);
    const c = t.insert(20, 29, 2);
    t.remove(a);
    t.remove(c);
    expect(t.insert(30, 39, 3)).toBe(c);
    expect(t.insert(40, 49, 4)).toBe(a);
    const d = t.insert(50, 59, 5);
    expect([a, b, c]).not.toContain(d);
    expect(t.payloadOf(c)).toBe(3);
    expect(t.startOf(a)).toBe(40);
    t.checkInvariants();
  });

  it('clear() empties the tree and invalidates ids', () => {
    const t = new IntervalTree();
    const ids = [1, 2, 3].map((i) => t.insert(i, i + 1, i));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.has(ids[0]!)).toBe(false);
    expect(() => t.remove(ids[0]!)).toThrow(/not live/);
    t.checkInvariants();
    const x = t.insert(5, 6, 9);
    expect(t.overlaps(0, 10)).toEqual([x]);
    t.checkInvariants();
  });

  it('grows past its initial capacity', () => {
    const t = new IntervalTree(1);
    for (let i = 0; i < 1000; i++) t.insert(i * PAGE, i * PAGE + PAGE - 1, i);
    t.checkInvariants();
    expect(t.size).toBe(1000);
    expect(payloads(t, t.overlaps(500 * PAGE - 1, 501 * PAGE))).toEqual([499, 500, 501]);
  });

  it('keys up to 2^53 - 1 are exact; query bounds may exceed 2^53', () => {
    const t = new IntervalTree();
    const top = INTERVAL_TREE_MAX_KEY;
    const a = t.insert(top - 1, top, 1);
    const b = t.insert(2 ** 47 - PAGE, 2 ** 47 - 1, 2);
    expect(t.overlaps(top, top)).toEqual([a]);
    expect(t.overlaps(top - 2, top - 2)).toEqual([]);
    expect(t.overlaps(0, 2 ** 64 - 1)).toEqual([b, a]);
    expect(t.overlaps(2 ** 47 - 1, Infinity)).toEqual([b, a]);
    t.checkInvariants();
  });

  it('rejects empty/inverted and unrepresentable intervals with the bad values in the message', () => {
    const t = new IntervalTree();
    expect(() => t.insert(8192, 4095, 0)).toThrow(/start=8192.*last=4095/);
    expect(() => t.insert(8192, 4095, 0)).toThrow(/inverted/);
    expect(() => t.insert(-1, 10, 0)).toThrow(/start=-1/);
    expect(() => t.insert(0, 2 ** 53, 0)).toThrow(/last=9007199254740992/);
    expect(() => t.insert(0.5, 10, 0)).toThrow(/start=0.5/);
    expect(() => t.insert(Number.NaN, 10, 0)).toThrow(/start=NaN/);
    expect(() => t.insert(0, 10, 2 ** 31)).toThrow(/payload=2147483648/);
    expect(() => t.insert(0, 10, 1.5)).toThrow(/payload/);
    expect(() => t.iterFirst(10, 9)).toThrow(/start=10.*last=9/);
    expect(() => t.overlaps(Number.NaN, 9)).toThrow(/bad query/);
    expect(() => t.iterFirst(-Infinity, 9)).toThrow(/bad query/);
    expect(t.size).toBe(0);
    t.checkInvariants();
  });

  it('rejects operations on ids that are not live', () => {
    const t = new IntervalTree();
    const a = t.insert(0, 10, 0);
    t.remove(a);
    expect(() => t.remove(a)).toThrow(/node id 1 is not live/);
    expect(() => t.payloadOf(a)).toThrow(/not live/);
    expect(() => t.startOf(0)).toThrow(/not live/);
    expect(() => t.lastOf(-1)).toThrow(/not live/);
    expect(() => t.iterNext(99, 0, 10)).toThrow(/not live/);
  });

  it('matches the naive model on a larger deterministic workload', () => {
    // mulberry32, inline: deterministic and independent of the model's generator.
    let s = 12345;
    const rnd = (): number => {
      s = (s + 0x6d2b79f5) | 0;
      let x = Math.imul(s ^ (s >>> 15), 1 | s);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
    const t = new IntervalTree();
    const model: Entry[] = [];
    let seq = 0;
    for (let i = 0; i < 5000; i++) {
      const r = rnd();
      if (r < 0.55 || model.length === 0) {
        const start = Math.floor(rnd() * 4096) * PAGE;
        const last = start + Math.floor(rnd() * 64) * PAGE + PAGE - 1;
        const id = t.insert(start, last, i);
        model.push({ id, start, last, payload: i, seq: seq++ });
      } else if (r < 0.8) {
        const k = Math.floor(rnd() * model.length);
        t.remove(model[k]!.id);
        model.splice(k, 1);
      } else {
        const qs = Math.floor(rnd() * 4200) * PAGE;
        const ql = qs + Math.floor(rnd() * 32) * PAGE;
        expect(t.overlaps(qs, ql)).toEqual(expectedOverlaps(model, qs, ql));
      }
    }
    t.checkInvariants();
    expect(t.size).toBe(model.length);
    expect(t.overlaps(0, Infinity)).toEqual(expectedOverlaps(model, 0, Infinity));
  });
});

type Op =
  | { kind: 'insert'; start: number; len: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'query'; start: number; len: number };

// Small key space so that overlaps, duplicates and touching boundaries are common,
// plus keys at the top of the representable range.
const keyArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 24 }) },
  { weight: 1, arbitrary: fc.integer({ min: INTERVAL_TREE_MAX_KEY - 40, max: INTERVAL_TREE_MAX_KEY }) },
);
const lenArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 60 }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('insert' as const), start: keyArb, len: lenArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('query' as const), start: keyArb, len: lenArb }) },
);

describe('IntervalTree: property test against a naive list', () => {
  it('agrees with the model under random insert/remove/query sequences', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200, size: 'max' }), (ops) => {
        const t = new IntervalTree(2);
        const model: Entry[] = [];
        let seq = 0;
        for (const op of ops) {
          if (op.kind === 'insert') {
            const last = Math.min(op.start + op.len, INTERVAL_TREE_MAX_KEY);
            const payload = seq;
            const id = t.insert(op.start, last, payload);
            expect(model.some((e) => e.id === id)).toBe(false);
            model.push({ id, start: op.start, last, payload, seq: seq++ });
          } else if (op.kind === 'remove') {
            if (model.length === 0) continue;
            const k = op.pick % model.length;
            t.remove(model[k]!.id);
            model.splice(k, 1);
          } else {
            const ql = op.start + op.len;
            const got = t.overlaps(op.start, ql);
            expect(got).toEqual(expectedOverlaps(model, op.start, ql));
            for (const id of got) {
              const e = model.find((m) => m.id === id)!;
              expect([t.startOf(id), t.lastOf(id), t.payloadOf(id)]).toEqual([e.start, e.last, e.payload]);
            }
          }
          t.checkInvariants();
          expect(t.size).toBe(model.length);
        }
        expect(t.overlaps(0, Infinity)).toEqual(expectedOverlaps(model, 0, Infinity));
      }),
      { numRuns: 300 },
    );
  });
});
