/**
 * The kernel's error numbers that hmmsim's API returns, negated where the kernel returns them
 * negated (`return -EAGAIN;`). Values are Linux's, so a ported driver's comparisons still hold.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ERANGE = 34;
export const EDEADLK = 35;
export const EOPNOTSUPP = 95;
export const EOVERFLOW = 75;
export const EALREADY = 114;
export const ETIME = 62;
export const EHWPOISON = 133;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [EINTR]: 'EINTR',
  [EIO]: 'EIO',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [EINVAL]: 'EINVAL',
  [ENOSPC]: 'ENOSPC',
  [ERANGE]: 'ERANGE',
  [EDEADLK]: 'EDEADLK',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [EOVERFLOW]: 'EOVERFLOW',
  [EALREADY]: 'EALREADY',
  [ETIME]: 'ETIME',
  [EHWPOISON]: 'EHWPOISON',
};

/** `-EAGAIN` for -11, `0` for 0, the number otherwise. */
export function errnoName(ret: number): string {
  if (ret === 0) return '0';
  const n = NAMES[-ret];
  return n === undefined ? String(ret) : `-${n}`;
}
