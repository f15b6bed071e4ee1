import { describe, expect, it } from 'vitest';
import { checkScenario, legSeed, runLeg } from '../../src/check/run.js';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { deriveSeed } from '../../src/sim/rng.js';
import { defineScenario } from '../../src/check/scenario.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import { formatScenario } from '../../src/report/text.js';
import { jsonDocument } from '../../src/report/json.js';
import { Access } from '../../src/sim/point.js';
import type { World } from '../../src/sim/world.js';

const lostUpdate = defineScenario({
  name: 'small-lost-update',
  description: 'two unlocked increments',
  setup: () => ({ c: { name: 'c', value: 0 } }),
  tasks: {
    *a(s, w: World) {
      yield w.point('load', s.c, Access.Read);
      const v = s.c.value;
      yield w.point('store', s.c, Access.Write);
      s.c.value = v + 1;
    },
    *b(s, w: World) {
      yield w.point('load', s.c, Access.Read);
      const v = s.c.value;
      yield w.point('store', s.c, Access.Write);
      s.c.value = v + 1;
    },
  },
  check(s, ctx) {
    if (s.c.value !== 2) ctx.fail(`c is ${s.c.value}`, 'lost-update', 'c');
  },
  expect: ['lost-update'],
});

describe('the portfolio on a small space', () => {
  it('stops early once DFS has explored every schedule, and says the verdict is complete', () => {
    const r = checkScenario(lostUpdate, { legs: portfolioLegs(3, 3, 2), seed: 1, runs: 30_000 });
    expect(r.verdict).toBe('pass');
    expect(r.complete).toBe(true);
    expect(r.completedBound).toBe(Infinity);
    // DFS needs a handful of runs; the PCT and random legs never start.
    expect(r.runs).toBeLessThan(20);
    expect(r.strategies[1]).toContain('0 runs');
    expect(r.strategies[2]).toBe('random (0 runs)');
    expect(formatScenario(r, 'small-lost-update')).toContain('every schedule explored: the verdict is complete');
    const doc = jsonDocument([r], ['small-lost-update']) as { scenarios: { complete: boolean; completedBound: unknown; findings: { firstHits: unknown }[] }[] };
    expect(doc.scenarios[0]!.complete).toBe(true);
    expect(doc.scenarios[0]!.completedBound).toBe('unbounded');
    expect(doc.scenarios[0]!.findings[0]!.firstHits).toEqual([{ strategy: 'dfs', run: expect.any(Number), ms: expect.any(Number) }]);
  });

  it('records the first hit of every leg that found a problem', () => {
    const r = checkScenario(lostUpdate, { legs: [{ name: 'random' }, { name: 'pct', depth: 2 }], seed: 1, runs: 400 });
    const hits = r.problems[0]!.firstHits;
    expect(hits.map((h) => h.strategy)).toEqual(['random', 'pct(d=2)']);
    for (const h of hits) expect(h.run).toBeGreaterThanOrEqual(1);
  });
});

/** Takes A then B, or B then A, by the run's seed: no run has both orders. */
const orderBySeed = defineScenario({
  name: 'order-by-seed',
  description: 'one lock order per run, chosen by the seed',
  setup: (w: World) => ({ a: new Mutex(w, 'lock_A'), b: new Mutex(w, 'lock_B'), aFirst: w.seed % 2 === 0 }),
  tasks: {
    *t(s) {
      const [x, y] = s.aFirst ? [s.a, s.b] : [s.b, s.a];
      yield* mutex_lock(x);
      yield* mutex_lock(y);
      yield* mutex_unlock(y);
      yield* mutex_unlock(x);
    },
  },
  expect: ['lockdep-circular'],
});

describe('one lockdep graph across legs', () => {
  it('finds a cycle whose halves were learned by different legs, naming both runs', () => {
    // Two legs of one run each; pick a base seed whose two legs take the locks in different orders.
    let base = 1;
    // (A leg's first run has the seed deriveSeed(legSeed(base, leg), 0).)
    while (deriveSeed(legSeed(base, 0), 0) % 2 === deriveSeed(legSeed(base, 1), 0) % 2) base++;
    const legA = runLeg(orderBySeed, { name: 'random' }, { seed: legSeed(base, 0), runs: 1, shrink: false, clock: () => 0 });
    const legB = runLeg(orderBySeed, { name: 'random' }, { seed: legSeed(base, 1), runs: 1, shrink: false, clock: () => 0 });
    expect(legA.problems).toEqual([]);
    expect(legB.problems).toEqual([]);
    expect(legA.dependencies!.map((d) => `${d.from}->${d.to}`)).not.toEqual(legB.dependencies!.map((d) => `${d.from}->${d.to}`));
    const r = checkScenario(orderBySeed, { legs: [{ name: 'random' }, { name: 'random' }], seed: base, runs: 2 });
    expect(r.verdict).toBe('pass');
    const cycle = r.problems.find((p) => p.kind === 'lockdep-circular')!;
    expect(cycle.strategy).toBe('lockdep (merged graph)');
    expect(cycle.place).toBe('lock_A | lock_B');
    expect(cycle.message).toMatch(/lock_A --> lock_B .*learned by random/);
    expect(cycle.message).toMatch(/lock_B --> lock_A .*learned by random/);
    expect(cycle.message.match(/run "schedule \S* --seed \d+"/g)).toHaveLength(2);
  });
});
