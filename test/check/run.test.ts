import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
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
