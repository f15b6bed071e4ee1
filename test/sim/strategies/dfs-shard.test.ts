import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explore } from '../../../src/sim/explore.js';
import { DeepeningDfsStrategy } from '../../../src/sim/strategies/deepening.js';
import { DfsStrategy } from '../../../src/sim/strategies/dfs.js';
import { buildProgram, opArb } from '../programs.js';

/** Programs small enough that one unbounded DFS finishes quickly: 2-3 tasks of 1-3 operations. */
const smallProgramArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 });

const keys = (ps: readonly { kind: string; place: string }[]): string[] => ps.map((p) => `${p.kind} @ ${p.place}`);

describe('sharded DFS', () => {
  it('the shards of a DFS together make the same executions and findings as one unsharded DFS, and never overlap', () => {
    fc.assert(
      fc.property(smallProgramArb, fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, 1, 2, Infinity), (spec, n, bound) => {
        const program = buildProgram(spec);
        const whole = new DfsStrategy(bound);
        const one = explore(program, whole, { seed: 1, maxRuns: 20_000, shrink: false });
        // The partition is exact whatever the size; a space this test cannot finish says nothing.
        fc.pre(one.exhausted);
        let executions = 0;
        let pruned = 0;
        const found = new Set<string>();
        for (let k = 0; k < n; k++) {
          const part = new DfsStrategy(bound, Infinity, true, { index: k, count: n });
          const r = explore(program, part, { seed: 1, maxRuns: 1e6, shrink: false });
          expect(r.exhausted).toBe(true);
          executions += part.executions;
          pruned += part.pruned;
          for (const key of keys(r.problems)) found.add(key);
        }
        expect(executions).toBe(whole.executions);
        expect(pruned).toBe(whole.pruned);
        expect([...found].sort()).toEqual(keys(one.problems).sort());
      }),
      { numRuns: 60 },
    );
  });

  it('every shard of a space with nothing cut calls its part complete; iterative deepening keeps the partition', () => {
    const program = buildProgram([
      [{ op: 'inc', cell: 0 }, { op: 'read', cell: 1 }],
      [{ op: 'inc', cell: 0 }, { op: 'inc', cell: 1 }],
      [{ op: 'read', cell: 0 }],
    ]);
    const whole = explore(program, new DfsStrategy(Infinity), { seed: 1, maxRuns: 1e6, shrink: false });
    let runs = 0;
    for (let k = 0; k < 3; k++) {
      const r = explore(program, new DeepeningDfsStrategy(0, true, { index: k, count: 3 }), { seed: 1, maxRuns: 1e6, shrink: false });
      expect(r.complete).toBe(true);
      runs += r.runs;
    }
    // Each shard climbed the bounds on its own, re-exploring lower bounds: at least the unsharded count.
    expect(runs).toBeGreaterThanOrEqual(whole.runs);
  });

  it('rejects a shard outside 0..N-1', () => {
    expect(() => new DfsStrategy(2, Infinity, true, { index: 3, count: 3 })).toThrow(/0 <= K < N/);
  });
});
