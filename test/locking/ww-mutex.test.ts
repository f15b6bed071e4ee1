/**
 * ww_mutex: the kernel selftest's wound/wait family (lib/locking-selftest.c, ww_tests) with its
 * verdicts, run single-task through the real primitives (FAILURE = lockdep or a ww debug check
 * reported, which switches validation off); and the -EDEADLK back-off protocol under every
 * interleaving of two and three tasks, for both wait-die and wound-wait classes.
 */
import { describe, expect, it } from 'vitest';
import { setLockdepMode } from '../../src/locking/kernel.js';
import { EALREADY, EDEADLK } from '../../src/locking/errno.js';
import { Spinlock, spin_lock, spin_lock_nest_lock, spin_unlock } from '../../src/locking/spinlock.js';
import {
  DEFINE_WD_CLASS,
  DEFINE_WW_CLASS,
  WwAcquireCtx,
  WwMutex,
  ww_acquire_done,
  ww_acquire_fini,
  ww_acquire_init,
  ww_mutex_base_lock,
  ww_mutex_base_unlock,
  ww_mutex_lock,
  ww_mutex_lock_slow,
  ww_mutex_trylock,
  ww_mutex_unlock,
  type WwClass,
} from '../../src/locking/ww-mutex.js';
import { Access } from '../../src/sim/point.js';
import type { World } from '../../src/sim/world.js';
import { explore, kinds } from './helpers.js';

const ww_lockdep = DEFINE_WD_CLASS('ww_lockdep');

interface S {
  o: WwMutex;
  o2: WwMutex;
  o3: WwMutex;
  A: Spinlock;
  /** X1 of class X, Y1 and Y2 of class Y, as the selftest's init_class_X / _Y set them up. */
  X1: Spinlock;
  Y1: Spinlock;
  Y2: Spinlock;
  w: World;
  rets: number[];
}

type Case = (s: S, t: WwAcquireCtx) => Generator<unknown, void, unknown>;

/** `o2` held through a context older than `t`, with lockdep told nothing (the selftest's setup). */
function* heldByOlder(s: S, lock: WwMutex, t: WwAcquireCtx, t2: WwAcquireCtx): Generator<unknown, void, unknown> {
  yield* ww_mutex_base_lock(lock);
  const k = lock.k;
  k.lockdep.release(k.current.id, lock.dep, k.where);
  lock.ctx = t2;
  void s;
  void t;
}

/** Undo heldByOlder: drop the fake context, re-tell lockdep (as a trylock), unlock the base. */
function* releaseOlder(lock: WwMutex): Generator<unknown, void, unknown> {
  lock.ctx = null;
  const k = lock.k;
  k.lockdep.lockAcquire(k.current.id, lock.dep, 0, true, 0, true, null, k.where);
  yield* ww_mutex_base_unlock(lock);
}

/** t2 = t; t2.stamp-- : an older context with the same state. */
function older(t: WwAcquireCtx): WwAcquireCtx {
  const t2 = Object.assign(new WwAcquireCtx(), t);
  t2.stamp--;
  return t2;
}

function* edeadlkSetup(s: S, t: WwAcquireCtx, alsoO3 = false): Generator<unknown, WwAcquireCtx, unknown> {
  const t2 = new WwAcquireCtx();
  yield* heldByOlder(s, s.o2, t, t2);
  if (alsoO3) yield* heldByOlder(s, s.o3, t, t2);
  ww_acquire_init(t, ww_lockdep);
  Object.assign(t2, older(t));
  s.rets.push(yield* ww_mutex_lock(s.o, t));
  s.rets.push(yield* ww_mutex_lock(s.o2, t));
  return t2;
}

const CASES: Record<string, { fails: boolean; body: Case }> = {
  ww_test_fail_acquire: {
    fails: false,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      t.stamp++;
      s.rets.push(yield* ww_mutex_lock(s.o, t));
      s.rets.push(yield* ww_mutex_lock(s.o, t)); // -EALREADY
      s.rets.push(yield* ww_mutex_trylock(s.o, null)); // 0
      const t2 = Object.assign(new WwAcquireCtx(), t);
      t2.stamp++;
      s.rets.push(yield* ww_mutex_lock(s.o, t2)); // -EDEADLK
      yield* ww_mutex_unlock(s.o);
      if (yield* ww_mutex_trylock(s.o, null)) yield* ww_mutex_unlock(s.o);
    },
  },
  ww_test_normal: {
    fails: false,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_base_lock(s.o);
      yield* ww_mutex_base_unlock(s.o);
      s.rets.push(yield* ww_mutex_trylock(s.o, null));
      yield* ww_mutex_base_unlock(s.o);
    },
  },
  ww_test_unneeded_slow: {
    fails: true,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock_slow(s.o, t);
    },
  },
  ww_test_two_contexts: {
    fails: true,
    *body(_s, t) {
      ww_acquire_init(t, ww_lockdep);
      ww_acquire_init(new WwAcquireCtx(), ww_lockdep);
    },
  },
  ww_test_diff_class: {
    fails: true,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      t.wwClass = null;
      yield* ww_mutex_lock(s.o, t);
    },
  },
  ww_test_context_done_twice: {
    fails: true,
    *body(_s, t) {
      ww_acquire_init(t, ww_lockdep);
      ww_acquire_done(t);
      ww_acquire_done(t);
      ww_acquire_fini(t);
    },
  },
  ww_test_context_unlock_twice: {
    fails: true,
    *body(_s, t) {
      ww_acquire_init(t, ww_lockdep);
      ww_acquire_done(t);
      ww_acquire_fini(t);
      ww_acquire_fini(t);
    },
  },
  ww_test_context_fini_early: {
    fails: true,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o, t);
      ww_acquire_done(t);
      ww_acquire_fini(t);
    },
  },
  ww_test_context_lock_after_done: {
    fails: true,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      ww_acquire_done(t);
      yield* ww_mutex_lock(s.o, t);
    },
  },
  ww_test_object_unlock_twice: {
    fails: true,
    *body(s) {
      yield* ww_mutex_lock(s.o, null);
      yield* ww_mutex_unlock(s.o);
      yield* ww_mutex_unlock(s.o);
    },
  },
  ww_test_object_lock_unbalanced: {
    fails: true,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o, t);
      t.acquired = 0;
      yield* ww_mutex_unlock(s.o);
      ww_acquire_fini(t);
    },
  },
  ww_test_object_lock_stale_context: {
    fails: true,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      s.o.ctx = new WwAcquireCtx();
      yield* ww_mutex_lock(s.o, t);
    },
  },
  ww_test_edeadlk_normal: {
    fails: false,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* releaseOlder(s.o2);
      yield* ww_mutex_unlock(s.o);
      s.rets.push(yield* ww_mutex_lock(s.o2, t));
    },
  },
  ww_test_edeadlk_normal_slow: {
    fails: false,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* releaseOlder(s.o2);
      yield* ww_mutex_unlock(s.o);
      yield* ww_mutex_lock_slow(s.o2, t);
    },
  },
  ww_test_edeadlk_no_unlock: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* releaseOlder(s.o2);
      yield* ww_mutex_lock(s.o2, t);
    },
  },
  ww_test_edeadlk_no_unlock_slow: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* releaseOlder(s.o2);
      yield* ww_mutex_lock_slow(s.o2, t);
    },
  },
  ww_test_edeadlk_acquire_more: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* ww_mutex_lock(s.o3, t);
    },
  },
  ww_test_edeadlk_acquire_more_slow: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* ww_mutex_lock_slow(s.o3, t);
    },
  },
  ww_test_edeadlk_acquire_more_edeadlk: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t, true);
      s.rets.push(yield* ww_mutex_lock(s.o3, t));
    },
  },
  ww_test_edeadlk_acquire_more_edeadlk_slow: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t, true);
      yield* ww_mutex_lock_slow(s.o3, t);
    },
  },
  ww_test_edeadlk_acquire_wrong: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* ww_mutex_unlock(s.o);
      yield* ww_mutex_lock(s.o3, t);
    },
  },
  ww_test_edeadlk_acquire_wrong_slow: {
    fails: true,
    *body(s, t) {
      yield* edeadlkSetup(s, t);
      yield* ww_mutex_unlock(s.o);
      yield* ww_mutex_lock_slow(s.o3, t);
    },
  },
  // The nest lock (o's base mutex) is not held: lockdep warns that the nested lock was not taken.
  ww_test_spin_nest_unlocked: {
    fails: true,
    *body(s) {
      yield* spin_lock_nest_lock(s.A, s.o);
      yield* spin_unlock(s.A);
    },
  },
  // Y1 and Y2 (one class) are both taken under X1, which serialises them; A taken between them
  // must not make Y -> A -> Y a cycle, since the nest-lock acquisition adds no dependency.
  ww_test_spin_nest_lock: {
    fails: false,
    *body(s) {
      yield* spin_lock(s.X1);
      yield* spin_lock_nest_lock(s.Y1, s.X1);
      yield* spin_lock(s.A);
      yield* spin_lock_nest_lock(s.Y2, s.X1);
      yield* spin_unlock(s.A);
      yield* spin_unlock(s.Y2);
      yield* spin_unlock(s.Y1);
      yield* spin_unlock(s.X1);
    },
  },
  ww_test_context_block: {
    fails: true,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o, t);
      yield* ww_mutex_lock(s.o2, null);
    },
  },
  ww_test_context_try: {
    fails: false,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o, t);
      s.rets.push(yield* ww_mutex_trylock(s.o2, null));
      yield* ww_mutex_unlock(s.o2);
      yield* ww_mutex_unlock(s.o);
    },
  },
  ww_test_context_context: {
    fails: false,
    *body(s, t) {
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o, t);
      yield* ww_mutex_lock(s.o2, t);
      yield* ww_mutex_unlock(s.o2);
      yield* ww_mutex_unlock(s.o);
    },
  },
  ww_test_try_block: {
    fails: true,
    *body(s) {
      yield* ww_mutex_trylock(s.o, null);
      yield* ww_mutex_lock(s.o2, null);
      yield* ww_mutex_unlock(s.o2);
      yield* ww_mutex_unlock(s.o);
    },
  },
  ww_test_try_try: {
    fails: false,
    *body(s) {
      yield* ww_mutex_trylock(s.o, null);
      yield* ww_mutex_trylock(s.o2, null);
      yield* ww_mutex_unlock(s.o2);
      yield* ww_mutex_unlock(s.o);
    },
  },
  ww_test_try_context: {
    fails: true,
    *body(s, t) {
      yield* ww_mutex_trylock(s.o, null);
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o2, t);
    },
  },
  ww_test_block_block: {
    fails: true,
    *body(s) {
      yield* ww_mutex_lock(s.o, null);
      yield* ww_mutex_lock(s.o2, null);
    },
  },
  ww_test_block_try: {
    fails: false,
    *body(s) {
      yield* ww_mutex_lock(s.o, null);
      s.rets.push(yield* ww_mutex_trylock(s.o2, null));
    },
  },
  ww_test_block_context: {
    fails: true,
    *body(s, t) {
      yield* ww_mutex_lock(s.o, null);
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o2, t);
    },
  },
  ww_test_spin_block: {
    fails: true,
    *body(s) {
      yield* spin_lock(s.A);
      yield* spin_unlock(s.A);
      yield* ww_mutex_lock(s.o, null);
      yield* spin_lock(s.A);
      yield* spin_unlock(s.A);
      yield* ww_mutex_unlock(s.o);
      yield* spin_lock(s.A);
      yield* ww_mutex_lock(s.o, null);
      yield* ww_mutex_unlock(s.o);
      yield* spin_unlock(s.A);
    },
  },
  ww_test_spin_try: {
    fails: false,
    *body(s) {
      yield* spin_lock(s.A);
      yield* spin_unlock(s.A);
      yield* ww_mutex_trylock(s.o, null);
      yield* spin_lock(s.A);
      yield* spin_unlock(s.A);
      yield* ww_mutex_unlock(s.o);
      yield* spin_lock(s.A);
      yield* ww_mutex_trylock(s.o, null);
      yield* ww_mutex_unlock(s.o);
      yield* spin_unlock(s.A);
    },
  },
  ww_test_spin_context: {
    fails: true,
    *body(s, t) {
      yield* spin_lock(s.A);
      yield* spin_unlock(s.A);
      ww_acquire_init(t, ww_lockdep);
      yield* ww_mutex_lock(s.o, t);
      yield* spin_lock(s.A);
      yield* spin_unlock(s.A);
      yield* ww_mutex_unlock(s.o);
      yield* spin_lock(s.A);
      yield* ww_mutex_lock(s.o, t);
      yield* ww_mutex_unlock(s.o);
      yield* spin_unlock(s.A);
    },
  },
};

function runCase(body: Case): { lockdep: string[]; rets: number[] } {
  let rets: number[] = [];
  const r = explore(
    (w): S => {
      setLockdepMode(w, 'run');
      return {
        o: new WwMutex(w, 'o', ww_lockdep),
        o2: new WwMutex(w, 'o2', ww_lockdep),
        o3: new WwMutex(w, 'o3', ww_lockdep),
        A: new Spinlock(w, 'A'),
        X1: new Spinlock(w, 'X1', 'X'),
        Y1: new Spinlock(w, 'Y1', 'Y'),
        Y2: new Spinlock(w, 'Y2', 'Y'),
        w,
        rets: [],
      };
    },
    {
      *selftest(s) {
        yield s.w.point('start');
        yield* body(s, new WwAcquireCtx());
        rets = s.rets;
      },
    },
  );
  // Sleep checks do not switch lockdep off; everything else the layer reports does.
  const lockdep = kinds(r).filter((k) => k.startsWith('lockdep-') && k !== 'lockdep-held-at-exit');
  return { lockdep, rets };
}

describe('ww_mutex: the kernel selftest family, with its verdicts', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: ${c.fails ? 'FAILURE' : 'SUCCESS'}`, () => {
      const { lockdep } = runCase(c.body);
      if (c.fails) expect(lockdep.length, name).toBeGreaterThan(0);
      else expect(lockdep, name).toEqual([]);
    });
  }

  it('the API returns of ww_test_fail_acquire: 0, -EALREADY, 0 (trylock of a held lock), -EDEADLK (younger context)', () => {
    expect(runCase(CASES['ww_test_fail_acquire']!.body).rets).toEqual([0, -EALREADY, 0, -EDEADLK]);
  });

  it('EDEADLK handling returns -EDEADLK to the younger context and then lets it take the contended lock', () => {
    expect(runCase(CASES['ww_test_edeadlk_normal']!.body).rets).toEqual([0, -EDEADLK, 0]);
  });

  it('the debug checks name the broken rule', () => {
    const r = runCase(CASES['ww_test_edeadlk_acquire_wrong']!.body);
    expect(r.lockdep).toEqual(['lockdep-debug-warn']);
    expect(runCase(CASES['ww_test_context_block']!.body).lockdep).toEqual(['lockdep-recursive']);
    expect(runCase(CASES['ww_test_context_unlock_twice']!.body).lockdep).toEqual(['lockdep-bad-unlock']);
    expect(runCase(CASES['ww_test_spin_nest_unlocked']!.body).lockdep).toEqual(['lockdep-nested-not-taken']);
  });
});

/** The standard back-off loop: lock every object; on -EDEADLK unlock all, lock_slow the contended one, retry. */
function* lockAll(objs: WwMutex[], ctx: WwAcquireCtx, cls: WwClass): Generator<unknown, number, unknown> {
  ww_acquire_init(ctx, cls);
  let contended: WwMutex | null = null;
  let backoffs = 0;
  for (;;) {
    if (contended !== null) yield* ww_mutex_lock_slow(contended, ctx);
    let failed: WwMutex | null = null;
    const held: WwMutex[] = contended !== null ? [contended] : [];
    for (const o of objs) {
      if (o === contended) continue;
      const r = yield* ww_mutex_lock(o, ctx);
      if (r === -EDEADLK) {
        failed = o;
        break;
      }
      held.push(o);
    }
    if (failed === null) break;
    for (const o of held) yield* ww_mutex_unlock(o);
    contended = failed;
    backoffs++;
  }
  ww_acquire_done(ctx);
  return backoffs;
}

describe('ww_mutex: the back-off protocol in every interleaving', () => {
  for (const [label, cls] of [
    ['wait-die', DEFINE_WD_CLASS('wd_test')],
    ['wound-wait', DEFINE_WW_CLASS('ww_test')],
  ] as const) {
    it(`${label}: two and three transactions locking in opposite orders never deadlock and always exclude`, () => {
      type T = { objs: WwMutex[]; inside: { name: string; n: number }; max: number; backoffs: number };
      const orders = [
        [0, 1, 2],
        [2, 1, 0],
        [1, 0, 2],
      ];
      for (const n of [2, 3]) {
        const r = explore(
          (w): T => ({ objs: ['a', 'b', 'c'].map((x) => new WwMutex(w, x, cls)), inside: { name: 'inside', n: 0 }, max: 0, backoffs: 0 }),
          Object.fromEntries(
            orders.slice(0, n).map((ord, i) => [
              `t${i}`,
              function* (s: T, w: World) {
                const ctx = new WwAcquireCtx();
                s.backoffs += yield* lockAll(ord.map((j) => s.objs[j]!), ctx, cls);
                yield w.point('critical section', s.inside, Access.Write);
                s.inside.n++;
                s.max = Math.max(s.max, s.inside.n);
                s.inside.n--;
                for (const j of ord) yield* ww_mutex_unlock(s.objs[j]!);
                ww_acquire_fini(ctx);
              },
            ]),
          ),
          { legs: [n === 2 ? { name: 'dfs', preemptionBound: Infinity } : { name: 'dfs', preemptionBound: 2 }], check: (s) => (s.max <= 1 ? null : 'two transactions inside at once') },
        );
        expect(kinds(r), `${label} with ${n}`).toEqual([]);
      }
    });
  }

  it('without a context, opposite orders are a lockdep finding (recursive locking of the class) and can deadlock', () => {
    const cls = DEFINE_WD_CLASS('plain_test');
    const r = explore(
      (w) => ({ a: new WwMutex(w, 'a', cls), b: new WwMutex(w, 'b', cls) }),
      {
        *t0(s) {
          yield* ww_mutex_lock(s.a, null);
          yield* ww_mutex_lock(s.b, null);
          yield* ww_mutex_unlock(s.b);
          yield* ww_mutex_unlock(s.a);
        },
        *t1(s) {
          yield* ww_mutex_lock(s.b, null);
          yield* ww_mutex_lock(s.a, null);
          yield* ww_mutex_unlock(s.a);
          yield* ww_mutex_unlock(s.b);
        },
      },
    );
    expect(kinds(r)).toEqual(['deadlock', 'lockdep-recursive']);
  });
});
