/**
 * Classic mmu notifiers: register (and the locked form), get/put with one instance per ops,
 * unregister, release at teardown, and the young-bit ops.
 *
 * Callback lifetimes follow SRCU: the list is walked inside an SRCU read section, so a
 * subscription being removed can still be called by a walk that began before the unlink, until
 * the grace period ends:
 *
 *     invalidation (walk)                 unregister(sub)
 *     srcu_read_lock                      ...
 *     calls sub.start ─────────────────── unlink sub
 *                                         synchronize_srcu  (waits for the walk)
 *     srcu_read_unlock ──────────────────> returns: no callback of sub runs after this
 */
import { kmalloc, GFP_KERNEL } from '../locking/alloc.js';
import { EINVAL, EOVERFLOW } from '../locking/errno.js';
import { kernelOf } from '../locking/kernel.js';
import { mmap_assert_write_locked, mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { SrcuStruct, srcu_read_lock, srcu_read_unlock, synchronize_srcu } from '../locking/srcu.js';
import { contractOf } from '../locking/version.js';
import { FindingKind } from '../sim/finding.js';
import { Access, type SimObject } from '../sim/point.js';
import { currentWorld, type World } from '../sim/world.js';
import { ULONG_MAX } from './events.js';
import type { MmStruct } from './mm.js';
import type { MmuNotifierRange } from './range.js';
import { trackMm } from './quiescence.js';
import { dropAllLocks, takeAllLocks } from './exclusion.js';
import { MmuNotifierSubscriptions } from './subscriptions.js';
import { opLabel, nameLabel } from '../sim/labels.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** `struct mmu_notifier_ops`: every callback optional. Callbacks that may sleep are generators. */
export interface MmuNotifierOps {
  /** Stops all device access and tears down every device mapping. Called once at teardown or by unregister. */
  release?(sub: MmuNotifier, mm: MmStruct): Gen<void>;
  /** 0, or -EAGAIN (only when the range is not blockable). */
  invalidate_range_start?(sub: MmuNotifier, range: MmuNotifierRange): Gen<number>;
  invalidate_range_end?(sub: MmuNotifier, range: MmuNotifierRange): Gen<void>;
  clear_flush_young?(sub: MmuNotifier, mm: MmStruct, start: number, end: number): number;
  clear_young?(sub: MmuNotifier, mm: MmStruct, start: number, end: number): number;
  test_young?(sub: MmuNotifier, mm: MmStruct, address: number): number;
  /** For IOMMUs sharing the CPU page tables; may not be combined with start/end. */
  arch_invalidate_secondary_tlbs?(sub: MmuNotifier, mm: MmStruct, start: number, end: number): void;
  /** get/put: makes the subscription for `mmu_notifier_get`. */
  alloc_notifier?(mm: MmStruct): MmuNotifier;
  /** get/put: frees it after the grace period that follows the last put. Must not sleep. */
  free_notifier?(sub: MmuNotifier): void;
}

/** `struct mmu_notifier`: one classic subscription. Extend it to carry driver state. */
export class MmuNotifier implements SimObject {
  mm: MmStruct | null = null;
  /** get/put reference count; 1 once registered. */
  users = 0;
  /** Linked into its mm's list. */
  onList = false;
  /** Set once unregister returned or the free after put ran: no callback may run after this. */
  dead = false;

  constructor(
    readonly ops: MmuNotifierOps,
    readonly name: string = 'mmu_notifier',
  ) {}
}

const SRCU_KEY = 'notifier.srcu';

/** The one SRCU domain of all mmu notifiers of a run. */
export function notifierSrcu(world: World): SrcuStruct {
  let s = world.locals.get(SRCU_KEY) as SrcuStruct | undefined;
  if (s === undefined) {
    s = new SrcuStruct(world, 'srcu');
    world.locals.set(SRCU_KEY, s);
  }
  return s;
}

/** Reports a kernel WARN_ON as a finding of kind `warn`. */
export function notifierWarn(world: World, what: string, message: string): void {
  world.report(FindingKind.Warn, `WARNING: ${message}`, what);
}

/** `mm_has_notifiers(mm)`. */
export function mm_has_notifiers(mm: MmStruct): boolean {
  return mm.notifier_subscriptions !== null;
}

/**
 * `__mmu_notifier_register(sub, mm)`: the mmap lock must be held for write. A null `sub` only
 * sets up interval-notifier support on the mm.
 */
export function* __mmu_notifier_register(sub: MmuNotifier | null, mm: MmStruct): Gen<number> {
  const world = mm.world;
  mmap_assert_write_locked(mm);
  if (mm.mm_users <= 0) {
    notifierWarn(world, 'register:no-users', `mmu_notifier_register on ${mm.name}, which has no users left`);
    return -EINVAL;
  }
  if (sub !== null && sub.ops.arch_invalidate_secondary_tlbs !== undefined && (sub.ops.invalidate_range_start !== undefined || sub.ops.invalidate_range_end !== undefined)) {
    notifierWarn(world, 'register:bad-ops', `${sub.name} has arch_invalidate_secondary_tlbs together with start/end ops`);
    return -EINVAL;
  }
  const k = kernelOf(world);
  // v5.4-v5.8 prime lockdep first thing: fs_reclaim -> the invalidate-start map.
  if (contractOf(world).primeAtRegistration && k.validating) k.lockdep.primeNotifierRegistration(k.current.id, k.where);
  let subs = mm.notifier_subscriptions;
  if (subs === null) {
    yield* kmalloc(128, GFP_KERNEL);
    subs = new MmuNotifierSubscriptions(mm, notifierSrcu(world), world);
  }
  const ex = yield* takeAllLocks(mm);
  mm.notifier_subscriptions = subs;
  trackMm(mm);
  if (sub === null) {
    subs.hasItree = true;
  } else {
    mm.mm_count++;
    sub.mm = mm;
    sub.users = 1;
    sub.dead = false;
    yield* spin_lock(subs.lock);
    subs.list.unshift(sub);
    sub.onList = true;
    yield* spin_unlock(subs.lock);
  }
  dropAllLocks(ex);
  return 0;
}

/** `mmu_notifier_register(sub, mm)`: takes the mmap lock itself; must not be called holding it. */
export function* mmu_notifier_register(sub: MmuNotifier, mm: MmStruct): Gen<number> {
  yield* mmap_write_lock(mm);
  const ret = yield* __mmu_notifier_register(sub, mm);
  yield* mmap_write_unlock(mm);
  return ret;
}

/**
 * `mmu_notifier_get_locked(ops, mm)`: the existing subscription with these ops (one more user),
 * or a new one from `ops.alloc_notifier`. The mmap lock must be held for write. Returns the
 * subscription or a negative errno.
 */
export function* mmu_notifier_get_locked(ops: MmuNotifierOps, mm: MmStruct): Gen<MmuNotifier | number> {
  mmap_assert_write_locked(mm);
  const subs = mm.notifier_subscriptions;
  if (subs !== null) {
    yield* spin_lock(subs.lock);
    const found = subs.list.find((s) => s.ops === ops && s.users > 0);
    if (found !== undefined) {
      if (found.users >= 0x7fffffff) {
        yield* spin_unlock(subs.lock);
        return -EOVERFLOW;
      }
      found.users++;
      yield* spin_unlock(subs.lock);
      return found;
    }
    yield* spin_unlock(subs.lock);
  }
  if (ops.alloc_notifier === undefined) {
    notifierWarn(mm.world, 'get:no-alloc', 'mmu_notifier_get with ops that have no alloc_notifier');
    return -EINVAL;
  }
  const sub = ops.alloc_notifier(mm);
  const ret = yield* __mmu_notifier_register(sub, mm);
  if (ret !== 0) {
    ops.free_notifier?.(sub);
    return ret;
  }
  return sub;
}

/** `mmu_notifier_get(ops, mm)`: as get_locked, taking the mmap lock. */
export function* mmu_notifier_get(ops: MmuNotifierOps, mm: MmStruct): Gen<MmuNotifier | number> {
  yield* mmap_write_lock(mm);
  const r = yield* mmu_notifier_get_locked(ops, mm);
  yield* mmap_write_unlock(mm);
  return r;
}

/**
 * `mmu_notifier_put(sub)`: drops a user; the last one unlinks the subscription and, after an SRCU
 * grace period, calls `free_notifier` and drops the mm. The grace period runs in a helper task
 * (the kernel's call_srcu callback), so put itself never sleeps.
 */
export function* mmu_notifier_put(sub: MmuNotifier): Gen<void> {
  const mm = sub.mm;
  if (mm === null || mm.notifier_subscriptions === null) {
    notifierWarn(currentWorld(), 'put:unregistered', `mmu_notifier_put on ${sub.name}, which is not registered`);
    return;
  }
  const subs = mm.notifier_subscriptions;
  yield* spin_lock(subs.lock);
  if (sub.users === 0) {
    yield* spin_unlock(subs.lock);
    notifierWarn(mm.world, 'put:underflow', `mmu_notifier_put on ${sub.name} with no users left`);
    return;
  }
  sub.users--;
  if (sub.users > 0) {
    yield* spin_unlock(subs.lock);
    return;
  }
  unlink(subs, sub);
  yield* spin_unlock(subs.lock);
  const world = mm.world;
  const srcu = subs.srcu;
  pendingFrees(world).count++;
  world.spawn(`srcu-free(${sub.name})`, srcuFree(world, srcu, sub, mm));
}

/** The call_srcu callback of a put: after a grace period, free the subscription and drop the mm. */
function* srcuFree(world: World, srcu: MmuNotifierSubscriptions['srcu'], sub: MmuNotifier, mm: MmStruct): Gen<void> {
  yield world.point('call_srcu', srcu, Access.Write);
  yield* synchronize_srcu(srcu);
  yield world.point(opLabel('free_notifier', sub.name), sub, Access.Write);
  sub.dead = true;
  sub.ops.free_notifier?.(sub);
  mm.mm_count--;
  const p = pendingFrees(world);
  p.count--;
  p.wq.wakeAll();
}

interface PendingFrees {
  count: number;
  readonly wq: ReturnType<World['waitQueue']>;
  readonly name: string;
}

function pendingFrees(world: World): PendingFrees {
  let p = world.locals.get('notifier.pendingFrees') as PendingFrees | undefined;
  if (p === undefined) {
    const obj = { count: 0, name: 'pending notifier frees' } as PendingFrees;
    (obj as { wq: unknown }).wq = world.waitQueue('mmu_notifier_synchronize', obj);
    p = obj;
    world.locals.set('notifier.pendingFrees', p);
  }
  return p;
}

/** `mmu_notifier_synchronize()`: waits for every free scheduled by put (module unload must). */
export function* mmu_notifier_synchronize(world: World): Gen<void> {
  const p = pendingFrees(world);
  yield world.point('mmu_notifier_synchronize', p, Access.Write);
  while (p.count > 0) yield p.wq.block();
}

/** Unlinks a classic subscription from its mm's list (the caller holds the lock). */
export function unlink(subs: MmuNotifierSubscriptions, sub: MmuNotifier): void {
  const i = subs.list.indexOf(sub);
  if (i >= 0) subs.list.splice(i, 1);
  sub.onList = false;
}

/**
 * `mmu_notifier_unregister(sub, mm)`: calls release if the subscription is still linked, unlinks
 * it, and waits for the grace period, after which no callback of it runs.
 */
export function* mmu_notifier_unregister(sub: MmuNotifier, mm: MmStruct): Gen<void> {
  if (sub.dead) {
    // A second unregister would drop the mm reference the first one already dropped: mm_count
    // underflows and the mm is freed under its users (the kernel's refcount checks WARN on it).
    mm.world.report(
      DOUBLE_UNREGISTER,
      `WARNING: mmu_notifier_unregister of ${sub.name} on ${mm.name}, which is already unregistered: the second mmdrop would underflow mm_count (${mm.mm_count}) and free the mm under its users`,
      `double-unregister:${sub.name}`,
    );
    return;
  }
  const subs = mm.notifier_subscriptions;
  if (subs === null) {
    notifierWarn(mm.world, 'unregister:unregistered', `mmu_notifier_unregister of ${sub.name} on ${mm.name}, which has no notifiers`);
    return;
  }
  if (sub.onList) {
    const idx = yield* srcu_read_lock(subs.srcu);
    if (sub.ops.release !== undefined) {
      yield mm.world.point(nameLabel('', sub.name, '->release'), sub, Access.Write);
      yield* sub.ops.release(sub, mm);
    }
    yield* srcu_read_unlock(subs.srcu, idx);
    yield* spin_lock(subs.lock);
    unlink(subs, sub);
    yield* spin_unlock(subs.lock);
  }
  yield* synchronize_srcu(subs.srcu);
  yield mm.world.point(`unregister(${sub.name}) returns`, sub, Access.Write);
  sub.dead = true;
  mm.mm_count--;
}

/** A notifier unregistered twice. */
export const DOUBLE_UNREGISTER = 'double-unregister';

/** `mmu_notifier_clear_flush_young(mm, start, end)`: OR of every subscription's answer. */
export function mmu_notifier_clear_flush_young(mm: MmStruct, start: number, end: number): number {
  return young(mm, (s) => s.ops.clear_flush_young?.(s, mm, start, end) ?? 0, false);
}

/** `mmu_notifier_clear_young(mm, start, end)`. */
export function mmu_notifier_clear_young(mm: MmStruct, start: number, end: number): number {
  return young(mm, (s) => s.ops.clear_young?.(s, mm, start, end) ?? 0, false);
}

/** `mmu_notifier_test_young(mm, address)`: stops at the first young answer. */
export function mmu_notifier_test_young(mm: MmStruct, address: number): number {
  return young(mm, (s) => s.ops.test_young?.(s, mm, address) ?? 0, true);
}

function young(mm: MmStruct, ask: (s: MmuNotifier) => number, firstOnly: boolean): number {
  const subs = mm.notifier_subscriptions;
  if (subs === null) return 0;
  let r = 0;
  for (const s of subs.list) {
    r |= ask(s);
    if (firstOnly && r !== 0) break;
  }
  return r;
}

/** The whole address space, for teardown. */
export const WHOLE_ADDRESS_SPACE = ULONG_MAX;
