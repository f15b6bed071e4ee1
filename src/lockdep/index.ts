/**
 * The lockdep layer: a pure lock-dependency validator (no scheduler inside).
 * The locking layer embeds a `LockdepMap` in every lock and reports each
 * acquire/release to a `Lockdep` instance.
 */
export { Lockdep } from './lockdep.ts';
export { LockdepCore } from './core.ts';
export type { AcquireOptions, GraphScope, LockdepOptions, LockdepStats, OffAfterReport } from './options.ts';
export {
  LOCKDEP_NO_TRACK,
  LOCKDEP_NO_VALIDATE,
  type LockClassKey,
  LockdepMap,
  type LockdepMapOptions,
  lockClassKey,
  LD_WAIT_CONFIG,
  LD_WAIT_FREE,
  LD_WAIT_INV,
  LD_WAIT_MAX,
  LD_WAIT_SLEEP,
  LD_WAIT_SPIN,
  lockdepSetClass,
  lockdepSetSubclass,
  MAX_LOCKDEP_SUBCLASSES,
  type WaitType,
} from './map.ts';
export type { LockClass } from './classes.ts';
export { DEP_EN, DEP_ER, DEP_SN, DEP_SR, type DepEdge } from './graph.ts';
export {
  DMA_FENCE_MAP,
  DMA_FENCE_NOTE,
  FS_RECLAIM_MAP,
  FS_RECLAIM_NOTE,
  MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP,
  MMU_NOTIFIER_NOTE,
} from './fake-maps.ts';
export * from './gfp.ts';
export { MAX_LOCK_DEPTH, PF_MEMALLOC, PF_MEMALLOC_NOFS, PF_MEMALLOC_NOIO } from './task-state.ts';
export type * from './reports.ts';
export { renderReport } from './render.ts';
export type { AllocNote, Where, WhereArg, WhereSnapshot } from './where.ts';
