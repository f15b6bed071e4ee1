/**
 * Property (current contract): random interleavings of interval inserts, removes, read_begin /
 * read_retry cycles and invalidations (blocking and non-blocking, some failing) never leave the
 * sequence odd, invalidations active or changes deferred once every task is done, and never
 * break the protocol's own checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { defineScenario } from '../../src/check/scenario.js';
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../../src/locking/mutex.js';
import { MMU_NOTIFY_CLEAR } from '../../src/notifier/events.js';
import {
  mmu_notifier_invalidate_range_end,
  mmu_notifier_invalidate_range_start,
  mmu_notifier_invalidate_range_start_nonblock,
} from '../../src/notifier/invalidate.js';
import {
  MmuIntervalNotifier,
  mmu_interval_notifier_insert,
  mmu_interval_notifier_remove,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
} from '../../src/notifier/interval.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import { MmuNotifierRange, mmu_notifier_range_blockable, mmu_notifier_range_init } from '../../src/notifier/range.js';
import type { World } from '../../src/sim/world.js';

const PAGE = 0x1000;
const SLOTS = 4; // address slots of one page each

type Op =
  | { op: 'cycle' } // insert my notifier, read_begin / lock / read_retry, remove
  | { op: 'invalidate'; slot: number; pages: number; nonblock: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ op: 'cycle' as const }),
  fc.record({
    op: fc.constant('invalidate' as const),
    slot: fc.integer({ min: 0, max: SLOTS - 1 }),
    pages: fc.integer({ min: 1, max: 2 }),
    nonblock: fc.boolean(),
  }),
);

interface State {
  mm: MmStruct;
  dl: Mutex;
}

function build(tasks: Op[][], slotsOf: number[]) {
  return defineScenario<State>({
    name: 'sequence-property',
    description: '',
    setup: (w: World) => ({ mm: mm_alloc(w), dl: new Mutex(w, 'DL') }),
    *init(s) {
      // Make the mm interval-capable up front, as a driver's first insert would.
      const warm = new MmuIntervalNotifier({ *invalidate() { return true; } }, 'warm');
      yield* mmu_interval_notifier_insert(warm, s.mm, 0x100000, PAGE);
    },
    tasks: Object.fromEntries(
      tasks.map((ops, ti) => [
        `t${ti}`,
        function* (s: State) {
          const sub = new MmuIntervalNotifier(
            {
              *invalidate(n, range, curSeq) {
                if (mmu_notifier_range_blockable(range)) yield* mutex_lock(s.dl);
                else if ((yield* mutex_trylock(s.dl)) === 0) return false;
                mmu_interval_set_seq(n, curSeq);
                yield* mutex_unlock(s.dl);
                return true;
              },
            },
            `sub${ti}`,
          );
          for (const o of ops) {
            if (o.op === 'cycle') {
              yield* mmu_interval_notifier_insert(sub, s.mm, slotsOf[ti]! * PAGE, PAGE);
              for (let attempt = 0; attempt < 3; attempt++) {
                const seq = yield* mmu_interval_read_begin(sub);
                yield* mutex_lock(s.dl);
                const retry = yield* mmu_interval_read_retry(sub, seq);
                yield* mutex_unlock(s.dl);
                if (!retry) break;
              }
              yield* mmu_interval_notifier_remove(sub);
            } else {
              const range = new MmuNotifierRange();
              mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, s.mm, o.slot * PAGE, (o.slot + o.pages) * PAGE);
              if (o.nonblock) {
                if ((yield* mmu_notifier_invalidate_range_start_nonblock(range)) !== 0) continue;
              } else {
                yield* mmu_notifier_invalidate_range_start(range);
              }
              yield* mmu_notifier_invalidate_range_end(range);
            }
          }
        },
      ]),
    ),
    check(s, ctx) {
      const subs = s.mm.notifier_subscriptions!;
      if (subs.fullyExcluded || subs.activeInvalidateRanges !== 0 || subs.deferred.length !== 0) {
        ctx.fail(`not quiescent: seq ${subs.invalidateSeq}, active ${subs.activeInvalidateRanges}, deferred ${subs.deferred.length}`);
      }
    },
  });
}

describe('interval sequence protocol under random interleavings (current contract)', () => {
  it('is quiescent at the end of every run and never trips a protocol check', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: SLOTS - 1 }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        (tasks, slotsOf, seed) => {
          const r = checkScenario(build(tasks, slotsOf), { legs: [{ name: 'random' }, { name: 'pct', depth: 3 }], seed, runs: 60, shrink: false });
          expect(r.problems.map((p) => `${p.kind}: ${p.message.split('\n')[0]}`)).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
