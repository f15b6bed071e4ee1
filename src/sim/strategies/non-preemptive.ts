/**
 * The simplest deterministic schedule: keep running the task that ran last while it can, else
 * the runnable task with the lowest id. No preemptions at all; the shrinker completes candidate
 * schedules with it, so shrunk schedules stay short and readable.
 */
import type { Strategy } from '../strategy.js';
import type { World } from '../world.js';

/** Never preempts. */
export class NonPreemptiveStrategy implements Strategy {
  readonly name = 'non-preemptive';

  beginRun(): boolean {
    return true;
  }

  choose(world: World): number {
    const cur = world.current;
    if (cur !== null) {
      const i = world.runnable.indexOf(cur);
      if (i >= 0) return i;
    }
    return 0;
  }

  endRun(): void {}

  describe(): string {
    return 'non-preemptive';
  }
}
