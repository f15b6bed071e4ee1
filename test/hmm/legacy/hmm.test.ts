/**
 * The hmm struct and its mirrors (v5.2/v5.3): registration as a classic notifier subscriber,
 * sync_cpu_device_pagetables on invalidations, release at exit, reference counting, and the
 * one behaviour the two versions differ in: what a failing non-blockable start leaves behind.
 */
import { describe, expect, it } from 'vitest';
import { EAGAIN } from '../../../src/locking/errno.js';
import { down_write, up_write } from '../../../src/locking/rwsem.js';
import { mutex_lock, mutex_unlock } from '../../../src/locking/mutex.js';
import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_UNMAP } from '../../../src/notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start_nonblock } from '../../../src/notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../../../src/notifier/range.js';
import { mm_create, sys_exit, sys_munmap, type Mm } from '../../../src/mm/index.ts';
import { mm_get_hmm, type Hmm } from '../../../src/hmm/legacy/hmm.js';
import { hmm_mirror_register, hmm_mirror_unregister } from '../../../src/hmm/legacy/mirror.js';
import { HMM_RANGE_DEFAULT_TIMEOUT } from '../../../src/hmm/legacy/kinds.js';
import { HmmRange, hmm_range_register, hmm_range_unregister, hmm_range_wait_until_valid } from '../../../src/hmm/legacy/range.js';
import type { World } from '../../../src/sim/world.js';
import { kinds, LEGACY, mapAnon, P, RecordingMirror, run, type Gen } from './helpers.js';

interface St {
  mm: Mm;
  addr: number;
  a: RecordingMirror;
  b: RecordingMirror;
  log: unknown[];
}

const setup = (w: World): St => ({ mm: mm_create(w, { name: 'mm' }), addr: 0, a: new RecordingMirror('a'), b: new RecordingMirror('b'), log: [] });

/** The OOM reaper's call pattern over [start, end): non-blocking start, end only on success. */
function* reap(mm: Mm, start: number, end: number): Gen<number> {
  const r = new MmuNotifierRange();
  mmu_notifier_range_init(r, MMU_NOTIFY_UNMAP, 0, mm, start, end);
  const ret = yield* mmu_notifier_invalidate_range_start_nonblock(r);
  if (ret === 0) yield* mmu_notifier_invalidate_range_end(r);
  return ret;
}

describe.each(LEGACY)('hmm and mirrors (%s)', (kernel) => {
  it('mirrors share one hmm, registered once as a classic notifier; the last unregister frees it', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.log.push(yield* hmm_mirror_register(s.a, s.mm), yield* hmm_mirror_register(s.b, s.mm));
        const hmm = mm_get_hmm(s.mm)!;
        s.log.push(s.a.hmm === hmm && s.b.hmm === hmm, hmm.kref, hmm.mirrors.map((m) => m.name), s.mm.notifier_subscriptions!.list.length);
        yield* hmm_mirror_unregister(s.a);
        s.log.push(mm_get_hmm(s.mm) === hmm, hmm.kref);
        yield* hmm_mirror_unregister(s.b);
        yield* hmm_mirror_unregister(s.b); // v5.2 ignores a second call
        s.log.push(mm_get_hmm(s.mm), hmm.kref, s.mm.notifier_subscriptions!.list.length);
      },
    });
    expect(s.log).toEqual([0, 0, true, 2, ['b', 'a'], 1, true, 1, null, 0, 0]);
    expect(kinds(w)).toEqual([]);
  });

  it('munmap: every mirror gets one blockable update over the range; the range is invalid only while it runs', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 2);
        yield* hmm_mirror_register(s.a, s.mm);
        yield* hmm_mirror_register(s.b, s.mm);
        const r = new HmmRange();
        yield* hmm_range_register(r, s.mm, s.addr, s.addr + P);
        yield* sys_munmap(s.mm, s.addr, 2 * P);
        s.log.push(r.valid, mm_get_hmm(s.mm)!.notifiers);
        yield* hmm_range_unregister(r);
      },
    });
    for (const m of [s.a, s.b]) {
      expect(m.updates).toEqual([{ start: s.addr, end: s.addr + 2 * P, event: MMU_NOTIFY_UNMAP, blockable: true }]);
    }
    expect(s.log).toEqual([true, 0]);
    expect(kinds(w)).toEqual([]);
  });

  it('exit: release marks the hmm dead, every range invalid, calls each mirror release once; waiters give up', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        yield* hmm_mirror_register(s.a, s.mm);
        const hmm = mm_get_hmm(s.mm)!;
        const r = new HmmRange();
        yield* hmm_range_register(r, s.mm, s.addr, s.addr + P);
        yield* sys_exit(s.mm);
        s.log.push(hmm.dead, r.valid, s.a.releases, hmm.mirrors.length);
        s.log.push(yield* hmm_range_wait_until_valid(r, HMM_RANGE_DEFAULT_TIMEOUT));
        yield* hmm_range_unregister(r);
        yield* hmm_mirror_unregister(s.a);
      },
    });
    expect(s.log).toEqual([true, false, 1, 0, false]);
    expect(kinds(w)).toEqual([]);
  });
});

describe('a failing non-blockable start: v5.2 against v5.3 (5a136b4ae327)', () => {
  function* twoMirrors(s: St): Gen<Hmm> {
    s.addr = yield* mapAnon(s.mm, 1);
    yield* hmm_mirror_register(s.a, s.mm);
    yield* hmm_mirror_register(s.b, s.mm);
    return mm_get_hmm(s.mm)!;
  }

  it.each([
    // v5.2 loses the -EAGAIN: the reaper believes the device let go, goes on and ends the invalidation.
    ['v5.2', 0],
    // v5.3 returns it and takes its own count back down; the reaper calls no end.
    ['v5.3', -EAGAIN],
  ] as const)("%s: a mirror's -EAGAIN: the start returns %d, notifiers back at 0, later mirrors skipped", (kernel, ret) => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        const hmm = yield* twoMirrors(s);
        s.b.refuseNonblocking = true; // b is first on the list (newest first)
        s.log.push(yield* reap(s.mm, s.addr, s.addr + P), hmm.notifiers);
        s.log.push([s.a, s.b].filter((m) => m.updates.length > 0).map((m) => m.name));
      },
    });
    expect(s.log).toEqual([ret, 0, ['b']]);
    expect(kinds(w)).toEqual([]);
  });

  it.each([
    ['v5.2', 1],
    ['v5.3', 0],
  ] as const)('%s: mirrors_sem contended: -EAGAIN, notifiers left at %d (no end will follow)', (kernel, notifiers) => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        const hmm = yield* twoMirrors(s);
        yield* down_write(hmm.mirrors_sem);
        s.log.push(yield* reap(s.mm, s.addr, s.addr + P), hmm.notifiers);
        yield* up_write(hmm.mirrors_sem);
      },
    });
    expect(s.log).toEqual([-EAGAIN, notifiers]);
    expect(kinds(w)).toEqual(kernel === 'v5.2' ? ['quiescence'] : []);
  });

  it('v5.2: hmm->lock contended: -EAGAIN before anything was counted; v5.3 takes its spinlock and goes on', () => {
    for (const kernel of LEGACY) {
      const { s } = run(kernel, setup, {
        *t(s) {
          const hmm = yield* twoMirrors(s);
          yield* mutex_lock(hmm.lock); // only v5.2 uses the mutex
          s.log.push(yield* reap(s.mm, s.addr, s.addr + P), hmm.notifiers);
          yield* mutex_unlock(hmm.lock);
        },
      });
      expect(s.log).toEqual(kernel === 'v5.2' ? [-EAGAIN, 0] : [0, 0]);
    }
  });

  it('the overlap test counts a range starting exactly at the update end as hit (as the kernel does)', () => {
    const { s } = run('v5.2', setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 2);
        yield* hmm_mirror_register(s.a, s.mm);
        const r = new HmmRange();
        yield* hmm_range_register(r, s.mm, s.addr + P, s.addr + 2 * P);
        const nr = new MmuNotifierRange();
        mmu_notifier_range_init(nr, MMU_NOTIFY_CLEAR, 0, s.mm, s.addr, s.addr + P);
        yield* mmu_notifier_invalidate_range_start_nonblock(nr);
        s.log.push(r.valid);
        yield* mmu_notifier_invalidate_range_end(nr);
        s.log.push(r.valid);
        yield* hmm_range_unregister(r);
      },
    });
    expect(s.log).toEqual([false, true]);
  });
});
