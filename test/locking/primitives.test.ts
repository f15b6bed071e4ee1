import { describe, expect, it } from 'vitest';
import { AtomicT, atomic_dec_and_test, atomic_inc } from '../../src/locking/atomic.js';
import { complete, complete_all, Completion, wait_for_completion, wait_for_completion_timeout } from '../../src/locking/completion.js';
import { read_seqcount_begin, read_seqcount_retry, Seqcount, write_seqcount_begin, write_seqcount_end } from '../../src/locking/seqcount.js';
import { SrcuStruct, srcu_read_lock, srcu_read_unlock, synchronize_srcu } from '../../src/locking/srcu.js';
import { wait_event, wait_event_timeout, wake_up_all } from '../../src/locking/wait.js';
import { Access } from '../../src/sim/point.js';
import { explore, kinds } from './helpers.js';

describe('atomic_t', () => {
  it('increments are never lost and dec_and_test sees zero once', () => {
    let zeroes = 0;
    const r = explore((w) => ({ a: new AtomicT(w, 'a') }), {
      *t0(s) {
        yield* atomic_inc(s.a);
        if (yield* atomic_dec_and_test(s.a)) zeroes++;
      },
      *t1(s) {
        yield* atomic_inc(s.a);
        if (yield* atomic_dec_and_test(s.a)) zeroes++;
      },
    }, { check: (s) => (s.a.counter === 0 ? null : `counter ${s.a.counter}`) });
    expect(kinds(r)).toEqual([]);
    expect(zeroes).toBeGreaterThan(0);
  });
});

describe('seqcount', () => {
  it('a reader that overlapped a write is told to retry, and a consistent snapshot never is torn', () => {
    let retries = 0;
    const r = explore(
      (w) => ({ sc: new Seqcount(w, 'sc'), data: { name: 'data', x: 0, y: 0 } }),
      {
        *writer(s, w) {
          yield* write_seqcount_begin(s.sc);
          yield w.point('write x', s.data, Access.Write);
          s.data.x = 1;
          yield w.point('write y', s.data, Access.Write);
          s.data.y = 1;
          yield* write_seqcount_end(s.sc);
        },
        *reader(s, w) {
          for (;;) {
            const seq = yield* read_seqcount_begin(s.sc);
            yield w.point('read x', s.data, Access.Read);
            const x = s.data.x;
            yield w.point('read y', s.data, Access.Read);
            const y = s.data.y;
            if (yield* read_seqcount_retry(s.sc, seq)) {
              retries++;
              continue;
            }
            if (x !== y) throw new Error(`torn read ${x},${y}`);
            return;
          }
        },
      },
    );
    expect(kinds(r)).toEqual([]);
    expect(retries).toBeGreaterThan(0);
  });
});

describe('SRCU', () => {
  it('synchronize_srcu waits for readers that started before it', () => {
    const r = explore(
      (w) => ({ ss: new SrcuStruct(w, 'srcu'), obj: { name: 'obj', freed: false, inRead: false } }),
      {
        *reader(s, w) {
          const idx = yield* srcu_read_lock(s.ss);
          yield w.point('use obj', s.obj, Access.Read);
          if (s.obj.freed) throw new Error('use after free inside an SRCU read section');
          yield* srcu_read_unlock(s.ss, idx);
        },
        *remover(s, w) {
          yield* synchronize_srcu(s.ss);
          yield w.point('free obj', s.obj, Access.Write);
          s.obj.freed = true;
        },
      },
    );
    // The reader may start after the grace period began and then see the object freed: that is
    // the unlink-before-synchronize rule, which this scenario breaks on purpose.
    expect(kinds(r)).toEqual(['exception']);
  });

  it('synchronize_srcu inside its own read section is reported by lockdep and deadlocks', () => {
    const r = explore((w) => ({ ss: new SrcuStruct(w, 'srcu') }), {
      *t(s) {
        const idx = yield* srcu_read_lock(s.ss);
        yield* synchronize_srcu(s.ss);
        yield* srcu_read_unlock(s.ss, idx);
      },
    });
    expect(kinds(r)).toContain('deadlock');
    expect(kinds(r).some((k) => k.startsWith('lockdep-'))).toBe(true);
  });
});

describe('completion and wait_event', () => {
  it('wait_for_completion returns once completed; complete_all lets every waiter through', () => {
    const r = explore((w) => ({ c: new Completion(w, 'done') }), {
      *w0(s) {
        yield* wait_for_completion(s.c);
      },
      *w1(s) {
        yield* wait_for_completion(s.c);
      },
      *finisher(s) {
        yield* complete_all(s.c);
      },
    });
    expect(kinds(r)).toEqual([]);
  });

  it('one complete for two waiters leaves one asleep: a deadlock', () => {
    const r = explore((w) => ({ c: new Completion(w, 'done') }), {
      *w0(s) {
        yield* wait_for_completion(s.c);
      },
      *w1(s) {
        yield* wait_for_completion(s.c);
      },
      *finisher(s) {
        yield* complete(s.c);
      },
    });
    expect(kinds(r)).toEqual(['deadlock']);
  });

  it('timed waits return 0 after the virtual time passes', () => {
    const results: number[] = [];
    explore((w) => ({ c: new Completion(w, 'never'), q: w.waitQueue('q') }), {
      *t(s) {
        results.push(yield* wait_for_completion_timeout(s.c, 100));
        results.push(yield* wait_event_timeout(s.q, () => false, 50));
      },
    });
    expect(results).toEqual([0, 0]);
  });

  it('wait_event never misses a wake-up (exhaustive)', () => {
    const r = explore(
      (w) => {
        const flag = { name: 'flag', set: false };
        return { flag, q: w.waitQueue('q', flag) };
      },
      {
        *waiter(s) {
          yield* wait_event(s.q, () => s.flag.set);
        },
        *setter(s, w) {
          yield w.point('set flag', s.flag, Access.Write);
          s.flag.set = true;
          yield* wake_up_all(s.q);
        },
      },
    );
    expect(kinds(r)).toEqual([]);
    expect(r.exhausted).toBe(true);
  });
});
