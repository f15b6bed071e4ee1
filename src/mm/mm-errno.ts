/**
 * The errno values the mm layer returns, in one place: the locking layer's constants plus the
 * two only syscalls need (EBADF for an unknown file, EACCES for a protection a mapping may not
 * have). Negated where returned, as in the kernel.
 */
export { EAGAIN, EEXIST, EFAULT, EINTR, EINVAL, ENOMEM, errnoName } from '../locking/errno.js';

/** Bad file descriptor. */
export const EBADF = 9;
/** Permission denied. */
export const EACCES = 13;
