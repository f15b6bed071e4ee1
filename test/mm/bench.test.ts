/** bench/mm at full size: the heap-per-page goal and the notifier fan-out hold. */
import { describe, expect, it } from 'vitest';
import { main } from '../../bench/mm.ts';

describe('bench/mm', () => {
  it('a populated 4 GiB anonymous region costs at most 32 heap bytes per page; munmap reaches every notifier', () => {
    const r = main(1 << 20, 1000, false, 'never');
    expect(r.bytesPerPage).toBeLessThanOrEqual(32);
    expect(r.bytesPerPage).toBeGreaterThan(27); // 22 of frame metadata + 6 of PTE: nothing was left out
    expect(r.callbacks).toBe(1000);
  });

  it('with THP always, the same region is 2,048 PMD-mapped folios at most 4 heap bytes per page', () => {
    const r = main(1 << 20, 1000, false, 'always');
    expect(r.pmdFaults).toBe(2048);
    expect(r.bytesPerPage).toBeLessThanOrEqual(4);
    expect(r.callbacks).toBe(1000);
  });
});
