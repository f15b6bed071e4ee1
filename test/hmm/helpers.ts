/** Helpers for the hmm tests: an mm with a plain interval notifier, and a range over it. */
import { MmuIntervalNotifier, mmu_interval_notifier_insert, mmu_interval_read_begin, mmu_interval_set_seq } from '../../src/notifier/interval.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import type { Mm } from '../../src/mm/mm-struct.ts';
import { HmmRange } from '../../src/hmm/range.ts';
import { hmm_range_fault } from '../../src/hmm/hmm-range-fault.ts';
import { EBUSY } from '../../src/locking/errno.js';

export const P = 4096;

/** An interval notifier over everything that just updates its sequence. */
export function* plainNotifier(mm: Mm, start = 0, length = 2 ** 47): Generator<unknown, MmuIntervalNotifier, unknown> {
  const sub = new MmuIntervalNotifier(
    {
      *invalidate(s, _r, cur) {
        mmu_interval_set_seq(s, cur);
        return true;
      },
    },
    'test-notifier',
  );
  yield* mmu_interval_notifier_insert(sub, mm, start, length);
  return sub;
}

/** Runs hmm_range_fault over [start, end) with the given request, under the mmap read lock. */
export function* snapshot(
  mm: Mm,
  sub: MmuIntervalNotifier,
  start: number,
  end: number,
  opts: { default_flags?: bigint; pfn_flags_mask?: bigint; inputs?: bigint[]; owner?: unknown; lock?: boolean; once?: boolean } = {},
): Generator<unknown, { ret: number; pfns: BigUint64Array }, unknown> {
  const pfns = new BigUint64Array((end - start) / P);
  const range = new HmmRange({
    notifier: sub,
    start,
    end,
    hmm_pfns: pfns,
    default_flags: opts.default_flags ?? 0n,
    pfn_flags_mask: opts.pfn_flags_mask ?? 0n,
    dev_private_owner: opts.owner ?? null,
  });
  // As a driver does: -EBUSY (a fault bumped the sequence) restarts from read_begin.
  for (;;) {
    range.notifier_seq = yield* mmu_interval_read_begin(sub);
    opts.inputs?.forEach((v, i) => (pfns[i] = v));
    if (opts.lock !== false) yield* mmap_read_lock(mm);
    const ret = yield* hmm_range_fault(range);
    if (opts.lock !== false) yield* mmap_read_unlock(mm);
    if (ret !== -EBUSY || opts.once === true) return { ret, pfns };
  }
}
