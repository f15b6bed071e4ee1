/**
 * `struct hmm_range` and its life cycle in the 2019 API (v5.2/v5.3):
 *
 *     hmm_range_register(range, mm, start, end, page_shift)   link on hmm->ranges; valid unless
 *                                                             an invalidation is in progress
 *     down_read(mmap_sem)
 *   again:
 *     hmm_range_wait_until_valid(range, timeout)              sleep until valid (or time out)
 *     hmm_range_snapshot(range) / hmm_range_fault(range, ...)  -EAGAIN / -EBUSY: goto again
 *     up_read(mmap_sem)
 *     take the device lock (the one sync_cpu_device_pagetables takes)
 *     hmm_range_valid(range)? program the device : drop the lock and goto again
 *     drop the device lock
 *     hmm_range_unregister(range)                             exactly once per successful register
 *
 * Misuse the kernel would punish (list corruption, a NULL hmm dereferenced, a pinned mm) is a
 * finding: a range registered twice, unregister not called exactly once per successful
 * register (checked at the end of the run too), any use of a range that is not registered.
 *
 * Page table entries come back in `pfns`, one number a page, in the driver's own encoding: the
 * driver supplies `flags` (indexed by HMM_PFN_VALID, HMM_PFN_WRITE, HMM_PFN_DEVICE_PRIVATE),
 * `values` (whole-entry values for HMM_PFN_ERROR, HMM_PFN_NONE, HMM_PFN_SPECIAL) and
 * `pfn_shift`; an entry is `pfn << pfn_shift | flags`. Flags live below bit `pfn_shift` (at most
 * 16 bits), and the model does the shift with arithmetic so pfns need not fit in 32 bits.
 */
import { EFAULT, EINVAL } from '../../locking/errno.js';
import { wait_event_timeout } from '../../locking/wait.js';
import { PAGE_SHIFT } from '../../mm/constants.ts';
import type { Mm } from '../../mm/mm-struct.ts';
import type { Vma } from '../../mm/vma.ts';
import { Access } from '../../sim/point.js';
import { currentWorld, type World } from '../../sim/world.js';
import { hmm_get_or_create, hmm_put, lockRanges, unlockRanges, type Hmm } from './hmm.js';
import {
  HMM_RANGE_DOUBLE_REGISTER,
  HMM_RANGE_UNBALANCED,
  HMM_RANGE_USE_AFTER_UNREGISTER,
  LEGACY_UNAVAILABLE,
  msecs_to_jiffies,
  requireLegacyHmm,
} from './kinds.js';
import type { HmmMirror } from './mirror.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** Index into `range.flags`: the entry is a valid page (as a request: fault it in). */
export const HMM_PFN_VALID = 0;
/** Index into `range.flags`: writable (as a request: write-fault it). */
export const HMM_PFN_WRITE = 1;
/** Index into `range.flags`: a device-private page (as a request: fault it back to memory). */
export const HMM_PFN_DEVICE_PRIVATE = 2;
/** Index into `range.values`: access impossible. */
export const HMM_PFN_ERROR = 0;
/** Index into `range.values`: nothing mapped (a later fault could map something). */
export const HMM_PFN_NONE = 1;
/** Index into `range.values`: a special mapping with no page behind it. */
export const HMM_PFN_SPECIAL = 2;

/** A ready-made encoding (drivers of the era each defined their own). */
export const HMM_DEFAULT_FLAGS: readonly number[] = [1 << 0, 1 << 1, 1 << 2];
/** Whole-entry values to go with {@link HMM_DEFAULT_FLAGS}: error, none, special. */
export const HMM_DEFAULT_VALUES: readonly number[] = [1 << 3, 0, 1 << 4];
/** The pfn shift to go with {@link HMM_DEFAULT_FLAGS}. */
export const HMM_DEFAULT_PFN_SHIFT = 8;

/** Where a range is in its life, for the misuse findings (not a kernel field). */
export type HmmRangeState = 'new' | 'registered' | 'unregistered';

/** `struct hmm_range`. Fill `pfns`, `flags`, `values`, `pfn_shift` and the request flags, then register. */
export class HmmRange {
  /** Set by register, cleared by unregister. */
  hmm: Hmm | null = null;
  /** The VMA the walk is in (set by snapshot/fault; hmm_vma_fault reads the mm from it). */
  vma: Vma | null = null;
  start = 0;
  end = 0;
  /** One entry a page: the request flags on input, the result on output. */
  pfns: number[] = [];
  flags: readonly number[] = HMM_DEFAULT_FLAGS;
  values: readonly number[] = HMM_DEFAULT_VALUES;
  /** Request flags applied to every page. */
  default_flags = 0;
  /** Which bits of a per-page input entry are honoured (-1: all). */
  pfn_flags_mask = 0;
  page_shift = PAGE_SHIFT;
  pfn_shift = HMM_DEFAULT_PFN_SHIFT;
  /** No invalidation has touched the range since it was last made valid. */
  valid = false;
  /** Model bookkeeping for the misuse findings. */
  state: HmmRangeState = 'new';

  constructor(readonly name: string = 'range') {}
}

/** `hmm_device_entry_from_pfn(range, pfn)` (formerly hmm_pfn_from_pfn): a valid entry for `pfn`. */
export function hmm_device_entry_from_pfn(range: HmmRange, pfn: number): number {
  return pfn * 2 ** range.pfn_shift + range.flags[HMM_PFN_VALID]!;
}

/** `hmm_device_entry_to_pfn(range, entry)` (formerly hmm_pfn_to_pfn): the pfn, or -1 for none, error or an invalid entry. */
export function hmm_device_entry_to_pfn(range: HmmRange, entry: number): number {
  if (entry === range.values[HMM_PFN_NONE] || entry === range.values[HMM_PFN_ERROR]) return -1;
  if ((entryFlags(range, entry) & range.flags[HMM_PFN_VALID]!) === 0) return -1;
  return Math.floor(entry / 2 ** range.pfn_shift);
}

/** The flag bits of an entry (below pfn_shift). */
export function entryFlags(range: HmmRange, entry: number): number {
  return entry % 2 ** range.pfn_shift;
}

/** The old names, kept by v5.2 for drivers not yet converted. */
export const hmm_pfn_from_pfn = hmm_device_entry_from_pfn;
export const hmm_pfn_to_pfn = hmm_device_entry_to_pfn;

const LIVE_KEY = 'hmm.legacy.liveRanges';

/** Ranges registered and not yet unregistered; checked at the end of the run. */
function liveRanges(world: World): Set<HmmRange> {
  let s = world.locals.get(LIVE_KEY) as Set<HmmRange> | undefined;
  if (s === undefined) {
    const set = new Set<HmmRange>();
    s = set;
    world.locals.set(LIVE_KEY, s);
    world.endOfRunChecks.push(() => {
      for (const r of set) {
        world.report(
          HMM_RANGE_UNBALANCED,
          `${r.name} [0x${r.start.toString(16)}, 0x${r.end.toString(16)}) was registered and never unregistered: the hmm and its mm stay pinned, and every invalidation keeps walking the stale range (hmm_range_unregister must be called once per successful register, on error paths too)`,
          `${r.name}:leak`,
        );
      }
    });
  }
  return s;
}

/**
 * Reports the use of a range that is not registered; true when the range is usable. The kernel
 * would dereference a NULL (or, from v5.3, poisoned) range->hmm.
 */
export function checkRegistered(world: World, range: HmmRange, api: string): boolean {
  if (range.state === 'registered' && range.hmm !== null) return true;
  world.report(
    HMM_RANGE_USE_AFTER_UNREGISTER,
    `${api}(${range.name}) on a range that is ${range.state === 'new' ? 'not registered' : 'already unregistered'}: range->hmm is ${range.state === 'new' ? 'not set' : 'NULL'}`,
    `${range.name}:${api}`,
  );
  return false;
}

/**
 * `hmm_range_register(range, mm, start, end, page_shift)`: starts tracking CPU page-table changes
 * over [start, end). 0; -EINVAL for a misaligned or empty range; -EFAULT when the address space is
 * gone. v5.3 took the mirror instead of the mm: either is accepted. May take the mmap lock for
 * write (first use of hmm on this mm): call it without holding the mmap lock.
 */
export function* hmm_range_register(range: HmmRange, mmOrMirror: Mm | HmmMirror, start: number, end: number, page_shift: number = PAGE_SHIFT): Gen<number> {
  const world = currentWorld();
  if (requireLegacyHmm(world, 'hmm_range_register') === null) return LEGACY_UNAVAILABLE;
  if (range.state === 'registered') {
    world.report(
      HMM_RANGE_DOUBLE_REGISTER,
      `hmm_range_register(${range.name}) while it is still registered: list_add of a linked entry corrupts hmm->ranges (hmmsim refuses the second register with -EINVAL)`,
      `${range.name}:register`,
    );
    return -EINVAL;
  }
  const mm = 'ops' in mmOrMirror ? mmOrMirror.hmm?.mm : mmOrMirror;
  if (mm === undefined) return -EINVAL;
  const mask = 2 ** page_shift - 1;
  range.valid = false;
  range.hmm = null;
  if (start % (mask + 1) !== 0 || end % (mask + 1) !== 0) return -EINVAL;
  if (start >= end) return -EINVAL;
  range.page_shift = page_shift;
  range.start = start;
  range.end = end;
  const hmm = yield* hmm_get_or_create(mm);
  if (hmm === null) return -EFAULT;
  if (hmm.dead) {
    yield* hmm_put(hmm);
    return -EFAULT;
  }
  range.hmm = hmm;
  yield* lockRanges(hmm);
  yield world.point(`link ${range.name} on ${hmm.name}->ranges, valid = ${hmm.notifiers === 0}`, hmm, Access.Write);
  hmm.ranges.unshift(range);
  // While an invalidation is in progress the range starts invalid: wait_until_valid waits for it.
  if (hmm.notifiers === 0) range.valid = true;
  range.state = 'registered';
  liveRanges(world).add(range);
  yield* unlockRanges(hmm);
  return 0;
}

/** `hmm_range_unregister(range)`: stops tracking; exactly once per successful register. */
export function* hmm_range_unregister(range: HmmRange): Gen<void> {
  const world = currentWorld();
  if (requireLegacyHmm(world, 'hmm_range_unregister') === null) return;
  const hmm = range.hmm;
  if (range.state !== 'registered' || hmm === null) {
    world.report(
      HMM_RANGE_UNBALANCED,
      `hmm_range_unregister(${range.name}) on a range that is ${range.state === 'new' ? 'not registered' : 'already unregistered'} (v5.2 silently returns; from v5.3 the range is poisoned and this oopses)`,
      `${range.name}:unregister`,
    );
    return;
  }
  yield* lockRanges(hmm);
  yield world.point(`unlink ${range.name} from ${hmm.name}->ranges`, hmm, Access.Write);
  const i = hmm.ranges.indexOf(range);
  if (i >= 0) hmm.ranges.splice(i, 1);
  range.valid = false;
  range.state = 'unregistered';
  liveRanges(world).delete(range);
  yield* unlockRanges(hmm);
  range.hmm = null;
  yield* hmm_put(hmm);
}

/**
 * `hmm_range_wait_until_valid(range, timeout)`: true once the range is valid, false when the mm
 * is dying or `timeout` milliseconds of virtual time passed with an invalidation still counted.
 * Sleeps: the caller may hold the mmap lock for read (the invalidations it waits for do not need
 * it for write), but not the device lock.
 */
export function* hmm_range_wait_until_valid(range: HmmRange, timeout: number): Gen<boolean> {
  const world = currentWorld();
  if (requireLegacyHmm(world, 'hmm_range_wait_until_valid') === null) return false;
  if (!checkRegistered(world, range, 'hmm_range_wait_until_valid')) return false;
  const hmm = range.hmm!;
  yield world.point(`hmm_range_wait_until_valid(${range.name})`, hmm, Access.Read);
  if (hmm.dead) {
    range.valid = false;
    return false;
  }
  if (range.valid) return true;
  yield* wait_event_timeout(hmm.wq, () => range.valid || hmm.dead, msecs_to_jiffies(timeout));
  // The current value, in case it turned valid just as the time ran out.
  return range.valid;
}

/** `hmm_range_valid(range)`: has no invalidation touched the range since it was last made valid? */
export function* hmm_range_valid(range: HmmRange): Gen<boolean> {
  const world = currentWorld();
  if (requireLegacyHmm(world, 'hmm_range_valid') === null) return false;
  if (!checkRegistered(world, range, 'hmm_range_valid')) return false;
  yield world.point(`hmm_range_valid(${range.name})`, range.hmm!, Access.Read);
  return range.valid;
}
