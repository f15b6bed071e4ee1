/**
 * End-of-run oracles (scenarios' INV-QUIESCE, spec §8 INV-S1/S2, INV-C3): no invalidation may
 * still be open, the interval sequence must be even with nothing deferred, and drivers may add
 * expectations of their own. They judge only runs that completed.
 */
import { describe, expect, it } from 'vitest';
import { mmu_notifier_register, MmuNotifier } from '../../src/notifier/classic.js';
import { mmu_notifier_invalidate_range_start } from '../../src/notifier/invalidate.js';
import { MmuIntervalNotifier, mmu_interval_notifier_insert, mmu_interval_read_begin } from '../../src/notifier/interval.js';
import { QUIESCENCE, SEQUENCE_PROTOCOL, UNPAIRED_INVALIDATE } from '../../src/notifier/kinds.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import { expectQuiescent } from '../../src/notifier/quiescence.js';
import { invalidate, kinds, logging, loggingInterval, ofKind, places, rangeOf, run, summary } from './helpers.js';

const P = 0x1000;
const A = 0x500000;

interface St {
  mm: MmStruct;
  mm2: MmStruct;
  c: MmuNotifier;
  x: MmuIntervalNotifier;
  y: MmuIntervalNotifier;
}

function setup(w: import('../../src/sim/world.js').World): St {
  return { mm: mm_alloc(w, 'mm'), mm2: mm_alloc(w, 'mm2'), c: logging('c', []), x: loggingInterval('x', []), y: loggingInterval('y', []) };
}

describe('quiescence', () => {
  it('a start its caller never ended: unpaired-invalidate naming the range (classic-only mm: nothing else)', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_notifier_register(s.c, s.mm);
      },
      tasks: {
        *t(s) {
          yield* mmu_notifier_invalidate_range_start(rangeOf(s.mm, A, A + P));
        },
      },
    });
    expect(kinds(r)).toEqual([UNPAIRED_INVALIDATE]);
    expect(places(r, UNPAIRED_INVALIDATE)).toEqual(['mm:start-without-end']);
    expect(ofKind(r, UNPAIRED_INVALIDATE)[0]!.message).toMatch(/invalidate_range_start\(\[0x500000, 0x501000\) CLEAR\) on mm was never ended by its caller/);
  });

  it('on an mm with interval notifiers the open start also leaves the count raised and the sequence odd: quiescence', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          yield* mmu_notifier_invalidate_range_start(rangeOf(s.mm, A, A + P));
        },
      },
    });
    expect(kinds(r)).toEqual([QUIESCENCE, UNPAIRED_INVALIDATE]);
    expect(places(r, QUIESCENCE)).toEqual(['mm:notifier-state']);
    expect(ofKind(r, QUIESCENCE)[0]!.message).toMatch(/mm has 1 active invalidation\(s\), sequence 3 \(odd\), 0 deferred interval change\(s\)/);
  });

  it('an insert left deferred at the end of the run is counted in the quiescence report', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          yield* mmu_notifier_invalidate_range_start(rangeOf(s.mm, A, A + P));
          yield* mmu_interval_notifier_insert(s.y, s.mm, A + P, P);
        },
      },
    });
    expect(ofKind(r, QUIESCENCE)[0]!.message).toMatch(/1 deferred interval change\(s\)/);
  });

  it('an odd sequence with no invalidation active: quiescence and sequence-protocol (odd-idle)', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s, w) {
          yield w.point('corrupt');
          s.mm.notifier_subscriptions!.invalidateSeq = 5;
        },
      },
    });
    expect(kinds(r)).toEqual([QUIESCENCE, SEQUENCE_PROTOCOL]);
    expect(places(r, SEQUENCE_PROTOCOL)).toEqual(['mm:odd-idle']);
  });

  it('every mm with notifier state is checked, each under its own name; a paired run is clean', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_notifier_register(s.c, s.mm);
        yield* mmu_interval_notifier_insert(s.x, s.mm2, A, P);
      },
      tasks: {
        *t(s) {
          yield* invalidate(s.mm, A, A + P);
          yield* mmu_notifier_invalidate_range_start(rangeOf(s.mm2, A, A + P));
        },
      },
    });
    expect(places(r, UNPAIRED_INVALIDATE)).toEqual(['mm2:start-without-end']);
    expect(places(r, QUIESCENCE)).toEqual(['mm2:notifier-state']);
    const clean = run<St>({
      setup,
      *init(s) {
        yield* mmu_notifier_register(s.c, s.mm);
        yield* mmu_interval_notifier_insert(s.x, s.mm2, A, P);
      },
      tasks: {
        *t(s) {
          yield* invalidate(s.mm, A, A + P);
          yield* invalidate(s.mm2, A, A + P);
        },
      },
    });
    expect(summary(clean)).toEqual([]);
  });

  it('a run stopped by a deadlock is not judged for quiescence: only the deadlock is reported', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* mmu_interval_notifier_insert(s.x, s.mm, A, P);
      },
      tasks: {
        *t(s) {
          yield* mmu_notifier_invalidate_range_start(rangeOf(s.mm, A, A + P));
          yield* mmu_interval_read_begin(s.x); // collides with the exclusion this task holds open
        },
      },
    });
    expect(kinds(r)).toEqual(['deadlock']);
  });
});

describe('expectQuiescent', () => {
  it("a driver's expectation that fails at the end of the run is a quiescence finding with its own words; one that holds is silent", () => {
    const r = run<{ counter: number }>({
      setup: (w) => {
        const s = { counter: 0 };
        expectQuiescent(w, 'drv->in_flight', () => (s.counter === 0 ? null : `is ${s.counter}`));
        expectQuiescent(w, 'drv->other', () => null);
        return s;
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          s.counter = 2;
        },
      },
    });
    expect(kinds(r)).toEqual([QUIESCENCE]);
    expect(places(r, QUIESCENCE)).toEqual(['drv->in_flight']);
    expect(ofKind(r, QUIESCENCE)[0]!.message).toBe('drv->in_flight: is 2');
  });

  it('is evaluated at the end of the run, not when registered', () => {
    const r = run<{ counter: number }>({
      setup: (w) => {
        const s = { counter: 1 };
        expectQuiescent(w, 'drv->in_flight', () => (s.counter === 0 ? null : `is ${s.counter}`));
        return s;
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          s.counter = 0;
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });
});
