/**
 * The generator protocol, checked. Task code talks to the engine only through what it yields and
 * the generators it runs with `yield*`; three slips break that silently, and each is a finding of
 * kind `generator-protocol` that names the call and the fix:
 *
 * - a kernel call whose generator is created but never run (`mutex_lock(m)` without `yield*`):
 *   the call does nothing. Scenario files get the package's functions through `checkedCall`
 *   wrappers (see src/cli/compile.ts), which note each generator returned inside a task and
 *   whether it was started before the task's step ended;
 * - a yielded value that is not a scheduling point (`yield 42`, `yield mutex_lock(m)`);
 * - a wait queue blocked on without yielding it (`q.block()` instead of `yield q.block()`): the
 *   task is off the run queue but keeps running.
 *
 * The world calls `afterResume` after every resume; it costs one length test when all is well.
 */
import type { Task } from './task.js';
import { runningWorld, type World } from './world.js';

/** The finding kind of a misused generator protocol. */
export const GENERATOR_PROTOCOL = 'generator-protocol';

interface MadeCall {
  readonly name: string;
  started: boolean;
}

/** Generators made by checked kernel calls during the current step. */
const made: MadeCall[] = [];

function isGenerator(x: unknown): x is Generator<unknown, unknown, unknown> {
  return typeof x === 'object' && x !== null && typeof (x as Generator).next === 'function' && typeof (x as Generator).throw === 'function' && Symbol.iterator in x;
}

/**
 * Wraps an exported function so a generator it returns that never runs is reported. For anything
 * else (a plain result, a call outside a run) the wrapper returns exactly what `fn` returns.
 */
export function checkedCall<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
  const checked = function (this: unknown, ...args: A): R {
    const result = fn.apply(this, args);
    if (!isGenerator(result) || runningWorld() === null) return result;
    const call: MadeCall = { name, started: false };
    made.push(call);
    return (function* () {
      call.started = true;
      return yield* result;
    })() as R;
  };
  Object.defineProperty(checked, 'name', { value: name });
  return checked;
}

/** True for exported functions worth wrapping: functions that are not classes. */
export function isPlainFunction(f: unknown): f is (...args: unknown[]) => unknown {
  return typeof f === 'function' && !/^class[\s{]/.test(Function.prototype.toString.call(f));
}

/** After a task's step: reports kernel calls it made but never ran. */
export function afterResume(world: World, t: Task): void {
  if (made.length === 0) return;
  const forgotten = made.filter((c) => !c.started);
  made.length = 0;
  for (const c of forgotten) {
    world.report(
      GENERATOR_PROTOCOL,
      `task ${t.name} called ${c.name}(...) without yield* after point '${t.label}': the call made a generator that never ran, so it did nothing; write 'yield* ${c.name}(...)'`,
      `${t.name}: ${c.name} not run`,
    );
  }
}

/** A task yielded something that is not a scheduling point. */
export function badYield(world: World, t: Task, value: unknown): void {
  const isGen = typeof (value as { next?: unknown } | null)?.next === 'function' && typeof (value as { throw?: unknown }).throw === 'function';
  const what = isGen ? 'a generator (a kernel call)' : typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
  const fix = isGen
    ? `write 'yield* call(...)' to run the call, not 'yield call(...)'`
    : `yield a point ('yield world.point(label, obj, access)') or run a kernel call with 'yield*'`;
  world.report(GENERATOR_PROTOCOL, `task ${t.name} yielded ${what} after point '${t.label}', which is not a scheduling point: ${fix}`, `${t.name}: yielded ${isGen ? 'generator' : typeof value}`);
}

/** A task blocked on a wait queue without yielding the block. */
export function unyieldedBlock(world: World, t: Task, queue: string): void {
  world.report(
    GENERATOR_PROTOCOL,
    `task ${t.name} called block() on ${queue} without yielding it, and kept running while asleep: write 'yield q.block()'`,
    `${t.name}: unyielded block on ${queue}`,
  );
}
