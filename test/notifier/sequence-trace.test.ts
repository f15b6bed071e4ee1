/**
 * The worked sequence-number trace of notifier-semantics.md §3.7, step by step, held in every
 * interleaving the ordering completions allow.
 */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { defineScenario } from '../../src/check/scenario.js';
import { Completion, complete, complete_all, wait_for_completion } from '../../src/locking/completion.js';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { wait_event_timeout } from '../../src/locking/wait.js';
import { MMU_NOTIFY_UNMAP } from '../../src/notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../src/notifier/invalidate.js';
import {
  MmuIntervalNotifier,
  mmu_interval_notifier_insert,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
} from '../../src/notifier/interval.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../../src/notifier/range.js';
import { TaskState } from '../../src/sim/task.js';
import type { World } from '../../src/sim/world.js';

const A_START = 0x10000;
const A_LEN = 0x4000;

interface State {
  mm: MmStruct;
  a: MmuIntervalNotifier;
  dl: Mutex;
  reader1Began: Completion;
  started: Completion;
  ended: Completion;
  log: Record<string, number | boolean>;
}

function scenario() {
  return defineScenario<State>({
    name: 'sequence-trace',
    description: '§3.7',
    setup(w: World) {
      const dl = new Mutex(w, 'DL');
      const log: Record<string, number | boolean> = {};
      const a = new MmuIntervalNotifier(
        {
          *invalidate(sub, _range, curSeq) {
            yield* mutex_lock(dl);
            mmu_interval_set_seq(sub, curSeq);
            log.curSeq = curSeq;
            yield* mutex_unlock(dl);
            return true;
          },
        },
        'A',
      );
      return {
        mm: mm_alloc(w),
        a,
        dl,
        reader1Began: new Completion(w, 'reader1 began'),
        started: new Completion(w, 'munmap started'),
        ended: new Completion(w, 'munmap ended'),
        log,
      };
    },
    *init(s) {
      yield* mmu_interval_notifier_insert(s.a, s.mm, A_START, A_LEN);
      s.log.mmSeqAtInsert = s.mm.notifier_subscriptions!.invalidateSeq;
      s.log.aSeqAtInsert = s.a.invalidateSeq;
    },
    tasks: {
      *reader1(s) {
        // Step 1: A.seq (1) differs from the mm's (2): no wait.
        const seq = yield* mmu_interval_read_begin(s.a);
        s.log.reader1Seq = seq;
        yield* complete(s.reader1Began);
        yield* wait_for_completion(s.ended);
        // Step 5: holding the driver lock, 3 != 1: retry.
        yield* mutex_lock(s.dl);
        s.log.reader1Retry = yield* mmu_interval_read_retry(s.a, seq);
        yield* mutex_unlock(s.dl);
      },
      *cpu(s, w) {
        yield* wait_for_completion(s.reader1Began);
        // Step 2: munmap starts over A's range.
        const range = new MmuNotifierRange();
        mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, s.mm, A_START, A_START + A_LEN);
        yield* mmu_notifier_invalidate_range_start(range);
        const subs = s.mm.notifier_subscriptions!;
        s.log.activeDuring = subs.activeInvalidateRanges;
        s.log.mmSeqDuring = subs.invalidateSeq;
        s.log.aSeqDuring = s.a.invalidateSeq;
        yield* complete(s.started);
        // Step 3 happens in reader2: wait (in virtual time) until it sleeps in read_begin.
        const reader2 = w.tasks.find((t) => t.name === 'reader2')!;
        const q = w.waitQueue('poll');
        yield* wait_event_timeout(q, () => reader2.state === TaskState.Blocked && reader2.waitingOn === subs.wq, 1000);
        s.log.reader2Slept = reader2.waitingOn === subs.wq;
        // Step 4: munmap ends.
        yield* mmu_notifier_invalidate_range_end(range);
        s.log.activeAfter = subs.activeInvalidateRanges;
        s.log.mmSeqAfter = subs.invalidateSeq;
        yield* complete_all(s.ended);
      },
      *reader2(s) {
        yield* wait_for_completion(s.started);
        // Step 3: A.seq (3) equals the mm's odd sequence: sleeps until the end, returns 3.
        const seq = yield* mmu_interval_read_begin(s.a);
        s.log.reader2Seq = seq;
        yield* mutex_lock(s.dl);
        s.log.reader2Retry = yield* mmu_interval_read_retry(s.a, seq);
        yield* mutex_unlock(s.dl);
      },
    },
    check(s, ctx) {
      const want = {
        mmSeqAtInsert: 2,
        aSeqAtInsert: 1,
        reader1Seq: 1,
        curSeq: 3,
        activeDuring: 1,
        mmSeqDuring: 3,
        aSeqDuring: 3,
        reader2Slept: true,
        activeAfter: 0,
        mmSeqAfter: 4,
        reader2Seq: 3,
        reader1Retry: true,
        reader2Retry: false,
      };
      for (const [k, v] of Object.entries(want)) if (s.log[k] !== v) ctx.fail(`${k} is ${String(s.log[k])}, expected ${String(v)}`);
    },
  });
}

describe('worked sequence-number trace (§3.7)', () => {
  it('holds step by step in every interleaving', () => {
    const r = checkScenario(scenario(), { legs: [{ name: 'dfs', preemptionBound: Infinity }], seed: 1, runs: 200_000 });
    expect(r.problems.map((p) => `${p.kind}: ${p.message}`)).toEqual([]);
    expect(r.exhausted).toBe(true);
    expect(r.runs).toBeGreaterThan(1);
  });
});
