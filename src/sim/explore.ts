/**
 * The exploration loop: runs a program again and again under one strategy, collects findings,
 * de-duplicates them by kind and place, and shrinks the first schedule of each.
 */
import type { Finding } from './finding.js';
import type { Program, RunRecord } from './program.js';
import { deriveSeed } from './rng.js';
import { encodeSchedule } from './schedule.js';
import { shrink } from './shrink.js';
import type { Strategy } from './strategy.js';
import { RunEnd, World } from './world.js';

/** Bounds and knobs of one exploration. */
export interface ExploreOptions {
  /** Base seed; run i uses deriveSeed(seed, i). */
  readonly seed: number;
  /** Stop after this many runs. */
  readonly maxRuns: number;
  /** Stop after this many milliseconds (measured with `clock`, outside the model). */
  readonly timeLimitMs?: number;
  /** Wall clock for the time limit; the model never sees it. */
  readonly clock?: () => number;
  /** Shrink the first schedule of each distinct finding (default true). */
  readonly shrink?: boolean;
  /** Called every few hundred runs with progress, for a progress line. */
  readonly onProgress?: (p: Progress) => void;
  /** Called once on the exploration's world before the first run (the kernel version, say). */
  readonly configure?: (world: World) => void;
  /** Stop early once this returns true (checked after every run with new findings). */
  readonly stopWhen?: (found: readonly FoundProblem[]) => boolean;
  /**
   * Polled before the first run and every 64 runs; true stops the exploration (the portfolio
   * stops its other legs once DFS has covered the whole space).
   */
  readonly shouldStop?: () => boolean;
  /**
   * Seed partition for sharding: run i uses deriveSeed(seed, i * seedStride + seedOffset), so
   * N shards with strides N and offsets 0..N-1 draw disjoint seed streams. Default 1 and 0.
   */
  readonly seedStride?: number;
  readonly seedOffset?: number;
}

/** Progress of an exploration in flight. */
export interface Progress {
  readonly runs: number;
  readonly findings: number;
  readonly elapsedMs: number;
}

/** One distinct problem (kind + place), with how often it was hit and how to reproduce it. */
export interface FoundProblem {
  readonly kind: string;
  readonly place: string;
  /** The message of the first hit. */
  readonly message: string;
  hits: number;
  /** The run seed that first hit it (the model's randomness depends on it). */
  readonly seed: number;
  /** The schedule, shrunk unless shrinking was turned off. */
  schedule: string;
  /** The schedule as first found, before shrinking. */
  readonly originalSchedule: string;
  preemptions: number;
  steps: number;
  /** Which strategy found it (meaningful in a portfolio). */
  readonly strategy: string;
  /** When each strategy leg first hit it: one entry per leg that did (a merge concatenates). */
  firstHits: FirstHit[];
  /**
   * False when one replay of the schedule does not show it: the finding needs what earlier runs
   * of the exploration left behind (a lockdep dependency recorded in another run).
   */
  reproducible: boolean;
}

/** When one strategy first hit a problem. */
export interface FirstHit {
  /** The strategy (its name, with its parameter for PCT: `pct(d=3)`). */
  readonly strategy: string;
  /** How many runs that strategy had done when it first hit the problem (1 = its first run). */
  readonly run: number;
  /** Milliseconds into that strategy's exploration. */
  readonly ms: number;
}

/** What an exploration did and found. */
export interface ExploreResult {
  readonly runs: number;
  /** Runs abandoned as redundant by the strategy (DFS sleep sets). */
  readonly pruned: number;
  readonly totalSteps: number;
  /** True when the strategy ran out of things to try (DFS exhausted its space). */
  readonly exhausted: boolean;
  /** True when every schedule was explored whatever the bound (DFS never cut a choice): the verdict is complete. */
  readonly complete: boolean;
  /** The highest preemption bound explored in full (Infinity when complete); null if none or not DFS. */
  readonly completedBound: number | null;
  /** Stopped by `shouldStop` (another leg covered the whole space). */
  readonly stopped: boolean;
  readonly elapsedMs: number;
  readonly strategy: string;
  readonly problems: FoundProblem[];
}

/** A run slower than this (ms) makes exploration read the clock after every run. */
const SLOW_RUN_MS = 10;

/** Explores `program` under `strategy`. */
export function explore(program: Program, strategy: Strategy, options: ExploreOptions): ExploreResult {
  const clock = options.clock ?? (() => 0);
  const t0 = clock();
  const world = new World();
  options.configure?.(world);
  const byKey = new Map<string, FoundProblem>();
  const problems: FoundProblem[] = [];
  const firstRecord = new Map<FoundProblem, RunRecord>();
  let runs = 0;
  let pruned = 0;
  let totalSteps = 0;
  let exhausted = false;
  let stopped = false;
  const label = strategyLabel(strategy);
  const stride = options.seedStride ?? 1;
  const offset = options.seedOffset ?? 0;
  const deadline = options.timeLimitMs === undefined ? Infinity : t0 + options.timeLimitMs;
  // `run` numbers every run begun (seeds derive from it); `runs` counts those that were this
  // exploration's (a sharded DFS leaves some to other shards).
  // The clock is read every 64 runs; when one run takes longer than SLOW_RUN_MS (a scenario
  // over megabytes of simulated memory), every run, so the time limit still holds.
  let clockEachRun = false;
  for (let run = 0; runs < options.maxRuns; run++) {
    if ((run & 63) === 0 && options.shouldStop?.() === true) {
      stopped = true;
      break;
    }
    if (run > 0 && (clockEachRun || run === 1 || (run & 63) === 0)) {
      const now = clock();
      if (run === 1 && now - t0 > SLOW_RUN_MS) clockEachRun = true;
      if (now >= deadline) break;
      if ((run & 1023) === 0) options.onProgress?.({ runs, findings: problems.length, elapsedMs: now - t0 });
    }
    const seed = deriveSeed(options.seed, run * stride + offset);
    if (!strategy.beginRun(run, seed)) {
      exhausted = true;
      break;
    }
    world.reset(seed);
    program.start(world);
    world.run(strategy);
    if (world.end !== RunEnd.Pruned) program.finish?.(world);
    strategy.endRun(world);
    if (strategy.discarded?.() === true) continue;
    runs++;
    totalSteps += world.steps;
    if (world.end === RunEnd.Pruned) pruned++;
    if (world.findings.length === 0) continue;
    let fresh = false;
    for (const f of world.findings) {
      const key = `${f.kind}\u0000${f.place}`;
      const seen = byKey.get(key);
      if (seen !== undefined) {
        seen.hits++;
        continue;
      }
      fresh = true;
      const p = recordProblem(f, world, seed, strategy.name);
      p.firstHits.push({ strategy: label, run: runs, ms: Math.round((clock() - t0) * 10) / 10 });
      byKey.set(key, p);
      problems.push(p);
      firstRecord.set(p, {
        choices: world.decisions.choices(),
        labels: world.decisions.pickedLabels(),
        preemptions: world.decisions.preemptions(),
        steps: world.steps,
      });
    }
    if (fresh && options.stopWhen?.(problems) === true) break;
  }
  if (options.shrink !== false) {
    for (const p of problems) {
      const { record: r, reproducible } = shrink(program, p.seed, p.kind, firstRecord.get(p)!, options.configure === undefined ? {} : { configure: options.configure });
      p.schedule = encodeSchedule(r.choices, r.labels);
      p.preemptions = r.preemptions;
      p.steps = r.steps;
      p.reproducible = reproducible;
    }
  }
  const coverage = strategy.coverage?.();
  return {
    runs,
    pruned,
    totalSteps,
    exhausted,
    complete: coverage?.complete ?? false,
    completedBound: coverage?.completedBound ?? null,
    stopped,
    elapsedMs: clock() - t0,
    strategy: strategy.describe(),
    problems,
  };
}

function recordProblem(f: Finding, world: World, seed: number, strategy: string): FoundProblem {
  const d = world.decisions;
  const schedule = encodeSchedule(d.tasks, d.labels, d.count);
  return {
    kind: f.kind,
    place: f.place,
    message: f.message,
    hits: 1,
    seed,
    schedule,
    originalSchedule: schedule,
    preemptions: d.preemptions(),
    steps: world.steps,
    strategy,
    firstHits: [],
    reproducible: true,
  };
}

/** A strategy's name for first-hit records: PCT with its depth, since a portfolio runs two. */
function strategyLabel(strategy: Strategy): string {
  const depth = (strategy as { depth?: unknown }).depth;
  return strategy.name === 'pct' && typeof depth === 'number' ? `pct(d=${depth})` : strategy.name;
}
