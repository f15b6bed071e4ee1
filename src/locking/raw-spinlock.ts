/**
 * raw_spinlock_t: a spinlock that spins even on PREEMPT_RT (where spinlock_t sleeps). Its wait
 * type is SPIN, so lockdep reports a spinlock_t (or anything sleeping) taken inside it as
 * "Invalid wait context", the bug raw-lock nesting checks exist to catch.
 */
import { LD_WAIT_SPIN } from '../lockdep/map.js';
import type { World } from '../sim/world.js';
import { ExclusiveLock } from './exclusive-lock.js';

/** A raw spinning lock. */
export class RawSpinlock extends ExclusiveLock {
  constructor(world: World, name: string, key: string = name) {
    super(world, name, key, 'spin', 'raw_spin', LD_WAIT_SPIN);
  }
}

/** `raw_spin_lock`. */
export function raw_spin_lock(l: RawSpinlock): Generator<unknown, void, unknown> {
  return l.acquire(0);
}

/** `raw_spin_trylock`: 1 if taken. */
export function raw_spin_trylock(l: RawSpinlock): Generator<unknown, number, unknown> {
  return l.tryAcquire();
}

/** `raw_spin_unlock`. */
export function raw_spin_unlock(l: RawSpinlock): Generator<unknown, void, unknown> {
  return l.release();
}
