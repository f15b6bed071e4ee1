/**
 * Uniform random scheduling: at every decision, every runnable task is equally likely. Cheap and
 * surprisingly good at shallow races; PCT is better at bugs that need a few specific preemptions.
 */
import { Rng } from '../rng.js';
import type { Strategy } from '../strategy.js';
import type { World } from '../world.js';

/** Picks uniformly among the runnable tasks, from the run's seed. */
export class RandomStrategy implements Strategy {
  readonly name = 'random';
  private readonly rng = new Rng(0);
  private runs = 0;

  constructor(private readonly maxRuns = Infinity) {}

  beginRun(run: number, seed: number): boolean {
    if (run >= this.maxRuns) return false;
    this.rng.reseed(seed);
    this.runs++;
    return true;
  }

  choose(world: World): number {
    return this.rng.below(world.runnable.length);
  }

  endRun(): void {}

  describe(): string {
    return `random (${this.runs} runs)`;
  }
}
