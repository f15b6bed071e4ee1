/**
 * S-EXCL-FP-1 end to end (scenarios/hmm/gpu-svm.ts): the trace of a reported run shows the k
 * PROTECTION_VMA invalidations, each a false positive, and the finding explains the starvation.
 */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import { replaySchedule } from '../../src/sim/run-once.js';
import { catalogue } from '../../scenarios/index.js';

function reported(name: string, kind: string) {
  const sc = catalogue.find((s) => s.name === name)!;
  const report = checkScenario(sc, { legs: portfolioLegs(2, 3, 2), seed: 5, runs: 600 });
  const p = report.problems.find((q) => q.kind === kind && q.reproducible)!;
  expect(p, `${name} reports ${kind}`).toBeDefined();
  return replaySchedule(sc, p.schedule, p.seed);
}

describe('S-EXCL-FP-1', () => {
  it('nouveau as it is: k PROTECTION_VMA false positives in the trace; the fault starves on its own restores (-EBUSY, informational)', () => {
    const run = reported('s-excl-fp-1', 'info-starved-by-self-invalidation');
    const starts = run.trace.split('\n').filter((l) => /invalidate_range_start .* PROTECTION_VMA/.test(l));
    const noops = run.trace.split('\n').filter((l) => /PROTECTION_VMA .*no PTE changed \(a false positive\)/.test(l));
    expect(starts.length).toBe(3);
    expect(noops.length).toBe(3);
    const f = run.findings.find((x) => x.kind === 'info-starved-by-self-invalidation')!;
    expect(f.message).toMatch(/-EBUSY/);
    expect(f.message).toMatch(/Attempt 1 retried after cpu's PROTECTION_VMA/);
  });

  it('unbounded mprotect, the proposed driver fix: -EBUSY at the deadline, info-starved-by-noop-invalidations', () => {
    const run = reported('s-excl-fp-1-unbounded-what-if', 'info-starved-by-noop-invalidations');
    expect(run.findings.map((x) => x.kind)).toEqual(['info-starved-by-noop-invalidations']);
    expect(run.findings[0]!.message).toMatch(/gave up after 3 attempts \(-EBUSY/);
  });
});
