/**
 * The mirror's interval notifier (dmirror §1.5): one per open file, over the whole address space
 * of the opener's mm.
 *
 *     invalidate(range, cur_seq):
 *       MIGRATE event whose owner is this mirror's device  -> true, nothing else: the device's
 *           own migrations keep the table up to date by hand (finalize stores, the copy back
 *           erases). The test is against the device, so every file of that device skips it.
 *       blockable ? mutex_lock : mutex_trylock, or false ("cannot now")
 *       set_seq(cur_seq); erase pt entries start>>PAGE_SHIFT .. end>>PAGE_SHIFT inclusive
 *           (one page past the exclusive end: the kernel's loop bound, kept bit-exact)
 *       unlock; true
 *
 * The `ignores-notifier` variant returns true without erasing anything: a deliberately broken
 * driver that the selftest port must catch.
 */
import { mutex_lock, mutex_trylock, mutex_unlock } from '../../locking/mutex.js';
import { MMU_NOTIFY_MIGRATE } from '../../notifier/events.js';
import { MmuIntervalNotifier, mmu_interval_set_seq, type MmuIntervalNotifierOps } from '../../notifier/interval.js';
import { mmu_notifier_range_blockable } from '../../notifier/range.js';
import { Access } from '../../sim/point.js';
import { PAGE_SIZE } from '../../mm/constants.ts';
import type { Dmirror } from './mirror.ts';

const ops: MmuIntervalNotifierOps = {
  *invalidate(sub, range, curSeq) {
    const dmirror = (sub as DmirrorNotifier).dmirror;
    if (range.event === MMU_NOTIFY_MIGRATE && range.owner === dmirror.mdevice) return true;
    if (dmirror.mdevice.variant === 'ignores-notifier') return true;
    if (mmu_notifier_range_blockable(range)) yield* mutex_lock(dmirror.mutex);
    else if ((yield* mutex_trylock(dmirror.mutex)) === 0) return false;
    mmu_interval_set_seq(sub, curSeq);
    yield dmirror.world.point(`${dmirror.name}: erase pt [0x${range.start.toString(16)}, 0x${range.end.toString(16)}]`, dmirror.pt, Access.Write);
    dmirror.pt.eraseRange(Math.floor(range.start / PAGE_SIZE), Math.floor(Math.min(range.end, 2 ** 53) / PAGE_SIZE));
    yield* mutex_unlock(dmirror.mutex);
    return true;
  },
};

/** The mirror's interval subscription. */
export class DmirrorNotifier extends MmuIntervalNotifier {
  constructor(
    readonly dmirror: Dmirror,
    name: string,
  ) {
    super(ops, name);
  }
}

/** A short-lived subscription of SNAPSHOT: its callback only bumps the sequence, under the mutex. */
export class DmirrorRangeNotifier extends MmuIntervalNotifier {
  constructor(
    readonly dmirror: Dmirror,
    name: string,
  ) {
    super(rangeOps, name);
  }
}

const rangeOps: MmuIntervalNotifierOps = {
  *invalidate(sub, range, curSeq) {
    const dmirror = (sub as DmirrorRangeNotifier).dmirror;
    if (mmu_notifier_range_blockable(range)) yield* mutex_lock(dmirror.mutex);
    else if ((yield* mutex_trylock(dmirror.mutex)) === 0) return false;
    mmu_interval_set_seq(sub, curSeq);
    yield* mutex_unlock(dmirror.mutex);
    return true;
  },
};
