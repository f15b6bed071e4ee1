/**
 * Interval notifiers (spec §3, INV-S*): insert in each of the three states, remove in each state
 * (immediate, deferred with a wait, pending insert taken back), argument checks, the API's
 * absence before v5.5, and the read side (read_begin sleeps only when colliding, read_retry,
 * check_retry, set_seq).
 */
import { describe, expect, it } from 'vitest';
import { EINVAL, EOPNOTSUPP, EOVERFLOW } from '../../src/locking/errno.js';
import { mmap_write_lock, mmap_write_unlock } from '../../src/locking/mmap-lock.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../src/notifier/invalidate.js';
import {
  MmuIntervalNotifier,
  mmu_interval_check_retry,
  mmu_interval_notifier_insert,
  mmu_interval_notifier_insert_locked,
  mmu_interval_notifier_remove,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
  overlapping,
} from '../../src/notifier/interval.js';
import { API_UNAVAILABLE, CALLBACK_AFTER_REMOVE, SEQUENCE_PROTOCOL } from '../../src/notifier/kinds.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import type { MmuNotifierRange } from '../../src/notifier/range.js';
import { Access } from '../../src/sim/point.js';
import { INTERVAL_KERNELS, invalidate, kinds, loggingInterval, ofKind, places, rangeOf, run, summary } from './helpers.js';

const P = 0x1000;
const A = 0x80000;
const FAR = 0x800000;

interface St {
  mm: MmStruct;
  log: string[];
  x: MmuIntervalNotifier;
  y: MmuIntervalNotifier;
  far: MmuIntervalNotifier;
}

function setup(w: import('../../src/sim/world.js').World): St {
  const log: string[] = [];
  return { mm: mm_alloc(w), log, x: loggingInterval('x', log), y: loggingInterval('y', log), far: loggingInterval('far', log) };
}

function* start(mm: MmStruct, s: number, e: number): Generator<unknown, MmuNotifierRange, unknown> {
  const r = rangeOf(mm, s, e);
  yield* mmu_notifier_invalidate_range_start(r);
  return r;
}

function state(s: St) {
  const st = s.mm.notifier_subscriptions!;
  return { seq: st.invalidateSeq, active: st.activeInvalidateRanges, deferred: st.deferred.length };
}

function inTree(s: St, sub: MmuIntervalNotifier): boolean {
  return overlapping(s.mm.notifier_subscriptions!, sub.start, sub.last).includes(sub);
}

describe('insert', () => {
  it.each(INTERVAL_KERNELS)('%s: while Idle it goes into the tree at once with sequence = mm sequence - 1 (odd), and invalidations reach it', (kernel) => {
    let out: Record<string, unknown> = {};
    const r = run<St>(
      {
        setup,
        tasks: {
          *t(s, w) {
            yield w.point('go');
            const ret = yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
            const first = { ret, xSeq: s.x.invalidateSeq, membership: s.x.membership, inTree: inTree(s, s.x), ...state(s), hasItree: s.mm.notifier_subscriptions!.hasItree };
            yield* invalidate(s.mm, A, A + P);
            yield* mmu_interval_notifier_insert(s.y, s.mm, A + P, P);
            out = { first, log: [...s.log], afterInv: state(s), ySeq: s.y.invalidateSeq };
          },
        },
      },
      { kernel },
    );
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({
      first: { ret: 0, xSeq: 1, membership: 'in-tree', inTree: true, seq: 2, active: 0, deferred: 0, hasItree: true },
      log: ['x:inv(3)'],
      afterInv: { seq: 4, active: 0, deferred: 0 },
      ySeq: 3,
    });
  });

  it('while PartiallyExcluded it forces the sequence odd and goes into the tree at once, colliding with the invalidation in flight', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.far, s.mm, FAR, P);
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          const r1 = yield* start(s.mm, A, A + P); // hits nothing: PartiallyExcluded
          const partial = state(s);
          yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
          const afterInsert = { ...state(s), xSeq: s.x.invalidateSeq, membership: s.x.membership, inTree: inTree(s, s.x) };
          // A nested invalidation over x now calls it with the same odd value.
          yield* invalidate(s.mm, A, A + P);
          const afterNested = state(s);
          yield* mmu_notifier_invalidate_range_end(r1);
          out = { partial, afterInsert, afterNested, log: [...s.log], end: state(s) };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({
      partial: { seq: 2, active: 1, deferred: 0 },
      afterInsert: { seq: 3, active: 1, deferred: 0, xSeq: 3, membership: 'in-tree', inTree: true },
      afterNested: { seq: 3, active: 1, deferred: 0 },
      log: ['x:inv(3)'],
      end: { seq: 4, active: 0, deferred: 0 },
    });
  });

  it('while FullyExcluded it is deferred (pending, not in the tree, not called) with the current odd sequence, and applied at the odd->even transition', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          const r1 = yield* start(s.mm, A, A + P); // hits x: FullyExcluded
          yield* mmu_interval_notifier_insert(s.y, s.mm, A + P, P);
          const pending = { ...state(s), ySeq: s.y.invalidateSeq, membership: s.y.membership, inTree: inTree(s, s.y) };
          // An invalidation over y's range meanwhile does not reach it.
          yield* invalidate(s.mm, A + P, A + 2 * P);
          const logDuring = [...s.log];
          yield* mmu_notifier_invalidate_range_end(r1);
          const applied = { ...state(s), membership: s.y.membership, inTree: inTree(s, s.y), ySeq: s.y.invalidateSeq };
          yield* invalidate(s.mm, A + P, A + 2 * P);
          out = { pending, logDuring, applied, log: [...s.log] };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({
      pending: { seq: 3, active: 1, deferred: 1, ySeq: 3, membership: 'pending-insert', inTree: false },
      logDuring: ['x:inv(3)'],
      applied: { seq: 4, active: 0, deferred: 0, membership: 'in-tree', inTree: true, ySeq: 3 },
      log: ['x:inv(3)', 'y:inv(5)'],
    });
  });

  it('insert_locked under the mmap write lock behaves as insert', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      tasks: {
        *t(s, w) {
          yield w.point('go');
          yield* mmap_write_lock(s.mm);
          const ret = yield* mmu_interval_notifier_insert_locked(s.x, s.mm, A, P);
          yield* mmap_write_unlock(s.mm);
          out = { ret, seq: s.x.invalidateSeq, inTree: inTree(s, s.x) };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ ret: 0, seq: 1, inTree: true });
  });

  it.each([
    ['length 0', A, 0],
    ['a last byte past the end of the address space', 2 ** 53 - P, 2 * P],
  ])('%s: -EOVERFLOW, nothing inserted, the mm not pinned', (_what, start, length) => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      tasks: {
        *t(s, w) {
          yield w.point('go');
          const before = s.mm.mm_count;
          const ret = yield* mmu_interval_notifier_insert(s.x, s.mm, start, length);
          out = { ret, membership: s.x.membership, pinned: s.mm.mm_count - before };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ ret: -EOVERFLOW, membership: 'unregistered', pinned: 0 });
  });

  it.each(['v4.19', 'v5.4'] as const)('%s: insert and insert_locked do not exist: api-unavailable stops the run, -EOPNOTSUPP', (kernel) => {
    for (const locked of [false, true]) {
      let ret = 0;
      const r = run<St>(
        {
          setup,
          tasks: {
            *t(s, w) {
              yield w.point('go');
              if (locked) {
                yield* mmap_write_lock(s.mm);
                ret = yield* mmu_interval_notifier_insert_locked(s.x, s.mm, A, P);
                yield* mmap_write_unlock(s.mm);
              } else {
                ret = yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
              }
            },
          },
        },
        { kernel },
      );
      expect(kinds(r)).toEqual([API_UNAVAILABLE]);
      expect(ofKind(r, API_UNAVAILABLE)[0]!.message).toMatch(new RegExp(`mmu_interval_notifier_insert${locked ? '_locked' : ''} does not exist in kernel contract ${kernel.replace('.', '\\.')}`));
      expect(ret).toBe(-EOPNOTSUPP);
    }
  });

  it('on an mm with no users: WARN and -EINVAL (from the registration on a fresh mm, from insert itself on an mm with interval support)', () => {
    let rets: number[] = [];
    const fresh = run<St>({
      setup: (w) => {
        const s = setup(w);
        s.mm.mm_users = 0;
        return s;
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          rets = [yield* mmu_interval_notifier_insert(s.x, s.mm, A, P)];
        },
      },
    });
    expect(places(fresh, 'warn')).toEqual(['register:no-users']);
    const withItree = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.far, s.mm, FAR, P);
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          s.mm.mm_users = 0;
          rets.push(yield* mmu_interval_notifier_insert(s.x, s.mm, A, P));
        },
      },
    });
    expect(places(withItree, 'warn')).toEqual(['interval-insert:no-users']);
    expect(rets).toEqual([-EINVAL, -EINVAL]);
  });

  it('insert pins the mm and remove unpins it', () => {
    let counts: number[] = [];
    run<St>({
      setup,
      tasks: {
        *t(s, w) {
          yield w.point('go');
          counts.push(s.mm.mm_count);
          yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
          counts.push(s.mm.mm_count);
          yield* mmu_interval_notifier_remove(s.x);
          counts.push(s.mm.mm_count);
        },
      },
    });
    expect(counts).toEqual([1, 2, 1]);
  });

  it('an invalidation reaches only overlapping intervals: the range end is exclusive, the interval last is inclusive', () => {
    let log: string[] = [];
    const r = run<St>({
      setup: (w) => {
        const s = setup(w);
        log = s.log;
        return s;
      },
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          yield* invalidate(s.mm, A - P, A); // ends where x begins
          yield* invalidate(s.mm, A + P, A + 2 * P); // begins just past x's last byte
          s.log.push('|');
          yield* invalidate(s.mm, A + P - 1, A + P); // x's last byte
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(log).toEqual(['|', 'x:inv(3)']);
  });

  // Regression (fixed in 607cd8d; was at interval.ts:84-98): removeFromTree sets intervals[slot] = null but keeps sub.slot, and
  // addToTree only fills intervals[] when slot < 0. A subscription inserted again after remove is
  // linked into the tree with a payload that maps to null, so `overlapping` skips it and its
  // callback is never called (the kernel lets a removed mmu_interval_notifier be inserted again:
  // insert initialises every field).
  it('a subscription inserted again after remove is called by invalidations again', () => {
    let log: string[] = [];
    run<St>({
      setup: (w) => {
        const s = setup(w);
        log = s.log;
        return s;
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
          yield* mmu_interval_notifier_remove(s.x);
          yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
          yield* invalidate(s.mm, A, A + P);
        },
      },
    });
    expect(log).toEqual(['x:inv(3)']);
  });
});

describe('remove', () => {
  it('while Idle: out of the tree at once, never called again', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          yield* mmu_interval_notifier_remove(s.x);
          const after = { membership: s.x.membership, inTree: inTree(s, s.x), ...state(s) };
          yield* invalidate(s.mm, A, A + P);
          out = { after, log: [...s.log], end: state(s) };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    // With nothing in the tree, the later invalidation leaves the sequence even.
    expect(out).toEqual({ after: { membership: 'removed', inTree: false, seq: 2, active: 0, deferred: 0 }, log: [], end: { seq: 2, active: 0, deferred: 0 } });
  });

  it('while PartiallyExcluded: out of the tree at once, without waiting', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          const r1 = yield* start(s.mm, FAR, FAR + P); // hits nothing
          yield* mmu_interval_notifier_remove(s.x); // would deadlock if it waited
          out = { membership: s.x.membership, ...state(s) };
          yield* mmu_notifier_invalidate_range_end(r1);
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ membership: 'removed', seq: 2, active: 1, deferred: 0 });
  });

  it('while FullyExcluded it waits until the sequence changes: in the same task as the invalidation it sleeps for ever', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          yield* start(s.mm, A, A + P);
          yield* mmu_interval_notifier_remove(s.x);
        },
      },
    });
    expect(kinds(r)).toEqual(['deadlock']);
  });

  it('while FullyExcluded the removal is deferred (still called meanwhile) and remove returns only after the exclusion ended, in every interleaving', () => {
    const seenDuring = new Set<string>();
    const r = run<St & { atReturn: Record<string, unknown> | null }>(
      {
        setup: (w) => ({ ...setup(w), atReturn: null }),
        *init(s) {
          yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
        },
        tasks: {
          *munmap(s, w) {
            yield* invalidate(s.mm, A, A + P, function* () {
              yield w.point('zap', s.mm.notifier_subscriptions, Access.Read);
              seenDuring.add(`${s.x.membership}${inTree(s, s.x) ? ' in tree' : ''}`);
            });
          },
          *remover(s) {
            yield* mmu_interval_notifier_remove(s.x);
            const st = state(s);
            s.atReturn = { membership: s.x.membership, inTree: inTree(s, s.x), running: s.x.running, even: st.seq % 2 === 0 };
          },
        },
        check: (s) => {
          const want = { membership: 'removed', inTree: false, running: 0, even: true };
          return JSON.stringify(s.atReturn) === JSON.stringify(want) ? null : `at return: ${JSON.stringify(s.atReturn)}`;
        },
      },
      { random: 400 },
    );
    expect(summary(r)).toEqual([]);
    expect(ofKind(r, CALLBACK_AFTER_REMOVE)).toEqual([]);
    expect(r.exhausted).toBe(true);
    // The deferred case happened (pending-remove while the exclusion ran), and so did the others.
    expect([...seenDuring].sort()).toEqual(['in-tree in tree', 'pending-remove in tree', 'removed']);
  });

  it('of a pending insert: taken off the deferred list without waiting, never enters the tree', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          const r1 = yield* start(s.mm, A, A + P);
          yield* mmu_interval_notifier_insert(s.y, s.mm, A + P, P);
          yield* mmu_interval_notifier_remove(s.y); // would deadlock if it waited
          const during = { membership: s.y.membership, ...state(s) };
          yield* mmu_notifier_invalidate_range_end(r1);
          yield* invalidate(s.mm, A + P, A + 2 * P);
          out = { during, inTree: inTree(s, s.y), log: [...s.log], end: state(s) };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ during: { membership: 'removed', seq: 3, active: 1, deferred: 0 }, inTree: false, log: ['x:inv(3)'], end: { seq: 4, active: 0, deferred: 0 } });
  });

  it('remove of a subscription that was never inserted is a BUG (the kernel dereferences a NULL mm)', () => {
    const r = run<St>({
      setup,
      tasks: {
        *t(s, w) {
          yield w.point('go');
          yield* mmu_interval_notifier_remove(s.x);
        },
      },
    });
    expect(kinds(r)).toEqual(['bug']);
    expect(r.problems[0]!.message).toMatch(/mmu_interval_notifier_remove\(x\) on a subscription that was never inserted/);
  });
});

describe('read side', () => {
  it('read_begin does not sleep for a subscription the current exclusion has not touched, even with the sequence odd', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
        yield* mmu_interval_notifier_insert(s.y, s.mm, FAR, P);
      },
      tasks: {
        *t(s) {
          const r1 = yield* start(s.mm, A, A + P);
          const seq = yield* mmu_interval_read_begin(s.y);
          out = { seq, mmSeq: s.mm.notifier_subscriptions!.invalidateSeq };
          yield* mmu_notifier_invalidate_range_end(r1);
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ seq: 1, mmSeq: 3 });
  });

  it('read_begin sleeps when colliding: after its callback ran in this exclusion, or when inserted during it (same task: deadlock)', () => {
    for (const which of ['callback ran', 'inserted during'] as const) {
      const r = run<St>({
        setup,
        *init(s) {
          yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
        },
        tasks: {
          *t(s) {
            yield* start(s.mm, A, A + P);
            if (which === 'callback ran') {
              yield* mmu_interval_read_begin(s.x);
            } else {
              yield* mmu_interval_notifier_insert(s.y, s.mm, FAR, P);
              yield* mmu_interval_read_begin(s.y);
            }
          },
        },
      });
      expect(kinds(r)).toEqual(['deadlock']);
    }
  });

  it('a colliding read_begin returns its odd sequence only after the mm sequence moved on, in every interleaving', () => {
    const returned = new Set<number>();
    const r = run<St & { bad: string | null }>(
      {
        setup: (w) => ({ ...setup(w), bad: null }),
        *init(s) {
          yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
        },
        tasks: {
          *munmap(s, w) {
            yield* invalidate(s.mm, A, A + P, function* () {
              yield w.point('zap', s.mm.notifier_subscriptions, Access.Read);
            });
          },
          *reader(s) {
            const seq = yield* mmu_interval_read_begin(s.x);
            const mmSeq = s.mm.notifier_subscriptions!.invalidateSeq;
            returned.add(seq);
            if (seq % 2 === 0) s.bad = `read_begin returned even ${seq}`;
            // INV-S8: it never returns the odd value of an exclusion still in progress.
            if (seq === mmSeq) s.bad = `read_begin returned ${seq} while the mm sequence is still ${mmSeq}`;
          },
        },
        check: (s) => s.bad,
      },
      { random: 400 },
    );
    expect(summary(r)).toEqual([]);
    expect(r.exhausted).toBe(true);
    // Before the callback (1) and after it (3, once the sequence went to 4).
    expect([...returned].sort()).toEqual([1, 3]);
  });

  it('read_retry is true exactly when the sequence moved since read_begin; check_retry agrees without the lock', () => {
    let out: unknown[] = [];
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          const s1 = yield* mmu_interval_read_begin(s.x);
          out.push(s1, yield* mmu_interval_read_retry(s.x, s1), mmu_interval_check_retry(s.x, s1));
          yield* invalidate(s.mm, A, A + P);
          out.push(yield* mmu_interval_read_retry(s.x, s1), mmu_interval_check_retry(s.x, s1));
          const s2 = yield* mmu_interval_read_begin(s.x);
          out.push(s2, yield* mmu_interval_read_retry(s.x, s2), mmu_interval_check_retry(s.x, s2));
          // An invalidation elsewhere does not disturb x's snapshot.
          yield* invalidate(s.mm, FAR, FAR + P);
          out.push(yield* mmu_interval_read_retry(s.x, s2));
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual([1, false, false, true, true, 3, false, false, false]);
  });

  it('set_seq with an even value is a sequence-protocol finding; odd values are not', () => {
    const bad = run<St>({
      setup: (w) => {
        const s = setup(w);
        s.x = new MmuIntervalNotifier(
          {
            *invalidate(sub, _r, cur) {
              mmu_interval_set_seq(sub, cur + 1);
              return true;
            },
          },
          'x',
        );
        return s;
      },
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          yield* invalidate(s.mm, A, A + P);
        },
      },
    });
    expect(kinds(bad)).toEqual([SEQUENCE_PROTOCOL]);
    expect(places(bad, SEQUENCE_PROTOCOL)).toEqual(['even-set-seq:x']);
    expect(ofKind(bad, SEQUENCE_PROTOCOL)[0]!.message).toMatch(/set_seq\(x, 4\): the sequence must be odd/);
    const good = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          yield* invalidate(s.mm, A, A + P);
        },
      },
    });
    expect(summary(good)).toEqual([]);
  });
});

describe('the invalidation side', () => {
  it('overlapping invalidations share one odd cur_seq; the sequence turns even only when the last ends, even one that hit no interval', () => {
    let out: unknown[] = [];
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
        yield* mmu_interval_notifier_insert(s.y, s.mm, A + P, P);
      },
      tasks: {
        *t(s) {
          const r1 = yield* start(s.mm, A, A + P);
          const r2 = yield* start(s.mm, FAR, FAR + P); // hits nothing
          const r3 = yield* start(s.mm, A + P, A + 2 * P);
          out.push(state(s));
          yield* mmu_notifier_invalidate_range_end(r1);
          yield* mmu_notifier_invalidate_range_end(r3);
          out.push(state(s));
          yield* mmu_notifier_invalidate_range_end(r2);
          out.push(state(s), [...s.log]);
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual([
      { seq: 3, active: 3, deferred: 0 },
      { seq: 3, active: 1, deferred: 0 },
      { seq: 4, active: 0, deferred: 0 },
      ['x:inv(3)', 'y:inv(3)'],
    ]);
  });

  it('every cur_seq a callback sees is odd and the mm sequence only grows', () => {
    const seqs: number[] = [];
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          for (let i = 0; i < 3; i++) {
            yield* invalidate(s.mm, A, A + P);
            seqs.push(s.mm.notifier_subscriptions!.invalidateSeq);
          }
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(seqs).toEqual([4, 6, 8]);
  });
});
