import { describe, expect, it } from 'vitest';
import {
  VM_EXEC,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  isCowMapping,
  vmFlagsString,
} from '../../src/mm/vma-flags.ts';

describe('vma flags', () => {
  it('isCowMapping: private and may-write', () => {
    expect(isCowMapping(VM_READ | VM_MAYWRITE)).toBe(true);
    expect(isCowMapping(VM_READ | VM_MAYWRITE | VM_SHARED)).toBe(false);
    expect(isCowMapping(VM_READ)).toBe(false);
  });

  it('vmFlagsString looks like /proc/pid/maps', () => {
    expect(vmFlagsString(VM_READ | VM_WRITE)).toBe('rw-p');
    expect(vmFlagsString(VM_READ | VM_EXEC | VM_MAYSHARE)).toBe('r-xs');
    expect(vmFlagsString(0)).toBe('---p');
  });
});
