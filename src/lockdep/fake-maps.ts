/**
 * The two fake locks the MMU-notifier/HMM model needs (spec §12.1). They are
 * module-level singletons, like the kernel's static maps: a static map's key
 * is the map itself, so every Lockdep graph sees one class for each.
 */
import { LockdepMap } from './map.ts';

/** Meaning of `fs_reclaim` in reports (spec §16.3). */
export const FS_RECLAIM_NOTE = 'fs_reclaim = memory reclaim (entered by any reclaim-capable allocation)';

/** Meaning of the notifier map in reports (spec §16.3). */
export const MMU_NOTIFIER_NOTE =
  'mmu_notifier_invalidate_range_start = inside an MMU notifier invalidation callback, or waiting for one';

const fsReclaimKey = { staticMap: 'fs_reclaim' };
const notifierKey = { staticMap: 'mmu_notifier_invalidate_range_start' };

/** Held while a task is (or could be) in reclaim that may recurse into filesystems. */
export const FS_RECLAIM_MAP = new LockdepMap('fs_reclaim', { key: fsReclaimKey, fakeNote: FS_RECLAIM_NOTE });

/** Held around every batch of invalidate-range-start (and end) callbacks. */
export const MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP = new LockdepMap('mmu_notifier_invalidate_range_start', {
  key: notifierKey,
  fakeNote: MMU_NOTIFIER_NOTE,
});

/** True if `key` is the fs_reclaim fake map's class key. */
export function isFsReclaimKey(key: unknown): boolean {
  return key === fsReclaimKey;
}

/** True if `key` is the MMU-notifier start map's class key. */
export function isNotifierKey(key: unknown): boolean {
  return key === notifierKey;
}
