/**
 * rwlock_t: a spinning reader-writer lock (the kernel's queued rwlock).
 *
 * Readers in process context queue fairly: a reader waits behind a writer that is already
 * waiting, so `read_lock(A)` twice on one CPU can deadlock against a writer in between; lockdep
 * therefore treats such a read_lock as a non-recursive reader. In interrupt context a reader only
 * waits for a writer that holds the lock (it may overtake waiting writers), so an interrupt that
 * read-locks a lock its CPU already read-holds cannot deadlock: there lockdep treats read_lock as
 * a recursive reader. That is the kernel's `read_lock_is_recursive()`: recursive if forced (the
 * selftest does it), if the rwlock is not the queued kind, or in interrupt context.
 * Like a spinlock, holding it makes the context atomic; its wait type is CONFIG (spinlock_t-like).
 */
import { LockdepMap } from '../lockdep/map.js';
import { Access, type SimObject } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { local_bh_disable, local_bh_enable, local_irq_restore, local_irq_save } from './irq.js';
import { kernelOf, type Kernel } from './kernel.js';

/** A reader-writer spinlock. */
export class RwLock implements SimObject {
  writer: Task | null = null;
  readers = 0;
  /** Writers waiting: process-context readers queue behind them. */
  waitingWriters = 0;
  readonly dep: LockdepMap;
  readonly queue: WaitQueue;
  readonly k: Kernel;

  constructor(
    world: World,
    readonly name: string,
    key: string = name,
    /** false: the old (non-queued) rwlock, whose readers always recurse. */
    readonly queued = true,
  ) {
    this.k = kernelOf(world);
    this.dep = new LockdepMap(name, { key, wait: 'spin' });
    this.queue = world.waitQueue(name, this);
    this.queue.holder = () => this.writer?.name ?? (this.readers > 0 ? `${this.readers} reader(s)` : null);
  }
}

/** Selftest switch: every read_lock is a recursive reader (the kernel's force_read_lock_recursive). */
export function rwlock_force_read_recursive(world: World, on: boolean): void {
  world.persistent.set(FORCE_KEY, on);
}

const FORCE_KEY = 'rwlock.force-read-recursive';

/** `read_lock_is_recursive()` for this lock, now. */
function readIsRecursive(l: RwLock, taskId: number): boolean {
  return !l.queued || l.k.world.persistent.get(FORCE_KEY) === true || l.k.lockdep.inInterrupt(taskId);
}

/** `read_lock(l)`. */
export function* read_lock(l: RwLock): Generator<unknown, void, unknown> {
  const k = l.k;
  yield k.world.point(`read_lock(${l.name})`, l, Access.Write);
  k.world.trace?.showAccess(Access.Read); // a shared hold: shown R, ordered as a write
  const t = k.current;
  const recursive = readIsRecursive(l, t.id);
  if (k.validating) {
    k.lockdep.preemptDisable(t.id);
    k.lockdep.lockAcquire(t.id, l.dep, 0, false, recursive ? 2 : 1, true, null, k.where);
  }
  const inIrq = k.lockdep.inInterrupt(t.id);
  while (l.writer !== null || (!inIrq && l.waitingWriters > 0)) yield l.queue.block();
  l.readers++;
}

/** `read_trylock(l)`: 1 if taken (never waits; fails while a writer holds it). */
export function* read_trylock(l: RwLock): Generator<unknown, number, unknown> {
  const k = l.k;
  yield k.world.point(`read_lock(${l.name})`, l, Access.Write);
  k.world.trace?.showAccess(Access.Read); // a shared hold: shown R, ordered as a write
  if (l.writer !== null) return 0;
  const t = k.current;
  l.readers++;
  if (k.validating) {
    k.lockdep.preemptDisable(t.id);
    k.lockdep.lockAcquire(t.id, l.dep, 0, true, readIsRecursive(l, t.id) ? 2 : 1, true, null, k.where);
  }
  return 1;
}

/** `read_unlock(l)`. */
export function* read_unlock(l: RwLock): Generator<unknown, void, unknown> {
  const k = l.k;
  yield k.world.point(`read_unlock(${l.name})`, l, Access.Write);
  k.world.trace?.showAccess(Access.Read); // a shared hold: shown R, ordered as a write
  const t = k.current;
  if (k.validating) {
    k.lockdep.release(t.id, l.dep, k.where);
    k.lockdep.preemptEnable(t.id);
  }
  if (l.readers === 0) return;
  if (--l.readers === 0) l.queue.wakeAll();
}

/** `write_lock(l)`. */
export function* write_lock(l: RwLock): Generator<unknown, void, unknown> {
  const k = l.k;
  yield k.world.point(`write_lock(${l.name})`, l, Access.Write);
  const t = k.current;
  if (k.validating) {
    k.lockdep.preemptDisable(t.id);
    k.lockdep.lockAcquire(t.id, l.dep, 0, false, 0, true, null, k.where);
  }
  l.waitingWriters++;
  while (l.writer !== null || l.readers > 0) yield l.queue.block();
  l.waitingWriters--;
  l.writer = t;
}

/** `write_trylock(l)`: 1 if taken. */
export function* write_trylock(l: RwLock): Generator<unknown, number, unknown> {
  const k = l.k;
  yield k.world.point(`write_lock(${l.name})`, l, Access.Write);
  if (l.writer !== null || l.readers > 0) return 0;
  const t = k.current;
  l.writer = t;
  if (k.validating) {
    k.lockdep.preemptDisable(t.id);
    k.lockdep.lockAcquire(t.id, l.dep, 0, true, 0, true, null, k.where);
  }
  return 1;
}

/** `write_unlock(l)`. */
export function* write_unlock(l: RwLock): Generator<unknown, void, unknown> {
  const k = l.k;
  yield k.world.point(`write_unlock(${l.name})`, l, Access.Write);
  const t = k.current;
  if (k.validating) {
    k.lockdep.release(t.id, l.dep, k.where);
    k.lockdep.preemptEnable(t.id);
  }
  if (l.writer !== t) return;
  l.writer = null;
  l.queue.wakeAll();
}

/** `read_lock_irqsave(l)`: returns the flags for read_unlock_irqrestore. */
export function* read_lock_irqsave(l: RwLock): Generator<unknown, number, unknown> {
  const flags = local_irq_save();
  yield* read_lock(l);
  return flags;
}

/** `read_unlock_irqrestore(l, flags)`. */
export function* read_unlock_irqrestore(l: RwLock, flags: number): Generator<unknown, void, unknown> {
  yield* read_unlock(l);
  local_irq_restore(flags);
}

/** `write_lock_irqsave(l)`. */
export function* write_lock_irqsave(l: RwLock): Generator<unknown, number, unknown> {
  const flags = local_irq_save();
  yield* write_lock(l);
  return flags;
}

/** `write_unlock_irqrestore(l, flags)`. */
export function* write_unlock_irqrestore(l: RwLock, flags: number): Generator<unknown, void, unknown> {
  yield* write_unlock(l);
  local_irq_restore(flags);
}

/** `read_lock_bh(l)`. */
export function* read_lock_bh(l: RwLock): Generator<unknown, void, unknown> {
  local_bh_disable();
  yield* read_lock(l);
}

/** `read_unlock_bh(l)`. */
export function* read_unlock_bh(l: RwLock): Generator<unknown, void, unknown> {
  yield* read_unlock(l);
  local_bh_enable();
}

/** `write_lock_bh(l)`. */
export function* write_lock_bh(l: RwLock): Generator<unknown, void, unknown> {
  local_bh_disable();
  yield* write_lock(l);
}

/** `write_unlock_bh(l)`. */
export function* write_unlock_bh(l: RwLock): Generator<unknown, void, unknown> {
  yield* write_unlock(l);
  local_bh_enable();
}
