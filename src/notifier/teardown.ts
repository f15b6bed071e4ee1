/**
 * Teardown of an mm's notifiers (`mmu_notifier_release`, the first thing exit_mmap does).
 */
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { srcu_read_lock, srcu_read_unlock, synchronize_srcu } from '../locking/srcu.js';
import { Access } from '../sim/point.js';
import { notifierWarn, unlink } from './classic.js';
import { MMU_NOTIFIER_RANGE_BLOCKABLE, MMU_NOTIFY_RELEASE, ULONG_MAX } from './events.js';
import { callInvalidate, mn_itree_inv_end, mn_itree_inv_start_range, overlapping } from './interval.js';
import type { MmStruct } from './mm.js';
import { MmuNotifierRange, mmu_notifier_range_init } from './range.js';
import { nameLabel } from '../sim/labels.js';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * Teardown (`mmu_notifier_release(mm)`, first thing in exit_mmap): one blockable RELEASE
 * invalidation of [0, MAX) for interval notifiers (they stay in the tree), then `release` for
 * every classic subscription, unlinking them all, then a grace period so no page is freed while
 * a release is running.
 */
export function* mmu_notifier_release(mm: MmStruct): Gen<void> {
  const subs = mm.notifier_subscriptions;
  if (subs === null) return;
  if (subs.hasItree) yield* itreeRelease(mm);
  if (subs.list.length === 0) return;
  const idx = yield* srcu_read_lock(subs.srcu);
  yield mm.world.point('walk notifier list', subs.lock, Access.Read);
  for (const sub of subs.list.slice()) {
    if (sub.ops.release === undefined) continue;
    yield mm.world.point(nameLabel('', sub.name, '->release'), sub, Access.Write);
    yield* sub.ops.release(sub, mm);
  }
  yield* srcu_read_unlock(subs.srcu, idx);
  yield* spin_lock(subs.lock);
  for (const sub of subs.list.slice()) unlink(subs, sub);
  yield* spin_unlock(subs.lock);
  yield* synchronize_srcu(subs.srcu);
}

/**
 * The RELEASE invalidation of the whole address space at teardown: every callback must succeed;
 * subscriptions stay in the tree until their drivers remove them.
 */
function* itreeRelease(mm: MmStruct): Gen<void> {
  const subs = mm.notifier_subscriptions!;
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_RELEASE, MMU_NOTIFIER_RANGE_BLOCKABLE, mm, 0, ULONG_MAX);
  const seq = yield* mn_itree_inv_start_range(subs, range);
  for (const sub of overlapping(subs, 0, ULONG_MAX)) {
    const ok = yield* callInvalidate(sub, range, seq);
    if (!ok) notifierWarn(mm.world, 'release:callback-failed', `${sub.name}->invalidate returned false for the RELEASE invalidation`);
  }
  yield* mn_itree_inv_end(subs);
}
