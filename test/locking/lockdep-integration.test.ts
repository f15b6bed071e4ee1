import { describe, expect, it } from 'vitest';
import { GFP_KERNEL, GFP_NOFS, GFP_NOWAIT, kmalloc, memalloc_noreclaim_restore, memalloc_noreclaim_save } from '../../src/locking/alloc.js';
import { setLockdepMode } from '../../src/locking/kernel.js';
import { lock_map_acquire, lock_map_release, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP } from '../../src/locking/lockdep-maps.js';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { non_block_end, non_block_start } from '../../src/locking/sleep.js';
import { Spinlock, spin_lock, spin_unlock } from '../../src/locking/spinlock.js';
import type { World } from '../../src/sim/world.js';
import { explore, kinds } from './helpers.js';

/** A notifier-like start (under the start map, takes the driver lock) and an ioctl-like path that allocates under it. */
function reclaimCase(gfp: number, noreclaimScope = false) {
  return explore(
    (w: World) => ({ driver: new Mutex(w, 'driver_lock') }),
    {
      *invalidate(s) {
        lock_map_acquire(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
        yield* mutex_lock(s.driver);
        yield* mutex_unlock(s.driver);
        lock_map_release(MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP);
      },
      *ioctl(s) {
        yield* mutex_lock(s.driver);
        const saved = noreclaimScope ? memalloc_noreclaim_save() : 0;
        yield* kmalloc(64, gfp);
        if (noreclaimScope) memalloc_noreclaim_restore(saved);
        yield* mutex_unlock(s.driver);
      },
    },
    // One run, no preemption: the two paths run one after the other and reclaim never happens.
    { legs: [{ name: 'dfs', preemptionBound: 0 }], runs: 1 },
  );
}

describe('lockdep through the locking layer', () => {
  it('driver lock under the invalidate-start map + the same lock across GFP_KERNEL: a cycle through fs_reclaim in a single run', () => {
    const r = reclaimCase(GFP_KERNEL);
    expect(r.runs).toBe(1);
    expect(kinds(r)).toEqual(['lockdep-circular']);
    expect(r.problems[0]!.message).toMatch(/fs_reclaim/);
    expect(r.problems[0]!.message).toMatch(/driver_lock/);
  });

  it('the same with GFP_NOFS', () => {
    expect(kinds(reclaimCase(GFP_NOFS))).toEqual(['lockdep-circular']);
  });

  it('no report with GFP_NOWAIT, or under a noreclaim scope', () => {
    expect(kinds(reclaimCase(GFP_NOWAIT))).toEqual([]);
    expect(kinds(reclaimCase(GFP_KERNEL, true))).toEqual([]);
  });

  it('a mutex taken inside a non-block section is sleeping in invalid context', () => {
    const r = explore((w) => ({ m: new Mutex(w, 'm') }), {
      *t(s) {
        non_block_start();
        yield* mutex_lock(s.m);
        yield* mutex_unlock(s.m);
        non_block_end();
      },
    });
    expect(kinds(r)).toEqual(['sleep-in-atomic']);
    expect(r.problems[0]!.message).toMatch(/sleeping function called from invalid context/);
  });

  it('the same mutex outside the section is fine', () => {
    const r = explore((w) => ({ m: new Mutex(w, 'm') }), {
      *t(s) {
        non_block_start();
        non_block_end();
        yield* mutex_lock(s.m);
        yield* mutex_unlock(s.m);
      },
    });
    expect(kinds(r)).toEqual([]);
  });

  it('sleeping while holding a spinlock is sleeping in invalid context, and a mutex under a spinlock an invalid wait context', () => {
    const r = explore((w) => ({ l: new Spinlock(w, 'l'), m: new Mutex(w, 'm') }), {
      *t(s) {
        yield* spin_lock(s.l);
        yield* mutex_lock(s.m);
        yield* mutex_unlock(s.m);
        yield* spin_unlock(s.l);
      },
    });
    expect(kinds(r)).toEqual(['lockdep-wait-context', 'sleep-in-atomic']);
  });

  it('with lockdep off, the inverted order is only found if the deadlock happens', () => {
    const abba = (mode: 'off' | 'exploration', preemptionBound: number) =>
      explore(
        (w: World) => {
          setLockdepMode(w, mode);
          return { a: new Mutex(w, 'A'), b: new Mutex(w, 'B') };
        },
        {
          *ab(s) {
            yield* mutex_lock(s.a);
            yield* mutex_lock(s.b);
            yield* mutex_unlock(s.b);
            yield* mutex_unlock(s.a);
          },
          *ba(s) {
            yield* mutex_lock(s.b);
            yield* mutex_lock(s.a);
            yield* mutex_unlock(s.a);
            yield* mutex_unlock(s.b);
          },
        },
        { legs: [{ name: 'dfs', preemptionBound }] },
      );
    expect(kinds(abba('exploration', 0))).toEqual(['lockdep-circular']);
    expect(kinds(abba('off', 0))).toEqual([]);
    expect(kinds(abba('off', 1))).toEqual(['deadlock']);
  });
});
