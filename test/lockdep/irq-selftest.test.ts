/**
 * The irq-state families of the kernel lockdep selftest (lib/locking-selftest.c), with the
 * kernel's verdicts: every permutation of their events, hard and soft interrupts, in the spin,
 * wlock and rlock columns (read_lock forced recursive, as the harness does), plus the queued
 * rwlock inversion, local_lock and "hardirq deadlock, softirq not" cases. A case FAILS when
 * lockdep reported (and so switched itself off).
 */
import { describe, expect, it } from 'vitest';
import { Lockdep, LockdepMap } from '../../src/lockdep/index.ts';

type Column = 'spin' | 'wlock' | 'rlock';
type Irq = 'hard' | 'soft';

/** One selftest run: a fresh validator, one task, the harness's lock set. */
class Harness {
  readonly ld = new Lockdep({ offAfterReport: 'scope' });
  private step = 0;
  private readonly maps = new Map<string, LockdepMap>();

  constructor(
    readonly column: Column,
    readonly irq: Irq,
  ) {
    this.ld.beginRun('selftest');
  }

  private w() {
    return { taskName: 'selftest', step: ++this.step, stack: [] };
  }

  private map(name: string, opts: { percpu?: boolean } = {}): LockdepMap {
    let m = this.maps.get(name);
    if (m === undefined) {
      m = new LockdepMap(name, { key: name, wait: 'spin', ...(opts.percpu ? { percpu: true, waitInner: 3 } : {}) });
      this.maps.set(name, m);
    }
    return m;
  }

  /** LOCK(x) of the column. */
  LOCK(x: string): void {
    if (this.column === 'spin') this.L(x);
    else if (this.column === 'wlock') this.WL(x);
    else this.RL(x);
  }
  UNLOCK(x: string): void {
    this.ld.release(0, this.column === 'spin' ? this.map(`lock_${x}`) : this.map(`rwlock_${x}`), this.w());
  }
  /** spin_lock(&lock_x). */
  L(x: string): void {
    this.ld.acquire(0, this.map(`lock_${x}`), {}, this.w());
  }
  U(x: string): void {
    this.ld.release(0, this.map(`lock_${x}`), this.w());
  }
  /** write_lock(&rwlock_x). */
  WL(x: string): void {
    this.ld.acquire(0, this.map(`rwlock_${x}`), { read: 0 }, this.w());
  }
  WU(x: string): void {
    this.ld.release(0, this.map(`rwlock_${x}`), this.w());
  }
  /** read_lock(&rwlock_x): forced recursive by the harness; in irq context recursive anyway. */
  RL(x: string, recursive = true): void {
    this.ld.acquire(0, this.map(`rwlock_${x}`), { read: recursive || this.ld.inInterrupt(0) ? 2 : 1 }, this.w());
  }
  RU(x: string): void {
    this.ld.release(0, this.map(`rwlock_${x}`), this.w());
  }
  local_lock(x: string): void {
    this.ld.acquire(0, this.map(`local_${x}`, { percpu: true }), {}, this.w());
  }
  local_unlock(x: string): void {
    this.ld.release(0, this.map(`local_${x}`, { percpu: true }), this.w());
  }
  HARDIRQ_ENTER(): void {
    this.ld.irqDisable(0);
    this.ld.hardirqEnter(0, true);
  }
  HARDIRQ_EXIT(): void {
    this.ld.hardirqExit(0);
    this.ld.irqEnable(0, this.w());
  }
  SOFTIRQ_ENTER(): void {
    this.ld.bhDisable(0);
    this.ld.irqDisable(0);
    this.ld.softirqEnter(0);
  }
  SOFTIRQ_EXIT(): void {
    this.ld.softirqExit(0);
    this.ld.irqEnable(0, this.w());
    this.ld.bhEnable(0, this.w());
  }
  HARDIRQ_DISABLE(): void {
    this.ld.irqDisable(0);
  }
  HARDIRQ_ENABLE(): void {
    this.ld.irqEnable(0, this.w());
  }
  SOFTIRQ_DISABLE(): void {
    this.ld.bhDisable(0);
  }
  SOFTIRQ_ENABLE(): void {
    this.ld.bhEnable(0, this.w());
  }
  IRQ_ENTER(): void {
    if (this.irq === 'hard') this.HARDIRQ_ENTER();
    else this.SOFTIRQ_ENTER();
  }
  IRQ_EXIT(): void {
    if (this.irq === 'hard') this.HARDIRQ_EXIT();
    else this.SOFTIRQ_EXIT();
  }
  IRQ_DISABLE(): void {
    if (this.irq === 'hard') this.HARDIRQ_DISABLE();
    else this.SOFTIRQ_DISABLE();
  }
  IRQ_ENABLE(): void {
    if (this.irq === 'hard') this.HARDIRQ_ENABLE();
    else this.SOFTIRQ_ENABLE();
  }

  /** The harness's verdict: lockdep switched itself off. */
  failed(): boolean {
    return !this.ld.enabled;
  }
}

type Event = (h: Harness) => void;

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

interface Family {
  readonly name: string;
  readonly events: Event[];
  readonly irqs: readonly Irq[];
  readonly columns: readonly Column[];
  /** The kernel's verdict per column (DO_TESTCASE_3 / _3RW / _2RW: spin and wlock FAIL, rlock passes). */
  readonly fails: (c: Column) => boolean;
}

const FAIL_UNLESS_RLOCK = (c: Column) => c !== 'rlock';

const FAMILIES: Family[] = [
  {
    name: 'irqsafe1 (irqs-on + irq-safe-A)',
    events: [
      (h) => {
        h.IRQ_ENTER();
        h.LOCK('A');
        h.UNLOCK('A');
        h.IRQ_EXIT();
      },
      (h) => {
        h.LOCK('A');
        h.UNLOCK('A');
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['spin', 'wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    name: 'irqsafe2A (sirq-safe-A => hirqs-on)',
    events: [
      (h) => {
        h.SOFTIRQ_ENTER();
        h.LOCK('A');
        h.UNLOCK('A');
        h.SOFTIRQ_EXIT();
      },
      (h) => {
        h.HARDIRQ_DISABLE();
        h.LOCK('A');
        h.HARDIRQ_ENABLE();
        h.UNLOCK('A');
      },
    ],
    irqs: ['soft'],
    columns: ['spin', 'wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    name: 'irqsafe2B (safe-A + irqs-on)',
    events: [
      (h) => {
        h.IRQ_ENTER();
        h.LOCK('A');
        h.UNLOCK('A');
        h.IRQ_EXIT();
      },
      (h) => {
        h.IRQ_DISABLE();
        h.LOCK('A');
        h.IRQ_ENABLE();
        h.UNLOCK('A');
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['spin', 'wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    name: 'irqsafe3 (safe-A + unsafe-B #1)',
    events: [
      (h) => {
        h.LOCK('A');
        h.LOCK('B');
        h.UNLOCK('B');
        h.UNLOCK('A');
      },
      (h) => {
        h.LOCK('B');
        h.UNLOCK('B');
      },
      (h) => {
        h.IRQ_ENTER();
        h.LOCK('A');
        h.UNLOCK('A');
        h.IRQ_EXIT();
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['spin', 'wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    name: 'irqsafe4 (safe-A + unsafe-B #2)',
    events: [
      (h) => {
        h.IRQ_DISABLE();
        h.LOCK('A');
        h.LOCK('B');
        h.UNLOCK('B');
        h.UNLOCK('A');
        h.IRQ_ENABLE();
      },
      (h) => {
        h.LOCK('B');
        h.UNLOCK('B');
      },
      (h) => {
        h.IRQ_ENTER();
        h.LOCK('A');
        h.UNLOCK('A');
        h.IRQ_EXIT();
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['spin', 'wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    name: 'irq_inversion (irq lock-inversion)',
    events: [
      (h) => {
        h.IRQ_DISABLE();
        h.WL('A');
        h.LOCK('B');
        h.UNLOCK('B');
        h.WU('A');
        h.IRQ_ENABLE();
      },
      (h) => {
        h.LOCK('B');
        h.UNLOCK('B');
      },
      (h) => {
        h.IRQ_ENTER();
        h.RL('A');
        h.RU('A');
        h.IRQ_EXIT();
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['spin', 'wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    name: 'irq_read_recursion (read-lock / write-lock recursion that is actually safe)',
    events: [
      (h) => {
        h.IRQ_DISABLE();
        h.WL('A');
        h.WU('A');
        h.IRQ_ENABLE();
      },
      (h) => {
        h.RL('A');
        h.RU('A');
      },
      (h) => {
        h.IRQ_ENTER();
        h.LOCK('A');
        h.L('B');
        h.U('B');
        h.UNLOCK('A');
        h.IRQ_EXIT();
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    // B is irq-safe and taken before A with irqs off; A is read with irqs on. Only a writer of A
    // under B can be stuck behind an interrupted reader of A.
    name: 'irq_read_recursion2 (read-lock / write-lock recursion that is unsafe)',
    events: [
      (h) => {
        h.IRQ_DISABLE();
        h.L('B');
        h.LOCK('A');
        h.UNLOCK('A');
        h.U('B');
        h.IRQ_ENABLE();
      },
      (h) => {
        h.RL('A');
        h.RU('A');
      },
      (h) => {
        h.IRQ_ENTER();
        h.L('B');
        h.U('B');
        h.IRQ_EXIT();
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
  {
    // As #2, but B is only read in the interrupt: A is an irq-enabled read lock, B an irq-used
    // read lock; the dependency B -> A deadlocks only when A is write-locked under B.
    name: 'irq_read_recursion3 (read-lock / write-lock recursion that is unsafe, irq-read side)',
    events: [
      (h) => {
        h.IRQ_DISABLE();
        h.WL('B');
        h.LOCK('A');
        h.UNLOCK('A');
        h.WU('B');
        h.IRQ_ENABLE();
      },
      (h) => {
        h.RL('A');
        h.RU('A');
      },
      (h) => {
        h.IRQ_ENTER();
        h.RL('B');
        h.RU('B');
        h.IRQ_EXIT();
      },
    ],
    irqs: ['hard', 'soft'],
    columns: ['wlock', 'rlock'],
    fails: FAIL_UNLESS_RLOCK,
  },
];

describe('irq-state families (kernel selftest verdicts)', () => {
  for (const f of FAMILIES) {
    describe(f.name, () => {
      for (const irq of f.irqs) {
        for (const column of f.columns) {
          const expected = f.fails(column);
          it(`${irq} ${column}: ${expected ? 'FAILURE' : 'SUCCESS'} in every order`, () => {
            const orders = permutations(f.events.map((_, i) => i));
            for (const order of orders) {
              const h = new Harness(column, irq);
              for (const i of order) f.events[i]!(h);
              expect(h.failed(), `${f.name} ${irq} ${column} order ${order.map((i) => i + 1).join('')}: ${h.ld.reports.map((r) => r.title).join('; ')}`).toBe(expected);
            }
          });
        }
      }
    });
  }
});

describe('queued rwlock, local_lock and mixed irq cases (kernel selftest verdicts)', () => {
  it('queued_read_lock_hardirq_inversion: FAILURE (two non-recursive readers around a hardirq-safe lock)', () => {
    const h = new Harness('spin', 'hard');
    h.HARDIRQ_ENTER();
    h.L('B');
    h.U('B');
    h.HARDIRQ_EXIT();
    h.HARDIRQ_DISABLE();
    h.L('B');
    h.RL('A', false);
    h.RU('A');
    h.U('B');
    h.HARDIRQ_ENABLE();
    h.RL('A', false);
    h.RU('A');
    expect(h.failed()).toBe(true);
    expect(h.ld.reports.map((r) => r.kind)).toEqual(['lockdep-irq-inversion']);
  });

  it('local_lock_2: SUCCESS (a local_lock is never on an irq inversion path)', () => {
    const h = new Harness('spin', 'hard');
    h.local_lock('A');
    h.local_unlock('A');
    h.HARDIRQ_ENTER();
    h.L('A');
    h.U('A');
    h.HARDIRQ_EXIT();
    h.HARDIRQ_DISABLE();
    h.L('A');
    h.local_lock('A');
    h.local_unlock('A');
    h.U('A');
    h.HARDIRQ_ENABLE();
    expect(h.failed()).toBe(false);
  });

  function localLock3(h: Harness): void {
    h.local_lock('A');
    h.L('B');
    h.U('B');
    h.local_unlock('A');
    h.HARDIRQ_ENTER();
    h.L('A');
    h.U('A');
    h.HARDIRQ_EXIT();
    h.HARDIRQ_DISABLE();
    h.L('A');
    h.local_lock('A');
    h.local_unlock('A');
    h.U('A');
    h.HARDIRQ_ENABLE();
  }

  it('local_lock_3A: SUCCESS', () => {
    const h = new Harness('spin', 'hard');
    localLock3(h);
    expect(h.failed()).toBe(false);
  });

  it('local_lock_3B: FAILURE (the inversion through lock_B is real)', () => {
    const h = new Harness('spin', 'hard');
    localLock3(h);
    h.HARDIRQ_DISABLE();
    h.L('A');
    h.L('B');
    h.U('B');
    h.U('A');
    h.HARDIRQ_DISABLE();
    expect(h.failed()).toBe(true);
  });

  it('hardirq_deadlock_softirq_not_deadlock: FAILURE (hardirq-safe A reaches hardirq-unsafe D)', () => {
    const h = new Harness('spin', 'hard');
    const mutexA = new LockdepMap('mutex_A', { key: 'mutex_A', wait: 'sleep' });
    const w = () => ({ taskName: 'selftest', step: 0, stack: [] });
    h.ld.acquire(0, mutexA, {}, w());
    h.HARDIRQ_DISABLE();
    h.L('C');
    h.U('C');
    h.HARDIRQ_ENABLE();
    h.ld.release(0, mutexA, w());
    h.HARDIRQ_ENTER();
    h.L('A');
    h.U('A');
    h.HARDIRQ_EXIT();
    h.HARDIRQ_DISABLE();
    h.L('A');
    h.L('B');
    h.U('B');
    h.U('A');
    h.HARDIRQ_ENABLE();
    h.HARDIRQ_DISABLE();
    h.L('B');
    h.L('C');
    h.U('C');
    h.U('B');
    h.HARDIRQ_ENABLE();
    h.SOFTIRQ_ENTER();
    h.L('D');
    h.U('D');
    h.SOFTIRQ_EXIT();
    h.SOFTIRQ_DISABLE();
    h.L('D');
    h.U('D');
    h.SOFTIRQ_ENABLE();
    expect(h.failed()).toBe(false);
    h.HARDIRQ_DISABLE();
    h.L('C');
    h.L('D');
    h.U('D');
    h.U('C');
    h.HARDIRQ_ENABLE();
    expect(h.failed()).toBe(true);
    expect(h.ld.reports[0]!.title).toBe('WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected');
  });
});
