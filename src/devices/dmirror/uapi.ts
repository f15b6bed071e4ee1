/**
 * The dmirror command ABI (lib/test_hmm_uapi.h, as facts): the five-field command record, the
 * command numbers, the fail-alloc flag and the snapshot permission bytes.
 *
 * A C program passes `struct hmm_dmirror_cmd` and a user pointer; here `ptr` is the user buffer
 * itself (the selftest's `mirror` is plain heap memory, never touched by another task, so it is
 * not simulated memory). On failure the record and the buffer are left as they were, as the
 * kernel skips copy_to_user when the command fails.
 */

/** `struct hmm_dmirror_cmd`. */
export interface HmmDmirrorCmd {
  /** User virtual address the device operates on. */
  addr: number;
  /** The user buffer data goes to or comes from (bytes; words are little-endian u32). */
  ptr: ArrayBuffer;
  npages: number;
  /** Out: pages handled. */
  cpages: number;
  /** Out: calls of the fault helper. */
  faults: number;
}

/** Command numbers (`_IOWR('H', nr, struct hmm_dmirror_cmd)`; the model passes nr). */
export const HMM_DMIRROR_READ = 0x00;
export const HMM_DMIRROR_WRITE = 0x01;
export const HMM_DMIRROR_MIGRATE_TO_DEV = 0x02;
export const HMM_DMIRROR_MIGRATE_TO_SYS = 0x03;
export const HMM_DMIRROR_SNAPSHOT = 0x04;
export const HMM_DMIRROR_EXCLUSIVE = 0x05;
export const HMM_DMIRROR_CHECK_EXCLUSIVE = 0x06;
export const HMM_DMIRROR_RELEASE = 0x07;
export const HMM_DMIRROR_FLAGS = 0x08;

/** The command names, by number (traces and reports). */
export const HMM_DMIRROR_NAMES: readonly string[] = ['READ', 'WRITE', 'MIGRATE_TO_DEV', 'MIGRATE_TO_SYS', 'SNAPSHOT', 'EXCLUSIVE', 'CHECK_EXCLUSIVE', 'RELEASE', 'FLAGS'];

/** FLAGS value: the next large (or single) device/system allocation of a migration fails, once. */
export const HMM_DMIRROR_FLAG_FAIL_ALLOC = 1;

/** Snapshot permission bytes (one per page). */
export const HMM_DMIRROR_PROT_ERROR = 0xff;
export const HMM_DMIRROR_PROT_NONE = 0x00;
export const HMM_DMIRROR_PROT_READ = 0x01;
export const HMM_DMIRROR_PROT_WRITE = 0x02;
export const HMM_DMIRROR_PROT_PMD = 0x04;
export const HMM_DMIRROR_PROT_PUD = 0x08;
export const HMM_DMIRROR_PROT_ZERO = 0x10;
export const HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20;
export const HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30;
export const HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL = 0x40;
export const HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE = 0x50;

/** The device kinds: minors 0 and 1 are device-private, 2 and 3 device-coherent. */
export const HMM_DMIRROR_MEMORY_DEVICE_PRIVATE = 0;
export const HMM_DMIRROR_MEMORY_DEVICE_COHERENT = 1;

/** Number of character devices the module may create (hmm_dmirror0..3). */
export const DMIRROR_NDEVICES = 4;
