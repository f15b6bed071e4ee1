import { describe, expect, it } from 'vitest';
import { explore } from '../../../src/sim/explore.js';
import { Access } from '../../../src/sim/point.js';
import type { Program } from '../../../src/sim/program.js';
import { DeepeningDfsStrategy } from '../../../src/sim/strategies/deepening.js';
import { DfsStrategy } from '../../../src/sim/strategies/dfs.js';
import type { World } from '../../../src/sim/world.js';
import { buildProgram } from '../programs.js';

/** Three tasks of three conflicting steps: bound 0 and 1 leave schedules out, so deepening must climb. */
const threeByThree = buildProgram([
  [{ op: 'inc', cell: 0 }, { op: 'read', cell: 0 }],
  [{ op: 'inc', cell: 0 }, { op: 'read', cell: 0 }],
  [{ op: 'inc', cell: 0 }],
]);

describe('DFS coverage', () => {
  it('a bounded search that cut a choice is exhausted but not complete; an unbounded one is complete', () => {
    const bounded = new DfsStrategy(0);
    explore(threeByThree, bounded, { seed: 1, maxRuns: 1e6 });
    expect(bounded.coverage()).toEqual({ exhausted: true, complete: false, completedBound: 0 });
    const unbounded = new DfsStrategy(Infinity);
    explore(threeByThree, unbounded, { seed: 1, maxRuns: 1e6 });
    expect(unbounded.coverage()).toEqual({ exhausted: true, complete: true, completedBound: Infinity });
    expect(unbounded.describe()).toContain('whole space exhausted');
  });

  it('a program that draws from the world generator is never called complete', () => {
    const coin: Program = {
      start(w: World) {
        const c = { name: 'c' };
        const heads = w.rng.below(2) === 0;
        w.spawn('t', function* () {
          yield w.point(heads ? 'heads' : 'tails', c, Access.Write);
        });
      },
    };
    const dfs = new DfsStrategy(Infinity);
    const r = explore(coin, dfs, { seed: 1, maxRuns: 100 });
    expect(r.exhausted).toBe(true);
    expect(r.complete).toBe(false);
    expect(dfs.describe()).toContain("world's random generator");
  });
});

describe('iterative deepening', () => {
  it('raises the bound until nothing is cut, then stops, with as many executions as one unbounded DFS at the last level', () => {
    const deep = new DeepeningDfsStrategy(0);
    const r = explore(threeByThree, deep, { seed: 1, maxRuns: 1e6 });
    expect(r.exhausted).toBe(true);
    expect(r.complete).toBe(true);
    expect(r.completedBound).toBe(Infinity);
    expect(deep.describe()).toMatch(/completed bound \d+: whole space exhausted, the verdict is complete/);
    expect(deep.bound).toBeGreaterThan(1);
    // The last level explored the same reduced space as an unbounded search.
    const unbounded = new DfsStrategy(Infinity);
    explore(threeByThree, unbounded, { seed: 1, maxRuns: 1e6 });
    const last = new DfsStrategy(deep.bound);
    explore(threeByThree, last, { seed: 1, maxRuns: 1e6 });
    expect(last.executions).toBe(unbounded.executions);
  });

  it('says which bound it completed when the run budget ends first', () => {
    const deep = new DeepeningDfsStrategy(0);
    const r = explore(threeByThree, deep, { seed: 1, maxRuns: 12 });
    expect(r.complete).toBe(false);
    expect(r.completedBound).toBe(0);
    expect(deep.describe()).toContain('completed bound 0; bound 1 not completed');
  });

  it('finds a bug that needs more preemptions than the first bound', () => {
    // Each increment needs the other task to preempt it: bound 0 never finds the lost update.
    const lost = buildProgram([[{ op: 'inc', cell: 0 }], [{ op: 'inc', cell: 0 }]]);
    expect(explore(lost, new DfsStrategy(0), { seed: 1, maxRuns: 1e6 }).problems).toEqual([]);
    const r = explore(lost, new DeepeningDfsStrategy(0), { seed: 1, maxRuns: 1e6 });
    expect(r.problems.map((p) => p.kind)).toEqual(['lost-update']);
    expect(r.problems[0]!.firstHits).toEqual([{ strategy: 'dfs', run: expect.any(Number), ms: 0 }]);
  });
});
