/**
 * Waiting on a condition: `wait_event`, `wait_event_timeout`, `wake_up`, `wake_up_all`.
 *
 * The condition is checked and the task queued in one atomic step, as the kernel's
 * prepare_to_wait-then-check order guarantees, so a wake-up cannot be lost. Give the wait queue
 * the object its condition reads as owner (`world.waitQueue(name, owner)`), and have wakers
 * change that object: the explorer then knows the two conflict.
 */
import { Access } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import { kernelOf } from './kernel.js';
import { opLabel } from '../sim/labels.js';

/** `wait_event(wq, condition)`. May sleep. */
export function* wait_event(wq: WaitQueue, condition: () => boolean): Generator<unknown, void, unknown> {
  yield* wait_event_timeout(wq, condition, -1);
}

/**
 * `wait_event_timeout(wq, condition, ticks)`: 0 if the time ran out with the condition still
 * false, else the ticks left (at least 1). A negative `ticks` waits for ever.
 */
export function* wait_event_timeout(wq: WaitQueue, condition: () => boolean, ticks: number): Generator<unknown, number, unknown> {
  const w = wq.world;
  const k = kernelOf(w);
  yield w.point(opLabel('wait_event', wq.name), wq.object, Access.Write);
  k.mightSleep(k.current.id, opLabel('wait_event', wq.name));
  const deadline = ticks < 0 ? -1 : w.now + ticks;
  while (!condition()) {
    if (deadline >= 0) {
      if (w.now >= deadline) return 0;
      yield wq.blockTimeout(deadline - w.now);
      if (k.current.timedOut) return condition() ? 1 : 0;
    } else {
      yield wq.block();
    }
  }
  return deadline < 0 ? 1 : Math.max(1, deadline - w.now);
}

/** `wake_up`: wakes one waiter. */
export function* wake_up(wq: WaitQueue): Generator<unknown, void, unknown> {
  yield wq.world.point(opLabel('wake_up', wq.name), wq.object, Access.Write);
  wq.wakeOne();
}

/** `wake_up_all`: wakes every waiter. */
export function* wake_up_all(wq: WaitQueue): Generator<unknown, void, unknown> {
  yield wq.world.point(opLabel('wake_up_all', wq.name), wq.object, Access.Write);
  wq.wakeAll();
}
