/**
 * Interval notifiers: insert / insert_locked / remove, and the read side of the sequence
 * protocol (read_begin, read_retry, check_retry, set_seq), plus the invalidation side's
 * bookkeeping (inv_start_range, inv_end) that invalidate.ts drives.
 *
 * The protocol a driver follows, and why it works:
 *
 *     driver fault path                         invalidation of the same range
 *     seq = read_begin(sub)
 *     snapshot the CPU page table               start: active++, seq |= 1 (odd)
 *                                               invalidate(sub, range, cur_seq):
 *                                                 lock(driver); set_seq(sub, cur_seq);
 *                                                 zap device entries; unlock(driver)
 *                                               change the CPU page table
 *     lock(driver)                              end: active--, seq += 1 (even), wake readers
 *     read_retry(sub, seq)?  -> true: sub's seq moved, the snapshot is stale: unlock, retry
 *     program the device; unlock(driver)
 *
 * Because set_seq and read_retry both happen under the driver lock, either the invalidation's
 * callback ran first (retry) or it runs after the device is programmed (and zaps it).
 */
import { EINVAL, EOPNOTSUPP, EOVERFLOW } from '../locking/errno.js';
import { lock_map_acquire, lock_map_release, might_lock, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP } from '../locking/lockdep-maps.js';
import { kernelOf } from '../locking/kernel.js';
import { mmap_assert_write_locked, mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { might_sleep } from '../locking/sleep.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { contractOf } from '../locking/version.js';
import { Access, type SimObject } from '../sim/point.js';
import { FindingKind } from '../sim/finding.js';
import { currentWorld, type World } from '../sim/world.js';
import { __mmu_notifier_register, notifierWarn } from './classic.js';
import { API_UNAVAILABLE, CALLBACK_AFTER_REMOVE, SEQUENCE_PROTOCOL } from './kinds.js';
import { MMU_NOTIFIER_RANGE_BLOCKABLE, ULONG_MAX } from './events.js';
import type { MmStruct } from './mm.js';
import type { MmuNotifierRange } from './range.js';
import type { MmuNotifierSubscriptions } from './subscriptions.js';
import { opLabel, nameLabel } from '../sim/labels.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** `struct mmu_interval_notifier_ops`. */
export interface MmuIntervalNotifierOps {
  /**
   * Called for every invalidation overlapping the interval. Must call set_seq (under the
   * driver lock) before tearing down device mappings. May return false only when the range is
   * not blockable and it would have to sleep.
   */
  invalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): Gen<boolean>;
}

/** Where an interval subscription stands. */
export type IntervalMembership = 'unregistered' | 'in-tree' | 'pending-insert' | 'pending-remove' | 'removed';

/** `struct mmu_interval_notifier`. Extend it to carry driver state. */
export class MmuIntervalNotifier implements SimObject {
  mm: MmStruct | null = null;
  start = 0;
  /** Inclusive: start + length - 1. */
  last = 0;
  /** Always odd once inserted. */
  invalidateSeq = 1;
  membership: IntervalMembership = 'unregistered';
  /** Node of the interval tree while in it. */
  node = -1;
  /** Index in the mm's interval table. */
  slot = -1;
  /** Callbacks currently running (for the "after remove" oracle). */
  running = 0;

  constructor(
    readonly ops: MmuIntervalNotifierOps,
    readonly name: string = 'interval_notifier',
  ) {}
}


/** Reports that the run's kernel version does not have interval notifiers, and stops the run. */
export function requireIntervalNotifiers(world: World, api: string): boolean {
  const c = contractOf(world);
  if (c.intervalNotifiers) return true;
  world.report(API_UNAVAILABLE, `${api} does not exist in kernel contract ${c.name} (interval notifiers arrived in v5.5)`, api, true);
  return false;
}

function addToTree(subs: MmuNotifierSubscriptions, sub: MmuIntervalNotifier): void {
  // A subscription may be inserted again after remove, as the kernel allows: take a fresh slot.
  sub.slot = subs.intervals.length;
  subs.intervals.push(sub);
  sub.node = subs.itree.insert(sub.start, sub.last, sub.slot);
  sub.membership = 'in-tree';
}

function removeFromTree(subs: MmuNotifierSubscriptions, sub: MmuIntervalNotifier): void {
  if (sub.node >= 0) subs.itree.remove(sub.node);
  sub.node = -1;
  subs.intervals[sub.slot] = null;
  sub.membership = 'removed';
}

function* insertCommon(sub: MmuIntervalNotifier, mm: MmStruct, start: number, length: number): Gen<number> {
  const world = mm.world;
  if (sub.membership === 'in-tree' || sub.membership === 'pending-insert') {
    // The kernel does not look: it links the node into the interval tree a second time and the
    // tree is corrupt from then on. hmmsim refuses the insert and reports the misuse.
    world.report(
      DOUBLE_INSERT,
      `WARNING: mmu_interval_notifier_insert of ${sub.name}, which is already inserted (${sub.membership}) on ${sub.mm?.name ?? 'an mm'}: remove it first; the kernel would corrupt its interval tree`,
      `double-insert:${sub.name}`,
    );
    return -EINVAL;
  }
  if (length === 0 || start + length - 1 > ULONG_MAX || !Number.isSafeInteger(start + length - 1)) return -EOVERFLOW;
  if (mm.mm_users <= 0) {
    notifierWarn(world, 'interval-insert:no-users', `mmu_interval_notifier_insert on ${mm.name}, which has no users`);
    return -EINVAL;
  }
  const subs = mm.notifier_subscriptions!;
  mm.mm_count++;
  sub.mm = mm;
  sub.start = start;
  sub.last = start + length - 1;
  yield* spin_lock(subs.lock);
  if (subs.activeInvalidateRanges > 0) {
    if (subs.fullyExcluded) {
      sub.membership = 'pending-insert';
      subs.deferred.push(sub);
    } else {
      // PartiallyExcluded: the new interval may collide with any invalidation in flight.
      subs.invalidateSeq |= 1;
      addToTree(subs, sub);
    }
    sub.invalidateSeq = subs.invalidateSeq;
  } else {
    if (subs.fullyExcluded) notifierWarn(world, 'interval-insert:odd-idle', `sequence of ${mm.name} is odd with no invalidation active`);
    addToTree(subs, sub);
    sub.invalidateSeq = subs.invalidateSeq - 1;
  }
  yield* spin_unlock(subs.lock);
  return 0;
}

/** `mmu_interval_notifier_insert(sub, mm, start, length, ops)`: must not be called holding the mmap lock. */
export function* mmu_interval_notifier_insert(sub: MmuIntervalNotifier, mm: MmStruct, start: number, length: number): Gen<number> {
  if (!requireIntervalNotifiers(mm.world, 'mmu_interval_notifier_insert')) return -EOPNOTSUPP;
  might_sleep();
  might_lock(mm.mmap_lock); // it may register, which takes the mmap lock: lockdep learns that now
  if (mm.notifier_subscriptions === null || !mm.notifier_subscriptions.hasItree) {
    yield* mmap_write_lock(mm);
    const ret = yield* __mmu_notifier_register(null, mm);
    yield* mmap_write_unlock(mm);
    if (ret !== 0) return ret;
  }
  return yield* insertCommon(sub, mm, start, length);
}

/** A subscription inserted while it is already inserted. */
export const DOUBLE_INSERT = 'double-insert';

/** `mmu_interval_notifier_insert_locked(...)`: the mmap lock must be held for write. */
export function* mmu_interval_notifier_insert_locked(sub: MmuIntervalNotifier, mm: MmStruct, start: number, length: number): Gen<number> {
  if (!requireIntervalNotifiers(mm.world, 'mmu_interval_notifier_insert_locked')) return -EOPNOTSUPP;
  mmap_assert_write_locked(mm);
  if (mm.notifier_subscriptions === null || !mm.notifier_subscriptions.hasItree) {
    const ret = yield* __mmu_notifier_register(null, mm);
    if (ret !== 0) return ret;
  }
  return yield* insertCommon(sub, mm, start, length);
}

/**
 * `mmu_interval_notifier_remove(sub)`: may sleep until an invalidation in progress ends. After
 * it returns the callback is not running and never runs again. Must not be called from a
 * callback or holding a lock a callback takes.
 */
export function* mmu_interval_notifier_remove(sub: MmuIntervalNotifier): Gen<void> {
  const mm = sub.mm;
  if (mm === null) {
    notInserted(sub, 'mmu_interval_notifier_remove');
    return;
  }
  const subs = mm.notifier_subscriptions!;
  might_sleep();
  let waitSeq = -1;
  yield* spin_lock(subs.lock);
  if (subs.fullyExcluded) {
    if (sub.membership === 'pending-insert') {
      subs.deferred.splice(subs.deferred.indexOf(sub), 1);
      sub.membership = 'removed';
    } else {
      sub.membership = 'pending-remove';
      subs.deferred.push(sub);
      waitSeq = subs.invalidateSeq;
    }
  } else {
    if (sub.membership !== 'in-tree') notifierWarn(mm.world, 'interval-remove:not-in-tree', `mmu_interval_notifier_remove of ${sub.name}, which is not in the tree`);
    else removeFromTree(subs, sub);
  }
  yield* spin_unlock(subs.lock);
  if (contractOf(mm.world).notifierAnnotations) {
    lock_map_acquire(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
    lock_map_release(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
  }
  if (waitSeq >= 0) {
    yield mm.world.point('interval_remove wait', subs, Access.Read);
    while (subs.invalidateSeq === waitSeq) yield subs.wq.block();
  }
  sub.membership = 'removed';
  mm.mm_count--;
}

/**
 * `mmu_interval_read_begin(sub)`: the sequence to check later with read_retry. Sleeps while an
 * invalidation that already touched this subscription (or began before it was inserted) is in
 * progress. Must not be called holding the driver lock or from a callback.
 */
export function* mmu_interval_read_begin(sub: MmuIntervalNotifier): Gen<number> {
  const mm = sub.mm;
  if (mm === null || mm.notifier_subscriptions === null) {
    notInserted(sub, 'mmu_interval_read_begin');
    return 1;
  }
  const subs = mm.notifier_subscriptions;
  might_sleep();
  yield* spin_lock(subs.lock);
  const seq = sub.invalidateSeq;
  const colliding = seq === subs.invalidateSeq;
  mm.world.trace?.detail(`read_begin seq ${seq}${colliding ? ` = the mm's invalidate_seq: an invalidation is running, waits for it` : ''}`);
  yield* spin_unlock(subs.lock);
  if (contractOf(mm.world).notifierAnnotations) {
    lock_map_acquire(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
    lock_map_release(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
  }
  if (colliding) {
    yield mm.world.point('read_begin wait', subs, Access.Read);
    while (subs.invalidateSeq === seq) yield subs.wq.block();
  }
  if ((seq & 1) === 0) mm.world.report(SEQUENCE_PROTOCOL, `read_begin(${sub.name}) returned even sequence ${seq}`, `even-read-begin:${sub.name}`);
  return seq;
}

/** A driver used a subscription it never inserted: the kernel would dereference a NULL mm. */
function notInserted(sub: MmuIntervalNotifier, api: string): void {
  currentWorld().report(FindingKind.Bug, `BUG: ${api}(${sub.name}) on a subscription that was never inserted (NULL mm)`, `${api}:not-inserted:${sub.name}`, true);
}

/** `mmu_interval_set_seq(sub, cur_seq)`: from the invalidate callback, under the driver lock. */
export function mmu_interval_set_seq(sub: MmuIntervalNotifier, curSeq: number): void {
  // Written from the callback's step, whatever that step's point names; read_retry reads it.
  sub.mm?.world.touchUndeclared();
  if ((curSeq & 1) === 0 && sub.mm !== null) {
    sub.mm.world.report(SEQUENCE_PROTOCOL, `set_seq(${sub.name}, ${curSeq}): the sequence must be odd`, `even-set-seq:${sub.name}`);
  }
  sub.invalidateSeq = curSeq;
  sub.mm?.world.trace?.detail(`set_seq ${curSeq}`);
}

/** `mmu_interval_read_retry(sub, seq)`: true if the snapshot taken since read_begin is stale. Hold the driver lock. */
export function* mmu_interval_read_retry(sub: MmuIntervalNotifier, seq: number): Gen<boolean> {
  if (sub.mm === null) {
    notInserted(sub, 'mmu_interval_read_retry');
    return true;
  }
  yield sub.mm.world.point(opLabel('read_retry', sub.name), sub, Access.Read);
  const stale = sub.invalidateSeq !== seq;
  sub.mm.world.trace?.detail(`read_retry seq ${seq} vs ${sub.invalidateSeq}: ${stale ? 'changed, retry' : 'unchanged, valid'}`);
  return stale;
}

/** `mmu_interval_check_retry(sub, seq)`: the same comparison without the lock; true is reliable. */
export function mmu_interval_check_retry(sub: MmuIntervalNotifier, seq: number): boolean {
  const stale = sub.invalidateSeq !== seq;
  sub.mm?.world.trace?.detail(`check_retry seq ${seq} vs ${sub.invalidateSeq}: ${stale ? 'changed, retry' : 'unchanged'}`);
  return stale;
}

/** Invalidation side, under the lock: counts the range in, freezes the tree if it hits one. Returns cur_seq. */
export function* mn_itree_inv_start_range(subs: MmuNotifierSubscriptions, range: MmuNotifierRange): Gen<number> {
  yield* spin_lock(subs.lock);
  subs.activeInvalidateRanges++;
  if (subs.itree.iterFirst(range.start, range.end - 1) >= 0) subs.invalidateSeq |= 1;
  const seq = subs.invalidateSeq;
  subs.mm.world.trace?.detail(`invalidate_seq ${seq}${(seq & 1) === 1 ? ' (odd: invalidating)' : ''}`);
  yield* spin_unlock(subs.lock);
  return seq;
}

/** Invalidation side: counts the range out; the last one ends the exclusion, applies deferrals, wakes readers. */
export function* mn_itree_inv_end(subs: MmuNotifierSubscriptions): Gen<void> {
  yield* spin_lock(subs.lock);
  subs.activeInvalidateRanges--;
  if (subs.activeInvalidateRanges < 0) {
    subs.mm.world.report(SEQUENCE_PROTOCOL, `active invalidation count of ${subs.mm.name} went negative: an end without a start`, 'active-negative');
    subs.activeInvalidateRanges = 0;
  }
  if (subs.activeInvalidateRanges > 0 || !subs.fullyExcluded) {
    yield* spin_unlock(subs.lock);
    return;
  }
  subs.invalidateSeq++;
  subs.mm.world.trace?.detail(`invalidate_seq ${subs.invalidateSeq} (even: invalidation done)`);
  for (const sub of subs.deferred) {
    if (sub.membership === 'pending-insert') addToTree(subs, sub);
    else if (sub.membership === 'pending-remove') removeFromTree(subs, sub);
  }
  subs.deferred.length = 0;
  yield* spin_unlock(subs.lock);
  subs.wq.wakeAll();
}

/** Interval subscriptions overlapping [start, last], in ascending order of start. */
export function overlapping(subs: MmuNotifierSubscriptions, start: number, last: number): MmuIntervalNotifier[] {
  const out: MmuIntervalNotifier[] = [];
  for (let n = subs.itree.iterFirst(start, last); n >= 0; n = subs.itree.iterNext(n, start, last)) {
    const s = subs.intervals[subs.itree.payloadOf(n)];
    if (s !== null && s !== undefined) out.push(s);
  }
  return out;
}

/** Calls one interval callback with the oracle's bookkeeping around it. */
export function* callInvalidate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): Gen<boolean> {
  const world = range.mm!.world;
  yield world.point(nameLabel('', sub.name, '->invalidate'), sub, Access.Write);
  world.trace?.detail(`cur_seq ${curSeq}`);
  if (sub.membership === 'removed') {
    world.report(CALLBACK_AFTER_REMOVE, `${sub.name}->invalidate called after mmu_interval_notifier_remove returned`, sub.name);
  }
  if ((curSeq & 1) === 0) world.report(SEQUENCE_PROTOCOL, `${sub.name}->invalidate called with even cur_seq ${curSeq}`, `even-cur-seq:${sub.name}`);
  sub.running++;
  // The core opens no non_block section here, but the contract forbids sleeping all the same.
  const k = kernelOf(world);
  const nonblock = (range.flags & MMU_NOTIFIER_RANGE_BLOCKABLE) === 0;
  const prev = nonblock ? k.enterNonblockContract(k.current.id, nameLabel('', sub.name, '->invalidate')) : null;
  const ok = yield* sub.ops.invalidate(sub, range, curSeq);
  if (nonblock) k.leaveNonblockContract(k.current.id, prev);
  sub.running--;
  return ok;
}
