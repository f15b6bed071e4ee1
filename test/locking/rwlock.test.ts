/**
 * rwlock_t (src/locking/rwlock.ts): exclusion, the queued rwlock's fairness (a process-context
 * reader waits behind a waiting writer, so a recursive read_lock can really deadlock, and lockdep
 * treats it as a non-recursive reader), and the interrupt exception (a reader in interrupt context
 * overtakes waiting writers, so lockdep treats it as recursive and there is no deadlock). Plus the
 * two queued-rwlock selftest cases that need no irq usage states, with the kernel's verdicts.
 */
import { describe, expect, it } from 'vitest';
import { irq_enter, irq_exit, local_irq_disable, local_irq_enable } from '../../src/locking/irq.js';
import { setLockdepMode } from '../../src/locking/kernel.js';
import { read_lock, read_unlock, RwLock, rwlock_force_read_recursive, write_lock, write_lock_irqsave, write_unlock, write_unlock_irqrestore } from '../../src/locking/rwlock.js';
import { Spinlock, spin_lock, spin_unlock } from '../../src/locking/spinlock.js';
import { Access } from '../../src/sim/point.js';
import type { World } from '../../src/sim/world.js';
import { EXHAUSTIVE, explore, kinds } from './helpers.js';

describe('rwlock_t', () => {
  it('writers exclude readers and writers in every interleaving', () => {
    type S = { l: RwLock; v: { name: string; n: number }; bad: boolean };
    const r = explore(
      (w): S => ({ l: new RwLock(w, 'l'), v: { name: 'v', n: 0 }, bad: false }),
      {
        *w0(s, w: World) {
          yield* write_lock(s.l);
          yield w.point('write', s.v, Access.Write);
          s.v.n++;
          yield w.point('write', s.v, Access.Write);
          s.v.n--;
          yield* write_unlock(s.l);
        },
        *r0(s, w: World) {
          yield* read_lock(s.l);
          yield w.point('read', s.v, Access.Read);
          if (s.v.n !== 0) s.bad = true;
          yield* read_unlock(s.l);
        },
        *r1(s, w: World) {
          yield* read_lock(s.l);
          yield w.point('read', s.v, Access.Read);
          if (s.v.n !== 0) s.bad = true;
          yield* read_unlock(s.l);
        },
      },
      { check: (s) => (s.bad ? 'a reader saw a write in progress' : null) },
    );
    expect(kinds(r)).toEqual([]);
  });

  it('read_lock twice in process context: a non-recursive reader (lockdep), and a real deadlock behind a waiting writer', () => {
    const r = explore((w) => ({ l: new RwLock(w, 'l') }), {
      *reader(s) {
        yield* read_lock(s.l);
        yield* read_lock(s.l);
        yield* read_unlock(s.l);
        yield* read_unlock(s.l);
      },
      *writer(s) {
        yield* write_lock(s.l);
        yield* write_unlock(s.l);
      },
    });
    expect(kinds(r)).toEqual(['deadlock', 'lockdep-recursive']);
  });

  it('an interrupt that read-locks what its CPU already read-holds is a recursive reader: no report, no deadlock', () => {
    const r = explore((w) => ({ l: new RwLock(w, 'l') }), {
      *reader(s) {
        yield* read_lock(s.l);
        irq_enter();
        yield* read_lock(s.l);
        yield* read_unlock(s.l);
        irq_exit();
        yield* read_unlock(s.l);
      },
      *writer(s) {
        // Writers must keep the interrupt out: a handler read-locks this lock.
        const flags = yield* write_lock_irqsave(s.l);
        yield* write_unlock_irqrestore(s.l, flags);
      },
    });
    expect(kinds(r)).toEqual([]);
  });

  it('... and a writer that leaves interrupts on is an inconsistent lock state (the handler could spin on it)', () => {
    const r = explore((w) => ({ l: new RwLock(w, 'l') }), {
      *handler(s) {
        irq_enter();
        yield* read_lock(s.l);
        yield* read_unlock(s.l);
        irq_exit();
      },
      *writer(s) {
        yield* write_lock(s.l);
        yield* write_unlock(s.l);
      },
    });
    expect(kinds(r)).toEqual(['lockdep-inconsistent']);
  });

  it('the old (non-queued) rwlock and the selftest switch make every reader recursive', () => {
    for (const forced of [false, true]) {
      const r = explore(
        (w) => {
          setLockdepMode(w, 'run');
          rwlock_force_read_recursive(w, forced);
          return { l: new RwLock(w, 'l', 'l', forced) };
        },
        {
          *reader(s) {
            yield* read_lock(s.l);
            yield* read_lock(s.l);
            yield* read_unlock(s.l);
            yield* read_unlock(s.l);
          },
        },
        { legs: [EXHAUSTIVE] },
      );
      expect(kinds(r), `forced=${forced}`).toEqual([]);
    }
  });
});

/** A single task runs `body`; the verdict is whether lockdep reported. */
function selftest(body: (s: { A: RwLock; B: Spinlock }) => Generator<unknown, void, unknown>): string[] {
  const r = explore(
    (w) => {
      setLockdepMode(w, 'run');
      return { A: new RwLock(w, 'rwlock_A'), B: new Spinlock(w, 'lock_B') };
    },
    {
      *selftest(s) {
        yield* body(s);
      },
    },
  );
  return kinds(r).filter((k) => k.startsWith('lockdep-'));
}

describe('queued rwlock selftests (lib/locking-selftest.c)', () => {
  it('queued_read_lock_hardirq_RE_Er: FAILURE (read_lock in the handler, then B; B then read_lock with irqs off)', () => {
    expect(
      selftest(function* (s) {
        irq_enter();
        yield* read_lock(s.A);
        yield* spin_lock(s.B);
        yield* spin_unlock(s.B);
        yield* read_unlock(s.A);
        irq_exit();
        local_irq_disable();
        yield* spin_lock(s.B);
        yield* read_lock(s.A);
        yield* read_unlock(s.A);
        yield* spin_unlock(s.B);
        local_irq_enable();
      }),
    ).toEqual(['lockdep-circular']);
  });

  it('queued_read_lock_hardirq_ER_rE: SUCCESS (B then read_lock in the handler; read_lock then B with irqs off)', () => {
    expect(
      selftest(function* (s) {
        irq_enter();
        yield* spin_lock(s.B);
        yield* read_lock(s.A);
        yield* read_unlock(s.A);
        yield* spin_unlock(s.B);
        irq_exit();
        local_irq_disable();
        yield* read_lock(s.A);
        yield* spin_lock(s.B);
        yield* spin_unlock(s.B);
        yield* read_unlock(s.A);
        local_irq_enable();
      }),
    ).toEqual([]);
  });
});
