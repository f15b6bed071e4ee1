/**
 * Wait queues: the only way a task blocks. Locks, completions and wait_event are all built on
 * them, so the deadlock detector only has to understand this one thing.
 *
 * A queue that belongs to a lock counts as part of that lock for the explorer: steps that block
 * on it or wake from it name the lock, so they conflict with the lock's acquire and release.
 */
import { opLabel } from './labels.js';
import { Access, type SimObject } from './point.js';
import { TaskState, type Task } from './task.js';
import type { World } from './world.js';

/** An object a queue belongs to that can say who holds it (a lock). */
export interface QueueOwner {
  holderName(): string | null;
}

/** Tasks blocked on a condition, in FIFO order. */
export class WaitQueue implements SimObject {
  readonly waiters: Task[] = [];
  /**
   * Who the waiters are waiting for, if anyone in particular: shown in deadlock reports so a user
   * can follow the wait-for cycle. Unset, the queue asks its owner (a lock) for `holderName()`.
   */
  holder: (() => string | null) | null = null;

  /** The object a woken task's next step names: the queue's owner (a lock), or the queue. */
  readonly object: SimObject;
  private wakeText: string | null = null;
  private sleepText: string | null = null;

  constructor(
    readonly world: World,
    readonly name: string,
    owner: SimObject | null = null,
  ) {
    this.object = owner ?? this;
  }

  /** The label a woken task's next step carries (looked up once per queue). */
  get wakeLabel(): string {
    return (this.wakeText ??= opLabel('woken from ', this.name));
  }

  /** The label of a task's step while it sleeps here. */
  get sleepLabel(): string {
    return (this.sleepText ??= opLabel('sleep on ', this.name));
  }

  /** Who the waiters wait for (the holder of the lock this queue belongs to), or null. */
  holderName(): string | null {
    if (this.holder !== null) return this.holder();
    const owner = this.object as Partial<QueueOwner>;
    return owner !== this && typeof owner.holderName === 'function' ? owner.holderName() : null;
  }

  /**
   * Blocks the current task here. Use as `yield q.block()`: the yield is where the task sleeps,
   * and it continues after it once woken.
   */
  block(): unknown {
    return this.world.blockCurrent(this, -1);
  }

  /**
   * Blocks the current task for at most `ticks` of virtual time. After the yield,
   * `world.current.timedOut` says whether the time ran out.
   */
  blockTimeout(ticks: number): unknown {
    return this.world.blockCurrent(this, ticks);
  }

  /** Wakes the first waiter; returns whether there was one. */
  wakeOne(): boolean {
    const t = this.waiters.shift();
    if (t === undefined) return false;
    this.world.makeRunnable(t, this.wakeLabel, this.object, Access.Write, false);
    return true;
  }

  /** Wakes every waiter; returns how many. */
  wakeAll(): number {
    const n = this.waiters.length;
    for (let i = 0; i < n; i++) {
      this.world.makeRunnable(this.waiters[i]!, this.wakeLabel, this.object, Access.Write, false);
    }
    this.waiters.length = 0;
    return n;
  }

  /** Removes a task that stopped waiting for another reason (timeout). */
  remove(t: Task): void {
    const i = this.waiters.indexOf(t);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  /** True when `t` is blocked here. */
  has(t: Task): boolean {
    return t.state === TaskState.Blocked && t.waitingOn === this;
  }
}
