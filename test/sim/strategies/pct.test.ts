import { describe, expect, it } from 'vitest';
import { explore } from '../../../src/sim/explore.js';
import { PctStrategy } from '../../../src/sim/strategies/pct.js';
import { RandomStrategy } from '../../../src/sim/strategies/random.js';
import { buildProgram } from '../programs.js';

const lostUpdate = buildProgram([[{ op: 'inc', cell: 0 }], [{ op: 'inc', cell: 0 }]]);

describe('PCT', () => {
  it('reports n, k, d and the 1/(n*k^(d-1)) bound from what it saw', () => {
    const pct = new PctStrategy(3);
    explore(lostUpdate, pct, { seed: 3, maxRuns: 50 });
    // Two tasks of two steps: n = 2; k counts steps with a choice, at most 3 (a b a, then b is
    // alone); bound = 1/(2*3^2).
    expect(pct.describe()).toContain('n=2, k=3, d=3');
    expect(pct.bound()).toBeCloseTo(1 / 18);
  });

  it('with depth 1 never preempts, so it cannot find the lost update; depth 2 finds it', () => {
    expect(explore(lostUpdate, new PctStrategy(1), { seed: 1, maxRuns: 200 }).problems).toEqual([]);
    expect(explore(lostUpdate, new PctStrategy(2), { seed: 1, maxRuns: 200 }).problems.map((p) => p.kind)).toEqual(['lost-update']);
  });

  it('rejects a depth below 1', () => {
    expect(() => new PctStrategy(0)).toThrow(/depth must be an integer/);
  });
});

describe('random', () => {
  it('finds the lost update and counts its hits', () => {
    const r = explore(lostUpdate, new RandomStrategy(), { seed: 9, maxRuns: 400 });
    expect(r.runs).toBe(400);
    expect(r.problems).toHaveLength(1);
    // Two of the six interleavings are clean; the hit rate under uniform choice is 1/2.
    expect(r.problems[0]!.hits).toBeGreaterThan(120);
    expect(r.problems[0]!.hits).toBeLessThan(280);
  });
});
