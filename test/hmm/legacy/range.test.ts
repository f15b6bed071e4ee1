/**
 * Ranges of the 2019 API on the real address space: register / unregister / wait_until_valid /
 * valid, their return codes, how invalidations move `valid`, the virtual-clock timeout, the misuse
 * findings, and api-unavailable outside v5.2/v5.3.
 */
import { describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, EOPNOTSUPP } from '../../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../../src/locking/mmap-lock.js';
import { MMU_NOTIFY_CLEAR } from '../../../src/notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../../src/notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../../../src/notifier/range.js';
import { mm_create, type Mm } from '../../../src/mm/index.ts';
import { mm_get_hmm } from '../../../src/hmm/legacy/hmm.js';
import {
  HMM_RANGE_DEFAULT_TIMEOUT,
  HMM_RANGE_DOUBLE_REGISTER,
  HMM_RANGE_UNBALANCED,
  HMM_RANGE_USE_AFTER_UNREGISTER,
} from '../../../src/hmm/legacy/kinds.js';
import { HmmRange, hmm_range_register, hmm_range_unregister, hmm_range_valid, hmm_range_wait_until_valid } from '../../../src/hmm/legacy/range.js';
import { hmm_range_snapshot } from '../../../src/hmm/legacy/walk.js';
import { kinds, LEGACY, mapAnon, P, RecordingMirror, run, WITHOUT, type Gen } from './helpers.js';
import { hmm_mirror_register } from '../../../src/hmm/legacy/mirror.js';
import { Completion, complete, wait_for_completion } from '../../../src/locking/completion.js';

interface St {
  mm: Mm;
  addr: number;
  range: HmmRange;
  log: unknown[];
}

const setup = (w: import('../../../src/sim/world.js').World): St => ({ mm: mm_create(w, { name: 'mm' }), addr: 0, range: new HmmRange('r'), log: [] });

function* invalidation(mm: Mm, start: number, end: number, between?: () => Gen<void>): Gen<void> {
  const r = new MmuNotifierRange();
  mmu_notifier_range_init(r, MMU_NOTIFY_CLEAR, 0, mm, start, end);
  yield* mmu_notifier_invalidate_range_start(r);
  if (between !== undefined) yield* between();
  yield* mmu_notifier_invalidate_range_end(r);
}

describe.each(LEGACY)('legacy ranges (%s)', (kernel) => {
  it('register: 0, valid, linked on the hmm of the mm (made and registered on first use); unregister unlinks and drops it', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 2);
        s.log.push(yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + 2 * P));
        const hmm = mm_get_hmm(s.mm)!;
        s.log.push(s.range.valid, hmm.ranges.includes(s.range), s.mm.notifier_subscriptions!.list.includes(hmm.mmu_notifier), yield* hmm_range_valid(s.range));
        yield* hmm_range_unregister(s.range);
        s.log.push(s.range.valid, s.range.hmm, mm_get_hmm(s.mm), hmm.mmu_notifier.onList);
      },
    });
    expect(s.log).toEqual([0, true, true, true, true, false, null, null, false]);
    expect(kinds(w)).toEqual([]);
  });

  it('register also takes the mirror instead of the mm (the v5.3 signature)', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        const m = new RecordingMirror();
        yield* hmm_mirror_register(m, s.mm);
        s.log.push(yield* hmm_range_register(s.range, m, s.addr, s.addr + P), s.range.hmm === m.hmm, s.range.valid);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([0, true, true]);
    expect(kinds(w)).toEqual([]);
  });

  it('register refuses a misaligned or empty range with -EINVAL', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        s.log.push(yield* hmm_range_register(new HmmRange('a'), s.mm, s.addr + 8, s.addr + P));
        s.log.push(yield* hmm_range_register(new HmmRange('b'), s.mm, s.addr, s.addr));
        s.log.push(yield* hmm_range_register(new HmmRange('c'), s.mm, s.addr + P, s.addr));
      },
    });
    expect(s.log).toEqual([-EINVAL, -EINVAL, -EINVAL]);
    expect(kinds(w)).toEqual([]);
  });

  it('an overlapping invalidation makes a range invalid until its end; a disjoint one leaves it valid', () => {
    const { s } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 3);
        const other = new HmmRange('other');
        yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P);
        yield* hmm_range_register(other, s.mm, s.addr + 2 * P, s.addr + 3 * P);
        yield* invalidation(s.mm, s.addr, s.addr + P, function* () {
          s.log.push(yield* hmm_range_valid(s.range), yield* hmm_range_valid(other), mm_get_hmm(s.mm)!.notifiers);
        });
        s.log.push(yield* hmm_range_valid(s.range), mm_get_hmm(s.mm)!.notifiers);
        yield* hmm_range_unregister(other);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([false, true, 1, true, 0]);
  });

  it('a range registered during an invalidation starts invalid; wait_until_valid sleeps until the end wakes it', () => {
    const { s, w } = run(
      kernel,
      (w) => ({ ...setup(w), registered: new Completion(w, 'registered'), waiting: new Completion(w, 'waiting') }),
      {
        *cpu(s) {
          s.addr = yield* mapAnon(s.mm, 1);
          yield* hmm_mirror_register(new RecordingMirror(), s.mm); // the hmm exists before the invalidation
          yield* invalidation(s.mm, s.addr, s.addr + P, function* () {
            yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P);
            s.log.push(`registered valid=${s.range.valid}`);
            yield* complete(s.registered);
            yield* wait_for_completion(s.waiting);
          });
          s.log.push('end');
        },
        *waiter(s, w) {
          yield* wait_for_completion(s.registered);
          yield* complete(s.waiting);
          const ok = yield* hmm_range_wait_until_valid(s.range, HMM_RANGE_DEFAULT_TIMEOUT);
          s.log.push(`woke valid=${ok} at ${w.now}`);
          yield* hmm_range_unregister(s.range);
        },
      },
    );
    expect(s.log).toEqual(['registered valid=false', 'end', 'woke valid=true at 0']);
    expect(kinds(w)).toEqual([]);
  });

  it('wait_until_valid times out after HMM_RANGE_DEFAULT_TIMEOUT ms of virtual time when no end comes', () => {
    const { s, w } = run(kernel, setup, {
      *t(s, w) {
        s.addr = yield* mapAnon(s.mm, 1);
        yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P);
        const r = new MmuNotifierRange();
        mmu_notifier_range_init(r, MMU_NOTIFY_CLEAR, 0, s.mm, s.addr, s.addr + P);
        yield* mmu_notifier_invalidate_range_start(r);
        s.log.push(yield* hmm_range_wait_until_valid(s.range, HMM_RANGE_DEFAULT_TIMEOUT), w.now);
        yield* mmu_notifier_invalidate_range_end(r);
        s.log.push(yield* hmm_range_wait_until_valid(s.range, HMM_RANGE_DEFAULT_TIMEOUT), w.now);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([false, 1000, true, 1000]);
    expect(kinds(w)).toEqual([]);
  });

  it('misuse: a second register is refused and reported; a second unregister is reported', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        s.log.push(yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P));
        s.log.push(yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P));
        s.log.push(mm_get_hmm(s.mm)!.ranges.length);
        yield* hmm_range_unregister(s.range);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([0, -EINVAL, 1]);
    expect(kinds(w)).toEqual([HMM_RANGE_DOUBLE_REGISTER, HMM_RANGE_UNBALANCED]);
  });

  it('misuse: a range still registered when the run ends is hmm-range-unbalanced', () => {
    const { w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P);
      },
    });
    expect(kinds(w)).toEqual([HMM_RANGE_UNBALANCED]);
    expect(w.findings[0]!.message).toMatch(/registered and never unregistered/);
  });

  it('misuse: using a range after unregister (or before register) is reported; wait and valid say false, snapshot -EFAULT', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        s.log.push(yield* hmm_range_valid(s.range));
        yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P);
        yield* hmm_range_unregister(s.range);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_wait_until_valid(s.range, 10), yield* hmm_range_snapshot(s.range));
        yield* mmap_read_unlock(s.mm);
      },
    });
    expect(s.log).toEqual([false, false, -EFAULT]);
    expect(kinds(w)).toEqual([HMM_RANGE_USE_AFTER_UNREGISTER]);
    expect(w.findings.map((f) => f.message.split(' on ')[0])).toEqual(['hmm_range_valid(r)', 'hmm_range_wait_until_valid(r)', 'hmm_range_snapshot(r)']);
  });
});

describe.each(WITHOUT)('the 2019 API under %s', (kernel) => {
  it('does not exist: api-unavailable stops the run, -EOPNOTSUPP', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        s.log.push(yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + P));
      },
    });
    expect(s.log).toEqual([-EOPNOTSUPP]);
    expect(kinds(w)).toEqual(['api-unavailable']);
    expect(w.isStopped).toBe(true);
  });
});
