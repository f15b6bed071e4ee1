/**
 * Sleeping mutexes: `mutex_lock`, `mutex_lock_nested`, `mutex_trylock`, `mutex_unlock`.
 *
 * Lockdep is told about an acquisition before the task waits for the lock, as in the kernel, so
 * a lock-order inversion is reported even in the run that then deadlocks on it. Release hands
 * the lock to the first waiter (FIFO), so a woken task never has to compete again.
 */
import { LockdepMap } from '../lockdep/map.js';
import { Access, type SimObject } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { kernelOf, type Kernel } from './kernel.js';

/** A sleeping lock. Make one per lock instance; the name is its lockdep class unless `key` says otherwise. */
export class Mutex implements SimObject {
  owner: Task | null = null;
  readonly dep: LockdepMap;
  readonly queue: WaitQueue;
  readonly k: Kernel;
  /** Labels made once, so lock operations allocate nothing. */
  readonly lockLabel: string;
  readonly unlockLabel: string;

  constructor(
    world: World,
    readonly name: string,
    key: string = name,
  ) {
    this.k = kernelOf(world);
    this.dep = new LockdepMap(name, { key, wait: 'sleep' });
    this.queue = world.waitQueue(name, this);
    this.queue.holder = () => this.owner?.name ?? null;
    this.lockLabel = `mutex_lock(${name})`;
    this.unlockLabel = `mutex_unlock(${name})`;
  }
}

/** `mutex_init` on an existing lock: lockdep reports it if the lock is held. */
export function mutex_init(m: Mutex): void {
  if (m.k.validating) m.k.lockdep.initMap(m.k.current.id, m.dep, m.k.where);
  m.owner = null;
}

/** `mutex_destroy`: the lock's memory is going away; lockdep reports it if it is held. */
export function mutex_destroy(m: Mutex): void {
  if (m.k.validating) m.k.lockdep.freeMaps(m.k.current.id, m.dep, m.k.where);
}

/** `mutex_lock`. May sleep. */
export function mutex_lock(m: Mutex): Generator<unknown, void, unknown> {
  return mutex_lock_nested(m, 0);
}

/** `mutex_lock_nested`: the same, in lockdep subclass `subclass` (for documented same-class nesting). */
export function* mutex_lock_nested(m: Mutex, subclass: number): Generator<unknown, void, unknown> {
  const k = m.k;
  yield k.world.point(m.lockLabel, m, Access.Write);
  const t = k.current;
  if (k.validating) {
    k.lockdep.mightSleep(t.id, k.where);
    k.lockdep.lockAcquire(t.id, m.dep, subclass, false, 0, true, null, k.where);
  }
  if (m.owner === null) {
    m.owner = t;
    return;
  }
  yield m.queue.block(); // the unlocker hands the lock over before waking us
}

/** `mutex_trylock`: 1 if taken, 0 if not. Never sleeps. */
export function* mutex_trylock(m: Mutex): Generator<unknown, number, unknown> {
  const k = m.k;
  yield k.world.point(m.lockLabel, m, Access.Write);
  if (m.owner !== null) return 0;
  const t = k.current;
  m.owner = t;
  if (k.validating) k.lockdep.lockAcquire(t.id, m.dep, 0, true, 0, true, null, k.where);
  return 1;
}

/** `mutex_unlock`. Unlocking a mutex the task does not hold is a lockdep finding. */
export function* mutex_unlock(m: Mutex): Generator<unknown, void, unknown> {
  const k = m.k;
  yield k.world.point(m.unlockLabel, m, Access.Write);
  const t = k.current;
  if (k.validating) k.lockdep.release(t.id, m.dep, k.where);
  if (m.owner !== t) return; // lockdep said "bad unlock balance"; leave the real owner in place
  handOver(m);
}

function handOver(m: Mutex): void {
  const next = m.queue.waiters[0];
  m.owner = next ?? null;
  if (next !== undefined) m.queue.wakeOne();
}

/** `mutex_is_locked`. Reads without a scheduling point: use it in assertions, not for synchronisation. */
export function mutex_is_locked(m: Mutex): boolean {
  return m.owner !== null;
}
