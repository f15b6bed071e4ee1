/**
 * Checking a scenario in this thread: explore it under one or more strategy legs, one after the
 * other, and merge what they found into a verdict. The command's portfolio runs the same legs on
 * worker threads; tests and programmatic users call this.
 */
import { explore, type ExploreResult, type Progress } from '../sim/explore.js';
import { deriveSeed } from '../sim/rng.js';
import { mergeResults, skippedReport, type ScenarioReport } from './report-model.js';
import { kernelContract, setKernelContract } from '../locking/version.js';
import type { World } from '../sim/world.js';
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
  /** Kernel contract version (`--kernel`); default: the current contract. */
  readonly kernel?: string;
}

/** Everything one leg needs besides the scenario and its strategy. */
export interface LegOptions {
  readonly seed: number;
  readonly runs: number;
  readonly timeLimitMs?: number | undefined;
  readonly shrink: boolean;
  readonly clock: () => number;
  readonly kernel?: string | undefined;
  readonly onProgress?: ((p: Progress) => void) | undefined;
}

/** The world set-up a kernel version asks for (shared by explore, shrink and replay). */
export function configureKernel(kernel: string | undefined): ((world: World) => void) | undefined {
  if (kernel === undefined) return undefined;
  kernelContract(kernel); // fail early on an unknown name
  return (world) => setKernelContract(world, kernel);
}

/** Leg i's share of `runs` over `legs` legs: the shares add up to `runs` exactly (at least 1 each). */
export function legRuns(runs: number, legs: number, i: number): number {
  return Math.max(1, Math.floor(runs / legs) + (i < runs % legs ? 1 : 0));
}

/** The seed stream of leg i: distinct, deterministic. */
export function legSeed(seed: number, leg: number): number {
  return deriveSeed(seed ^ 0x5eed, leg);
}

/** Runs one leg: the unit a worker thread executes. */
export function runLeg(scenario: Scenario, spec: StrategySpec, o: LegOptions): ExploreResult {
  const configure = configureKernel(o.kernel);
  return explore(scenario, makeStrategy(spec), {
    seed: o.seed,
    maxRuns: o.runs,
    clock: o.clock,
    shrink: o.shrink,
    ...(o.timeLimitMs === undefined ? {} : { timeLimitMs: o.timeLimitMs }),
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
    ...(configure === undefined ? {} : { configure }),
  });
}

/** Checks a scenario in this thread. */
export function checkScenario(scenario: Scenario, options: CheckOptions): ScenarioReport {
  const skip = scenario.skipFor(options.kernel);
  if (skip !== null) return skippedReport(scenario.name, skip);
  const runs = Math.min(options.runs, scenario.maxRuns);
  const clock = options.clock ?? (() => performance.now());
  const t0 = clock();
  const legs = options.legs.length > scenario.maxRuns ? options.legs.slice(0, scenario.maxRuns) : options.legs;
  const results = legs.map((spec, i) =>
    runLeg(scenario, spec, { seed: legSeed(options.seed, i), runs: legRuns(runs, legs.length, i), timeLimitMs: options.timeLimitMs, shrink: options.shrink !== false, clock, kernel: options.kernel }),
  );
  return mergeResults(scenario.name, scenario.expectFor(options.kernel), results, clock() - t0, scenario.allowFor(options.kernel));
}
