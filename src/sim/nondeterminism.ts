/**
 * The determinism guard. A run must depend on nothing but its schedule and seed; a task that reads
 * the clock, draws from Math.random, sets a timer or does I/O makes its replay line lie. Once
 * installed, the guard wraps those globals: outside a run they behave as always (the explorer's
 * own clock keeps working); called from task code (any time a world is running) they report a
 * `nondeterminism` finding naming the call and what to use instead, and answer from the world
 * (its rng, its virtual clock), so the run, and its replay, stay deterministic. Timers and I/O
 * are refused: the finding stops the run and the call does nothing.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { runningWorld, type World } from './world.js';

/** The finding kind of a call from task code to something outside the model. */
export const NONDETERMINISM = 'nondeterminism';

/** The calls the guard catches, by the name a report uses. */
export const GUARDED_CALLS = [
  'Math.random',
  'Date.now',
  'new Date()',
  'performance.now',
  'process.hrtime',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'queueMicrotask',
  'crypto.getRandomValues',
  'crypto.randomUUID',
  'fs.readFileSync',
  'fs.writeFileSync',
  'fs.existsSync',
  'fs.readdirSync',
  'fs.statSync',
  'fs.readFile',
  'fs.writeFile',
] as const;

let installed = false;

function report(world: World, call: string, instead: string, fatal: boolean): void {
  const t = world.current;
  world.report(
    NONDETERMINISM,
    `${t === null ? 'the scenario' : `task ${t.name}`} called ${call}${t === null ? '' : ` after point '${t.label}'`}: a run must depend only on its schedule and seed, or its replay line does not reproduce it; ${instead}`,
    `${t?.name ?? 'run'}: ${call}`,
    fatal,
  );
}

/** Installs the guard in this thread (idempotent). */
export function guardNondeterminism(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as Record<string, unknown>;

  const random = Math.random;
  Math.random = function random_guarded(): number {
    const w = runningWorld();
    if (w === null) return random();
    report(w, 'Math.random', 'use world.rng (world.rng.below(n))', false);
    return w.rng.below(0x40000000) / 0x40000000;
  };

  const RealDate = Date;
  const now = RealDate.now;
  class GuardedDate extends RealDate {
    constructor(...args: unknown[]) {
      const w = args.length === 0 ? runningWorld() : null;
      if (w !== null) {
        report(w, 'new Date()', 'use world.now (virtual time, in ticks)', false);
        super(w.now);
      } else super(...(args as []));
    }
    static override now(): number {
      const w = runningWorld();
      if (w === null) return now.call(RealDate);
      report(w, 'Date.now', 'use world.now (virtual time, in ticks)', false);
      return w.now;
    }
  }
  g.Date = GuardedDate;

  const perf = performance;
  const perfNow = perf.now.bind(perf);
  perf.now = function now_guarded(): number {
    const w = runningWorld();
    if (w === null) return perfNow();
    report(w, 'performance.now', 'use world.now (virtual time, in ticks)', false);
    return w.now;
  };

  const hrtime = process.hrtime;
  const guardedHrtime = function hrtime_guarded(prev?: [number, number]): [number, number] {
    const w = runningWorld();
    if (w === null) return hrtime(prev);
    report(w, 'process.hrtime', 'use world.now (virtual time, in ticks)', false);
    return [0, w.now];
  } as typeof process.hrtime;
  const hrBig = hrtime.bigint;
  guardedHrtime.bigint = function bigint_guarded(): bigint {
    const w = runningWorld();
    if (w === null) return hrBig();
    report(w, 'process.hrtime', 'use world.now (virtual time, in ticks)', false);
    return BigInt(w.now);
  };
  process.hrtime = guardedHrtime;

  const refuse = (name: string, instead: string, original: (...a: never[]) => unknown): ((...a: never[]) => unknown) =>
    function guarded(this: unknown, ...a: never[]): unknown {
      const w = runningWorld();
      if (w === null) return original.apply(this, a);
      report(w, name, instead, true);
      return undefined;
    };
  const timerFix = 'time in the model is virtual: wait with yield q.blockTimeout(ticks) or wait_event_timeout';
  for (const name of ['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask'] as const) {
    g[name] = refuse(name, timerFix, g[name] as (...a: never[]) => unknown);
  }
  const c = globalThis.crypto as unknown as Record<string, (...a: never[]) => unknown> | undefined;
  if (c !== undefined) {
    for (const name of ['getRandomValues', 'randomUUID'] as const) {
      const original = c[name]!.bind(c);
      c[name] = refuse(`crypto.${name}`, 'use world.rng', original);
    }
  }
  const ioFix = 'do I/O in the scenario file outside tasks (at load time), and keep task code to the model';
  const f = fs as unknown as Record<string, (...a: never[]) => unknown>;
  for (const name of ['readFileSync', 'writeFileSync', 'existsSync', 'readdirSync', 'statSync', 'readFile', 'writeFile'] as const) {
    f[name] = refuse(`fs.${name}`, ioFix, f[name]!);
  }
  // Named imports of node:fs (`import { readFileSync } from 'node:fs'`) see the guarded versions too.
  syncBuiltinESMExports();
}
