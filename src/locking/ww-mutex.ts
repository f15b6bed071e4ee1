/**
 * Wound/wait mutexes (`ww_mutex`), as drivers lock several buffer objects without a global order.
 *
 * Protocol, as the kernel implements it (kernel/locking/ww_mutex.h, include/linux/ww_mutex.h):
 *
 *     ww_acquire_init(ctx, class)     stamp = ++class.stamp (smaller stamp = older = wins);
 *                                     lockdep acquires the context's map (one class per ww class)
 *     ww_mutex_lock(lock, ctx)        -EALREADY if ctx already holds lock (no lockdep traffic);
 *                                     lockdep acquires lock's map with the context as nest lock,
 *                                     so any number of same-class locks may be held under it;
 *                                     if the lock is contended and ctx holds other locks:
 *                                       wait-die:   ctx dies (-EDEADLK) when the holder, or a
 *                                                   waiter queued ahead, is older;
 *                                       wound-wait: an older ctx wounds a younger holder; a
 *                                                   wounded ctx dies at its next contended wait.
 *                                     A ctx that holds nothing never dies: it just waits.
 *     on -EDEADLK                     unlock everything, then ww_mutex_lock_slow(contended, ctx)
 *                                     (which cannot fail), then lock the rest again
 *     ww_acquire_done(ctx)            no more locks will be taken (optional)
 *     ww_mutex_unlock / ww_acquire_fini
 *
 * The debug checks of CONFIG_DEBUG_WW_MUTEXES are reported as lockdep's DEBUG_LOCKS_WARN_ON
 * (switching validation off, as debug_locks_off does): locking after done, done twice, fini with
 * locks still held, lock_slow without a preceding -EDEADLK, taking another lock than the
 * contended one after -EDEADLK or without unlocking first, a second -EDEADLK before backing off,
 * a lock whose ctx is stale (unlocked with a plain mutex_unlock), mixing classes, unbalanced
 * unlocks. `_interruptible` variants behave as the plain ones: the model has no signals.
 */
import { LockdepMap, type LockClassKey } from '../lockdep/map.js';
import { Access, type SimObject } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { EALREADY, EDEADLK } from './errno.js';
import { currentKernel, kernelOf, type Kernel } from './kernel.js';

/** A ww class (`DEFINE_WW_CLASS` / `DEFINE_WD_CLASS`): one lockdep class for its mutexes, one for its contexts. */
export class WwClass {
  /** Lockdep key of the contexts (`<name>_acquire`). */
  readonly acquireKey: LockClassKey;
  /** Lockdep key of the mutexes (`<name>_mutex`). */
  readonly mutexKey: LockClassKey;
  readonly acquireName: string;
  readonly mutexName: string;
  /** Where a run keeps this class's stamp counter (stamps are per run, so traces replay exactly). */
  readonly stampSlot: string;

  constructor(
    readonly name: string,
    /** true: wait-die; false: wound-wait. */
    readonly isWaitDie: boolean,
  ) {
    this.acquireName = `${name}_acquire`;
    this.mutexName = `${name}_mutex`;
    // String keys name their class, as the kernel names them after the ww class.
    this.acquireKey = this.acquireName;
    this.mutexKey = this.mutexName;
    this.stampSlot = `ww.stamp.${name}`;
  }
}

/** `DEFINE_WW_CLASS(name)`: a wound-wait class. */
export function DEFINE_WW_CLASS(name: string): WwClass {
  return new WwClass(name, false);
}

/** `DEFINE_WD_CLASS(name)`: a wait-die class. */
export function DEFINE_WD_CLASS(name: string): WwClass {
  return new WwClass(name, true);
}

/** A `struct ww_acquire_ctx`. Make one per locking transaction and pass it to `ww_acquire_init`. */
export class WwAcquireCtx {
  task: Task | null = null;
  /** Smaller = older = has priority. */
  stamp = 0;
  /** ww_mutexes held through this context. */
  acquired = 0;
  /** wound-wait: an older context wants a lock we hold; we back off at the next contended wait. */
  wounded = false;
  isWaitDie = false;
  wwClass: WwClass | null = null;
  /** `ww_acquire_done` was called. */
  doneAcquire = false;
  /** The lock that made us back off with -EDEADLK, until we take it again. */
  contendingLock: WwMutex | null = null;
  /** The context's lockdep map (made by ww_acquire_init); the nest lock of every lock taken with it. */
  dep: LockdepMap | null = null;
}

/** A `struct ww_mutex`. */
export class WwMutex implements SimObject {
  owner: Task | null = null;
  /** The context the lock was taken with, or null (plain lock, or unlocked). */
  ctx: WwAcquireCtx | null = null;
  readonly dep: LockdepMap;
  readonly queue: WaitQueue;
  readonly k: Kernel;
  readonly lockLabel: string;
  readonly unlockLabel: string;
  /** The context each waiter waits with (null for a plain waiter). */
  readonly waiterCtx = new Map<Task, WwAcquireCtx | null>();

  constructor(
    world: World,
    readonly name: string,
    readonly wwClass: WwClass,
  ) {
    this.k = kernelOf(world);
    this.dep = new LockdepMap(name, { key: wwClass.mutexKey, wait: 'sleep' });
    this.queue = world.waitQueue(name, this);
    this.queue.holder = () => this.owner?.name ?? null;
    this.lockLabel = `ww_mutex_lock(${name})`;
    this.unlockLabel = `ww_mutex_unlock(${name})`;
  }
}

/** `ww_mutex_init(lock, class)`: a new lock (the TS constructor); lockdep's class is the ww class's mutex class. */
export function ww_mutex_init(world: World, name: string, wwClass: WwClass): WwMutex {
  return new WwMutex(world, name, wwClass);
}

/** `ww_mutex_destroy`: the lock's memory goes away; lockdep reports it if held. */
export function ww_mutex_destroy(lock: WwMutex): void {
  if (lock.k.validating) lock.k.lockdep.freeMaps(lock.k.current.id, lock.dep, lock.k.where);
}

/** `ww_mutex_is_locked`. A plain read: for assertions. */
export function ww_mutex_is_locked(lock: WwMutex): boolean {
  return lock.owner !== null;
}

function warn(k: Kernel, condition: string, message: string): void {
  if (k.validating) k.lockdep.debugLocksWarn(k.current.id, condition, message, k.where);
}

/**
 * `ww_acquire_init(ctx, class)`: stamps the context and acquires its lockdep map. Two contexts
 * of one class in one task are recursive locking (they could deadlock each other).
 */
export function ww_acquire_init(ctx: WwAcquireCtx, wwClass: WwClass): void {
  const k = currentKernel();
  const t = k.current;
  if (ctx.dep !== null && k.validating) k.lockdep.initMap(t.id, ctx.dep, k.where);
  const stamp = ((k.world.locals.get(wwClass.stampSlot) as number | undefined) ?? 0) + 1;
  k.world.locals.set(wwClass.stampSlot, stamp);
  ctx.task = t;
  ctx.stamp = stamp;
  ctx.acquired = 0;
  ctx.wounded = false;
  ctx.isWaitDie = wwClass.isWaitDie;
  ctx.wwClass = wwClass;
  ctx.doneAcquire = false;
  ctx.contendingLock = null;
  ctx.dep = new LockdepMap(wwClass.acquireName, { key: wwClass.acquireKey, wait: 'none' });
  if (k.validating) k.lockdep.lockAcquire(t.id, ctx.dep, 0, false, 0, true, null, k.where);
}

/** `ww_acquire_done(ctx)`: the acquire phase is over; locking more with this context is a bug. */
export function ww_acquire_done(ctx: WwAcquireCtx): void {
  const k = currentKernel();
  if (k.validating && ctx.dep !== null && !k.lockdep.isHeld(k.current.id, ctx.dep)) {
    k.world.report('warn', `lockdep_assert_held(${ctx.dep.name}) failed in ww_acquire_done`, 'ww_acquire_done:not-held');
  }
  if (ctx.doneAcquire) warn(k, 'ctx->done_acquire', 'ww_acquire_done called twice on one context');
  ctx.doneAcquire = true;
}

/** `ww_acquire_fini(ctx)`: releases the context; every lock taken with it must be unlocked first. */
export function ww_acquire_fini(ctx: WwAcquireCtx): void {
  const k = currentKernel();
  if (k.validating && ctx.dep !== null) k.lockdep.release(k.current.id, ctx.dep, k.where);
  if (ctx.acquired !== 0) warn(k, 'ctx->acquired', `ww_acquire_fini with ${ctx.acquired} lock(s) still held through the context`);
}

/** ctx `a` is younger (later stamp, lower priority) than ctx `b`. */
function younger(a: WwAcquireCtx, b: WwAcquireCtx): boolean {
  return a.stamp > b.stamp;
}

/** Backing off: -EDEADLK if the context holds locks (else it may safely wait). */
function kill(k: Kernel, lock: WwMutex, ctx: WwAcquireCtx): number {
  if (ctx.acquired === 0) return 0;
  if (ctx.contendingLock !== null) warn(k, 'ww_ctx->contending_lock', `a second -EDEADLK (on ${lock.name}) before backing off from ${ctx.contendingLock.name}`);
  ctx.contendingLock = lock;
  return -EDEADLK;
}

/** Whether `ctx` must back off instead of waiting for `lock`. */
function checkKill(k: Kernel, lock: WwMutex, ctx: WwAcquireCtx, self: Task): number {
  if (ctx.acquired === 0) return 0;
  if (!ctx.isWaitDie) return ctx.wounded ? kill(k, lock, ctx) : 0;
  const hold = lock.ctx;
  if (hold !== null && hold !== ctx && younger(ctx, hold)) return kill(k, lock, ctx);
  // Waiters with a context queue in stamp order: an older one is ahead of us, and we would die behind it.
  for (const [t, c] of lock.waiterCtx) if (t !== self && c !== null && younger(ctx, c)) return kill(k, lock, ctx);
  return 0;
}

/** Wakes `t` if it sleeps on a ww_mutex, so it re-checks whether it must back off. */
function kick(world: World, t: Task): void {
  const q = t.waitingOn;
  if (q === null || !(q.object instanceof WwMutex) || !q.has(t)) return;
  q.remove(t);
  world.makeRunnable(t, q.wakeLabel, q.object, Access.Write, false);
}

/** wound-wait: `ctx` (holding locks) wounds a younger holder context. */
function wound(lock: WwMutex, ctx: WwAcquireCtx, hold: WwAcquireCtx | null): void {
  if (hold === null || lock.owner === null || ctx.acquired === 0 || !younger(hold, ctx)) return;
  hold.wounded = true;
  if (lock.owner !== lock.k.current) kick(lock.k.world, lock.owner);
}

/** After `ctx` took `lock`, or queued on it: waiters that must now back off or wound are told. */
function checkWaiters(lock: WwMutex, ctx: WwAcquireCtx, self: Task): void {
  for (const [t, c] of lock.waiterCtx) {
    if (t === self || c === null) continue;
    if (ctx.isWaitDie) {
      if (c.acquired > 0 && younger(c, ctx)) kick(lock.k.world, t);
    } else if (lock.ctx !== null && c.acquired > 0 && younger(lock.ctx, c)) {
      wound(lock, c, lock.ctx);
    }
  }
}

/** The debug checks and bookkeeping of a successful acquisition with a context. */
function acquired(k: Kernel, lock: WwMutex, ctx: WwAcquireCtx): void {
  if (lock.ctx !== null) warn(k, 'ww->ctx', `${lock.name} still names a context: it was unlocked with a plain mutex_unlock, or the context is stale`);
  if (ctx.doneAcquire) warn(k, 'ww_ctx->done_acquire', `ww_mutex_lock(${lock.name}) after ww_acquire_done`);
  if (ctx.contendingLock !== null) {
    if (ctx.contendingLock !== lock) {
      warn(k, 'ww_ctx->contending_lock != ww', `after -EDEADLK on ${ctx.contendingLock.name}, ${lock.name} was locked first: lock the contended lock first (ww_mutex_lock_slow)`);
    }
    if (ctx.acquired > 0) warn(k, 'ww_ctx->acquired > 0', `after -EDEADLK, ${lock.name} was locked without first unlocking every lock of the context`);
    ctx.contendingLock = null;
  }
  if (ctx.wwClass !== lock.wwClass) warn(k, 'ww_ctx->ww_class != ww->ww_class', `${lock.name} (class ${lock.wwClass.name}) locked with a context of another class`);
  ctx.acquired++;
  lock.ctx = ctx;
}

function* lockCommon(lock: WwMutex, ctx: WwAcquireCtx | null, label: string): Generator<unknown, number, unknown> {
  const k = lock.k;
  yield k.world.point(label, lock, Access.Write);
  const t = k.current;
  if (ctx !== null) {
    // Checked before lockdep hears of it: a repeat lock is the caller's bookkeeping, not recursion.
    if (lock.ctx === ctx) return -EALREADY;
    // Nobody can wound a context that holds nothing: a stale wound is forgotten.
    if (ctx.acquired === 0) ctx.wounded = false;
  }
  k.mightSleep(t.id, label);
  if (k.validating) k.lockdep.lockAcquire(t.id, lock.dep, 0, false, 0, true, ctx?.dep ?? null, k.where);
  for (;;) {
    if (lock.owner === null) {
      lock.owner = t;
      if (ctx !== null) {
        acquired(k, lock, ctx);
        checkWaiters(lock, ctx, t);
      }
      return 0;
    }
    if (ctx !== null) {
      const r = checkKill(k, lock, ctx, t);
      if (r !== 0) {
        if (k.validating) k.lockdep.release(t.id, lock.dep, k.where);
        return r;
      }
      lock.waiterCtx.set(t, ctx);
      if (!ctx.isWaitDie) wound(lock, ctx, lock.ctx);
      else checkWaiters(lock, ctx, t);
    } else {
      lock.waiterCtx.set(t, null);
    }
    yield lock.queue.block();
    lock.waiterCtx.delete(t);
  }
}

/**
 * `ww_mutex_lock(lock, ctx)`: 0, -EALREADY (ctx already holds it) or -EDEADLK (back off: unlock
 * everything, then `ww_mutex_lock_slow`). With a null ctx it is a plain mutex_lock of the class.
 */
export function ww_mutex_lock(lock: WwMutex, ctx: WwAcquireCtx | null): Generator<unknown, number, unknown> {
  return lockCommon(lock, ctx, lock.lockLabel);
}

/** `ww_mutex_lock_interruptible`: as ww_mutex_lock (no signals in the model, so never -EINTR). */
export function ww_mutex_lock_interruptible(lock: WwMutex, ctx: WwAcquireCtx | null): Generator<unknown, number, unknown> {
  return lockCommon(lock, ctx, lock.lockLabel);
}

/**
 * `ww_mutex_lock_slow(lock, ctx)`: after -EDEADLK and unlocking everything, sleep for the
 * contended lock. Without a preceding -EDEADLK it is a debug warning.
 */
export function* ww_mutex_lock_slow(lock: WwMutex, ctx: WwAcquireCtx): Generator<unknown, void, unknown> {
  if (ctx.contendingLock === null) warn(lock.k, '!ctx->contending_lock', `ww_mutex_lock_slow(${lock.name}) without a preceding -EDEADLK`);
  yield* lockCommon(lock, ctx, `ww_mutex_lock_slow(${lock.name})`);
}

/** `ww_mutex_lock_slow_interruptible`: as ww_mutex_lock_slow; returns 0. */
export function* ww_mutex_lock_slow_interruptible(lock: WwMutex, ctx: WwAcquireCtx): Generator<unknown, number, unknown> {
  yield* ww_mutex_lock_slow(lock, ctx);
  return 0;
}

/**
 * `ww_mutex_trylock(lock, ctx)`: 1 if taken, 0 if not; never waits and never returns -EDEADLK.
 * With a context the lock counts as acquired through it (and nests under it for lockdep).
 */
export function* ww_mutex_trylock(lock: WwMutex, ctx: WwAcquireCtx | null): Generator<unknown, number, unknown> {
  const k = lock.k;
  yield k.world.point(`ww_mutex_trylock(${lock.name})`, lock, Access.Write);
  const t = k.current;
  if (ctx !== null && ctx.acquired === 0) ctx.wounded = false;
  if (lock.owner !== null) return 0;
  lock.owner = t;
  if (ctx !== null) acquired(k, lock, ctx);
  if (k.validating) k.lockdep.lockAcquire(t.id, lock.dep, 0, true, 0, true, ctx?.dep ?? null, k.where);
  return 1;
}

/** `ww_mutex_unlock(lock)`: drops the lock and its context's count. */
export function* ww_mutex_unlock(lock: WwMutex): Generator<unknown, void, unknown> {
  const k = lock.k;
  yield k.world.point(lock.unlockLabel, lock, Access.Write);
  const t = k.current;
  if (lock.ctx !== null) {
    if (lock.ctx.acquired === 0) warn(k, '!lock->ctx->acquired', `ww_mutex_unlock(${lock.name}): its context holds no locks (unbalanced)`);
    if (lock.ctx.acquired > 0) lock.ctx.acquired--;
    lock.ctx = null;
  }
  releaseBase(lock, t);
}

/** The embedded mutex's unlock: lockdep release, hand the lock back, wake every waiter to re-check. */
function releaseBase(lock: WwMutex, t: Task): void {
  const k = lock.k;
  if (k.validating) k.lockdep.release(t.id, lock.dep, k.where);
  if (lock.owner !== t) return; // lockdep reported the imbalance; the real owner keeps it
  lock.owner = null;
  lock.queue.wakeAll();
}

/**
 * The embedded mutex (`&ww->base`) used directly, as `mutex_lock(&ww->base)` would: no context
 * bookkeeping at all. The kernel's selftest uses it to fake a lock held by another context.
 */
export function* ww_mutex_base_lock(lock: WwMutex): Generator<unknown, void, unknown> {
  yield* lockCommon(lock, null, `mutex_lock(${lock.name}.base)`);
}

/** `mutex_unlock(&ww->base)`: leaves `ww->ctx` alone (the next ww_mutex_lock then warns about a stale context). */
export function* ww_mutex_base_unlock(lock: WwMutex): Generator<unknown, void, unknown> {
  const k = lock.k;
  yield k.world.point(`mutex_unlock(${lock.name}.base)`, lock, Access.Write);
  releaseBase(lock, k.current);
}
