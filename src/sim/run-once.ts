/**
 * One run of a program under a given strategy, with the full trace recorded: what `hmmsim
 * replay` shows, and what the determinism property tests compare byte for byte.
 */
import type { Finding } from './finding.js';
import type { Program } from './program.js';
import { decodeSchedule } from './schedule.js';
import { RandomStrategy } from './strategies/random.js';
import { ReplayStrategy } from './strategies/replay.js';
import type { Strategy } from './strategy.js';
import { Trace, type TraceRow } from './trace.js';
import { RunEnd, World } from './world.js';

/** The observable result of one run. */
export interface RunResult {
  /** The full trace as text, one line a step. */
  readonly trace: string;
  /** The same trace as rows, for other renderers (the HTML viewer). */
  readonly rows: readonly TraceRow[];
  readonly findings: readonly Finding[];
  readonly steps: number;
  readonly end: RunEnd;
  /** Replay notes: divergence from the recorded schedule, and the fallback used. */
  readonly notes: readonly string[];
  readonly taskNames: readonly string[];
}

/** Runs `program` once with `strategy` (already constructed), recording the trace. */
export function runOnce(program: Program, strategy: Strategy, seed: number, configure?: (world: World) => void): RunResult {
  const world = new World();
  configure?.(world);
  world.trace = new Trace();
  strategy.beginRun(0, seed);
  world.reset(seed);
  program.start(world);
  world.run(strategy);
  if (world.end !== RunEnd.Pruned) program.finish?.(world);
  strategy.endRun(world);
  const taskNames = world.tasks.map((t) => t.name);
  return {
    trace: world.trace.format(taskNames),
    rows: world.trace.rows(),
    findings: world.findings.slice(),
    steps: world.steps,
    end: world.end,
    notes: strategy instanceof ReplayStrategy ? strategy.notes.slice() : [],
    taskNames,
  };
}

/**
 * Replays a schedule string. If the code changed and the schedule no longer fits, the rest of
 * the run continues under the random strategy seeded with `fallbackSeed`, and the notes say so.
 */
export function replaySchedule(program: Program, schedule: string, seed: number, fallbackSeed = seed, configure?: (world: World) => void): RunResult {
  const replay = new ReplayStrategy(decodeSchedule(schedule), new RandomStrategy(), fallbackSeed);
  return runOnce(program, replay, seed, configure);
}
