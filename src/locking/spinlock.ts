/**
 * Spinlocks: `spin_lock`, `spin_trylock`, `spin_unlock` and the `_irqsave` / `_bh` forms (which
 * also disable interrupts / softirqs for the sleep and wait-context checks; interrupt handlers
 * themselves are tasks that enter irq context, see irq.ts).
 *
 * A contended spinlock is modelled as a wait (the spinner makes no progress either way, and a
 * wait lets the deadlock detector see it). Holding one disables preemption: lockdep's sleep check
 * then reports any sleeping call as "sleeping function called from invalid context".
 */
import type { LockdepMap } from '../lockdep/map.js';
import type { World } from '../sim/world.js';
import { ExclusiveLock } from './exclusive-lock.js';
import { local_bh_disable, local_bh_enable, local_irq_restore, local_irq_save } from './irq.js';

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

/**
 * `spin_lock_nest_lock`: takes `l` telling lockdep that `nest_lock` (any lock with a lockdep map,
 * e.g. a mutex or another spinlock) is held and serialises every acquisition of `l`'s class under
 * it. Lockdep then allows several locks of that class to be held at once and adds no dependency
 * for this acquisition; it warns when `nest_lock` is not in fact held.
 */
export function spin_lock_nest_lock(l: Spinlock, nest_lock: { readonly dep: LockdepMap }): Generator<unknown, void, unknown> {
  return l.acquire(0, nest_lock.dep);
}

/** `spin_trylock`: 1 if taken, 0 if not. */
export function spin_trylock(l: Spinlock): Generator<unknown, number, unknown> {
  return l.tryAcquire();
}

/** `spin_unlock`. */
export function spin_unlock(l: Spinlock): Generator<unknown, void, unknown> {
  return l.release();
}

/** `spin_lock_irqsave`: disables interrupts, then spin_lock; returns the flags for the restore. */
export function* spin_lock_irqsave(l: Spinlock): Generator<unknown, number, unknown> {
  const flags = local_irq_save();
  yield* spin_lock(l);
  return flags;
}

/** `spin_unlock_irqrestore`. */
export function* spin_unlock_irqrestore(l: Spinlock, flags: number): Generator<unknown, void, unknown> {
  yield* spin_unlock(l);
  local_irq_restore(flags);
}

/** `spin_lock_bh`: disables softirqs, then spin_lock. */
export function* spin_lock_bh(l: Spinlock): Generator<unknown, void, unknown> {
  local_bh_disable();
  yield* spin_lock(l);
}

/** `spin_unlock_bh`. */
export function* spin_unlock_bh(l: Spinlock): Generator<unknown, void, unknown> {
  yield* spin_unlock(l);
  local_bh_enable();
}

/** `assert_spin_locked`-style check: true when the running task holds `l`. */
export function spin_is_held(l: Spinlock): boolean {
  return l.owner !== null && l.owner === l.k.world.current;
}
