/**
 * Spinlocks: `spin_lock`, `spin_trylock`, `spin_unlock` and the `_irqsave` forms (which behave
 * as the plain ones: the model has no interrupts).
 *
 * A contended spinlock is modelled as a wait (the spinner makes no progress either way, and a
 * wait lets the deadlock detector see it). Holding one disables preemption: lockdep's sleep check
 * then reports any sleeping call as "sleeping function called from invalid context".
 */
import { LockdepMap } from '../lockdep/map.js';
import { Access, type SimObject } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { kernelOf, type Kernel } from './kernel.js';

/** A spinning lock. */
export class Spinlock implements SimObject {
  owner: Task | null = null;
  readonly dep: LockdepMap;
  readonly queue: WaitQueue;
  readonly k: Kernel;
  readonly lockLabel: string;
  readonly unlockLabel: string;

  constructor(
    world: World,
    readonly name: string,
    key: string = name,
  ) {
    this.k = kernelOf(world);
    this.dep = new LockdepMap(name, { key, wait: 'spin' });
    this.queue = world.waitQueue(name, this);
    this.queue.holder = () => this.owner?.name ?? null;
    this.lockLabel = `spin_lock(${name})`;
    this.unlockLabel = `spin_unlock(${name})`;
  }
}

/** `spin_lock_init` on an existing lock: lockdep reports it if the lock is held. */
export function spin_lock_init(l: Spinlock): void {
  if (l.k.validating) l.k.lockdep.initMap(l.k.current.id, l.dep, l.k.where);
  l.owner = null;
}

/** `spin_lock`. */
export function spin_lock(l: Spinlock): Generator<unknown, void, unknown> {
  return spin_lock_nested(l, 0);
}

/** `spin_lock_nested`. */
export function* spin_lock_nested(l: Spinlock, subclass: number): Generator<unknown, void, unknown> {
  const k = l.k;
  yield k.world.point(l.lockLabel, l, Access.Write);
  const t = k.current;
  if (k.validating) {
    k.lockdep.preemptDisable(t.id);
    k.lockdep.lockAcquire(t.id, l.dep, subclass, false, 0, true, null, k.where);
  }
  if (l.owner === null) {
    l.owner = t;
    return;
  }
  yield l.queue.block();
}

/** `spin_trylock`: 1 if taken, 0 if not. */
export function* spin_trylock(l: Spinlock): Generator<unknown, number, unknown> {
  const k = l.k;
  yield k.world.point(l.lockLabel, l, Access.Write);
  if (l.owner !== null) return 0;
  const t = k.current;
  l.owner = t;
  if (k.validating) {
    k.lockdep.preemptDisable(t.id);
    k.lockdep.lockAcquire(t.id, l.dep, 0, true, 0, true, null, k.where);
  }
  return 1;
}

/** `spin_unlock`. */
export function* spin_unlock(l: Spinlock): Generator<unknown, void, unknown> {
  const k = l.k;
  yield k.world.point(l.unlockLabel, l, Access.Write);
  const t = k.current;
  if (k.validating) k.lockdep.release(t.id, l.dep, k.where);
  if (l.owner !== t) return;
  if (k.validating) k.lockdep.preemptEnable(t.id);
  const next = l.queue.waiters[0];
  l.owner = next ?? null;
  if (next !== undefined) l.queue.wakeOne();
}

/** `spin_lock_irqsave`: as spin_lock; returns the (meaningless) flags for the restore. */
export function* spin_lock_irqsave(l: Spinlock): Generator<unknown, number, unknown> {
  yield* spin_lock(l);
  return 0;
}

/** `spin_unlock_irqrestore`. */
export function spin_unlock_irqrestore(l: Spinlock, _flags: number): Generator<unknown, void, unknown> {
  return spin_unlock(l);
}

/** `assert_spin_locked`-style check: true when the running task holds `l`. */
export function spin_is_held(l: Spinlock): boolean {
  return l.owner !== null && l.owner === l.k.world.current;
}
