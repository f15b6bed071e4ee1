import { describe, expect, it } from 'vitest';
import { down_read, down_write, downgrade_write, RwSemaphore, up_read, up_write } from '../../src/locking/rwsem.js';
import { mmap_assert_write_locked, mmap_read_lock, mmap_read_unlock, mmapLockInit } from '../../src/locking/mmap-lock.js';
import { Access } from '../../src/sim/point.js';
import { explore, kinds } from './helpers.js';

describe('rw_semaphore', () => {
  it('lets readers in together and keeps a writer out (exhaustive)', () => {
    const r = explore(
      (w) => ({ s: new RwSemaphore(w, 's'), inside: { name: 'inside', readers: 0, writers: 0, maxReaders: 0 } }),
      {
        *r0(st, w) {
          yield* down_read(st.s);
          yield w.point('enter', st.inside, Access.Write);
          st.inside.readers++;
          st.inside.maxReaders = Math.max(st.inside.maxReaders, st.inside.readers);
          if (st.inside.writers > 0) throw new Error('reader inside with a writer');
          yield w.point('leave', st.inside, Access.Write);
          st.inside.readers--;
          yield* up_read(st.s);
        },
        *r1(st, w) {
          yield* down_read(st.s);
          yield w.point('enter', st.inside, Access.Write);
          st.inside.readers++;
          st.inside.maxReaders = Math.max(st.inside.maxReaders, st.inside.readers);
          yield w.point('leave', st.inside, Access.Write);
          st.inside.readers--;
          yield* up_read(st.s);
        },
        *wr(st, w) {
          yield* down_write(st.s);
          yield w.point('enter', st.inside, Access.Write);
          st.inside.writers++;
          if (st.inside.readers > 0) throw new Error('writer inside with readers');
          yield w.point('leave', st.inside, Access.Write);
          st.inside.writers--;
          yield* up_write(st.s);
        },
      },
    );
    expect(kinds(r)).toEqual([]);
  });

  it('is fair: a recursive down_read deadlocks when a writer queued in between', () => {
    const r = explore((w) => ({ s: new RwSemaphore(w, 's') }), {
      *reader(st) {
        yield* down_read(st.s);
        yield* down_read(st.s);
        yield* up_read(st.s);
        yield* up_read(st.s);
      },
      *writer(st) {
        yield* down_write(st.s);
        yield* up_write(st.s);
      },
    });
    // Lockdep flags the recursive read on a fair rwsem in every run; the deadlock needs the writer in between.
    expect(kinds(r)).toEqual(['deadlock', 'lockdep-recursive']);
  });

  it('downgrade_write lets waiting readers in but no writer', () => {
    const order: string[] = [];
    const r = explore((w) => ({ s: new RwSemaphore(w, 's') }), {
      *owner(st) {
        yield* down_write(st.s);
        yield* downgrade_write(st.s);
        order.push('downgraded');
        yield* up_read(st.s);
      },
      *reader(st) {
        yield* down_read(st.s);
        order.push('reader in');
        yield* up_read(st.s);
      },
    });
    expect(kinds(r)).toEqual([]);
    expect(order).toContain('reader in');
  });

  it('mmap_assert_write_locked is a WARN finding under a read lock', () => {
    const r = explore((w) => ({ mm: { mmap_lock: mmapLockInit(w, 'mm') } }), {
      *t(st) {
        yield* mmap_read_lock(st.mm);
        mmap_assert_write_locked(st.mm);
        yield* mmap_read_unlock(st.mm);
      },
    });
    expect(kinds(r)).toEqual(['warn']);
  });
});
