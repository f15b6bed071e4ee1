/**
 * Wait-context checks (spec §11): the kernel selftest's "wait context tests" matrix
 * (lib/locking-selftest.c, wait_context_tests) with its verdicts, on a kernel with raw-lock
 * nesting checks on: an inner lock (RCU, raw_spinlock_t, spinlock_t, mutex) taken inside an outer
 * context (threaded and non-threaded hard irq, softirq, the three RCU flavours, each lock type).
 */
import { describe, expect, it } from 'vitest';
import { LD_WAIT_CONFIG, LD_WAIT_FREE, LD_WAIT_SLEEP, LD_WAIT_SPIN, Lockdep, LockdepMap } from '../../src/lockdep/index.ts';

interface LockKind {
  readonly inner: number;
  readonly outer?: number;
  /** Read mode (RCU maps are recursive readers). */
  readonly read: 0 | 2;
}

const KINDS: Record<string, LockKind> = {
  RCU: { inner: LD_WAIT_CONFIG, outer: LD_WAIT_FREE, read: 2 },
  RCU_BH: { inner: LD_WAIT_CONFIG, outer: LD_WAIT_FREE, read: 2 },
  RCU_SCHED: { inner: LD_WAIT_SPIN, outer: LD_WAIT_FREE, read: 2 },
  raw_spinlock: { inner: LD_WAIT_SPIN, read: 0 },
  spinlock: { inner: LD_WAIT_CONFIG, read: 0 },
  mutex: { inner: LD_WAIT_SLEEP, read: 0 },
};

function map(name: string, k: LockKind): LockdepMap {
  return new LockdepMap(name, { key: name, wait: k.inner === LD_WAIT_SLEEP ? 'sleep' : k.inner === LD_WAIT_FREE ? 'none' : 'spin', waitInner: k.inner, ...(k.outer === undefined ? {} : { waitOuter: k.outer }) });
}

/** Runs "inner lock inside outer context" and returns whether lockdep reported. */
function run(outer: string, inner: string): string[] {
  const ld = new Lockdep({ offAfterReport: 'scope' });
  ld.beginRun('selftest');
  let step = 0;
  const w = () => ({ taskName: 'selftest', step: ++step, stack: [] });
  const outerMap = outer in KINDS ? map(`outer_${outer}`, KINDS[outer]!) : null;
  if (outer === 'HARDIRQ') ld.hardirqEnter(0, true);
  else if (outer === 'NOTTHREADED_HARDIRQ') ld.hardirqEnter(0, false);
  else if (outer === 'SOFTIRQ') ld.softirqEnter(0);
  else ld.acquire(0, outerMap!, { read: KINDS[outer]!.read }, w());
  const k = KINDS[inner]!;
  const innerMap = map(`inner_${inner}`, k);
  ld.acquire(0, innerMap, { read: k.read }, w());
  ld.release(0, innerMap, w());
  return ld.reports.map((r) => r.kind);
}

const INNER = ['RCU', 'raw_spinlock', 'spinlock', 'mutex'] as const;
/** The three verdict rows of the kernel: which inner locks each outer context forbids. */
const PREEMPTIBLE: readonly string[] = [];
const LIMITED: readonly string[] = ['mutex'];
const NOT_PREEMPTIBLE: readonly string[] = ['spinlock', 'mutex'];

const OUTER: Record<string, readonly string[]> = {
  HARDIRQ: LIMITED,
  NOTTHREADED_HARDIRQ: NOT_PREEMPTIBLE,
  SOFTIRQ: LIMITED,
  RCU: LIMITED,
  RCU_BH: LIMITED,
  RCU_SCHED: NOT_PREEMPTIBLE,
  raw_spinlock: NOT_PREEMPTIBLE,
  spinlock: LIMITED,
  mutex: PREEMPTIBLE,
};

describe('wait context tests (kernel selftest matrix)', () => {
  for (const [outer, forbidden] of Object.entries(OUTER)) {
    for (const inner of INNER) {
      const fails = forbidden.includes(inner);
      it(`${inner} in ${outer}: ${fails ? 'FAILURE' : 'SUCCESS'}`, () => {
        expect(run(outer, inner)).toEqual(fails ? ['lockdep-wait-context'] : []);
      });
    }
  }

  it('a trylock is exempt', () => {
    const ld = new Lockdep();
    ld.beginRun('t');
    const raw = map('raw', KINDS['raw_spinlock']!);
    const m = map('m', KINDS['mutex']!);
    const w = { taskName: 't', step: 1, stack: [] };
    ld.acquire(0, raw, {}, w);
    ld.acquire(0, m, { trylock: true }, w);
    expect(ld.reports).toEqual([]);
  });

  it('the report names the lock and what set the context', () => {
    const ld = new Lockdep();
    ld.beginRun('t');
    const raw = map('raw', KINDS['raw_spinlock']!);
    const s = map('spin', KINDS['spinlock']!);
    const w = { taskName: 't', step: 1, stack: [] };
    ld.acquire(0, raw, {}, w);
    ld.acquire(0, s, {}, w);
    const r = ld.reports[0]!;
    expect(r.title).toBe('[ BUG: Invalid wait context ]');
    expect(r.place).toBe('spin in raw');
  });
});
