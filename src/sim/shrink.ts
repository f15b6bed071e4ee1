/**
 * Shrinking: turns the first schedule that hit a finding into a small one that still hits a
 * finding of the same kind. Fewer preemptions first (each one is a context switch a reader has
 * to follow), then fewer steps. Every candidate is a prefix of decisions completed without
 * preemption; a candidate is kept only when a real run of it reproduced the finding kind, and
 * the result is that run's own recording, so it replays exactly.
 */
import type { Program, RunRecord } from './program.js';
import { NonPreemptiveStrategy } from './strategies/non-preemptive.js';
import { ReplayStrategy } from './strategies/replay.js';
import { RunEnd, World } from './world.js';

/** Limits for one shrink. */
export interface ShrinkOptions {
  /** Runs the shrinker may spend. */
  readonly maxRuns?: number;
  readonly maxSteps?: number;
  /** Prepares the shrinker's world as the exploration's was (the kernel version). */
  readonly configure?: (world: World) => void;
}

/** Runs `program` once along `prefix`, completing without preemption; the record if `kind` was found. */
export function runPrefix(
  program: Program,
  seed: number,
  prefix: readonly number[],
  kind: string,
  world = new World(),
  maxSteps?: number,
): RunRecord | null {
  const replay = new ReplayStrategy(
    { tasks: prefix, checks: prefix.map(() => -1) },
    new NonPreemptiveStrategy(),
    seed,
  );
  replay.beginRun(0);
  world.reset(seed);
  program.start(world);
  if (maxSteps !== undefined) world.maxSteps = maxSteps;
  world.run(replay);
  if (world.end !== RunEnd.Pruned) program.finish?.(world);
  replay.endRun(world);
  if (!world.findings.some((f) => f.kind === kind)) return null;
  const d = world.decisions;
  return { choices: d.choices(), labels: d.pickedLabels(), preemptions: d.preemptions(), steps: world.steps };
}

function better(a: RunRecord, b: RunRecord): boolean {
  if (a.preemptions !== b.preemptions) return a.preemptions < b.preemptions;
  if (a.steps !== b.steps) return a.steps < b.steps;
  return a.choices.length < b.choices.length;
}

/** What shrinking produced. */
export interface ShrinkResult {
  readonly record: RunRecord;
  /**
   * False when replaying the original schedule alone, in a fresh world, does not reproduce the
   * finding: it depends on state an exploration carries across runs (lockdep's graph).
   */
  readonly reproducible: boolean;
}

/** Shrinks a failing run. Returns the original record if it cannot reproduce it. */
export function shrink(program: Program, seed: number, kind: string, original: RunRecord, options: ShrinkOptions = {}): ShrinkResult {
  const world = new World();
  options.configure?.(world);
  let budget = options.maxRuns ?? 300;
  const attempt = (prefix: readonly number[]): RunRecord | null => {
    if (budget <= 0) return null;
    budget--;
    return runPrefix(program, seed, prefix, kind, world, options.maxSteps);
  };
  const first = attempt(original.choices);
  if (first === null) return { record: original, reproducible: false };
  let best = first;
  let improved = true;
  while (improved && budget > 0) {
    improved = false;
    // Fewer preemptions: cut the schedule at a preemption (continue without it), or drop just
    // that decision and let the rest of the recording follow.
    const d = best.choices;
    const preemptAt = preemptionIndices(best);
    for (let k = preemptAt.length - 1; k >= 0 && !improved; k--) {
      const i = preemptAt[k]!;
      for (const prefix of [d.slice(0, i), [...d.slice(0, i), ...d.slice(i + 1)]]) {
        const r = attempt(prefix);
        if (r !== null && better(r, best)) {
          best = r;
          improved = true;
          break;
        }
      }
    }
    if (improved) continue;
    // Fewer steps: shorter prefixes, halving the cut each time.
    for (let len = best.choices.length >> 1; len >= 1 && !improved; len >>= 1) {
      const r = attempt(best.choices.slice(0, best.choices.length - len));
      if (r !== null && better(r, best)) {
        best = r;
        improved = true;
      }
    }
  }
  return { record: best, reproducible: true };
}

/** Decision indices that preempted a task, recomputed by replaying the record's choices. */
function preemptionIndices(rec: RunRecord): number[] {
  // The record keeps only the count; the positions are where the choice changes task. Cutting
  // at a task change is a superset of cutting at preemptions, and every cut is checked by a run.
  const out: number[] = [];
  for (let i = 1; i < rec.choices.length; i++) if (rec.choices[i] !== rec.choices[i - 1]) out.push(i);
  return out;
}
