/**
 * What the explorer runs: anything that can populate a fresh world with objects and tasks and,
 * once the run is over, check it. Scenarios (`check/scenario.ts`) are the usual Program.
 */
import type { World } from './world.js';

/** A re-runnable concurrent program. Must be deterministic given the world's decisions. */
export interface Program {
  /** Builds the run: objects and initial tasks. Called on a freshly reset world. */
  start(world: World): void;
  /** End-of-run checks; report problems with `world.report`. Not called for abandoned runs. */
  finish?(world: World): void;
}

/** A run's recorded outcome, enough to replay or shrink it. */
export interface RunRecord {
  readonly choices: number[];
  readonly labels: string[];
  readonly preemptions: number;
  readonly steps: number;
}
