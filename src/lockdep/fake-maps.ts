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

/** Meaning of the dma-fence map in reports. */
export const DMA_FENCE_NOTE =
  'dma_fence_map = read-held inside a dma_fence signalling section (code that must run for a published fence to signal); taken exclusively by every fence wait';

const fsReclaimKey = { staticMap: 'fs_reclaim' };
const dmaFenceKey = { staticMap: 'dma_fence_map' };
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

/**
 * The dma-fence signalling map (drivers/dma-buf/dma-fence.c, v5.9+): read-held (non-recursive)
 * across a signalling critical section, acquired and released exclusively by every fence wait,
 * so "waits for a fence" and "needed to signal a fence" meet in the dependency graph.
 */
export const DMA_FENCE_MAP = new LockdepMap('dma_fence_map', { key: dmaFenceKey, fakeNote: DMA_FENCE_NOTE });

/** True if `key` is the dma-fence signalling map's class key. */
export function isDmaFenceKey(key: unknown): boolean {
  return key === dmaFenceKey;
}
