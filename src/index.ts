/**
 * hmmsim's public API: what scenario files and driver models import.
 *
 * Everything not exported here is internal and may change.
 */
export { defineScenario, ScenarioError } from './check/scenario.js';
export type { CheckContext, Scenario, ScenarioDefinition, ScenarioTask } from './check/scenario.js';
export { Access } from './sim/point.js';
export type { SimObject } from './sim/point.js';
export { World } from './sim/world.js';
export type { SpawnOptions } from './sim/world.js';
export { WaitQueue } from './sim/waitqueue.js';
export type { Task, TaskBody } from './sim/task.js';
export { FindingKind } from './sim/finding.js';
export type { Finding } from './sim/finding.js';

// Locking: kernel-named primitives (call them with `yield*` from task code).
export { setLockdepMode, type LockdepMode } from './locking/kernel.js';
export { Mutex, mutex_init, mutex_destroy, mutex_lock, mutex_lock_nested, mutex_trylock, mutex_unlock, mutex_is_locked } from './locking/mutex.js';
export { Spinlock, spin_lock_init, spin_lock, spin_lock_nested, spin_trylock, spin_unlock, spin_lock_irqsave, spin_unlock_irqrestore } from './locking/spinlock.js';
export { RwSemaphore, init_rwsem, down_read, down_read_nested, down_write, down_write_nested, down_read_trylock, down_write_trylock, up_read, up_write, downgrade_write } from './locking/rwsem.js';
export {
  mmapLockInit,
  mmap_read_lock,
  mmap_read_trylock,
  mmap_read_unlock,
  mmap_write_lock,
  mmap_write_trylock,
  mmap_write_unlock,
  mmap_write_downgrade,
  mmap_assert_locked,
  mmap_assert_write_locked,
  type HasMmapLock,
} from './locking/mmap-lock.js';
export { Seqcount, write_seqcount_begin, write_seqcount_end, read_seqcount_begin, read_seqcount_retry } from './locking/seqcount.js';
export { SrcuStruct, srcu_read_lock, srcu_read_unlock, synchronize_srcu } from './locking/srcu.js';
export { Completion, wait_for_completion, wait_for_completion_timeout, complete, complete_all, reinit_completion, completion_done } from './locking/completion.js';
export { wait_event, wait_event_timeout, wake_up, wake_up_all } from './locking/wait.js';
export {
  AtomicT,
  Shared,
  atomic_read,
  atomic_set,
  atomic_inc,
  atomic_dec,
  atomic_add_return,
  atomic_inc_return,
  atomic_dec_return,
  atomic_dec_and_test,
  atomic_cmpxchg,
  READ_ONCE,
  WRITE_ONCE,
} from './locking/atomic.js';
export { might_sleep, non_block_start, non_block_end, preempt_disable, preempt_enable, rcu_read_lock, rcu_read_unlock } from './locking/sleep.js';
export {
  kmalloc,
  kfree,
  might_alloc,
  memalloc_nofs_save,
  memalloc_nofs_restore,
  memalloc_noio_save,
  memalloc_noio_restore,
  memalloc_noreclaim_save,
  memalloc_noreclaim_restore,
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  GFP_ATOMIC,
  type Allocation,
} from './locking/alloc.js';
export { lock_map_acquire, lock_map_acquire_read, lock_map_release, might_lock, lockdep_assert_held, FS_RECLAIM_MAP, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP } from './locking/lockdep-maps.js';
