/** Completions: `wait_for_completion`, `complete`, `complete_all`, `reinit_completion`. */
import { Access, type SimObject } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { kernelOf, type Kernel } from './kernel.js';
import { opLabel } from '../sim/labels.js';

/** What complete_all sets `done` to: every later wait passes. */
const ALL = Number.MAX_SAFE_INTEGER;

/** A completion. */
export class Completion implements SimObject {
  done = 0;
  readonly queue: WaitQueue;
  readonly k: Kernel;

  constructor(
    world: World,
    readonly name: string,
  ) {
    this.k = kernelOf(world);
    this.queue = world.waitQueue(name, this);
  }
}

/** `wait_for_completion`. May sleep. */
export function* wait_for_completion(c: Completion): Generator<unknown, void, unknown> {
  yield* wait_for_completion_timeout(c, -1);
}

/**
 * `wait_for_completion_timeout`: 0 if `ticks` of virtual time passed first, else the ticks
 * left (at least 1). A negative `ticks` waits for ever.
 */
export function* wait_for_completion_timeout(c: Completion, ticks: number): Generator<unknown, number, unknown> {
  const k = c.k;
  const w = k.world;
  yield w.point(opLabel('wait_for_completion', c.name), c, Access.Write);
  k.mightSleep(k.current.id, opLabel('wait_for_completion', c.name));
  const deadline = ticks < 0 ? -1 : w.now + ticks;
  while (c.done === 0) {
    if (deadline >= 0) {
      yield c.queue.blockTimeout(deadline - w.now);
      if (k.current.timedOut) return 0;
    } else {
      yield c.queue.block();
    }
  }
  if (c.done !== ALL) c.done--;
  return deadline < 0 ? 1 : Math.max(1, deadline - w.now);
}

/** `complete`: lets one waiter (present or future) through. */
export function* complete(c: Completion): Generator<unknown, void, unknown> {
  yield c.k.world.point(opLabel('complete', c.name), c, Access.Write);
  if (c.done !== ALL) c.done++;
  c.queue.wakeOne();
}

/** `complete_all`: lets every waiter through, now and later. */
export function* complete_all(c: Completion): Generator<unknown, void, unknown> {
  yield c.k.world.point(opLabel('complete_all', c.name), c, Access.Write);
  c.done = ALL;
  c.queue.wakeAll();
}

/** `reinit_completion`. */
export function reinit_completion(c: Completion): void {
  c.done = 0;
}

/** `completion_done`: true if a wait would not sleep. */
export function completion_done(c: Completion): boolean {
  return c.done > 0;
}
