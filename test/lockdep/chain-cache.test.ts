/**
 * Chain cache (spec §9): repeated sequences are validated once, and the cache
 * never changes a verdict.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainId, chainKeyStep, CHAIN_KEY_INIT, ChainCache } from '../../src/lockdep/chain-cache.ts';
import { Lockdep, type LockdepOptions, LockdepMap, type OffAfterReport, type Where } from '../../src/lockdep/index.ts';

const where: Where = { taskName: 't', step: 0, stack: [] };

describe('ChainCache', () => {
  it('matches exact sequences only, even when keys collide', () => {
    const c = new ChainCache();
    const held = new Int32Array([1, 2, 3]);
    c.add(42, held, 2, 7);
    expect(c.lookup(42, held, 2, 7)).toBe(true);
    expect(c.lookup(42, held, 2, 8)).toBe(false); // same key, other chain
    expect(c.lookup(42, new Int32Array([1, 3]), 2, 7)).toBe(false);
    expect(c.lookup(43, held, 2, 7)).toBe(false);
    c.add(42, new Int32Array([5]), 1, 7);
    expect(c.lookup(42, new Int32Array([5]), 1, 7)).toBe(true);
    expect(c.lookup(42, held, 2, 7)).toBe(true);
    expect([c.size, c.hits, c.misses]).toEqual([2, 3, 3]);
  });

  it('ids differ by read mode, trylock and check; keys depend on order', () => {
    const ids = new Set([chainId(3, 0, false, true, false), chainId(3, 1, false, true, false), chainId(3, 2, false, true, false), chainId(3, 0, true, true, false), chainId(3, 0, false, false, false), chainId(3, 0, false, true, true)]);
    expect(ids.size).toBe(6);
    const ab = chainKeyStep(chainKeyStep(CHAIN_KEY_INIT, 1), 2);
    const ba = chainKeyStep(chainKeyStep(CHAIN_KEY_INIT, 2), 1);
    expect(ab).not.toBe(ba);
  });
});

describe('chain cache in the validator', () => {
  it('a repeated sequence is validated once and then hits the cache, across runs too', () => {
    const ld = new Lockdep();
    const a = new LockdepMap('a');
    const b = new LockdepMap('b');
    const c = new LockdepMap('c');
    ld.beginRun('1');
    for (let i = 0; i < 100; i++) {
      ld.acquire(0, a, undefined, where);
      ld.acquire(0, b, undefined, where);
      ld.acquire(0, c, undefined, where);
      ld.release(0, c, where);
      ld.release(0, b, where);
      ld.release(0, a, where);
    }
    expect(ld.chains.misses).toBe(3);
    expect(ld.chains.hits).toBe(297);
    const searches = ld.graph.searches;
    ld.beginRun('2');
    ld.acquire(1, a, undefined, where);
    ld.acquire(1, b, undefined, where);
    expect(ld.chains.misses).toBe(3);
    expect(ld.graph.searches).toBe(searches);
  });

  it('read and write acquisitions of the same classes are different chains', () => {
    const ld = new Lockdep();
    const a = new LockdepMap('a');
    const b = new LockdepMap('b');
    ld.beginRun('1');
    ld.acquire(0, a, { read: 2 }, where);
    ld.acquire(0, b, undefined, where);
    ld.release(0, b, where);
    ld.release(0, a, where);
    const chains = ld.chains.size;
    ld.acquire(0, a, undefined, where);
    ld.acquire(0, b, undefined, where);
    expect(ld.chains.size).toBe(chains + 2);
  });
});

type Op =
  | { t: 'acq'; task: number; lock: number; read: 0 | 1 | 2; trylock: boolean; nest: boolean; sub: number }
  | { t: 'rel'; task: number; idx: number }
  | { t: 'bad'; task: number; lock: number }
  | { t: 'relTop'; task: number }
  | { t: 'run' };

const NLOCKS = 5;
type Acq = Extract<Op, { t: 'acq' }>;
const acqArb: fc.Arbitrary<Omit<Acq, 'task'>> = fc.record({
  t: fc.constant('acq' as const),
  lock: fc.integer({ min: 0, max: NLOCKS - 1 }),
  read: fc.constantFrom(0 as const, 1 as const, 2 as const),
  trylock: fc.constantFrom(false, false, true),
  nest: fc.constantFrom(false, false, false, true),
  sub: fc.constantFrom(0, 0, 0, 1),
});
/** A script: some acquisitions, then releases in a random (often out-of-order) order. */
const scriptArb = fc.tuple(fc.array(acqArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { minLength: 4, maxLength: 4 }));
/**
 * Episodes replay a few scripts many times (so chains repeat and the cache is
 * exercised), on either task, with run boundaries and unbalanced releases
 * sprinkled in.
 */
const opsArb: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.array(scriptArb, { minLength: 1, maxLength: 4 }),
    fc.array(
      fc.record({ script: fc.nat(), task: fc.integer({ min: 0, max: 1 }), extra: fc.constantFrom('none', 'none', 'none', 'none', 'run', 'bad', 'keep') }),
      { minLength: 1, maxLength: 25 },
    ),
  )
  .map(([scripts, episodes]) => {
    const ops: Op[] = [];
    for (const ep of episodes) {
      const [acqs, relOrder] = scripts[ep.script % scripts.length]!;
      for (const a of acqs) ops.push({ ...a, task: ep.task });
      if (ep.extra === 'keep') continue; // leave locks held into the next episode
      for (const idx of relOrder) ops.push({ t: 'rel', task: ep.task, idx });
      ops.push({ t: 'relTop', task: ep.task }, { t: 'relTop', task: ep.task }, { t: 'relTop', task: ep.task }, { t: 'relTop', task: ep.task });
      if (ep.extra === 'run') ops.push({ t: 'run' });
      if (ep.extra === 'bad') ops.push({ t: 'bad', task: ep.task, lock: ep.script % NLOCKS });
    }
    return ops;
  });

let cacheHits = 0;
let reportsSeen = 0;

/** Runs ops on a fresh validator; returns an observable trace of verdicts. */
function observe(ops: readonly Op[], opts: LockdepOptions): string[] {
  const ld = new Lockdep(opts);
  // Locks 0-1 share class "X", 2-3 class "Y", 4 is "ctx" (the nest lock).
  const maps = [0, 1, 2, 3, 4].map((i) => new LockdepMap(`l${i}`, { key: i < 2 ? 'X' : i < 4 ? 'Y' : 'ctx' }));
  const held: LockdepMap[][] = [[], []];
  const trace: string[] = [];
  let run = 0;
  ld.beginRun(`r${run}`);
  for (const op of ops) {
    if (op.t === 'run') {
      ld.beginRun(`r${++run}`);
      held[0] = [];
      held[1] = [];
    } else if (op.t === 'acq') {
      const m = maps[op.lock]!;
      ld.acquire(op.task, m, { read: op.read, trylock: op.trylock, nestLock: op.nest ? maps[4]! : null, subclass: op.sub }, where);
      held[op.task]!.push(m);
    } else if (op.t === 'rel') {
      // Release any held lock (out of order most of the time).
      const h = held[op.task]!;
      if (h.length > 0) ld.release(op.task, h.splice(op.idx % h.length, 1)[0]!, where);
    } else if (op.t === 'bad') {
      // Possibly unbalanced: a lock this task may not hold.
      ld.release(op.task, maps[op.lock]!, where);
      const h = held[op.task]!;
      const i = h.lastIndexOf(maps[op.lock]!);
      if (i >= 0) h.splice(i, 1);
    } else {
      const m = held[op.task]!.pop();
      if (m !== undefined) ld.release(op.task, m, where);
    }
    trace.push(`${ld.enabled}|${ld.reports.map((r) => `${r.kind}:${r.place}`).join(',')}|${ld.heldDepth(0)},${ld.heldDepth(1)}|${ld.graph.size}`);
  }
  if (opts.chainCache !== false) cacheHits += ld.chains.hits;
  reportsSeen += ld.reports.length;
  return trace;
}

describe('property: the chain cache never changes a verdict', () => {
  for (const off of ['run', 'scope', 'never'] as OffAfterReport[]) {
    it(`offAfterReport=${off}: same reports, held depths and graph with and without the cache`, () => {
      cacheHits = 0;
      reportsSeen = 0;
      fc.assert(
        fc.property(opsArb, (ops) => {
          const withCache = observe(ops, { offAfterReport: off, chainCache: true });
          const without = observe(ops, { offAfterReport: off, chainCache: false });
          expect(withCache).toEqual(without);
        }),
        { numRuns: 400 },
      );
      // The property is only meaningful if both the cache and the checker were exercised.
      expect(cacheHits).toBeGreaterThan(100);
      expect(reportsSeen).toBeGreaterThan(100);
    });
  }

  it('random sequences do hit the cache', () => {
    const ld = new Lockdep();
    const maps = [0, 1, 2].map((i) => new LockdepMap(`m${i}`));
    ld.beginRun('1');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }), (idx) => {
        // One global order, so no report switches validation off.
        const uniq = [...new Set(idx)].sort();
        for (const i of uniq) ld.acquire(0, maps[i]!, undefined, where);
        for (const i of uniq.reverse()) ld.release(0, maps[i]!, where);
      }),
      { numRuns: 200 },
    );
    expect(ld.chains.hits).toBeGreaterThan(ld.chains.misses);
  });
});
