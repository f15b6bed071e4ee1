/**
 * Allocation-context operations (spec §12.2, §12.3): memalloc scopes and the
 * `fs_reclaim` / notifier-map annotations made on behalf of allocations. The
 * locking layer's `kmalloc`/`might_alloc` wrappers call these.
 */
import type { LockdepCore } from './core.ts';
import { FS_RECLAIM_MAP, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP } from './fake-maps.ts';
import {
  currentGfpContext,
  GFP_KERNEL,
  gfpAllowsBlocking,
  RECLAIM_PRIMES_NOTIFIER,
  RECLAIM_TAKES_FS_RECLAIM,
  reclaimDecision,
} from './gfp.ts';
import { mightSleep } from './sleep.ts';
import { PF_MEMALLOC, PF_MEMALLOC_NOFS, PF_MEMALLOC_NOIO, type TaskState } from './task-state.ts';
import type { WhereArg } from './where.ts';

/** Scope flag of memalloc_nofs_save/restore. */
export const SCOPE_NOFS = PF_MEMALLOC_NOFS;
/** Scope flag of memalloc_noio_save/restore. */
export const SCOPE_NOIO = PF_MEMALLOC_NOIO;
/** Scope flag of memalloc_noreclaim_save/restore. */
export const SCOPE_NORECLAIM = PF_MEMALLOC;

/** Sets a scope flag, returning its previous state (so scopes nest). */
export function scopeSave(t: TaskState, flag: number): number {
  const old = t.memalloc & flag;
  t.memalloc |= flag;
  return old;
}

/** Puts a scope flag back to the state `scopeSave` returned. */
export function scopeRestore(t: TaskState, flag: number, saved: number): void {
  t.memalloc = (t.memalloc & ~flag) | (saved & flag);
}

/** `current_gfp_context` for this task. */
export function taskGfpContext(t: TaskState, gfp: number): number {
  return currentGfpContext(t.memalloc, gfp);
}

/** RECLAIM_* decision bits for this task and mask. */
export function taskReclaimDecision(t: TaskState, gfp: number): number {
  return reclaimDecision(t.memalloc, gfp);
}

/**
 * `fs_reclaim_acquire(gfp)`: take `fs_reclaim` if the effective mask keeps
 * __GFP_FS, then — whenever reclaim is possible at all — acquire and release
 * the notifier map, recording "reclaim may wait for MMU notifiers" under
 * whatever the caller holds.
 */
export function fsReclaimAcquire(ld: LockdepCore, task: number, t: TaskState, gfp: number, where: WhereArg): void {
  const dec = reclaimDecision(t.memalloc, gfp);
  if (dec === 0) return;
  // Edges recorded now carry the allocation's mask and scopes (spec §16.3).
  const saved = t.allocGfp;
  t.allocGfp = gfp;
  if (dec & RECLAIM_TAKES_FS_RECLAIM) ld.lockAcquire(task, FS_RECLAIM_MAP, 0, false, 0, true, null, where);
  if (dec & RECLAIM_PRIMES_NOTIFIER && ld.reclaimTracksNotifierMap) {
    ld.lockAcquire(task, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP, 0, false, 0, true, null, where);
    ld.release(task, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP, where);
  }
  t.allocGfp = saved;
}

/** `fs_reclaim_release(gfp)`: mirrors the `fs_reclaim` part of the acquire. */
export function fsReclaimRelease(ld: LockdepCore, task: number, t: TaskState, gfp: number, where: WhereArg): void {
  if (reclaimDecision(t.memalloc, gfp) & RECLAIM_TAKES_FS_RECLAIM) ld.release(task, FS_RECLAIM_MAP, where);
}

/** `might_alloc(gfp)`: every allocation entry point, whether or not it reclaims. */
export function mightAlloc(ld: LockdepCore, task: number, t: TaskState, gfp: number, where: WhereArg): void {
  fsReclaimAcquire(ld, task, t, gfp, where);
  fsReclaimRelease(ld, task, t, gfp, where);
  if (gfpAllowsBlocking(gfp)) mightSleep(ld, t, where);
}

/**
 * Registration-time priming (older kernels' `__mmu_notifier_register`):
 * fs_reclaim → notifier map, recorded under whatever the registering context
 * holds (the mmap lock for write, in the kernel).
 */
export function primeNotifierRegistration(ld: LockdepCore, task: number, where: WhereArg): void {
  const t = ld.task(task);
  fsReclaimAcquire(ld, task, t, GFP_KERNEL, where);
  ld.lockAcquire(task, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP, 0, false, 0, true, null, where);
  ld.release(task, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP, where);
  fsReclaimRelease(ld, task, t, GFP_KERNEL, where);
}
