import { describe, expect, it } from 'vitest';
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../../src/locking/mutex.js';
import { Access } from '../../src/sim/point.js';
import type { World } from '../../src/sim/world.js';
import { explore, kinds } from './helpers.js';

describe('mutex', () => {
  it('excludes: increments under the lock are never lost, in every interleaving', () => {
    type S = { m: Mutex; c: { name: string; v: number } };
    const r = explore(
      (w): S => ({ m: new Mutex(w, 'm'), c: { name: 'c', v: 0 } }),
      Object.fromEntries(
        ['t0', 't1', 't2'].map((n) => [
          n,
          function* (s: S, w: World) {
            yield* mutex_lock(s.m);
            yield w.point('load', s.c, Access.Read);
            const v = s.c.v;
            yield w.point('store', s.c, Access.Write);
            s.c.v = v + 1;
            yield* mutex_unlock(s.m);
          },
        ]),
      ),
      { check: (s) => (s.c.v === 3 ? null : `lost update: ${s.c.v}`) },
    );
    expect(kinds(r)).toEqual([]);
    expect(r.exhausted).toBe(true);
  });

  it('without the lock the same increments are lost (the test can fail)', () => {
    const r = explore(
      () => ({ c: { name: 'c', v: 0 } }),
      Object.fromEntries(
        ['t0', 't1'].map((n) => [
          n,
          function* (s: { c: { name: string; v: number } }, w: World) {
            yield w.point('load', s.c, Access.Read);
            const v = s.c.v;
            yield w.point('store', s.c, Access.Write);
            s.c.v = v + 1;
          },
        ]),
      ),
      { check: (s) => (s.c.v === 2 ? null : `lost update: ${s.c.v}`) },
    );
    expect(kinds(r)).toEqual(['check-failed']);
  });

  it('trylock fails while held and takes the lock when free', () => {
    const got: number[] = [];
    explore((w) => ({ m: new Mutex(w, 'm') }), {
      *holder(s) {
        yield* mutex_lock(s.m);
        got.push(yield* mutex_trylock(s.m));
        yield* mutex_unlock(s.m);
        got.push(yield* mutex_trylock(s.m));
        yield* mutex_unlock(s.m);
      },
    });
    expect(got).toEqual([0, 1]);
  });

  it('unlocking a mutex the task does not hold is a lockdep bad-unlock finding', () => {
    const r = explore((w) => ({ m: new Mutex(w, 'm') }), {
      *t(s) {
        yield* mutex_unlock(s.m);
      },
    });
    expect(kinds(r)).toEqual(['lockdep-bad-unlock']);
  });

  it('a task that exits holding a mutex is a lockdep finding, and its waiter deadlocks', () => {
    const r = explore((w) => ({ m: new Mutex(w, 'm') }), {
      *leaker(s) {
        yield* mutex_lock(s.m);
      },
    });
    expect(kinds(r)).toEqual(['lockdep-held-at-exit']);
  });

  it('taking the same mutex twice is recursive locking and a deadlock', () => {
    const r = explore((w) => ({ m: new Mutex(w, 'm') }), {
      *t(s) {
        yield* mutex_lock(s.m);
        yield* mutex_lock(s.m);
      },
    });
    expect(kinds(r)).toEqual(['deadlock', 'lockdep-recursive']);
    expect(r.problems.find((p) => p.kind === 'deadlock')!.message).toMatch(/t sleeps on m \(held by t\)/);
  });
});
