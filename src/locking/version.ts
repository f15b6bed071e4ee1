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
   * do_swap_page on a device-private entry whose page is locked by someone else:
   * - `retry`: unlock the PTE and return 0, so the fault is taken again: a spin, and a livelock
   *   when the lock holder waits for the faulting task. This is v6.1 (16ce101db85d, "fix race
   *   when faulting a device private page", which added the trylock and the reference) up to
   *   the early-2026 fix. Before v6.1 there was no trylock at all: migrate_to_ram ran on an
   *   unlocked, unreferenced page (the race that commit fixed, not modelled); for a page
   *   someone holds locked its collect skipped the page and the fault was retried just the
   *   same, so the older versions get `retry` too.
   * - `wait`: queue on the folio while still holding the PTL, then sleep until it is unlocked
   *   (migration_entry_wait_on_locked with the PTL; the 2026 patch, "Cc: stable v6.15+").
   */
  readonly devicePrivateLockedFault: 'retry' | 'wait';
  /**
   * v4.20+: munmap downgrades the mmap lock to read after detaching the VMAs, so the UNMAP
   * invalidation, the zap and free_pgtables run under the read lock.
   */
  readonly munmapDowngrade: boolean;
  /**
   * v5.9+ (copy_present_page): fork copies an anonymous page that may be DMA-pinned in a COW
   * mapping of an mm that has pinned pages, instead of sharing it; the parent keeps its writable PTE.
   */
  readonly forkCopiesPinned: boolean;
  /**
   * Device-exclusive access: `none` (before v5.14), `range` (v5.14–v6.14:
   * make_device_exclusive_range over the reverse map, entries not counted in the mapcount) or
   * `single` (v6.15+: make_device_exclusive of one page, mapcount kept).
   */
  readonly deviceExclusiveApi: 'none' | 'range' | 'single';
  /**
   * The event of the owner-null invalidation that restores a device-exclusive entry on a CPU
   * fault (remove_device_exclusive_entry): `exclusive` (v5.14–v6.14, MMU_NOTIFY_EXCLUSIVE) or
   * `clear` (v6.15+: "mm/mmu_notifier: use MMU_NOTIFY_CLEAR in remove_device_exclusive_entry()",
   * the last patch of "mm: cleanups for device-exclusive entries (hmm)", queued for 6.15 in
   * linux-next of 11 March 2025). EXCLUSIVE then means only the conversion, which carries the
   * caller's owner.
   */
  readonly exclusiveRestoreEvent: 'exclusive' | 'clear';
  /**
   * v6.0+ (a3fb2c9b "mm: add zone device coherent type memory support" and its series):
   * MEMORY_DEVICE_COHERENT pagemaps, MIGRATE_VMA_SELECT_DEVICE_COHERENT, FOLL_LONGTERM migrating
   * coherent pages out, and test_hmm's coherent devices (hmm_dmirror2/3).
   */
  readonly deviceCoherent: boolean;
  /**
   * v5.10+ (3b50a6e536d2): hmm_range_fault reports the order a page is mapped at (PMD or PUD
   * level) in each output entry (hmm_pfn_to_map_order). Before, every entry says order 0.
   */
  readonly hmmPfnMapOrder: boolean;
  /**
   * v5.16+ (87c01d57fa23, "allow VM_MIXEDMAP to work with hmm_range_fault"): a VM_MIXEDMAP VMA is
   * walked like any other, its pages reported when vm_normal_page finds them. Before, the VMA is
   * refused as VM_IO/VM_PFNMAP are: HMM_PFN_ERROR, or -EFAULT when a fault is asked for.
   */
  readonly hmmMixedMap: boolean;
  /** v5.11+: the gup_test debugfs file (/sys/kernel/debug/gup_test; gup_benchmark before). */
  readonly gupTestDebugfs: boolean;
  /**
   * v6.19+ (Balbir Singh's "mm: support device private THP migration", mainline 368076f52ebe and
   * its series): migrate_vma with MIGRATE_VMA_SELECT_COMPOUND collects a PMD-mapped THP (or an
   * empty PMD range, or the huge zero page's) as one MIGRATE_PFN_COMPOUND entry, device-private
   * folios may be PMD-sized and mapped by device-private PMD entries, and a CPU fault on one
   * migrates the whole folio back. Absent (older kernels): collect splits the THP first and
   * device-private memory is order 0 only.
   */
  readonly deviceThpMigration?: boolean;
  /**
   * v6.15+ (Matthew Brost's "mm/migrate: Add migrate_device_pfns", merged with the Xe SVM work):
   * migrate_device_pfns(src_pfns, npages), migrate_device_range for a non-contiguous array of
   * device pfns. Absent: the call is api-unavailable.
   */
  readonly migrateDevicePfns?: boolean;
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

// Each version is the one it grew from plus what that release changed, so a field added later
// needs a value only where the behaviour began.
const V4_19: KernelContract = {
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
  devicePrivateLockedFault: 'retry',
  munmapDowngrade: false,
  forkCopiesPinned: false,
  deviceExclusiveApi: 'none',
  exclusiveRestoreEvent: 'exclusive',
  deviceCoherent: false,
  hmmPfnMapOrder: false,
  hmmMixedMap: false,
  gupTestDebugfs: false,
};
const V5_2: KernelContract = {
  ...V4_19,
  name: 'v5.2',
  summary: 'v4.19 plus the HMM mirror API of seed 001 (hmm_range_register, wait_until_valid, a boolean valid per range)',
  munmapDowngrade: true,
  legacyHmm: { unwindsFailedStart: false },
};
const V5_3: KernelContract = {
  ...V5_2,
  name: 'v5.3',
  summary: 'v5.2 plus hmm unwinding its own counter when its start fails (5a136b4ae327)',
  legacyHmm: { unwindsFailedStart: true },
};
// v5.4 replaced the mirror API, so it grows from v4.19, not from v5.3.
const V5_4: KernelContract = {
  ...V4_19,
  name: 'v5.4',
  summary: 'v4.19 plus lockdep map around start/end, might_sleep, non_block sections, priming at registration',
  notifierAnnotations: true,
  primeAtRegistration: true,
  munmapDowngrade: true,
};
const V5_5: KernelContract = {
  ...V5_4,
  name: 'v5.5',
  summary: 'v5.4 plus interval notifiers (sequence protocol); the old pairing rule still holds',
  intervalNotifiers: true,
};
const V5_9: KernelContract = {
  ...V5_5,
  name: 'v5.9',
  summary: 'v5.5 with the notifier map tracked by every reclaim-capable allocation instead of priming',
  primeAtRegistration: false,
  reclaimTracksNotifier: true,
  dmaFenceAnnotations: true,
  lockdepWaitContext: true,
  forkCopiesPinned: true,
};
const V5_14: KernelContract = {
  ...V5_9,
  name: 'v5.14',
  summary: 'v5.9 plus end for every subscription after an -EAGAIN (v5.12) and make_device_exclusive_range over the reverse map; exclusive entries leave the mapcount; map orders from hmm_range_fault (v5.10) and the gup_test debugfs file (v5.11)',
  eagainEndPairing: 'all-with-end',
  deviceExclusiveApi: 'range',
  hmmPfnMapOrder: true,
  gupTestDebugfs: true,
};
const V6_0: KernelContract = {
  ...V5_14,
  name: 'v6.0',
  summary: 'v5.14 plus device-coherent memory (MEMORY_DEVICE_COHERENT, SELECT_DEVICE_COHERENT, long-term pins migrating it out); hmm_range_fault walks VM_MIXEDMAP (v5.16)',
  deviceCoherent: true,
  hmmMixedMap: true,
};
const V6_15: KernelContract = {
  ...V6_0,
  name: 'v6.15',
  summary: 'v6.0 with single-page make_device_exclusive: mapcount kept, reverse-map walkers handle the entries, the CPU-fault restore raises CLEAR (as released: the device-private locked-page fault still retries); migrate_device_pfns',
  deviceExclusiveApi: 'single',
  exclusiveRestoreEvent: 'clear',
  migrateDevicePfns: true,
};
const V6_19: KernelContract = {
  ...V6_15,
  name: 'v6.19',
  summary: 'v6.15 plus device-private THP migration: migrate_vma moves a PMD-mapped THP as one compound entry into a PMD-sized device folio and back',
  deviceThpMigration: true,
};
const CURRENT: KernelContract = {
  ...V6_19,
  name: 'current',
  summary: 'v5.12 and later: after an -EAGAIN, end is called on every subscription with an end op',
  devicePrivateLockedFault: 'wait',
};
const WHAT_IF_ITREE_FIX: KernelContract = {
  ...CURRENT,
  name: 'what-if-itree-fix',
  summary: 'current, plus the proposed fix: a classic -EAGAIN after the interval step closes the interval step first',
  itreeLeakOnHlistEagain: false,
};

/** Every version, oldest first. */
export const KERNEL_VERSIONS: readonly KernelContract[] = [V4_19, V5_2, V5_3, V5_4, V5_5, V5_9, V5_14, V6_0, V6_15, V6_19, CURRENT, WHAT_IF_ITREE_FIX];

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
