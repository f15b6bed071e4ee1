/**
 * hmmsim's public API: what scenario files and driver models import. The root exports the
 * kernel-facing names, the scenario API and the runner; the CPU stand-in and the oracles' hooks
 * are in `hmmsim/testing` (src/testing.ts).
 *
 * Everything not exported here or there is internal and may change.
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

// The runner, for your own tests: check() returns what `hmmsim check --json` prints for the
// scenario; assertScenario() throws the command's report (with replay lines) unless as expected.
export { check, assertScenario, ScenarioAssertionError, type CheckApiOptions, type CheckResult } from './cli/api.js';
export type { ScenarioJson } from './report/json.js';

// Locking: kernel-named primitives (call them with `yield*` from task code).
export { setLockdepMode, type LockdepMode } from './locking/kernel.js';
export { Mutex, mutex_init, mutex_destroy, mutex_lock, mutex_lock_nested, mutex_trylock, mutex_unlock, mutex_is_locked } from './locking/mutex.js';
export { Spinlock, spin_lock_init, spin_lock, spin_lock_nested, spin_trylock, spin_unlock, spin_lock_irqsave, spin_unlock_irqrestore, spin_lock_bh, spin_unlock_bh } from './locking/spinlock.js';
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

// GPU locking: ww_mutex, dma_resv, dma_fence (with the v5.9+ signalling annotations), interrupt context.
export {
  WwClass,
  WwAcquireCtx,
  WwMutex,
  DEFINE_WW_CLASS,
  DEFINE_WD_CLASS,
  ww_mutex_init,
  ww_mutex_destroy,
  ww_mutex_is_locked,
  ww_acquire_init,
  ww_acquire_done,
  ww_acquire_fini,
  ww_mutex_lock,
  ww_mutex_lock_interruptible,
  ww_mutex_lock_slow,
  ww_mutex_lock_slow_interruptible,
  ww_mutex_trylock,
  ww_mutex_unlock,
} from './locking/ww-mutex.js';
export * from './locking/dma-resv.js';
export * from './locking/dma-fence.js';
export {
  local_irq_save,
  local_irq_restore,
  local_irq_disable,
  local_irq_enable,
  local_bh_disable,
  local_bh_enable,
  irq_enter,
  irq_exit,
  softirq_enter,
  softirq_exit,
  in_hardirq,
  in_interrupt,
  in_atomic,
  request_irq,
  raise_irq,
  IrqLine,
} from './locking/irq.js';
export { RawSpinlock, raw_spin_lock, raw_spin_trylock, raw_spin_unlock } from './locking/raw-spinlock.js';
export * from './locking/rwlock.js';
export { LocalLock, local_lock, local_unlock, local_lock_irqsave, local_unlock_irqrestore } from './locking/local-lock.js';

// Errors and kernel contract versions.
export * from './locking/errno.js';
export { KERNEL_VERSIONS, DEFAULT_KERNEL, kernelContract, type KernelContract } from './locking/version.js';

// MMU notifiers: ranges, classic and interval notifiers, invalidation; the device page table the coherence oracle watches.
export * from './notifier/events.js';
export { mm_alloc, type MmStruct, type CpuView, type CpuMapping } from './notifier/mm.js';
export { MmuNotifierRange, mmu_notifier_range_init, mmu_notifier_range_init_owner, mmu_notifier_range_blockable } from './notifier/range.js';
export {
  MmuNotifier,
  type MmuNotifierOps,
  mm_has_notifiers,
  mmu_notifier_register,
  __mmu_notifier_register,
  mmu_notifier_get,
  mmu_notifier_get_locked,
  mmu_notifier_put,
  mmu_notifier_unregister,
  mmu_notifier_synchronize,
  mmu_notifier_clear_flush_young,
  mmu_notifier_clear_young,
  mmu_notifier_test_young,
} from './notifier/classic.js';
export {
  MmuIntervalNotifier,
  type MmuIntervalNotifierOps,
  mmu_interval_notifier_insert,
  mmu_interval_notifier_insert_locked,
  mmu_interval_notifier_remove,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_check_retry,
  mmu_interval_set_seq,
} from './notifier/interval.js';
export { mmu_notifier_release } from './notifier/teardown.js';
export * from './notifier/kinds.js';
export { mmu_notifier_invalidate_range_start, mmu_notifier_invalidate_range_start_nonblock, mmu_notifier_invalidate_range_end } from './notifier/invalidate.js';
export {
  DeviceShadow,
  type CoherenceContract,
  device_shadow_create,
  device_map,
  device_unmap,
  device_unmap_range,
  STALE_DEVICE_MAPPING,
  DEVICE_MAPS_FREED_PAGE,
  MAP_IN_INVALIDATION_WINDOW,
} from './notifier/coherence.js';

// Driver models.
export { KvmLike, kvm_like_fault } from './devices/kvm-like.js';
export { OdpLike, type OdpVariant } from './devices/odp-like.js';
export { IntervalMirror, type IntervalMirrorVariant } from './devices/interval-mirror.js';
export { LockTakingNotifier, type NonblockLocking } from './devices/lock-taking-notifier.js';
export { GpuUserptrDevice, GpuBo, UserptrNotifier, type GpuUserptrVariant } from './devices/gpu-userptr.js';

// The simulated address space: mm_create, syscalls, CPU accesses, reclaim, the OOM reaper, oracles.
export * from './mm/index.js';

// HMM: hmm_range_fault, device-private memory, migrate_vma / migrate_device.
export * from './hmm/index.js';
export { HmmMirror, HmmMirrorNotifier, type HmmMirrorVariant } from './devices/hmm-mirror.js';

// The 2019 HMM mirror API (v5.2/v5.3 contracts) as one namespace, since several of its names
// (HmmRange, hmm_range_fault, HMM_PFN_*) mean something else in the current API:
//   import { legacy_hmm } from 'hmmsim';
//   const { hmm_mirror_register, hmm_range_register, hmm_range_fault } = legacy_hmm;
export * as legacy_hmm from './hmm/legacy/index.js';
export { LegacyMirror, type LegacyMirrorVariant } from './devices/legacy-mirror.js';

// Device-exclusive access (both API generations) and its oracles.
export { make_device_exclusive, make_device_exclusive_range, type FolioOut } from './hmm/device-exclusive.js';
export { DeviceAtomicMap, device_atomic_create, device_atomic_map, device_atomic_unmap, device_atomic_unmap_range, INV_EXCL, INV_EXCL_FORK } from './hmm/device-exclusive-oracle.js';
export { GpuSvm, gpu_svm_atomic_fault, LIVELOCK, type GpuSvmVariant } from './devices/gpu-svm.js';

// dmirror, the reference mirror device of the kernel's HMM selftest (lib/test_hmm.c).
export * from './devices/dmirror/index.ts';
