/**
 * Page-frame flag bits (the kernel's PG_* folio flags, plus the few states the
 * model keeps as flags: anon, zero page, device-private, free).
 *
 * They live in a Uint16 per frame (see frames.ts), so at most 16 bits; one is
 * still unused.
 */

/** Folio locked (kernel PG_locked). */
export const PG_LOCKED = 1 << 0;
/** Recently referenced, for LRU aging (PG_referenced). */
export const PG_REFERENCED = 1 << 1;
/** Contents valid (PG_uptodate). */
export const PG_UPTODATE = 1 << 2;
/** Contents differ from backing store (PG_dirty). */
export const PG_DIRTY = 1 << 3;
/** On an LRU list (PG_lru). */
export const PG_LRU = 1 << 4;
/** On the active LRU list (PG_active). */
export const PG_ACTIVE = 1 << 5;
/** Under writeback (PG_writeback). */
export const PG_WRITEBACK = 1 << 6;
/** Backed by swap rather than a file (PG_swapbacked: anon and shmem). */
export const PG_SWAPBACKED = 1 << 7;
/** In the swap cache; the slot is kept with `setPrivate` (PG_swapcache). */
export const PG_SWAPCACHE = 1 << 8;
/** Anonymous: owner is an anon object id, not a file id (the kernel's PAGE_MAPPING_ANON). */
export const PG_ANON = 1 << 9;
/** Anon page known to be mapped by one process only (PG_anon_exclusive). */
export const PG_ANON_EXCLUSIVE = 1 << 10;
/** The shared zero page. Owned by FrameTable. */
export const PG_ZERO = 1 << 11;
/** A device-private (ZONE_DEVICE) page. Owned by FrameTable. */
export const PG_DEVICE_PRIVATE = 1 << 12;
/** Free (for device frames: idle, returned to the driver). Owned by FrameTable. */
export const PG_BUDDY = 1 << 13;
/**
 * A device-coherent (ZONE_DEVICE, MEMORY_DEVICE_COHERENT) page: device memory the CPU maps with
 * ordinary present PTEs. Never on the LRU. Owned by FrameTable.
 */
export const PG_DEVICE_COHERENT = 1 << 14;
/** Either ZONE_DEVICE type the model has (is_zone_device_page). */
export const ZONE_DEVICE_MASK = PG_DEVICE_PRIVATE | PG_DEVICE_COHERENT;
/** Flags only FrameTable itself may set or clear. */
export const PG_OWNED_BY_TABLE = PG_ZERO | PG_DEVICE_PRIVATE | PG_BUDDY | PG_DEVICE_COHERENT;

/** pfn of the shared zero page. */
export const ZERO_PFN = 0;

const FLAG_NAMES: readonly string[] = [
  'locked', 'referenced', 'uptodate', 'dirty', 'lru', 'active', 'writeback', 'swapbacked',
  'swapcache', 'anon', 'anon_exclusive', 'zero', 'device_private', 'buddy', 'device_coherent',
];

/** Names of the set flags joined by `|`, e.g. `uptodate|dirty|anon`. */
export function frameFlagNames(flags: number): string {
  const out: string[] = [];
  for (let i = 0; i < FLAG_NAMES.length; i++) if (flags & (1 << i)) out.push(FLAG_NAMES[i]!);
  return out.join('|');
}
