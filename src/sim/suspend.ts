/**
 * Suspending another task: the one engine hook interrupt handlers need (src/locking/irq.ts).
 * A hard interrupt runs on the CPU of the task it interrupts; until the handler returns, that
 * task cannot take a step. The handler's task puts the interrupted one to sleep on a wait queue
 * (so the deadlock detector sees "interrupted by the handler" in the wait-for chain, and a
 * handler spinning on a lock its CPU holds is a real deadlock), and wakes it when done, at the
 * point it was stopped at.
 *
 * Only a runnable task that is not the running one can be suspended: it sits at a scheduling
 * point, between two steps.
 */
import type { Access, SimObject } from './point.js';
import { TaskState, type Task } from './task.js';
import type { WaitQueue } from './waitqueue.js';
import type { World } from './world.js';

/** The point a suspended task was stopped at, to resume it there. */
export interface SuspendedAt {
  readonly label: string;
  readonly obj: SimObject | null;
  readonly access: Access;
}

/** Takes runnable task `t` off the run queue and parks it on `q`; null if it is not runnable. */
export function suspendTask(world: World, t: Task, q: WaitQueue): SuspendedAt | null {
  if (t.state !== TaskState.Runnable || t === world.current) return null;
  const i = world.runnable.indexOf(t);
  if (i < 0) return null;
  const at: SuspendedAt = { label: t.label, obj: t.obj, access: t.access };
  world.runnable.splice(i, 1);
  t.state = TaskState.Blocked;
  t.waitingOn = q;
  q.waiters.push(t);
  return at;
}

/** Resumes a task suspended by `suspendTask`, at the point it was stopped at. */
export function resumeTask(world: World, t: Task, q: WaitQueue, at: SuspendedAt): void {
  q.remove(t);
  world.makeRunnable(t, at.label, at.obj, at.access, false);
}
