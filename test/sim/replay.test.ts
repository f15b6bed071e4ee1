import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/sim/explore.js';
import { encodeSchedule } from '../../src/sim/schedule.js';
import { replaySchedule, runOnce } from '../../src/sim/run-once.js';
import { PctStrategy } from '../../src/sim/strategies/pct.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import { RunEnd, World } from '../../src/sim/world.js';
import { buildProgram, programArb } from './programs.js';

/** Runs a program once under random(seed), returning its trace and its own schedule. */
function recordRandom(spec: Parameters<typeof buildProgram>[0], seed: number): { trace: string; schedule: string; kinds: string[] } {
  const program = buildProgram(spec);
  const r = runOnce(program, new RandomStrategy(), seed);
  // Run again to capture the decision log (runOnce keeps its world private).
  const w = new World();
  const s = new RandomStrategy();
  s.beginRun(0, seed);
  w.reset(seed);
  program.start(w);
  w.run(s);
  if (w.end !== RunEnd.Pruned) program.finish!(w);
  return { trace: r.trace, schedule: encodeSchedule(w.decisions.tasks, w.decisions.labels, w.decisions.count), kinds: r.findings.map((f) => f.kind) };
}

describe('replay', () => {
  it('replaying any recorded schedule gives a byte-identical trace and the same findings', () => {
    fc.assert(
      fc.property(programArb, fc.integer({ min: 0, max: 0x7fffffff }), (spec, seed) => {
        const rec = recordRandom(spec, seed);
        const again = replaySchedule(buildProgram(spec), rec.schedule, seed);
        expect(again.trace).toBe(rec.trace);
        expect(again.findings.map((f) => f.kind)).toEqual(rec.kinds);
        expect(again.notes).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('two runs with the same seed give identical results; exploration is deterministic', () => {
    fc.assert(
      fc.property(programArb, fc.integer({ min: 0, max: 0x7fffffff }), (spec, seed) => {
        const a = explore(buildProgram(spec), new PctStrategy(2), { seed, maxRuns: 30 });
        const b = explore(buildProgram(spec), new PctStrategy(2), { seed, maxRuns: 30 });
        expect(b).toEqual(a);
      }),
      { numRuns: 60 },
    );
  });

  it('says so, and continues under a named strategy and seed, when the schedule no longer fits', () => {
    const spec = [[{ op: 'inc', cell: 0 }], [{ op: 'inc', cell: 0 }]] as const;
    // Task 5 does not exist: the replay diverges at once.
    const r = replaySchedule(buildProgram(spec), '1:fa', 1, 77);
    expect(r.notes.join('\n')).toMatch(/decision 0: the schedule picks task #5.*continuing under random strategy with seed 77/);
    expect(r.end).toBe(RunEnd.Completed);
    // A schedule that is too short: the run goes on past it.
    const short = replaySchedule(buildProgram(spec), '1:aK', 1, 77);
    expect(short.notes.join('\n')).toMatch(/not at the point the schedule recorded|ran out after 1 decisions/);
  });
});
