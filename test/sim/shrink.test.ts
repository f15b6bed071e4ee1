import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/sim/explore.js';
import { replaySchedule } from '../../src/sim/run-once.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import { buildProgram, programArb } from './programs.js';

describe('shrinking', () => {
  it('never loses the finding: the shrunk schedule replays to the same kind, with no more preemptions or steps', () => {
    let shrunkSomething = false;
    fc.assert(
      fc.property(programArb, fc.integer({ min: 0, max: 1000 }), (spec, seed) => {
        const program = buildProgram(spec);
        const unshrunk = explore(program, new RandomStrategy(), { seed, maxRuns: 40, shrink: false });
        const shrunk = explore(program, new RandomStrategy(), { seed, maxRuns: 40 });
        expect(shrunk.problems.length).toBe(unshrunk.problems.length);
        shrunk.problems.forEach((p, i) => {
          const before = unshrunk.problems[i]!;
          expect(p.originalSchedule).toBe(before.schedule);
          const replayed = replaySchedule(program, p.schedule, p.seed);
          expect(replayed.findings.map((f) => f.kind)).toContain(p.kind);
          expect(replayed.notes).toEqual([]);
          const worse = p.preemptions > before.preemptions || (p.preemptions === before.preemptions && p.steps > before.steps);
          expect(worse).toBe(false);
          if (p.schedule !== before.schedule) shrunkSomething = true;
        });
      }),
      { numRuns: 150 },
    );
    expect(shrunkSomething).toBe(true);
  });
});
