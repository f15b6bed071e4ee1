/**
 * The mm's mmap_lock helpers, named as in the kernel. Anything with an `mmap_lock` semaphore is
 * an mm here; the full address space (mm/) builds on the same field.
 */
import { FindingKind } from '../sim/finding.js';
import type { World } from '../sim/world.js';
import { might_lock_read } from './lockdep-maps.js';
import { might_sleep } from './sleep.js';
import { down_read, down_read_trylock, down_write, down_write_trylock, downgrade_write, rwsem_is_held, RwSemaphore, up_read, up_write } from './rwsem.js';

/** What the mmap_lock helpers need of an mm. */
export interface HasMmapLock {
  readonly mmap_lock: RwSemaphore;
}

/** Makes an mm's mmap_lock (one lockdep class for every mm, as in the kernel). */
export function mmapLockInit(world: World, mmName: string): RwSemaphore {
  return new RwSemaphore(world, `${mmName}->mmap_lock`, '&mm->mmap_lock');
}

/** `mmap_read_lock`. */
export function mmap_read_lock(mm: HasMmapLock): Generator<unknown, void, unknown> {
  return down_read(mm.mmap_lock);
}
/** `mmap_read_trylock`: true if taken. */
export function* mmap_read_trylock(mm: HasMmapLock): Generator<unknown, boolean, unknown> {
  return (yield* down_read_trylock(mm.mmap_lock)) === 1;
}
/** `mmap_read_unlock`. */
export function mmap_read_unlock(mm: HasMmapLock): Generator<unknown, void, unknown> {
  return up_read(mm.mmap_lock);
}
/** `mmap_write_lock`. */
export function mmap_write_lock(mm: HasMmapLock): Generator<unknown, void, unknown> {
  return down_write(mm.mmap_lock);
}
/** `mmap_write_trylock`: true if taken. */
export function* mmap_write_trylock(mm: HasMmapLock): Generator<unknown, boolean, unknown> {
  return (yield* down_write_trylock(mm.mmap_lock)) === 1;
}
/** `mmap_write_unlock`. */
export function mmap_write_unlock(mm: HasMmapLock): Generator<unknown, void, unknown> {
  return up_write(mm.mmap_lock);
}
/** `mmap_write_downgrade`. */
export function mmap_write_downgrade(mm: HasMmapLock): Generator<unknown, void, unknown> {
  return downgrade_write(mm.mmap_lock);
}

/**
 * `might_fault()` for an access to `mm`'s user memory (copy_from_user, copy_to_user, get_user):
 * the access may sleep and may take the mmap lock for read to fault a page in, so lockdep learns
 * both on every call, even when the page is present and nothing faults.
 */
export function might_fault(mm: HasMmapLock): void {
  might_sleep();
  might_lock_read(mm.mmap_lock);
}

/** `mmap_assert_locked`: a WARN finding unless the running task holds the mmap_lock. */
export function mmap_assert_locked(mm: HasMmapLock): void {
  if (!rwsem_is_held(mm.mmap_lock)) warnNotHeld(mm, 'mmap_assert_locked', 'held');
}
/** `mmap_assert_write_locked`: a WARN finding unless the running task holds it for write. */
export function mmap_assert_write_locked(mm: HasMmapLock): void {
  if (!rwsem_is_held(mm.mmap_lock, true)) warnNotHeld(mm, 'mmap_assert_write_locked', 'held for write');
}

function warnNotHeld(mm: HasMmapLock, what: string, how: string): void {
  const k = mm.mmap_lock.k;
  k.world.report(FindingKind.Warn, `${what}: ${mm.mmap_lock.name} is not ${how} by ${k.current.name}`, `${what}:${mm.mmap_lock.name}`);
}
