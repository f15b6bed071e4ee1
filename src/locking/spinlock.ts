/**
 * Spinlocks: `spin_lock`, `spin_trylock`, `spin_unlock` and the `_irqsave` forms (which behave
 * as the plain ones: the model has no interrupts).
 *
 * A contended spinlock is modelled as a wait (the spinner makes no progress either way, and a
 * wait lets the deadlock detector see it). Holding one disables preemption: lockdep's sleep check
 * then reports any sleeping call as "sleeping function called from invalid context".
 */
import type { World } from '../sim/world.js';
import { ExclusiveLock } from './exclusive-lock.js';

/** A spinning lock. */
export class Spinlock extends ExclusiveLock {
  constructor(world: World, name: string, key: string = name) {
    super(world, name, key, 'spin', 'spin');
  }
}

/** `spin_lock_init` on an existing lock: lockdep reports it if the lock is held. */
export function spin_lock_init(l: Spinlock): void {
  l.reinit();
}

/** `spin_lock`. */
export function spin_lock(l: Spinlock): Generator<unknown, void, unknown> {
  return l.acquire(0);
}

/** `spin_lock_nested`. */
export function spin_lock_nested(l: Spinlock, subclass: number): Generator<unknown, void, unknown> {
  return l.acquire(subclass);
}

/** `spin_trylock`: 1 if taken, 0 if not. */
export function spin_trylock(l: Spinlock): Generator<unknown, number, unknown> {
  return l.tryAcquire();
}

/** `spin_unlock`. */
export function spin_unlock(l: Spinlock): Generator<unknown, void, unknown> {
  return l.release();
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
