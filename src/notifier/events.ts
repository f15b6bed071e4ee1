/**
 * Why an invalidation happens (`enum mmu_notifier_event`, in the kernel's order) and the range
 * flag. Drivers filter on these: a MIGRATE or EXCLUSIVE event carrying their own owner is one
 * they caused themselves.
 */

/** munmap, teardown, mremap's old range, the OOM reaper. */
export const MMU_NOTIFY_UNMAP = 0;
/** A PTE cleared or replaced: madvise, reclaim, migration, COW, THP. */
export const MMU_NOTIFY_CLEAR = 1;
/** mprotect and friends, through change_protection (raised even when nothing changes). */
export const MMU_NOTIFY_PROTECTION_VMA = 2;
/** Fork write-protecting the parent; write-protect for writeback. */
export const MMU_NOTIFY_PROTECTION_PAGE = 3;
/** clear_refs soft-dirty. */
export const MMU_NOTIFY_SOFT_DIRTY = 4;
/** The one interval invalidation of [0, MAX) at mm teardown. */
export const MMU_NOTIFY_RELEASE = 5;
/** migrate_vma collecting or filling a range; `owner` is the pgmap owner. */
export const MMU_NOTIFY_MIGRATE = 6;
/** make_device_exclusive (owner = the caller), or its restore on a CPU fault (owner = null). */
export const MMU_NOTIFY_EXCLUSIVE = 7;

/** The event kinds, for messages. */
export const MMU_NOTIFY_NAMES: readonly string[] = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE'];

/** `MMU_NOTIFIER_RANGE_BLOCKABLE`: callbacks may sleep. Set by the entry point, not the call site. */
export const MMU_NOTIFIER_RANGE_BLOCKABLE = 1;

/** The largest address a range can name (the end of a 64-bit address space, as a double). */
export const ULONG_MAX = 2 ** 64 - 1;
