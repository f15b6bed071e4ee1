/**
 * Core validator behaviour: held stacks, nest locks, subclasses, trylocks,
 * out-of-order release, downgrade, freeing held locks, exit, limits.
 */
import { describe, expect, it } from 'vitest';
import {
  LOCKDEP_NO_TRACK,
  LOCKDEP_NO_VALIDATE,
  LockdepMap,
  MAX_LOCK_DEPTH,
  type RecursiveReport,
} from '../../src/lockdep/index.ts';
import { Driver } from './helpers.ts';

describe('same-class recursion and nest locks (spec §5)', () => {
  it('two instances of one class, exclusive → recursive; subclass 1 → none', () => {
    const bad = new Driver();
    bad.lock('o1', 'sleep', 'obj');
    bad.lock('o2', 'sleep', 'obj');
    bad.acq(0, 'o1');
    bad.acq(0, 'o2');
    expect(bad.kinds()).toEqual(['lockdep-recursive']);

    const ok = new Driver();
    ok.lock('o1', 'sleep', 'obj');
    ok.lock('o2', 'sleep', 'obj');
    ok.acq(0, 'o1');
    ok.acq(0, 'o2', 0, { subclass: 1 });
    expect(ok.ld.reports).toEqual([]);
    expect(ok.ld.heldLocks(0).map((h) => h.className)).toEqual(['obj', 'obj/1']);
  });

  it('subclass classes are ordered like any other pair', () => {
    const d = new Driver();
    d.lock('p', 'sleep', 'inode');
    d.lock('c', 'sleep', 'inode');
    d.acq(0, 'p');
    d.acq(0, 'c', 0, { subclass: 1 });
    d.rel(0, 'c');
    d.rel(0, 'p');
    d.acq(0, 'c', 0, { subclass: 1 });
    d.acq(0, 'p');
    expect(d.kinds()).toEqual(['lockdep-circular']);
    expect(d.ld.reports[0]!.place).toBe('inode | inode/1');
  });

  it('same class under a held nest lock: merged, no report; releases balance', () => {
    const d = new Driver();
    d.lock('o1', 'sleep', 'obj');
    d.lock('o2', 'sleep', 'obj');
    d.lock('o3', 'sleep', 'obj');
    d.acq(0, 'ctx');
    d.acq(0, 'o1', 0, { nest: 'ctx' });
    d.acq(0, 'o2', 0, { nest: 'ctx' });
    d.acq(0, 'o3', 0, { nest: 'ctx' });
    expect(d.ld.reports).toEqual([]);
    expect(d.ld.heldDepth(0)).toBe(2); // ctx + one merged obj entry
    expect(d.ld.isHeld(0, d.lock('o2'))).toBe(true);
    d.rel(0, 'o2');
    d.rel(0, 'o1');
    expect(d.ld.heldDepth(0)).toBe(2);
    d.rel(0, 'o3');
    expect(d.ld.heldDepth(0)).toBe(1);
    d.rel(0, 'ctx');
    expect(d.ld.reports).toEqual([]);
    expect(d.ld.heldDepth(0)).toBe(0);
  });

  it('nest lock exempts only if it sits below the first conflicting entry', () => {
    const d = new Driver();
    d.lock('o1', 'sleep', 'obj');
    d.lock('o2', 'sleep', 'obj');
    d.acq(0, 'o1', 0, { trylock: true });
    d.acq(0, 'ctx');
    d.acq(0, 'o2', 0, { nest: 'ctx' });
    expect(d.kinds()).toEqual(['lockdep-recursive']);
    const r = d.ld.reports[0] as RecursiveReport;
    expect(r.holding.instance).toBe('o1');
  });

  it('nest lock that is not held → "Nested lock was not taken"', () => {
    const d = new Driver();
    d.acq(0, 'o1', 0, { nest: 'ctx' });
    expect(d.kinds()).toEqual(['lockdep-nested-not-taken']);
  });

  it('write after read and read after write of one class → recursive', () => {
    for (const [a, b] of [[1, 0], [0, 1], [2, 0], [0, 2], [1, 1]] as const) {
      const d = new Driver();
      d.lock('x1', 'sleep', 'X');
      d.lock('x2', 'sleep', 'X');
      d.acq(0, 'x1', a);
      d.acq(0, 'x2', b);
      expect(d.kinds(), `${a} then ${b}`).toEqual(['lockdep-recursive']);
    }
  });

  it('invalid subclass → lockdep-limit, validation off', () => {
    const d = new Driver();
    d.acq(0, 'a', 0, { subclass: 8 });
    expect(d.kinds()).toEqual(['lockdep-limit']);
    expect(d.ld.enabled).toBe(false);
  });
});

describe('trylocks (spec §4)', () => {
  it('a trylock adds no dependency when taken', () => {
    const d = new Driver();
    d.acq(0, 'A');
    d.acq(0, 'B', 0, { trylock: true });
    d.rel(0, 'B');
    d.rel(0, 'A');
    d.acq(0, 'B');
    d.acq(0, 'A');
    expect(d.ld.reports).toEqual([]);
  });

  it('a held trylock is a predecessor of later locks', () => {
    const d = new Driver();
    d.acq(0, 'A', 0, { trylock: true });
    d.acq(0, 'B');
    d.rel(0, 'B');
    d.rel(0, 'A');
    d.acq(0, 'B');
    d.acq(0, 'A');
    expect(d.kinds()).toEqual(['lockdep-circular']);
  });

  it('the walk continues below a trylock to the first ordinary lock', () => {
    // X, trylock A, B: records A→B and X→B (X→A was never recorded).
    const d = new Driver();
    d.acq(0, 'X');
    d.acq(0, 'A', 0, { trylock: true });
    d.acq(0, 'B');
    d.rel(0, 'B');
    d.rel(0, 'A');
    d.rel(0, 'X');
    d.acq(0, 'B');
    d.acq(0, 'X');
    expect(d.kinds()).toEqual(['lockdep-circular']);
    // The direct X→B edge exists only because A was a trylock: an ordinary A stops the walk.
    const edge = (dr: Driver, a: string, b: string) =>
      dr.ld.graph.find(dr.ld.classes.peek(dr.lock(a), 0), dr.ld.classes.peek(dr.lock(b), 0));
    expect(edge(d, 'X', 'B')).toBeDefined();
    const e = new Driver();
    e.acq(0, 'X');
    e.acq(0, 'A');
    e.acq(0, 'B');
    expect(edge(e, 'A', 'B')).toBeDefined();
    expect(edge(e, 'X', 'B')).toBeUndefined();
  });
});

describe('check = 0 and special keys', () => {
  it('unchecked acquisitions are tracked but add no dependencies', () => {
    const d = new Driver();
    d.ld.acquire(0, d.lock('A'), { check: false }, d.w());
    d.acq(0, 'B');
    d.rel(0, 'B');
    d.rel(0, 'A');
    d.acq(0, 'B');
    d.ld.acquire(0, d.lock('A'), { check: false }, d.w());
    expect(d.ld.reports).toEqual([]);
    expect(d.ld.heldDepth(0)).toBe(2);
  });

  it('LOCKDEP_NO_VALIDATE maps are held but never validated; NO_TRACK maps are ignored', () => {
    const d = new Driver();
    const nv = new LockdepMap('nv', { key: LOCKDEP_NO_VALIDATE });
    const nt = new LockdepMap('nt', { key: LOCKDEP_NO_TRACK });
    d.ld.acquire(0, nv, undefined, d.w());
    d.ld.acquire(0, nv, undefined, d.w());
    expect(d.ld.heldDepth(0)).toBe(2);
    d.ld.release(0, nt, d.w());
    expect(d.ld.reports).toEqual([]);
    expect(d.ld.enabled).toBe(true);
  });
});

describe('release (spec §3)', () => {
  it('releasing a lock not held → bad unlock balance', () => {
    const d = new Driver();
    d.acq(0, 'A');
    d.rel(0, 'B');
    expect(d.kinds()).toEqual(['lockdep-bad-unlock']);
    expect(d.ld.enabled).toBe(false);
  });

  it('out-of-order release re-validates the locks above, recording new dependencies', () => {
    const d = new Driver();
    d.acq(0, 'A');
    d.acq(0, 'B');
    d.acq(0, 'C');
    const cls = (n: string) => d.ld.classes.peek(d.lock(n), 0);
    expect(d.ld.graph.find(cls('A'), cls('C'))).toBeUndefined();
    d.rel(0, 'B');
    expect(d.ld.heldLocks(0).map((h) => h.instance)).toEqual(['A', 'C']);
    expect(d.ld.graph.find(cls('A'), cls('C'))).toBeDefined();
    d.rel(0, 'C');
    d.rel(0, 'A');
    expect(d.ld.reports).toEqual([]);
  });

  it('a task releasing a lock held by another task → bad unlock balance', () => {
    const d = new Driver();
    d.acq(0, 'A');
    d.rel(1, 'A');
    expect(d.kinds()).toEqual(['lockdep-bad-unlock']);
  });

  it('downgrade turns the held entry into a read lock; downgrading an unheld lock is a bad unlock', () => {
    const d = new Driver();
    d.acq(0, 'sem');
    d.acq(0, 'inner');
    d.ld.downgrade(0, d.lock('sem'), d.w());
    expect(d.ld.heldLocks(0).map((h) => [h.instance, h.read])).toEqual([['sem', 1], ['inner', 0]]);
    expect(d.ld.reports).toEqual([]);
    d.ld.downgrade(0, d.lock('other'), d.w());
    expect(d.kinds()).toEqual(['lockdep-bad-unlock']);
  });

  it('setSubclass on a held lock changes its class and re-validates', () => {
    const d = new Driver();
    d.lock('x1', 'sleep', 'X');
    d.lock('x2', 'sleep', 'X');
    d.acq(0, 'x1');
    d.ld.setSubclass(0, d.lock('x1'), 1, d.w());
    d.acq(0, 'x2');
    expect(d.ld.reports).toEqual([]);
    expect(d.ld.heldLocks(0).map((h) => h.className)).toEqual(['X/1', 'X']);
  });
});

describe('held locks freed, re-initialised, or kept at exit', () => {
  it('freeing memory of a held lock → held-freed; after release → nothing', () => {
    const ok = new Driver();
    ok.acq(0, 'A');
    ok.rel(0, 'A');
    ok.ld.freeMaps(0, [ok.lock('A'), ok.lock('B')], ok.w());
    expect(ok.ld.reports).toEqual([]);

    const d = new Driver();
    d.acq(0, 'A');
    d.ld.freeMaps(0, [d.lock('B'), d.lock('A')], d.w(0, 'kfree'));
    expect(d.kinds()).toEqual(['lockdep-held-freed']);
  });

  it('freeing a lock held by another task names the holder', () => {
    const d = new Driver();
    d.acq(1, 'A');
    d.ld.freeMaps(0, d.lock('A'), d.w(0, 'kfree'));
    const r = d.ld.reports[0]!;
    if (r.kind !== 'lockdep-held-freed') throw new Error(r.kind);
    expect(r.holderTask).toEqual({ id: 1, name: 'T1' });
    expect(r.action).toBe('free');
  });

  it('a task exiting with locks held → held-at-exit; clean exit → nothing', () => {
    const d = new Driver();
    d.acq(0, 'A');
    d.rel(0, 'A');
    d.ld.taskExit(0, d.w());
    expect(d.ld.reports).toEqual([]);
    d.acq(1, 'A');
    d.acq(1, 'B');
    d.ld.taskExit(1, d.w(1, 'do_exit'));
    expect(d.kinds()).toEqual(['lockdep-held-at-exit']);
    expect(d.ld.reports[0]!.heldLocks.map((h) => h.instance)).toEqual(['A', 'B']);
    expect(d.ld.heldDepth(1)).toBe(0);
  });

  it('more than MAX_LOCK_DEPTH held locks → lockdep-limit', () => {
    const d = new Driver();
    for (let i = 0; i < MAX_LOCK_DEPTH; i++) d.acq(0, `L${i}`);
    expect(d.ld.reports).toEqual([]);
    d.acq(0, 'one-too-many');
    expect(d.kinds()).toEqual(['lockdep-limit']);
  });
});
