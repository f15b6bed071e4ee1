import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explore } from '../../../src/sim/explore.js';
import type { Program } from '../../../src/sim/program.js';
import { Access } from '../../../src/sim/point.js';
import { DfsStrategy } from '../../../src/sim/strategies/dfs.js';
import type { World } from '../../../src/sim/world.js';
import { interleavings } from '../programs.js';

/** Tasks with the given numbers of steps; every step names `obj(task, step)` (null: conflicts with all). */
function stepsProgram(steps: readonly number[], obj: (t: number, s: number) => { name: string } | null, access = Access.Write): Program {
  return {
    start(w: World) {
      steps.forEach((n, t) =>
        w.spawn(`t${t}`, function* () {
          for (let s = 0; s < n; s++) yield w.point(`t${t}.${s}`, obj(t, s), access);
        }),
      );
    },
  };
}

function exhaust(p: Program, bound = Infinity, sleepSets = true): DfsStrategy {
  const dfs = new DfsStrategy(bound, Infinity, sleepSets);
  const r = explore(p, dfs, { seed: 1, maxRuns: 1_000_000 });
  expect(r.exhausted).toBe(true);
  return dfs;
}

describe('DFS', () => {
  it('explores exactly the 6 interleavings of two tasks of two steps each', () => {
    const dfs = exhaust(stepsProgram([2, 2], () => null));
    expect(dfs.executions).toBe(6);
    expect(dfs.pruned).toBe(0);
  });

  it('explores the multinomial number of interleavings when every step conflicts', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }), (steps) => {
        const shared = { name: 'x' };
        expect(exhaust(stepsProgram(steps, () => shared)).executions).toBe(interleavings(steps));
      }),
      { numRuns: 40 },
    );
  });

  it('explores one interleaving per order of conflicting steps when tasks touch different objects', () => {
    const objs = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
    const dfs = exhaust(stepsProgram([3, 3, 2], (t) => objs[t]!));
    expect(dfs.executions).toBe(1);
  });

  it('treats reads of the same object as independent', () => {
    const x = { name: 'x' };
    expect(exhaust(stepsProgram([2, 2], () => x, Access.Read)).executions).toBe(1);
    expect(exhaust(stepsProgram([2, 2], () => x, Access.Write)).executions).toBe(6);
  });

  it('without sleep sets explores every interleaving even for independent steps', () => {
    const objs = [{ name: 'a' }, { name: 'b' }];
    expect(exhaust(stepsProgram([2, 2], (t) => objs[t]!), Infinity, false).executions).toBe(6);
  });

  it('bounds preemptions: bound 0 runs each task to completion in some order', () => {
    // With no preemption allowed, only the order of the first choice is free: 2 tasks -> 2 runs.
    expect(exhaust(stepsProgram([3, 3], () => null), 0).executions).toBe(2);
    // Bound 1: still fewer than all 20 interleavings of 3+3 steps.
    const one = exhaust(stepsProgram([3, 3], () => null), 1).executions;
    expect(one).toBeGreaterThan(2);
    expect(one).toBeLessThan(interleavings([3, 3]));
  });

  it('reports in describe() whether the space was exhausted', () => {
    const dfs = exhaust(stepsProgram([1, 1], () => null));
    expect(dfs.describe()).toContain('space exhausted');
  });
});

describe('DFS and steps that reach past their point', () => {
  /**
   * Two tasks whose points name different objects, but the writer's step secretly writes what the
   * reader's step reads (as an oracle or set_seq would); the outcome is judged at the end of the
   * run. Announced with touchUndeclared, DFS finds both orders; unannounced, sleep sets prune the
   * run where the reader goes first, because they believe the steps commute.
   */
  function hidden(announce: boolean): Program {
    return {
      start(w: World) {
        const shared = { v: 0, seen: -1 };
        w.locals.set('shared', shared);
        w.spawn('writer', function* () {
          yield w.point('write shared', { name: 'a' }, Access.Write);
          if (announce) w.touchUndeclared();
          shared.v = 1;
        });
        w.spawn('reader', function* () {
          yield w.point('read shared', { name: 'b' }, Access.Write);
          if (announce) w.touchUndeclared();
          shared.seen = shared.v;
        });
      },
      finish(w: World) {
        const shared = w.locals.get('shared') as { seen: number };
        w.report(shared.seen === 0 ? 'saw-old' : 'saw-new', `reader saw ${shared.seen}`, String(shared.seen));
      },
    };
  }

  it('explores both orders once the hidden access is announced', () => {
    const r = explore(hidden(true), new DfsStrategy(Infinity), { seed: 1, maxRuns: 1000, shrink: false });
    expect(r.exhausted).toBe(true);
    expect(r.problems.map((p) => p.kind).sort()).toEqual(['saw-new', 'saw-old']);
  });

  it('without the announcement, sleep sets prune the other order (why the announcement exists)', () => {
    const r = explore(hidden(false), new DfsStrategy(Infinity), { seed: 1, maxRuns: 1000, shrink: false });
    expect(r.exhausted).toBe(true);
    expect(r.problems.map((p) => p.kind)).toEqual(['saw-new']);
    expect(r.pruned).toBe(1);
  });
});
