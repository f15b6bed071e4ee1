/** The folio lock as a sleeping lock: hand-over, watchers, and what lockdep sees. */
import { describe, expect, it } from 'vitest';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { spin_lock, spin_unlock, Spinlock } from '../../src/locking/spinlock.js';
import { folio_lock, folio_locks_held, folio_trylock, folio_unlock, folio_wait_locked, waitOnLockedUnderPtl } from '../../src/mm/folio-lock.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { PG_LOCKED } from '../../src/mm/frame-flags.ts';
import { kinds, run } from './helpers.ts';

interface S {
  mm: Mm;
  pfns: number[];
  log: string[];
}

function setup(n: number) {
  return (w: import('../../src/sim/world.js').World): S => {
    const mm = mm_create(w);
    const pfns: number[] = [];
    for (let i = 0; i < n; i++) pfns.push(mm.sys.frames.alloc());
    return { mm, pfns, log: [] };
  };
}

describe('folio lock', () => {
  it('trylock fails while held; folio_lock sleeps and is handed the lock by the unlocker', () => {
    const { s, w } = run((w) => ({ ...setup(1)(w), q: w.waitQueue('q') }), {
      *a(s) {
        expect(yield* folio_trylock(s.pfns[0]!)).toBe(true);
        s.log.push('a locked');
        yield s.q.block();
        s.log.push('a unlocks');
        yield* folio_unlock(s.pfns[0]!);
      },
      *b(s) {
        s.log.push(`b try ${String(yield* folio_trylock(s.pfns[0]!))}`);
        s.q.wakeOne();
        yield* folio_lock(s.pfns[0]!);
        s.log.push('b locked');
        yield* folio_unlock(s.pfns[0]!);
      },
    });
    expect(s.log).toEqual(['a locked', 'b try false', 'a unlocks', 'b locked']);
    expect(s.mm.sys.frames.testFlags(s.pfns[0]!, PG_LOCKED)).toBe(false);
    expect(kinds(w)).toEqual([]);
  });

  it('folio_wait_locked returns after the unlock without taking the lock', () => {
    const { s, w } = run((w) => ({ ...setup(1)(w), q: w.waitQueue('q') }), {
      *a(s) {
        yield* folio_lock(s.pfns[0]!);
        yield s.q.block();
        s.log.push('a unlocks');
        yield* folio_unlock(s.pfns[0]!);
      },
      *b(s) {
        yield w0(s).point('start', null);
        s.q.wakeOne();
        yield* folio_wait_locked(s.pfns[0]!);
        s.log.push(`b woke, locked=${String(s.mm.sys.frames.testFlags(s.pfns[0]!, PG_LOCKED))}`);
      },
    });
    expect(s.log).toEqual(['a unlocks', 'b woke, locked=false']);
    expect(kinds(w)).toEqual([]);
  });

  it('a task holding a folio lock sleeping on it again is a real deadlock, not a spin', () => {
    const { w } = run(setup(1), {
      *a(s) {
        yield* folio_lock(s.pfns[0]!);
        yield* folio_lock(s.pfns[0]!);
      },
    });
    expect(kinds(w)).toContain('deadlock');
  });

  it('many folios locked at once by one task are no recursive-locking report, and count as one held class', () => {
    const { s, w } = run(setup(60), {
      *a(s) {
        for (const p of s.pfns) expect(yield* folio_trylock(p)).toBe(true);
        const fresh = s.mm.sys.frames.alloc();
        yield* folio_lock(fresh); // a fresh page, locked under the others
        s.log.push(String(folio_locks_held(w0(s), w0(s).current!)));
        for (const p of s.pfns) yield* folio_unlock(p);
        s.log.push(String(folio_locks_held(w0(s), w0(s).current!)));
        yield* folio_unlock(fresh);
      },
    });
    expect(s.log).toEqual(['61', '1']);
    expect(kinds(w)).not.toContain('lockdep-recursive');
    expect(kinds(w).filter((k) => k.startsWith('lockdep'))).toEqual([]);
  });

  it('lockdep orders the folio lock against other locks: mmap lock then folio, and folio then mmap lock, is a cycle', () => {
    const { w } = run(setup(1), {
      *fault(s) {
        yield* mmap_read_lock(s.mm);
        yield* folio_lock(s.pfns[0]!);
        yield* folio_unlock(s.pfns[0]!);
        yield* mmap_read_unlock(s.mm);
      },
      *bad(s) {
        yield* folio_lock(s.pfns[0]!);
        yield* mmap_read_lock(s.mm);
        yield* mmap_read_unlock(s.mm);
        yield* folio_unlock(s.pfns[0]!);
      },
    });
    expect(kinds(w)).toContain('lockdep-circular');
  });

  it('a trylock adds no dependency into the class (a trylock cannot deadlock)', () => {
    const m = { lock: null as Mutex | null };
    const { w } = run((w) => {
      m.lock = new Mutex(w, 'drv');
      return setup(1)(w);
    }, {
      *one(s) {
        yield* mutex_lock(m.lock!);
        expect(yield* folio_trylock(s.pfns[0]!)).toBe(true);
        yield* folio_unlock(s.pfns[0]!);
        yield* mutex_unlock(m.lock!);
      },
      *two(s) {
        yield* folio_lock(s.pfns[0]!);
        yield* mutex_lock(m.lock!);
        yield* mutex_unlock(m.lock!);
        yield* folio_unlock(s.pfns[0]!);
      },
    });
    expect(kinds(w).filter((k) => k.startsWith('lockdep'))).toEqual([]);
  });

  it('sleeping on a folio lock under a spinlock is reported', () => {
    const { w } = run((w) => ({ ...setup(1)(w), sl: new Spinlock(w, 'sl') }), {
      *a(s) {
        yield* spin_lock(s.sl);
        yield* folio_lock(s.pfns[0]!);
        yield* folio_unlock(s.pfns[0]!);
        yield* spin_unlock(s.sl);
      },
    });
    expect(kinds(w).some((k) => k.includes('sleep') || k.includes('atomic'))).toBe(true);
  });

  it('an unlock by another task is legal (a bit lock has no owner) and clears the holder\'s lockdep state', () => {
    const { s, w } = run(setup(1), {
      *a(s) {
        yield* folio_lock(s.pfns[0]!);
        s.log.push('a locked');
      },
      *b(s) {
        yield w0(s).point('after a', null);
        yield* folio_unlock(s.pfns[0]!);
        s.log.push('b unlocked');
      },
    });
    expect(s.log).toEqual(['a locked', 'b unlocked']);
    expect(kinds(w)).toEqual([]);
  });

  it('unlocking a folio that is not locked is a BUG finding', () => {
    const { w } = run(setup(1), {
      *a(s) {
        yield* folio_unlock(s.pfns[0]!);
      },
    });
    expect(kinds(w)).toEqual(['bug']);
  });
});

function w0(s: S) {
  return s.mm.world;
}

describe('waitOnLockedUnderPtl (migration_entry_wait_on_locked)', () => {
  /**
   * `holder` has the folio locked and mapped; `waiter` takes the PTL, sees the mapping, and waits
   * on the folio. Meanwhile the holder unlocks it, unmaps it under the PTL (so it could be freed)
   * and locks it again as the folio's next user would. A waiter queued before the PTL drops is
   * woken by that unlock; one that drops the PTL first and looks afterwards can sleep on the next
   * user's lock for ever.
   */
  function race(queueUnderPtl: boolean, seed: number) {
    return run(
      (w) => ({ ...setup(1)(w), ptl: new Spinlock(w, 'ptl'), q: w.waitQueue('q'), mapped: true }),
      {
        *holder(s) {
          yield* folio_lock(s.pfns[0]!);
          s.q.wakeOne();
          yield* folio_unlock(s.pfns[0]!);
          yield* spin_lock(s.ptl);
          s.mapped = false; // unmapped: from here the pfn may be freed and handed out again
          yield* spin_unlock(s.ptl);
          yield* folio_lock(s.pfns[0]!); // the next user; it keeps the lock
        },
        *waiter(s) {
          yield s.q.block();
          yield* spin_lock(s.ptl);
          if (!s.mapped) {
            yield* spin_unlock(s.ptl);
          } else if (queueUnderPtl) {
            yield* waitOnLockedUnderPtl(s.pfns[0]!, s.ptl);
          } else {
            yield* spin_unlock(s.ptl);
            yield* folio_wait_locked(s.pfns[0]!);
          }
          s.log.push('waiter done');
        },
      },
      seed,
    );
  }

  it('dropping the PTL before queuing can wait on the folio\'s next user (the old order: a false hang)', () => {
    let hangs = 0;
    for (let seed = 1; seed <= 60; seed++) if (kinds(race(false, seed).w).includes('deadlock')) hangs++;
    expect(hangs).toBeGreaterThan(0);
  });

  it('queuing under the PTL never does', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { s, w } = race(true, seed);
      expect(kinds(w)).toEqual([]);
      expect(s.log).toEqual(['waiter done']);
    }
  });
});
