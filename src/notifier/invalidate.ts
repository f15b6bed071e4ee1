/**
 * `mmu_notifier_invalidate_range_start` (blocking and non-blocking) and `_end`: the algorithm of
 * spec §2.3/§2.4, under the run's kernel contract version, with the pairing oracle around it.
 *
 * Start runs the interval step, then the classic walk:
 *
 *     start(range)
 *       interval step (if the mm has interval notifiers): active++, seq odd if any overlaps;
 *         call each overlapping invalidate(); a false on a non-blockable range stops here:
 *         close the interval step and return -EAGAIN (classic subscriptions see nothing)
 *       classic walk: start() on every subscription, newest first; a failure never stops the walk
 *         current contract: if any failed, end() on every subscription that has one, return -EAGAIN
 *         before v5.12:    if any failed, return -EAGAIN and nobody gets end
 *
 * Nesting: a caller may start an invalidation while its own is open (a huge PMD split inside
 * munmap's or madvise's range). The trace shows it: the start and end points of a nested range
 * say `(nested in <outer range>)`, the innermost open range of the same task.
 *
 * The caller of a failed non-blocking start must not touch the range and must not call end. A
 * classic failure after a successful interval step leaves the interval step open (observed in
 * the kernel source); the oracle reports that as `kernel-itree-leak`.
 */
import { EAGAIN, errnoName } from '../locking/errno.js';
import { kernelOf } from '../locking/kernel.js';
import { lock_map_acquire, lock_map_release, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP } from '../locking/lockdep-maps.js';
import { might_sleep, non_block_end, non_block_start } from '../locking/sleep.js';
import { srcu_read_lock, srcu_read_unlock } from '../locking/srcu.js';
import { contractOf, type KernelContract } from '../locking/version.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { notifierWarn, type MmuNotifier } from './classic.js';
import { MMU_NOTIFIER_RANGE_BLOCKABLE } from './events.js';
import { enterInvalidation, exclusionOf, leaveInvalidation } from './exclusion.js';
import { CALLBACK_AFTER_UNREGISTER, KERNEL_ITREE_LEAK, UNPAIRED_INVALIDATE } from './kinds.js';
import { callInvalidate, mn_itree_inv_end, mn_itree_inv_start_range, overlapping } from './interval.js';
import type { MmuNotifierRange } from './range.js';
import type { InvalidationInstance, MmuNotifierSubscriptions } from './subscriptions.js';
import { nameLabel } from '../sim/labels.js';

type Gen<T> = Generator<unknown, T, unknown>;


function blockable(range: MmuNotifierRange): boolean {
  return (range.flags & MMU_NOTIFIER_RANGE_BLOCKABLE) !== 0;
}

/** `mmu_notifier_invalidate_range_start(range)`: blockable; always followed by exactly one end. */
export function* mmu_notifier_invalidate_range_start(range: MmuNotifierRange): Gen<void> {
  const world = range.mm!.world;
  const c = contractOf(world);
  if (c.notifierAnnotations) might_sleep();
  range.flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
  yield* startCommon(range, c, world);
}

/**
 * `mmu_notifier_invalidate_range_start_nonblock(range)`: 0, or -EAGAIN when a callback would
 * have to sleep. After -EAGAIN the caller must leave the range alone and not call end.
 */
export function* mmu_notifier_invalidate_range_start_nonblock(range: MmuNotifierRange): Gen<number> {
  const world = range.mm!.world;
  const c = contractOf(world);
  range.flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
  return yield* startCommon(range, c, world);
}

/** Open invalidation ranges per task id, innermost last (for the nesting shown in traces). */
const openByWorld = new WeakMap<World, Map<number, MmuNotifierRange[]>>();

function openStack(world: World): MmuNotifierRange[] | null {
  const t = world.current;
  if (t === null) return null;
  let m = openByWorld.get(world);
  if (m === undefined) {
    m = new Map();
    openByWorld.set(world, m);
    world.resetHooks.push(() => m!.clear());
  }
  let s = m.get(t.id);
  if (s === undefined) {
    s = [];
    m.set(t.id, s);
  }
  return s;
}

function nestedSuffix(stack: readonly MmuNotifierRange[] | null, range: MmuNotifierRange): string {
  if (stack === null) return '';
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i] !== range) return ` (nested in ${stack[i]!})`;
  return '';
}

function* startCommon(range: MmuNotifierRange, c: KernelContract, world: World): Gen<number> {
  const mm = range.mm!;
  const ex = exclusionOf(mm);
  const stack = openStack(world);
  yield world.point(`invalidate_range_start ${range}${nestedSuffix(stack, range)}`, ex, Access.Write);
  stack?.push(range);
  // The map is taken even when the mm has no notifiers, so lockdep learns the order early.
  if (c.notifierAnnotations) lock_map_acquire(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
  yield* enterInvalidation(ex);
  let ret = 0;
  const subs = mm.notifier_subscriptions;
  if (subs !== null) {
    const inst: InvalidationInstance = { range, started: new Map(), ended: new Set(), itreeEntered: false, itreeExited: false };
    subs.open.add(inst);
    ret = yield* coreStart(subs, range, inst, c);
    // A blocking caller ignores the result and calls end as usual (the failure was a WARN).
    if (ret !== 0 && !blockable(range)) retireFailed(subs, inst, c, world);
  }
  if (ret !== 0 && !blockable(range)) {
    leaveInvalidation(ex);
    popRange(stack, range);
  }
  if (c.notifierAnnotations) lock_map_release(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
  return blockable(range) ? 0 : ret;
}

function* coreStart(subs: MmuNotifierSubscriptions, range: MmuNotifierRange, inst: InvalidationInstance, c: KernelContract): Gen<number> {
  if (subs.hasItree) {
    const ret = yield* itreeInvalidate(subs, range, inst);
    if (ret !== 0) return ret;
  }
  if (subs.list.length === 0) return 0;
  const ret = yield* hlistStart(subs, range, inst, c);
  if (ret !== 0 && !blockable(range) && !c.itreeLeakOnHlistEagain && inst.itreeEntered && !inst.itreeExited) {
    // The what-if fix: the caller will call no end, so close the interval step here.
    yield* mn_itree_inv_end(subs);
    inst.itreeExited = true;
  }
  return ret;
}

function* itreeInvalidate(subs: MmuNotifierSubscriptions, range: MmuNotifierRange, inst: InvalidationInstance): Gen<number> {
  const curSeq = yield* mn_itree_inv_start_range(subs, range);
  inst.itreeEntered = true;
  for (const sub of overlapping(subs, range.start, range.end - 1)) {
    const ok = yield* callInvalidate(sub, range, curSeq);
    if (ok) continue;
    if (blockable(range)) {
      notifierWarn(subs.mm.world, `interval-false-blockable:${sub.name}`, `${sub.name}->invalidate returned false on a blockable range ${range}`);
      continue;
    }
    yield* mn_itree_inv_end(subs);
    inst.itreeExited = true;
    return -EAGAIN;
  }
  return 0;
}

function* hlistStart(subs: MmuNotifierSubscriptions, range: MmuNotifierRange, inst: InvalidationInstance, c: KernelContract): Gen<number> {
  const world = subs.mm.world;
  const canBlock = blockable(range);
  let failed = 0;
  const idx = yield* srcu_read_lock(subs.srcu);
  // An RCU walk sees the list as it was when it began; the read conflicts with links and unlinks.
  yield world.point('walk notifier list', subs.lock, Access.Read);
  for (const sub of subs.list.slice()) {
    const start = sub.ops.invalidate_range_start;
    if (start === undefined) continue;
    yield world.point(nameLabel('', sub.name, '->invalidate_range_start'), sub, Access.Write);
    checkAlive(world, sub, 'invalidate_range_start');
    if (!canBlock && c.notifierAnnotations) non_block_start();
    const ret = yield* start(sub, range);
    if (!canBlock && c.notifierAnnotations) non_block_end();
    inst.started.set(sub, ret);
    if (ret === 0) continue;
    if (c.notifierAnnotations) {
      if (canBlock) notifierWarn(world, `fail-in-blockable:${sub.name}`, `${sub.name}->invalidate_range_start returned ${errnoName(ret)} on a blockable range ${range}`);
      if (ret !== -EAGAIN) notifierWarn(world, `bad-errno:${sub.name}`, `${sub.name}->invalidate_range_start returned ${errnoName(ret)}; only -EAGAIN is allowed`);
    }
    if (c.eagainEndPairing === 'all-with-end' && sub.ops.invalidate_range_end !== undefined) {
      notifierWarn(world, `fail-with-end-op:${sub.name}`, `${sub.name}->invalidate_range_start failed but it has an invalidate_range_end op, which will be called without a successful start`);
    }
    failed = ret;
  }
  if (failed !== 0 && c.eagainEndPairing === 'all-with-end') yield* callEnds(subs, range, inst, c, true);
  yield* srcu_read_unlock(subs.srcu, idx);
  return failed;
}

function popRange(stack: MmuNotifierRange[] | null, range: MmuNotifierRange): void {
  if (stack === null) return;
  const i = stack.lastIndexOf(range);
  if (i >= 0) stack.splice(i, 1);
}

/** `mmu_notifier_invalidate_range_end(range)`. */
export function* mmu_notifier_invalidate_range_end(range: MmuNotifierRange): Gen<void> {
  const mm = range.mm!;
  const world = mm.world;
  const c = contractOf(world);
  const canBlock = blockable(range);
  if (canBlock && c.notifierAnnotations) might_sleep();
  const ex = exclusionOf(mm);
  const stack = openStack(world);
  popRange(stack, range);
  yield world.point(`invalidate_range_end ${range}${nestedSuffix(stack, range)}`, ex, Access.Write);
  const subs = mm.notifier_subscriptions;
  let inst: InvalidationInstance | undefined;
  if (subs !== null) for (const i of subs.open) if (i.range === range) inst = i;
  if (subs === null || inst === undefined) {
    if (ex.open > 0 && subs === null) {
      leaveInvalidation(ex); // an mm without notifiers: nothing to call
      return;
    }
    notifierWarn(world, 'end-without-start', `mmu_notifier_invalidate_range_end(${range}) without a matching start in progress`);
    return;
  }
  if (c.notifierAnnotations) lock_map_acquire(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
  if (subs.hasItree && inst.itreeEntered && !inst.itreeExited) {
    yield* mn_itree_inv_end(subs);
    inst.itreeExited = true;
  }
  if (subs.list.length > 0) {
    const idx = yield* srcu_read_lock(subs.srcu);
    yield* callEnds(subs, range, inst, c, false);
    yield* srcu_read_unlock(subs.srcu, idx);
  }
  if (c.notifierAnnotations) lock_map_release(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
  retire(subs, inst, world);
  leaveInvalidation(ex);
}

/**
 * Calls end on every classic subscription that has one, inside the caller's SRCU section. A
 * regular end on a non-blockable range runs in a non_block section (v5.4+); a compensating end
 * after a failed start does not, but the non-blocking contract still holds for it.
 */
function* callEnds(subs: MmuNotifierSubscriptions, range: MmuNotifierRange, inst: InvalidationInstance, c: KernelContract, compensating: boolean): Gen<void> {
  const world = subs.mm.world;
  const k = kernelOf(world);
  const canBlock = blockable(range);
  yield world.point('walk notifier list', subs.lock, Access.Read);
  for (const sub of subs.list.slice()) {
    const end = sub.ops.invalidate_range_end;
    if (end === undefined) continue;
    yield world.point(nameLabel('', sub.name, '->invalidate_range_end'), sub, Access.Write);
    checkAlive(world, sub, 'invalidate_range_end');
    const sectioned = !canBlock && !compensating && c.notifierAnnotations;
    const contract = !canBlock && compensating;
    if (sectioned) non_block_start();
    const prev = contract ? k.enterNonblockContract(k.current.id, `${sub.name}->invalidate_range_end (compensating)`) : null;
    // The CPU side is final before end is called: the subscriber's window closes here, so its end
    // callback may map again (KVM's does, once its in-progress count drops).
    inst.ended.add(sub);
    yield* end(sub, range);
    if (contract) k.leaveNonblockContract(k.current.id, prev);
    if (sectioned) non_block_end();
  }
}

/** A callback on a subscription whose unregister already returned breaks the SRCU promise. */
function checkAlive(world: World, sub: MmuNotifier, op: string): void {
  if (sub.dead) world.report(CALLBACK_AFTER_UNREGISTER, `${sub.name}->${op} called after its unregister returned`, `${sub.name}:${op}`);
}

/** INV-C1: every subscription with an end op that got a successful start, and stayed linked, got exactly one end. */
function checkPairing(inst: InvalidationInstance, world: World, why: string): void {
  for (const [sub, ret] of inst.started) {
    if (ret !== 0 || sub.ops.invalidate_range_end === undefined || !sub.onList) continue;
    if (inst.ended.has(sub)) continue;
    world.report(
      UNPAIRED_INVALIDATE,
      `${sub.name} received invalidate_range_start for ${inst.range} and will never receive the matching end (${why})`,
      `${sub.name}:unpaired`,
    );
  }
}

function retire(subs: MmuNotifierSubscriptions, inst: InvalidationInstance, world: World): void {
  subs.open.delete(inst);
  checkPairing(inst, world, 'end skipped it');
}

function retireFailed(subs: MmuNotifierSubscriptions, inst: InvalidationInstance, c: KernelContract, world: World): void {
  subs.open.delete(inst);
  checkPairing(inst, world, `another subscription's start failed, and under contract ${c.name} the caller then calls no end`);
  if (inst.itreeEntered && !inst.itreeExited) {
    world.report(
      KERNEL_ITREE_LEAK,
      `a classic start failed after the interval step of ${inst.range} succeeded: the core returns -EAGAIN without closing the interval step, so ${subs.mm.name}'s active invalidation count stays raised${subs.fullyExcluded ? ' and its sequence stays odd' : ''} (a kernel-side leak)`,
      `${subs.mm.name}:itree-leak`,
    );
  }
}
