import { describe, expect, it } from 'vitest';
import { explore } from '../../../src/sim/explore.js';
import type { Strategy } from '../../../src/sim/strategy.js';
import type { World } from '../../../src/sim/world.js';
import { STALE_DEVICE_MAPPING } from '../../../src/notifier/coherence.js';
import { defineCase } from '../../../scenarios/hmm-tests/harness.ts';
import { hmmTestCaseSpecs } from '../../../scenarios/hmm-tests/index.ts';
import type { DmirrorVariant } from '../../../src/devices/dmirror/index.ts';

/**
 * A directed schedule for anon_teardown: the test task runs alone until its READ has finished
 * `window` hmm_range_fault windows (the mmap lock just released, the mirror mutex next), then the
 * unmap thread runs to completion (its munmap of the second half lands between
 * hmm_range_fault and the store), then the test task again. This is the window that
 * read_retry exists for; random exploration rarely lands in it (a run costs seconds). The run
 * is abandoned when the second iteration starts: the first one holds the window under test.
 */
class UnmapAfterWindow implements Strategy {
  readonly name = 'directed';
  private prev = '';
  private windows = 0;
  private unmapFirst = false;

  constructor(
    private readonly window: number,
    private readonly mmapUnlock: string,
    private readonly mirrorLock: string,
  ) {}

  beginRun(run: number): boolean {
    this.prev = '';
    this.windows = 0;
    this.unmapFirst = false;
    return run === 0;
  }

  choose(world: World): number {
    const rq = world.runnable;
    // The second iteration's thread: the window under test is behind us, stop the run here.
    if (rq.some((t) => t.name.startsWith('unmap1'))) return -1;
    const main = rq.findIndex((t) => t.name === 'test');
    if (main < 0) return 0;
    const label = rq[main]!.label;
    if (!this.unmapFirst && label === this.mirrorLock && this.prev === this.mmapUnlock && ++this.windows === this.window) this.unmapFirst = true;
    if (this.unmapFirst) {
      const other = rq.findIndex((t) => t.name.startsWith('unmap0'));
      if (other >= 0) return other;
    }
    this.prev = label;
    return main;
  }

  endRun(): void {}

  describe(): string {
    return `directed: unmap after hmm_range_fault window ${this.window}`;
  }
}

function runDirected(variant: DmirrorVariant): string[] {
  const spec = hmmTestCaseSpecs.find((c) => c.name === 'anon_teardown')!;
  const [scenario] = defineCase(spec, variant);
  const r = explore(scenario!, new UnmapAfterWindow(20, 'up_read(selftest->mmap_lock)', 'mutex_lock(hmm_dmirror0.fd0->mutex)'), { seed: 3, maxRuns: 1, shrink: false });
  expect(r.runs).toBe(1);
  return [...new Set(r.problems.map((p) => p.kind))].sort();
}

describe('anon_teardown catches a dmirror that skips read_retry', () => {
  it('no-read-retry: the munmap between hmm_range_fault and the store leaves a stale device mapping', () => {
    expect(runDirected('no-read-retry')).toContain(STALE_DEVICE_MAPPING);
  }, 120_000);

  it('correct: the same schedule is clean (read_retry sees the invalidation and the fault then fails)', () => {
    expect(runDirected('correct')).toEqual([]);
  }, 120_000);
});
