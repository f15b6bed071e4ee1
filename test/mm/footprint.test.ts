import { describe, expect, it } from 'vitest';
import { main } from '../../bench/mm-structures.ts';

describe('mm structures: memory goal', () => {
  it('a fully faulted 4 GiB anon region costs at most 32 bytes per page (PTEs + frame metadata)', () => {
    const r = main(1 << 20, false);
    expect(r.pages).toBe(1 << 20);
    expect(r.accountedBytesPerPage).toBeLessThanOrEqual(32);
    expect(r.accountedBytesPerPage).toBeGreaterThan(28); // 22 (frame) + 6 (PTE): nothing was left out
    expect(r.measuredBytesPerPage).toBeLessThanOrEqual(32);
  });
});
