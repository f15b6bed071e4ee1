/**
 * `enum fault_flag` (include/linux/mm_types.h): what a fault knows about its cause. The values are
 * the kernel's. Who sets what:
 *
 *     a user CPU fault (fault_in)       USER | ALLOW_RETRY (| WRITE)
 *     hmm_range_fault (hmm_vma_fault)   REMOTE (| WRITE): the fault is not the current task's access
 *     other kernel callers              WRITE or nothing
 *
 * `migrate_to_ram` sees them in `vmf->flags`.
 */

/** `FAULT_FLAG_WRITE`: the access writes. */
export const FAULT_FLAG_WRITE = 0x1;
/** `FAULT_FLAG_ALLOW_RETRY`: a wait may drop the mmap lock and return VM_FAULT_RETRY. */
export const FAULT_FLAG_ALLOW_RETRY = 0x4;
/** `FAULT_FLAG_USER`: the access came from user space. */
export const FAULT_FLAG_USER = 0x40;
/** `FAULT_FLAG_REMOTE`: the fault is not for the current task (GUP on another mm, hmm_range_fault). */
export const FAULT_FLAG_REMOTE = 0x80;
