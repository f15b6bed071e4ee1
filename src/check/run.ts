/**
 * Checking a scenario in this thread: explore it under one or more strategy legs, one after the
 * other, and merge what they found into a verdict. The command's portfolio runs the same legs on
 * worker threads; tests and programmatic users call this.
 */
// Names the kernel calls in recorded traces (a side effect of loading it: see the module).
import './kernel-calls.js';
import { explore, type Progress } from '../sim/explore.js';
import { deriveSeed } from '../sim/rng.js';
import { exportDependencies } from './lockdep-merge.js';
import { shardRuns, type ShardSpec } from './shards.js';
import { mergeResults, skippedReport, type LegResult, type ScenarioReport } from './report-model.js';
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
  /** Polled every 64 runs: true stops the leg (another leg covered the whole space). */
  readonly shouldStop?: (() => boolean) | undefined;
  /** Explore only this shard's share of the leg (`--shard`): of `runs`, of the seeds, of DFS's tree. */
  readonly shard?: ShardSpec | undefined;
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
export function runLeg(scenario: Scenario, spec: StrategySpec, o: LegOptions): LegResult {
  const kernel = configureKernel(o.kernel);
  let world: World | null = null;
  // The exploration's world, kept to export what lockdep learned in it.
  const configure = (w: World): void => {
    world = w;
    kernel?.(w);
  };
  const shard = o.shard ?? null;
  const strategy = makeStrategy(spec, shard);
  const result = explore(scenario, strategy, {
    seed: o.seed,
    maxRuns: shard === null ? o.runs : shardRuns(o.runs, shard),
    ...(shard === null ? {} : { seedStride: shard.count, seedOffset: shard.index }),
    clock: o.clock,
    shrink: o.shrink,
    ...(o.timeLimitMs === undefined ? {} : { timeLimitMs: o.timeLimitMs }),
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
    ...(o.shouldStop === undefined ? {} : { shouldStop: o.shouldStop }),
    configure,
  });
  return { ...result, dependencies: world === null ? [] : exportDependencies(world, legLabel(spec)) };
}

/** A leg's name in merged reports: its strategy, PCT with its depth. */
export function legLabel(spec: StrategySpec): string {
  return spec.name === 'pct' ? `pct(d=${spec.depth})` : spec.name;
}

/**
 * Runs the legs one after the other in this thread. Once a leg has covered the whole space (DFS
 * found nothing left at any bound), the legs after it stop before their first run: nothing is left
 * for them to find.
 */
export function runLegsInThread(scenario: Scenario, legs: readonly StrategySpec[], stopOnComplete: boolean, leg: (i: number) => Omit<LegOptions, 'shouldStop'>): LegResult[] {
  let complete = false;
  const shouldStop = (): boolean => complete;
  return legs.map((spec, i) => {
    const r = runLeg(scenario, spec, { ...leg(i), shouldStop });
    complete ||= r.complete && stopOnComplete;
    return r;
  });
}

/** Checks a scenario in this thread. */
export function checkScenario(scenario: Scenario, options: CheckOptions): ScenarioReport {
  const skip = scenario.skipFor(options.kernel);
  if (skip !== null) return skippedReport(scenario.name, skip);
  const runs = Math.min(options.runs, scenario.maxRuns);
  const clock = options.clock ?? (() => performance.now());
  const t0 = clock();
  // A scenario whose every interleaving fits in fewer runs than there are legs needs no more legs.
  const legs = options.legs.length > scenario.maxRuns ? options.legs.slice(0, scenario.maxRuns) : options.legs;
  const results = runLegsInThread(scenario, legs, true, (i) => ({
    seed: legSeed(options.seed, i),
    runs: legRuns(runs, legs.length, i),
    timeLimitMs: options.timeLimitMs,
    shrink: options.shrink !== false,
    clock,
    kernel: options.kernel,
  }));
  return mergeResults(scenario.name, scenario.expectFor(options.kernel), results, clock() - t0, scenario.allowFor(options.kernel));
}
