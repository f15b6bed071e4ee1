/**
 * The interface every scheduling strategy implements (random, PCT, DFS, replay: one file each
 * under `strategies/`). The world asks a strategy only when two or more tasks can run; a step
 * with a single runnable task is not a decision.
 */
import type { World } from './world.js';

/** Decides which runnable task goes next. */
export interface Strategy {
  /** Short name shown in reports: `random`, `pct`, `dfs`, `replay`. */
  readonly name: string;
  /**
   * Prepares run number `run` with the run's seed. Returns false when the strategy has nothing
   * left to try (DFS has exhausted its space).
   */
  beginRun(run: number, seed: number): boolean;
  /**
   * Picks the index into `world.runnable` (which holds at least two tasks, sorted by task id) of
   * the task to step next; -1 abandons the run as redundant (DFS sleep sets).
   */
  choose(world: World): number;
  /**
   * Optional: told about every step where only one task could run (not a decision); returns
   * false to abandon the run as redundant. DFS needs it to keep its sleep set exact.
   */
  observeForced?(world: World): boolean;
  /** Called once the run is over, whatever the outcome. */
  endRun(world: World): void;
  /** One line of parameters and statistics for reports. */
  describe(): string;
  /** Optional: what an exhaustive strategy has covered (DFS). */
  coverage?(): Coverage;
  /**
   * Optional, asked after `endRun`: the run belongs to another shard's share of the work, so it
   * is not counted and its findings are dropped (sharded DFS).
   */
  discarded?(): boolean;
}

/** How much of a program's schedule space an exhaustive strategy has covered. */
export interface Coverage {
  /** Everything within the strategy's current bound was explored. */
  readonly exhausted: boolean;
  /**
   * Every schedule was explored, whatever the bound (no choice was ever cut by it): the verdict
   * is complete, and exploring more cannot find anything new.
   */
  readonly complete: boolean;
  /** The highest preemption bound whose space was explored in full (Infinity when complete), or null. */
  readonly completedBound: number | null;
}
