/**
 * Hard interrupts delivered by the explorer (src/locking/irq.ts): a handler runs on the CPU of
 * the task it interrupts, wherever that task has interrupts enabled. Both sides: a lock taken
 * with interrupts on and by the handler is an inconsistent lock state and a real deadlock; with
 * spin_lock_irqsave the interrupt waits for the restore and all is clean.
 */
import { describe, expect, it } from 'vitest';
import { raise_irq, request_irq, type IrqLine } from '../../src/locking/irq.js';
import { Spinlock, spin_lock, spin_lock_irqsave, spin_unlock, spin_unlock_irqrestore } from '../../src/locking/spinlock.js';
import { Access } from '../../src/sim/point.js';
import type { World } from '../../src/sim/world.js';
import { EXHAUSTIVE, explore, kinds } from './helpers.js';

interface S {
  l: Spinlock;
  line: IrqLine;
  log: string[];
  w: World;
}

function setup(w: World): S {
  const s: S = { l: new Spinlock(w, 'dev->lock'), line: null as unknown as IrqLine, log: [], w };
  s.line = request_irq(
    w,
    'dev',
    function* () {
      yield* spin_lock(s.l);
      s.log.push('handler');
      yield* spin_unlock(s.l);
    },
    'cpu0',
  );
  return s;
}

describe('interrupt handlers delivered on a task\'s CPU', () => {
  it('a lock the handler takes, held with interrupts on: inconsistent lock state (or, when the handler hits it, recursive locking on that CPU), and a real deadlock', () => {
    const r = explore(setup, {
      *cpu0(s) {
        yield* spin_lock(s.l);
        s.log.push('cpu0');
        yield* spin_unlock(s.l);
      },
      *device(s) {
        yield* raise_irq(s.line);
      },
    }, { legs: [EXHAUSTIVE] });
    expect(kinds(r)).toEqual(['deadlock', 'lockdep-inconsistent', 'lockdep-recursive']);
  });

  it('the same lock taken with spin_lock_irqsave: the interrupt waits for the restore; clean in every interleaving', () => {
    const r = explore(setup, {
      *cpu0(s) {
        const flags = yield* spin_lock_irqsave(s.l);
        s.log.push('cpu0');
        yield* spin_unlock_irqrestore(s.l, flags);
      },
      *device(s) {
        yield* raise_irq(s.line);
      },
    }, { legs: [EXHAUSTIVE], check: (s) => (s.log.length === 2 ? null : `log ${s.log.join(',')}`) });
    expect(kinds(r)).toEqual([]);
  });

  it('the interrupted task takes no step while its handler runs', () => {
    const r = explore(setup, {
      *cpu0(s, w) {
        for (let i = 0; i < 3; i++) {
          yield w.point(`work ${i}`, s.log as unknown as { name: string }, Access.Write);
          s.log.push(`cpu0 ${i}`);
        }
      },
      *device(s) {
        yield* raise_irq(s.line);
      },
    }, { legs: [EXHAUSTIVE], check: (s) => (s.log.includes('handler') ? null : 'handler never ran') });
    expect(kinds(r)).toEqual([]);
  });
});
