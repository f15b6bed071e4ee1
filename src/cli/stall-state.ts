/**
 * What the engine can say about a run stuck between two scheduling points: the task, the last
 * point it passed, the step and the schedule so far. Read by the watchdogs (through the inspector
 * on a worker thread; directly after a cut-off in the command's own thread).
 */
import { encodeSchedule } from '../sim/schedule.js';
import { runningWorld } from '../sim/world.js';
import type { StallState } from './watchdog.js';

/** The run in progress in this thread, or null when none is (a setup or check that loops). */
export function currentStallState(): StallState | null {
  const w = runningWorld();
  if (w === null) return null;
  const t = w.current;
  const d = w.decisions;
  return { task: t?.name ?? null, point: t?.label ?? null, step: Math.max(0, w.steps - 1), seed: w.seed, schedule: encodeSchedule(d.tasks, d.labels, d.count) };
}
