/**
 * The public validator object: the core plus the kernel-named convenience API
 * (fake-map helpers, might_lock, sleep context, allocation context).
 */
import * as alloc from './alloc.ts';
import { LockdepCore } from './core.ts';
import type { LockdepMap } from './map.ts';
import type { AcquireOptions } from './options.ts';
import { ENABLED_HARDIRQ, ENABLED_SOFTIRQ, markHeldLocks, softirqsEnabled } from './irq-usage.ts';
import * as sleep from './sleep.ts';
import type { WhereArg } from './where.ts';

const NO_OPTS: AcquireOptions = Object.freeze({});

/** The lock-dependency validator (see `LockdepCore` for scopes and the hot path). */
export class Lockdep extends LockdepCore {
  /** `lock_acquire` with an options object (pass a shared constant in hot paths). */
  acquire(task: number, map: LockdepMap, opts: AcquireOptions | undefined, where: WhereArg): void {
    const o = opts ?? NO_OPTS;
    this.lockAcquire(task, map, o.subclass ?? 0, o.trylock ?? false, o.read ?? 0, o.check ?? true, o.nestLock ?? null, where);
  }

  /** `lock_map_acquire`: exclusive, validated. */
  lockMapAcquire(task: number, map: LockdepMap, where: WhereArg): void {
    this.lockAcquire(task, map, 0, false, 0, true, null, where);
  }

  /** `lock_map_acquire_read`: recursive read. */
  lockMapAcquireRead(task: number, map: LockdepMap, where: WhereArg): void {
    this.lockAcquire(task, map, 0, false, 2, true, null, where);
  }

  /** `lock_map_acquire_tryread`: recursive-read trylock. */
  lockMapAcquireTryread(task: number, map: LockdepMap, where: WhereArg): void {
    this.lockAcquire(task, map, 0, true, 2, true, null, where);
  }

  /** `lock_map_release`. */
  lockMapRelease(task: number, map: LockdepMap, where: WhereArg): void {
    this.release(task, map, where);
  }

  /** `lock_map_sync`: validate an acquisition without holding the map. */
  lockMapSync(task: number, map: LockdepMap, where: WhereArg): void {
    this.acquireRelease(task, map, 0, 0, where);
  }

  /** `might_lock`: record "this path may take `map`" (acquire + release, exclusive). */
  mightLock(task: number, map: LockdepMap, where: WhereArg): void {
    this.acquireRelease(task, map, 0, 0, where);
  }

  /** `might_lock_read`. */
  mightLockRead(task: number, map: LockdepMap, where: WhereArg): void {
    this.acquireRelease(task, map, 0, 1, where);
  }

  /** `might_lock_nested`. */
  mightLockNested(task: number, map: LockdepMap, subclass: number, where: WhereArg): void {
    this.acquireRelease(task, map, subclass, 0, where);
  }

  // ---- sleep context (spec §14), see sleep.ts ------------------------------

  /** `might_sleep`: reports sleeping in atomic or non-block context; returns true if it did. */
  mightSleep(task: number, where: WhereArg): boolean {
    return sleep.mightSleep(this, this.task(task), where);
  }
  /** `non_block_start`. */
  nonBlockStart(task: number): void {
    this.task(task).nonBlock++;
  }
  /** `non_block_end` (warns on underflow). */
  nonBlockEnd(task: number, where: WhereArg): void {
    sleep.nonBlockEnd(this, this.task(task), where);
  }
  /** `preempt_disable` (also usable for rcu_read_lock under preemptible RCU). */
  preemptDisable(task: number): void {
    this.task(task).preempt++;
  }
  /** `preempt_enable`. */
  preemptEnable(task: number): void {
    const t = this.task(task);
    if (t.preempt > 0) t.preempt--;
  }
  /** `in_atomic()`: a spinning lock is held or preemption is disabled. */
  inAtomic(task: number): boolean {
    const t = this.task(task);
    return t.spinDepth > 0 || t.preempt > 0 || t.hardirq > 0 || t.softirq > 0 || t.bhOff > 0;
  }
  /**
   * Enters hard interrupt context (`irq_enter`): atomic until `hardirqExit`. `threaded`: the
   * handler could be force-threaded (ordinary handlers), so spinlock_t is a valid wait context in it.
   */
  hardirqEnter(task: number, threaded = true): void {
    const t = this.task(task);
    t.hardirq++;
    t.hardirqThreaded = threaded;
  }
  /** Leaves hard interrupt context (`irq_exit`). */
  hardirqExit(task: number): void {
    const t = this.task(task);
    if (t.hardirq > 0) t.hardirq--;
  }
  /** Enters softirq context (what `__do_softirq` does around a handler). */
  softirqEnter(task: number): void {
    this.task(task).softirq++;
  }
  /** Leaves softirq context. */
  softirqExit(task: number): void {
    const t = this.task(task);
    if (t.softirq > 0) t.softirq--;
  }
  /** `local_bh_disable`. */
  bhDisable(task: number): void {
    this.task(task).bhOff++;
  }
  /** `local_bh_enable`: when softirqs come back on (with hardirqs on), held locks become softirq-unsafe. */
  bhEnable(task: number, where?: WhereArg): void {
    const t = this.task(task);
    if (t.bhOff > 0) t.bhOff--;
    if (where === undefined || !this.enabled || !softirqsEnabled(t) || t.irqOff > 0 || t.hardirq > 0) return;
    markHeldLocks(this, t, ENABLED_SOFTIRQ, where);
  }
  /** Whether a hard interrupt may be delivered to the task now (interrupts on, not in a handler). */
  irqsEnabled(task: number): boolean {
    const t = this.task(task);
    return t.irqOff === 0 && t.hardirq === 0;
  }
  /** `in_interrupt()`: in a hard or soft irq handler. */
  inInterrupt(task: number): boolean {
    const t = this.task(task);
    return t.hardirq > 0 || t.softirq > 0;
  }
  /** `in_hardirq()`. */
  inHardirq(task: number): boolean {
    return this.task(task).hardirq > 0;
  }
  /** `local_irq_disable`. */
  irqDisable(task: number): void {
    this.task(task).irqOff++;
  }
  /** `local_irq_enable`: when interrupts come back on, every held lock becomes irq-unsafe (spec §10). */
  irqEnable(task: number, where?: WhereArg): void {
    const t = this.task(task);
    if (t.irqOff > 0) t.irqOff--;
    if (where === undefined || !this.enabled || t.irqOff > 0 || t.hardirq > 0) return;
    markHeldLocks(this, t, ENABLED_HARDIRQ, where);
    if (softirqsEnabled(t)) markHeldLocks(this, t, ENABLED_SOFTIRQ, where);
  }

  // ---- allocation context (spec §12.2), see alloc.ts ------------------------

  /** `memalloc_nofs_save`: returns the previous state for `memallocNofsRestore`. */
  memallocNofsSave(task: number): number {
    return alloc.scopeSave(this.task(task), alloc.SCOPE_NOFS);
  }
  /** `memalloc_nofs_restore`. */
  memallocNofsRestore(task: number, saved: number): void {
    alloc.scopeRestore(this.task(task), alloc.SCOPE_NOFS, saved);
  }
  /** `memalloc_noio_save`. */
  memallocNoioSave(task: number): number {
    return alloc.scopeSave(this.task(task), alloc.SCOPE_NOIO);
  }
  /** `memalloc_noio_restore`. */
  memallocNoioRestore(task: number, saved: number): void {
    alloc.scopeRestore(this.task(task), alloc.SCOPE_NOIO, saved);
  }
  /** `memalloc_noreclaim_save` (the task is reclaim: PF_MEMALLOC). */
  memallocNoreclaimSave(task: number): number {
    return alloc.scopeSave(this.task(task), alloc.SCOPE_NORECLAIM);
  }
  /** `memalloc_noreclaim_restore`. */
  memallocNoreclaimRestore(task: number, saved: number): void {
    alloc.scopeRestore(this.task(task), alloc.SCOPE_NORECLAIM, saved);
  }
  /** The task's memalloc scope flags (PF_MEMALLOC* bits). */
  memallocFlags(task: number): number {
    return this.task(task).memalloc;
  }
  /** `current_gfp_context`. */
  currentGfpContext(task: number, gfp: number): number {
    return alloc.taskGfpContext(this.task(task), gfp);
  }
  /** RECLAIM_* decision bits for an allocation with `gfp` by this task now. */
  reclaimDecision(task: number, gfp: number): number {
    return alloc.taskReclaimDecision(this.task(task), gfp);
  }
  /** `fs_reclaim_acquire(gfp)`. */
  fsReclaimAcquire(task: number, gfp: number, where: WhereArg): void {
    alloc.fsReclaimAcquire(this, task, this.task(task), gfp, where);
  }
  /** `fs_reclaim_release(gfp)`. */
  fsReclaimRelease(task: number, gfp: number, where: WhereArg): void {
    alloc.fsReclaimRelease(this, task, this.task(task), gfp, where);
  }
  /** `might_alloc(gfp)`: annotate reclaim, then `might_sleep` if the mask may block. */
  mightAlloc(task: number, gfp: number, where: WhereArg): void {
    alloc.mightAlloc(this, task, this.task(task), gfp, where);
  }
  /** Registration-time priming of fs_reclaim → notifier map (spec §12.3, older kernels). */
  primeNotifierRegistration(task: number, where: WhereArg): void {
    alloc.primeNotifierRegistration(this, task, where);
  }
}
