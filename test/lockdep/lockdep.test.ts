/**
 * The public object: run and graph scopes, "first problem, then off" options,
 * the fake-map API, lazy `where` handling.
 */
import { describe, expect, it } from 'vitest';
import {
  type CircularReport,
  Lockdep,
  LockdepMap,
  type LockdepReport,
  renderReport,
  type Where,
} from '../../src/lockdep/index.ts';
import { Driver } from './helpers.ts';

const A = new LockdepMap('A');
const B = new LockdepMap('B');
const C = new LockdepMap('C');
const D = new LockdepMap('D');
const w = (task: number, step: number, ...stack: string[]): Where => ({ taskName: `T${task}`, step, stack });

function pairOn(ld: Lockdep, task: number, x: LockdepMap, y: LockdepMap, step = 1): void {
  ld.acquire(task, x, undefined, w(task, step, `lock ${x.name}`));
  ld.acquire(task, y, undefined, w(task, step + 1, `lock ${y.name}`));
  ld.release(task, y, w(task, step + 2));
  ld.release(task, x, w(task, step + 3));
}

describe('cross-run dependencies (persistent graph)', () => {
  it('A→B in run 1 and B→A in run 2 → circular report naming both runs', () => {
    const ld = new Lockdep();
    ld.beginRun('sched-1');
    pairOn(ld, 0, A, B);
    expect(ld.reports).toEqual([]);
    ld.beginRun('sched-2');
    pairOn(ld, 1, B, A);
    expect(ld.reports.map((r) => r.kind)).toEqual(['lockdep-circular']);
    const r = ld.reports[0] as CircularReport;
    expect(r.runs).toEqual(['sched-1', 'sched-2']);
    expect(r.links.map((l) => [l.index, l.established.runLabel, l.established.taskName])).toEqual([
      [1, 'sched-1', 'T0'],
      [0, 'sched-2', 'T1'],
    ]);
    const text = renderReport(r);
    expect(text).toContain('run "sched-1"');
    expect(text).toContain('run "sched-2"');
  });

  it('with scope "run" the graph is fresh per run → no report', () => {
    const ld = new Lockdep({ scope: 'run' });
    ld.beginRun('sched-1');
    pairOn(ld, 0, A, B);
    ld.beginRun('sched-2');
    pairOn(ld, 1, B, A);
    expect(ld.reports).toEqual([]);
    expect(ld.graph.size).toBe(1);
  });

  it('a where.runLabel overrides the run label', () => {
    const ld = new Lockdep();
    ld.beginRun('ignored');
    ld.acquire(0, A, undefined, { taskName: 't', step: 1, stack: [], runLabel: 'explicit' });
    ld.acquire(0, B, undefined, { taskName: 't', step: 2, stack: [], runLabel: 'explicit' });
    expect(ld.graph.find(ld.classes.peek(A, 0), ld.classes.peek(B, 0))?.established.runLabel).toBe('explicit');
  });

  it('held stacks and task context are per run', () => {
    const ld = new Lockdep();
    ld.beginRun('1');
    ld.acquire(0, A, undefined, w(0, 1));
    ld.nonBlockStart(0);
    ld.beginRun('2');
    expect(ld.heldDepth(0)).toBe(0);
    expect(ld.mightSleep(0, w(0, 2))).toBe(false);
    ld.release(0, A, w(0, 3));
    expect(ld.reports.map((r) => r.kind)).toEqual(['lockdep-bad-unlock']);
  });
});

describe('first problem, then off (spec §13)', () => {
  it('offAfterReport "run" (default): off for the rest of the run, on again next run', () => {
    const ld = new Lockdep();
    ld.beginRun('1');
    pairOn(ld, 0, A, B);
    pairOn(ld, 0, B, A);
    expect(ld.enabled).toBe(false);
    pairOn(ld, 0, C, D);
    pairOn(ld, 0, D, C);
    expect(ld.reports).toHaveLength(1);
    ld.beginRun('2');
    expect(ld.enabled).toBe(true);
    // The closing edge B→A was not recorded and the chain not cached: the bug is found again.
    pairOn(ld, 0, B, A);
    expect(ld.reports.map((r) => r.place)).toEqual(['A | B']);
    expect(ld.reports[0]!.validationOff).toBe('run');
  });

  it('offAfterReport "scope": off until reset (the kernel behaviour)', () => {
    const ld = new Lockdep({ offAfterReport: 'scope' });
    ld.beginRun('1');
    pairOn(ld, 0, A, B);
    pairOn(ld, 0, B, A);
    ld.beginRun('2');
    expect(ld.enabled).toBe(false);
    pairOn(ld, 0, C, D);
    pairOn(ld, 0, D, C);
    expect(ld.reports).toEqual([]);
    ld.reset();
    expect(ld.enabled).toBe(true);
    expect(ld.graph.size).toBe(0);
  });

  it('offAfterReport "never": keeps validating, one report per (kind, place) per run', () => {
    const seen: LockdepReport[] = [];
    const ld = new Lockdep({ offAfterReport: 'never', onReport: (r) => seen.push(r) });
    ld.beginRun('1');
    pairOn(ld, 0, A, B);
    pairOn(ld, 0, B, A);
    pairOn(ld, 0, B, A);
    pairOn(ld, 0, C, D);
    pairOn(ld, 0, D, C);
    expect(ld.enabled).toBe(true);
    expect(ld.reports.map((r) => r.place)).toEqual(['A | B', 'C | D']);
    expect(seen).toHaveLength(2);
    expect(ld.reports[0]!.validationOff).toBeNull();
    expect(ld.heldDepth(0)).toBe(0);
  });
});

describe('fake-map helpers (spec §12)', () => {
  it('might_lock records the dependency without holding', () => {
    const d = new Driver();
    d.acq(0, 'A');
    d.ld.mightLock(0, d.lock('B'), d.w());
    expect(d.ld.heldDepth(0)).toBe(1);
    d.rel(0, 'A');
    d.acq(0, 'B');
    d.acq(0, 'A');
    expect(d.kinds()).toEqual(['lockdep-circular']);
  });

  it('lock_map_sync is a wait: held → map, closing a cycle with map → held', () => {
    const d = new Driver();
    const done = d.lock('completion_map', 'none');
    d.ld.lockMapAcquire(1, done, d.w(1));
    d.acq(1, 'L');
    d.rel(1, 'L');
    d.ld.lockMapRelease(1, done, d.w(1));
    d.acq(0, 'L');
    d.ld.lockMapSync(0, done, d.w(0, 'wait_for_completion'));
    expect(d.kinds()).toEqual(['lockdep-circular']);
  });

  it('recursive-read fake maps (lock_map_acquire_read) never deadlock among themselves', () => {
    const d = new Driver();
    const r1 = d.lock('srcu1', 'none');
    const r2 = d.lock('srcu2', 'none');
    d.ld.lockMapAcquireRead(0, r1, d.w());
    d.ld.lockMapAcquireRead(0, r2, d.w());
    d.ld.lockMapRelease(0, r2, d.w());
    d.ld.lockMapRelease(0, r1, d.w());
    d.ld.lockMapAcquireRead(0, r2, d.w());
    d.ld.lockMapAcquireTryread(0, r1, d.w());
    d.ld.lockMapAcquireRead(0, r1, d.w());
    expect(d.ld.reports).toEqual([]);
  });

  it('might_lock_read and might_lock_nested use the given mode and subclass', () => {
    const d = new Driver();
    d.acq(0, 'A');
    d.ld.mightLockRead(0, d.lock('B'), d.w());
    d.ld.mightLockNested(0, d.lock('A'), 1, d.w());
    expect(d.ld.reports).toEqual([]);
    expect(d.ld.classes.list.map((c) => c.name)).toEqual(['A', 'B', 'A/1']);
  });
});

describe('lazy where', () => {
  it('a thunk is called only when a new dependency or a report needs it', () => {
    const ld = new Lockdep();
    ld.beginRun('1');
    let calls = 0;
    const thunk = (): Where => {
      calls++;
      return { taskName: 't', step: 0, stack: ['x'] };
    };
    for (let i = 0; i < 10; i++) {
      ld.acquire(0, A, undefined, thunk);
      ld.acquire(0, B, undefined, thunk);
      ld.release(0, B, thunk);
      ld.release(0, A, thunk);
    }
    expect(calls).toBe(1); // the single new edge A→B
    ld.release(0, A, thunk);
    expect(calls).toBe(2); // the bad-unlock report
  });

  it('a reused mutable where is copied when an edge is recorded', () => {
    const ld = new Lockdep();
    ld.beginRun('1');
    const where = { taskName: 't', step: 1, stack: ['first'] };
    ld.acquire(0, A, undefined, where);
    ld.acquire(0, B, undefined, where);
    where.step = 99;
    where.stack = ['later'];
    const e = ld.graph.find(ld.classes.peek(A, 0), ld.classes.peek(B, 0))!;
    expect(e.established.step).toBe(1);
    expect(e.established.stack).toEqual(['first']);
  });
});
