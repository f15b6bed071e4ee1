/**
 * Helpers for the mm tests: run task bodies in a fresh world, one schedule, and hand back the
 * world for inspection.
 */
import { NonPreemptiveStrategy } from '../../src/sim/strategies/non-preemptive.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import type { Strategy } from '../../src/sim/strategy.js';
import type { TaskBody } from '../../src/sim/task.js';
import { World } from '../../src/sim/world.js';
import { mm_consistency } from '../../src/mm/check.ts';
import { memoryOf } from '../../src/mm/memory.ts';

/** A task for `run`: gets the state `setup` built. */
export type TestTask<S> = (s: S, w: World) => TaskBody;

/** Runs `tasks` (by name) once; without a seed, non-preemptively, else under a random schedule. */
export function run<S>(setup: (w: World) => S, tasks: Record<string, TestTask<S>>, seed?: number): { s: S; w: World } {
  const w = new World();
  const strategy: Strategy = seed === undefined ? new NonPreemptiveStrategy() : new RandomStrategy();
  strategy.beginRun(0, seed ?? 1);
  w.reset(seed ?? 1);
  const s = setup(w);
  for (const [name, t] of Object.entries(tasks)) w.spawn(name, () => t(s, w));
  w.run(strategy);
  for (const h of w.endOfRunChecks) h();
  strategy.endRun(w);
  return { s, w };
}

/** Runs one task body once and returns what it returned, with the world. */
export function run1<T>(body: (w: World) => Generator<unknown, T, unknown>): { value: T; w: World } {
  let value: T | undefined;
  const { w } = run(() => null, {
    *main(_s, w) {
      value = yield* body(w);
    },
  });
  return { value: value as T, w };
}

/** Finding kinds of a world, sorted, distinct. */
export function kinds(w: World): string[] {
  return [...new Set(w.findings.map((f) => f.kind))].sort();
}

/** The mm layer's consistency report for the world's memory. */
export function consistency(w: World): string[] {
  const sys = memoryOf(w);
  return sys === undefined ? [] : mm_consistency(sys);
}
