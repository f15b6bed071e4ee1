/**
 * The mmu_notifier ops hmm registers on its mm: invalidate_range_start/end and release, as in
 * mm/hmm.c of v5.2 and v5.3. The two versions differ only in what a failing non-blockable start
 * leaves behind:
 *
 *     non-blockable start                  v5.2                         v5.3 (5a136b4ae327)
 *     hmm->lock trylock fails              -EAGAIN, nothing changed     (a spinlock: always taken)
 *     notifiers++, ranges invalid          done                         done
 *     mirrors_sem trylock fails            -EAGAIN, notifiers stays up  -EAGAIN, notifiers unwound
 *     a mirror's sync returns -EAGAIN      returns 0 (the error is      -EAGAIN, notifiers unwound
 *                                          lost), later mirrors skipped
 *
 * Before v5.12 a caller whose non-blockable start failed calls no end, so in v5.2 a raised count
 * stays raised for good (every range invalid, wait_until_valid times out for ever), and a lost
 * -EAGAIN lets the OOM reaper free pages a device still maps.
 */
import { EAGAIN } from '../../locking/errno.js';
import { down_read, down_read_trylock, down_write, up_read, up_write } from '../../locking/rwsem.js';
import { notifierWarn, type MmuNotifier, type MmuNotifierOps } from '../../notifier/classic.js';
import { mmu_notifier_range_blockable, type MmuNotifierRange } from '../../notifier/range.js';
import { Access } from '../../sim/point.js';
import { lockRanges, unlockRanges, usesRangesSpinlock, type Hmm, type HmmNotifier } from './hmm.js';
import type { HmmUpdate } from './mirror.js';

type Gen<T> = Generator<unknown, T, unknown>;

function hmmOf(sub: MmuNotifier): Hmm {
  return (sub as HmmNotifier).hmm;
}

/**
 * `notifiers--`; the last one marks every range valid again and wakes the waiters. The kernel
 * does that just before dropping the lock; the model does it in the unlock's own step, which is
 * the same atomic section seen from outside, so no driver can program its device while hmm's end
 * callback is still formally running (the coherence oracle would take that for a mapping inside
 * the invalidation window, though the CPU side is done).
 */
function* notifiersDecrement(hmm: Hmm): Gen<void> {
  // v5.2's end takes the mutex even for a non-blockable range (nothing checked it then).
  yield* lockRanges(hmm);
  const w = hmm.mm.world;
  yield w.point(`${hmm.name}: notifiers ${hmm.notifiers} -> ${hmm.notifiers - 1}${hmm.notifiers === 1 ? ', then every range valid = true, wake_up_all' : ''}`, hmm, Access.Write);
  hmm.notifiers--;
  const last = hmm.notifiers === 0;
  yield* unlockRanges(hmm);
  if (last) {
    w.touchUndeclared(); // the unlock's step writes every range's valid flag and wakes the waiters
    for (const r of hmm.ranges) r.valid = true;
    hmm.wq.wakeAll();
  }
}

function* start(sub: MmuNotifier, nrange: MmuNotifierRange): Gen<number> {
  const hmm = hmmOf(sub);
  const w = hmm.mm.world;
  if (hmm.kref === 0) return 0; // being freed: nothing of it is in use
  const blockable = mmu_notifier_range_blockable(nrange);
  const update: HmmUpdate = { start: nrange.start, end: nrange.end, event: nrange.event, blockable };
  const fixed = usesRangesSpinlock(hmm);
  if (!(yield* lockRanges(hmm, blockable))) return -EAGAIN;
  yield w.point(`${hmm.name}: notifiers ${hmm.notifiers} -> ${hmm.notifiers + 1}, overlapping ranges valid = false`, hmm, Access.Write);
  hmm.notifiers++;
  for (const r of hmm.ranges) {
    // The kernel's overlap test counts a range starting exactly at update.end as overlapping.
    if (update.end < r.start || update.start >= r.end) continue;
    r.valid = false;
  }
  yield* unlockRanges(hmm);

  let ret = 0;
  let locked = true;
  if (blockable) yield* down_read(hmm.mirrors_sem);
  else if ((yield* down_read_trylock(hmm.mirrors_sem)) === 0) {
    ret = -EAGAIN;
    locked = false;
  }
  if (locked) {
    for (const mirror of hmm.mirrors.slice()) {
      const rc = yield* mirror.ops.sync_cpu_device_pagetables(mirror, update);
      if (rc === 0) continue;
      if (fixed) {
        if (blockable || rc !== -EAGAIN) {
          notifierWarn(w, `hmm-sync-fail:${mirror.name}`, `${mirror.name}->sync_cpu_device_pagetables returned ${rc} on ${blockable ? 'a blockable' : 'a non-blockable'} update; only -EAGAIN on a non-blockable one is allowed`);
          continue;
        }
        ret = -EAGAIN;
        break;
      }
      if (!blockable && rc === -EAGAIN) {
        // v5.2 sets a shadowing local and returns the outer 0: the core believes the device let go.
        yield w.point(`${hmm.name}: ${mirror.name}'s -EAGAIN is lost, start returns 0 (v5.2)`, hmm.mirrors_sem, Access.Read);
        break;
      }
    }
    yield* up_read(hmm.mirrors_sem);
  }
  if (ret !== 0 && fixed) yield* notifiersDecrement(hmm);
  return ret;
}

function* end(sub: MmuNotifier): Gen<void> {
  const hmm = hmmOf(sub);
  if (hmm.kref === 0) return;
  yield* notifiersDecrement(hmm);
}

function* release(sub: MmuNotifier): Gen<void> {
  const hmm = hmmOf(sub);
  const w = hmm.mm.world;
  if (hmm.kref === 0) return;
  yield* lockRanges(hmm, true);
  yield w.point(`${hmm.name}: dead, every range valid = false, wake_up_all`, hmm, Access.Write);
  hmm.dead = true;
  for (const r of hmm.ranges) r.valid = false;
  hmm.wq.wakeAll();
  yield* unlockRanges(hmm);
  yield* down_write(hmm.mirrors_sem);
  for (;;) {
    const mirror = hmm.mirrors.shift();
    if (mirror === undefined) break;
    if (mirror.ops.release === undefined) continue;
    // Dropped around the callback, which may wait for work that itself invalidates.
    yield* up_write(hmm.mirrors_sem);
    yield* mirror.ops.release(mirror);
    yield* down_write(hmm.mirrors_sem);
  }
  yield* up_write(hmm.mirrors_sem);
}

/** `hmm_mmu_notifier_ops`. */
export const hmm_mmu_notifier_ops: MmuNotifierOps = {
  release,
  invalidate_range_start: start,
  invalidate_range_end: end,
};
