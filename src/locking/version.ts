/**
 * Core contract versions: the kernel's notifier contract changed over time, and users compare
 * the verdicts of one scenario under each. A version is a set of behaviours, named after the
 * release that introduced the last of them. The notifier core, the locking annotations and the
 * HMM layer read the version of the run from here.
 */
import type { World } from '../sim/world.js';

/** The behaviours that differ between versions. */
export interface KernelContract {
  /** The name used on the command line (`--kernel`). */
  readonly name: string;
  /** What the version stands for, in one line. */
  readonly summary: string;
  /**
   * v5.4+: start/end run under the invalidate_range_start lockdep map, blockable entry points
   * call might_sleep, non-blockable classic callbacks run inside non_block_start/end, and the
   * core WARNs on a bad return from start.
   */
  readonly notifierAnnotations: boolean;
  /** v5.4–v5.8: registering a notifier primes lockdep with fs_reclaim -> notifier map. */
  readonly primeAtRegistration: boolean;
  /** v5.9+: every reclaim-capable allocation acquires the notifier map. */
  readonly reclaimTracksNotifier: boolean;
  /** v5.5+: interval notifiers (sequence protocol, deferred insert/remove). */
  readonly intervalNotifiers: boolean;
  /**
   * After a failed non-blockable start: `none` (before v5.12, no subscription gets end) or
   * `all-with-end` (v5.12+, every subscription with an end op gets end).
   */
  readonly eagainEndPairing: 'none' | 'all-with-end';
  /**
   * Observed in the source: a classic -EAGAIN after a successful interval step returns without
   * closing the interval step, leaking the active count (and an odd sequence). False applies the
   * fix the spec proposes: close the interval step before returning -EAGAIN.
   */
  readonly itreeLeakOnHlistEagain: boolean;
  /**
   * v5.9+: dma-fence lockdep annotations (the dma_fence_map signalling map, fence waits acquire it,
   * and dma_resv_lockdep's boot-time priming of fs_reclaim -> notifier map -> fence wait).
   */
  readonly dmaFenceAnnotations: boolean;
  /** v5.7+: lockdep's wait-context check ("Invalid wait context"; here with raw-lock nesting checks on). */
  readonly lockdepWaitContext: boolean;
  /**
   * v5.2-v5.3: the 2019 HMM mirror API (hmm_mirror_register, hmm_range_register,
   * wait_until_valid, snapshot, hmm_range_fault(range, block), a boolean `valid` per range).
   * Absent: the calls are api-unavailable (v4.19 had the older API, v5.4 a reworked one not
   * modelled, v5.5 removed it for interval notifiers).
   */
  readonly legacyHmm?: LegacyHmmContract;
}

/** How a version's legacy HMM core behaves (src/hmm/legacy). */
export interface LegacyHmmContract {
  /**
   * v5.3 (5a136b4ae327 "mm/hmm: Fix error flows in hmm_invalidate_range_start"): when hmm's own
   * non-blockable start fails it takes its `notifiers` count back down, and a mirror's -EAGAIN is
   * returned to the core. v5.2 leaves the count raised when the mirrors_sem trylock fails, and
   * swallows a mirror's -EAGAIN (its start returns 0 while the device still maps the pages).
   */
  readonly unwindsFailedStart: boolean;
}

/** Every version, oldest first. */
export const KERNEL_VERSIONS: readonly KernelContract[] = [
  {
    name: 'v4.19',
    summary: 'blockable flag and -EAGAIN from non-blockable starts; an -EAGAIN skips every end (the 2019 seed mails)',
    notifierAnnotations: false,
    primeAtRegistration: false,
    reclaimTracksNotifier: false,
    intervalNotifiers: false,
    eagainEndPairing: 'none',
    itreeLeakOnHlistEagain: true,
    dmaFenceAnnotations: false,
    lockdepWaitContext: false,
  },
  {
    name: 'v5.2',
    summary: 'v4.19 plus the HMM mirror API of seed 001 (hmm_range_register, wait_until_valid, a boolean valid per range)',
    notifierAnnotations: false,
    primeAtRegistration: false,
    reclaimTracksNotifier: false,
    intervalNotifiers: false,
    eagainEndPairing: 'none',
    itreeLeakOnHlistEagain: true,
    dmaFenceAnnotations: false,
    lockdepWaitContext: false,
    legacyHmm: { unwindsFailedStart: false },
  },
  {
    name: 'v5.3',
    summary: 'v5.2 plus hmm unwinding its own counter when its start fails (5a136b4ae327)',
    notifierAnnotations: false,
    primeAtRegistration: false,
    reclaimTracksNotifier: false,
    intervalNotifiers: false,
    eagainEndPairing: 'none',
    itreeLeakOnHlistEagain: true,
    dmaFenceAnnotations: false,
    lockdepWaitContext: false,
    legacyHmm: { unwindsFailedStart: true },
  },
  {
    name: 'v5.4',
    summary: 'v4.19 plus lockdep map around start/end, might_sleep, non_block sections, priming at registration',
    notifierAnnotations: true,
    primeAtRegistration: true,
    reclaimTracksNotifier: false,
    intervalNotifiers: false,
    eagainEndPairing: 'none',
    itreeLeakOnHlistEagain: true,
    dmaFenceAnnotations: false,
    lockdepWaitContext: false,
  },
  {
    name: 'v5.5',
    summary: 'v5.4 plus interval notifiers (sequence protocol); the old pairing rule still holds',
    notifierAnnotations: true,
    primeAtRegistration: true,
    reclaimTracksNotifier: false,
    intervalNotifiers: true,
    eagainEndPairing: 'none',
    itreeLeakOnHlistEagain: true,
    dmaFenceAnnotations: false,
    lockdepWaitContext: false,
  },
  {
    name: 'v5.9',
    summary: 'v5.5 with the notifier map tracked by every reclaim-capable allocation instead of priming',
    notifierAnnotations: true,
    primeAtRegistration: false,
    reclaimTracksNotifier: true,
    intervalNotifiers: true,
    eagainEndPairing: 'none',
    itreeLeakOnHlistEagain: true,
    dmaFenceAnnotations: true,
    lockdepWaitContext: true,
  },
  {
    name: 'current',
    summary: 'v5.12 and later: after an -EAGAIN, end is called on every subscription with an end op',
    notifierAnnotations: true,
    primeAtRegistration: false,
    reclaimTracksNotifier: true,
    intervalNotifiers: true,
    eagainEndPairing: 'all-with-end',
    itreeLeakOnHlistEagain: true,
    dmaFenceAnnotations: true,
    lockdepWaitContext: true,
  },
  {
    name: 'what-if-itree-fix',
    summary: 'current, plus the proposed fix: a classic -EAGAIN after the interval step closes the interval step first',
    notifierAnnotations: true,
    primeAtRegistration: false,
    reclaimTracksNotifier: true,
    intervalNotifiers: true,
    eagainEndPairing: 'all-with-end',
    itreeLeakOnHlistEagain: false,
    dmaFenceAnnotations: true,
    lockdepWaitContext: true,
  },
];

/** The version a run uses unless told otherwise. */
export const DEFAULT_KERNEL = 'current';

const VERSION_KEY = 'kernel.version';

/** Looks a version up by name; throws an Error listing the known names. */
export function kernelContract(name: string): KernelContract {
  const v = KERNEL_VERSIONS.find((k) => k.name === name);
  if (v === undefined) throw new Error(`unknown kernel version '${name}': choose one of ${KERNEL_VERSIONS.map((k) => k.name).join(', ')}`);
  return v;
}

/** Sets the version for every run in this world (the explorer does it once, before the runs). */
export function setKernelContract(world: World, name: string): void {
  world.persistent.set(VERSION_KEY, kernelContract(name));
}

/** The version of the run. */
export function contractOf(world: World): KernelContract {
  return (world.persistent.get(VERSION_KEY) as KernelContract | undefined) ?? kernelContract(DEFAULT_KERNEL);
}
