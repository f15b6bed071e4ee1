/**
 * Fake locks as kernel code writes them: `lock_map_acquire`, `lock_map_release`, `might_lock`,
 * and the two maps hmmsim's core uses (fs_reclaim, the mmu notifier invalidate-start map).
 */
import type { LockdepMap } from '../lockdep/map.js';
import { currentKernel } from './kernel.js';

export { FS_RECLAIM_MAP, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP } from '../lockdep/fake-maps.js';

/** `lock_map_acquire(map)`. */
export function lock_map_acquire(map: LockdepMap): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.lockMapAcquire(k.current.id, map, k.where);
}
/** `lock_map_acquire_read(map)`: a recursive read. */
export function lock_map_acquire_read(map: LockdepMap): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.lockMapAcquireRead(k.current.id, map, k.where);
}
/** `lock_map_release(map)`. */
export function lock_map_release(map: LockdepMap): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.lockMapRelease(k.current.id, map, k.where);
}
/** `might_lock(lock)`: this path may take `lock` (acquire and release at once). */
export function might_lock(lock: { readonly dep: LockdepMap }): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.mightLock(k.current.id, lock.dep, k.where);
}
/** `might_lock_read(lock)`: this path may take `lock` for read. */
export function might_lock_read(lock: { readonly dep: LockdepMap }): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.mightLockRead(k.current.id, lock.dep, k.where);
}
/** `lockdep_assert_held(lock)`: a WARN finding unless the running task holds `lock`. */
export function lockdep_assert_held(lock: { readonly dep: LockdepMap; readonly name: string }): void {
  const k = currentKernel();
  if (k.validating && !k.lockdep.isHeld(k.current.id, lock.dep)) {
    k.world.report('warn', `lockdep_assert_held(${lock.name}) failed in ${k.current.name}`, `assert-held:${lock.name}`);
  }
}
