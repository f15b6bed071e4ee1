/**
 * Checking a scenario in this thread: explore it under one or more strategy legs, one after the
 * other, and merge what they found into a verdict. The command's portfolio runs the same legs on
 * worker threads; tests and programmatic users call this.
 */
import { explore, type ExploreResult, type Progress } from '../sim/explore.js';
import { deriveSeed } from '../sim/rng.js';
import { mergeResults, type ScenarioReport } from './report-model.js';
import type { Scenario } from './scenario.js';
import { makeStrategy, type StrategySpec } from './strategies.js';

/** Budget and knobs of a check. */
export interface CheckOptions {
  readonly legs: readonly StrategySpec[];
  readonly seed: number;
  /** Total runs, split evenly over the legs. */
  readonly runs: number;
  /** Wall-clock limit per leg in milliseconds. */
  readonly timeLimitMs?: number;
  readonly shrink?: boolean;
  readonly clock?: () => number;
}

/** The seed stream of leg i: distinct, deterministic. */
export function legSeed(seed: number, leg: number): number {
  return deriveSeed(seed ^ 0x5eed, leg);
}

/** Runs one leg: the unit a worker thread executes. */
export function runLeg(
  scenario: Scenario,
  spec: StrategySpec,
  seed: number,
  runs: number,
  timeLimitMs: number | undefined,
  shrink: boolean,
  clock: () => number,
  onProgress?: (p: Progress) => void,
): ExploreResult {
  return explore(scenario, makeStrategy(spec), {
    seed,
    maxRuns: runs,
    clock,
    shrink,
    ...(timeLimitMs === undefined ? {} : { timeLimitMs }),
    ...(onProgress === undefined ? {} : { onProgress }),
  });
}

/** Checks a scenario in this thread. */
export function checkScenario(scenario: Scenario, options: CheckOptions): ScenarioReport {
  const clock = options.clock ?? (() => performance.now());
  const t0 = clock();
  const per = Math.max(1, Math.ceil(options.runs / options.legs.length));
  const results = options.legs.map((spec, i) =>
    runLeg(scenario, spec, legSeed(options.seed, i), per, options.timeLimitMs, options.shrink !== false, clock),
  );
  return mergeResults(scenario.name, scenario.expect, results, clock() - t0);
}
