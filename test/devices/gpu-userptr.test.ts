/**
 * The GPU userptr driver model (src/devices/gpu-userptr.ts) through its scenarios, on the real
 * address space: each variant's finding, asserted by kind, on kernels with the dma-fence lockdep
 * annotations (v5.9+) and without them (v5.5: interval notifiers, no annotations).
 */
import { describe, expect, it } from 'vitest';
import gpu, {
  gpuUserptr,
  gpuUserptrAllocInSignalling,
  gpuUserptrNotifierLockInSignalling,
  gpuUserptrOom,
  gpuUserptrWaitInNonblock,
} from '../../scenarios/gpu/gpu-userptr.ts';
import { checkScenario } from '../../src/check/run.js';
import type { ScenarioReport } from '../../src/check/report-model.js';
import type { Scenario } from '../../src/check/scenario.js';
import { portfolioLegs } from '../../src/check/strategies.js';

/** The catalogue test already checks every verdict under the current contract with more runs; these stay small. */
function check(s: Scenario, kernel: string, runs = 300): ScenarioReport {
  return checkScenario(s, { legs: portfolioLegs(2, 3, 2), seed: 11, runs, kernel });
}

function kinds(r: ScenarioReport): string[] {
  return [...new Set(r.problems.map((p) => p.kind))].sort();
}

function message(r: ScenarioReport, kind: string): string {
  return r.problems.filter((p) => p.kind === kind).map((p) => p.message).join('\n');
}

describe('gpu userptr: the correct driver is clean', () => {
  it('munmap against two submissions locking in opposite orders (v5.5, no annotations)', () => {
    expect(kinds(check(gpuUserptr, 'v5.5'))).toEqual([]);
  });
  it("the OOM reaper's non-blockable invalidation is refused, not slept in (v5.5)", () => {
    expect(kinds(check(gpuUserptrOom, 'v5.5'))).toEqual([]);
  });
});

describe('gpu userptr: the bug variants', () => {
  it('GFP_KERNEL inside the signalling section: a lockdep cycle dma_fence_map -> fs_reclaim -> notifier map (v5.9+)', () => {
    const r = check(gpuUserptrAllocInSignalling, 'current');
    expect(kinds(r)).toEqual(['lockdep-circular']);
    const m = message(r, 'lockdep-circular');
    expect(m).toContain('dma_fence_map');
    expect(m).toContain('fs_reclaim');
    expect(m).toContain('mmu_notifier_invalidate_range_start');
  });

  it('... and v5.9 itself has the annotations', () => {
    expect(kinds(check(gpuUserptrAllocInSignalling, 'v5.9'))).toEqual(['lockdep-circular']);
  });

  it('GFP_KERNEL inside the section is invisible before the annotations (v5.5)', () => {
    expect(kinds(check(gpuUserptrAllocInSignalling, 'v5.5'))).toEqual([]);
  });

  it('the notifier lock inside the section: a lockdep cycle through the notifier lock, and a real deadlock (v5.9+)', () => {
    const r = check(gpuUserptrNotifierLockInSignalling, 'current', 1000);
    expect(kinds(r)).toEqual(['deadlock', 'lockdep-circular']);
    const m = message(r, 'lockdep-circular');
    expect(m).toContain('dma_fence_map');
    expect(m).toContain('adev->notifier_lock');
  });

  it('the notifier lock inside the section before the annotations: only the deadlock, when it happens (v5.5)', () => {
    expect(kinds(check(gpuUserptrNotifierLockInSignalling, 'v5.5', 1000))).toEqual(['deadlock']);
  });

  it("a fence wait on the OOM reaper's non-blockable range is found (v5.5)", () => {
    const r = check(gpuUserptrWaitInNonblock, 'v5.5', 600);
    expect(kinds(r).filter((k) => k !== 'deadlock')).toEqual(['nonblock-contract']);
    expect(message(r, 'nonblock-contract')).toContain('dma_fence_wait');
  });

  it('every variant reports api-unavailable before interval notifiers (v5.4)', () => {
    for (const s of gpu) expect(kinds(check(s, 'v5.4', 50))).toEqual(['api-unavailable']);
  });
});
