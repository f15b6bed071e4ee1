/**
 * `struct hmm_range`: what hmm_range_fault walks and where it writes. Field names are the C
 * struct's, so a driver's `range.notifier_seq = mmu_interval_read_begin(range.notifier)` ports
 * as written.
 */
import type { MmuIntervalNotifier } from '../notifier/interval.js';

/** `struct hmm_range`. */
export class HmmRange {
  /** The interval subscription; its mm is the address space walked. */
  notifier: MmuIntervalNotifier | null = null;
  /** What `mmu_interval_read_begin(notifier)` returned. */
  notifier_seq = 0;
  /** Page-aligned half-open range [start, end). */
  start = 0;
  end = 0;
  /** One word per page: request bits in, results out (see hmm-pfn.ts). */
  hmm_pfns: BigUint64Array = new BigUint64Array(0);
  /** Request bits applied to every page. */
  default_flags = 0n;
  /** Which bits of each input word are honoured. */
  pfn_flags_mask = 0n;
  /** Device-private pages of pagemaps with this owner are reported, not faulted. */
  dev_private_owner: unknown = null;

  /** Optionally fill the fields at once (`new HmmRange({ notifier, start, end, hmm_pfns })`). */
  constructor(init: Partial<Pick<HmmRange, 'notifier' | 'notifier_seq' | 'start' | 'end' | 'hmm_pfns' | 'default_flags' | 'pfn_flags_mask' | 'dev_private_owner'>> = {}) {
    Object.assign(this, init);
  }
}
