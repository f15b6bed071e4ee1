/**
 * Sleeping mutexes: `mutex_lock`, `mutex_lock_nested`, `mutex_trylock`, `mutex_unlock`.
 *
 * Lockdep is told about an acquisition before the task waits for the lock, as in the kernel, so
 * a lock-order inversion is reported even in the run that then deadlocks on it.
 */
import type { World } from '../sim/world.js';
import { ExclusiveLock } from './exclusive-lock.js';

/** A sleeping lock. Make one per lock instance; the name is its lockdep class unless `key` says otherwise. */
export class Mutex extends ExclusiveLock {
  constructor(world: World, name: string, key: string = name) {
    super(world, name, key, 'sleep', 'mutex');
  }
}

/** `mutex_init` on an existing lock: lockdep reports it if the lock is held. */
export function mutex_init(m: Mutex): void {
  m.reinit();
}

/** `mutex_destroy`: the lock's memory is going away; lockdep reports it if it is held. */
export function mutex_destroy(m: Mutex): void {
  if (m.k.validating) m.k.lockdep.freeMaps(m.k.current.id, m.dep, m.k.where);
}

/** `mutex_lock`. May sleep. */
export function mutex_lock(m: Mutex): Generator<unknown, void, unknown> {
  return m.acquire(0);
}

/** `mutex_lock_nested`: the same, in lockdep subclass `subclass` (for documented same-class nesting). */
export function mutex_lock_nested(m: Mutex, subclass: number): Generator<unknown, void, unknown> {
  return m.acquire(subclass);
}

/** `mutex_trylock`: 1 if taken, 0 if not. Never sleeps. */
export function mutex_trylock(m: Mutex): Generator<unknown, number, unknown> {
  return m.tryAcquire();
}

/** `mutex_unlock`. Unlocking a mutex the task does not hold is a lockdep finding. */
export function mutex_unlock(m: Mutex): Generator<unknown, void, unknown> {
  return m.release();
}

/** `mutex_is_locked`. Reads without a scheduling point: use it in assertions, not for synchronisation. */
export function mutex_is_locked(m: Mutex): boolean {
  return m.owner !== null;
}
