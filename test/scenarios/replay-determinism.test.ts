/**
 * Determinism end to end on the heaviest scenarios (real mm, notifiers, lockdep): a schedule that
 * an exploration reported replays to the same finding, and two replays print the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import { replaySchedule } from '../../src/sim/run-once.js';
import { catalogue } from '../../scenarios/index.js';

const NAMES = ['s-seq-1-mm-no-retry', 's-lockdep-reclaim-1-pressure', 's-pair-1-b-has-end', 's-nonblock-1-mm'];

describe('replay of reported schedules', () => {
  it.each(NAMES)('%s: every reported schedule replays to its finding, byte for byte twice', (name) => {
    const sc = catalogue.find((s) => s.name === name)!;
    const report = checkScenario(sc, { legs: portfolioLegs(2, 3, 2), seed: 3, runs: 1500 });
    expect(report.problems.filter((q) => q.reproducible).length).toBeGreaterThan(0);
    for (const p of report.problems.filter((q) => q.reproducible)) {
      const a = replaySchedule(sc, p.schedule, p.seed);
      const b = replaySchedule(sc, p.schedule, p.seed);
      expect(a.notes).toEqual([]);
      expect(a.findings.map((f) => f.kind)).toContain(p.kind);
      expect(b.trace).toBe(a.trace);
      expect(b.findings).toEqual(a.findings);
    }
  });
});
