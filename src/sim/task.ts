/**
 * A simulated kernel thread, CPU or device fault handler: a synchronous generator stepped by the
 * world. The fields are the world's bookkeeping; driver code never touches a Task directly.
 */
import { Access, type SimObject } from './point.js';
import type { WaitQueue } from './waitqueue.js';

/** Lifecycle of a task. */
export const enum TaskState {
  Runnable = 0,
  Blocked = 1,
  Done = 2,
}

/** How many recent points each task remembers for deadlock reports. */
export const RECENT_POINTS = 4;

/** A task body: a generator whose yields are scheduling points. */
export type TaskBody = Generator<unknown, unknown, unknown>;

/** The world's record of one task. */
export class Task {
  state: TaskState = TaskState.Runnable;
  /** The point the task will pass when it next runs. */
  label = 'start';
  obj: SimObject | null = null;
  access: Access = Access.None;
  /** With a trace: the kernel calls the pending point is part of, outermost first (calls.ts). */
  calls = '';
  /**
   * The pending point is a spin-wait's retry (`World.spinPoint`): the task cannot progress until
   * another task does. While set and another task can run, the world keeps it off the run queue.
   */
  spinning = false;
  /** The wait queue it is blocked on, if any. */
  waitingOn: WaitQueue | null = null;
  /** Virtual time at which a timed wait expires; -1 when not in a timed wait. */
  deadline = -1;
  /** Set when the last wait ended by timeout rather than a wake-up. */
  timedOut = false;
  /** Steps this task has taken. */
  steps = 0;
  /** Ring buffer of the labels of the last points passed, for reports. */
  readonly recent: string[] = new Array<string>(RECENT_POINTS).fill('');
  /** Where tasks joining this one sleep; made on first join. */
  exitQueue: WaitQueue | null = null;
  /** Per-task slots other layers attach state to (held locks, non-block depth, gfp scope). */
  readonly locals: Record<string, unknown> = {};

  constructor(
    /** Dense index, 0 for the first task of a run; used in schedules. */
    readonly id: number,
    readonly name: string,
    readonly gen: TaskBody,
    /** A daemon that is still blocked when everything else has finished is not a deadlock. */
    readonly daemon: boolean,
  ) {}

  /** The labels of the last points passed, oldest first. */
  recentPoints(): string[] {
    const out: string[] = [];
    for (let i = 0; i < RECENT_POINTS; i++) {
      const l = this.recent[(this.steps + i) % RECENT_POINTS]!;
      if (l !== '') out.push(l);
    }
    return out;
  }
}
