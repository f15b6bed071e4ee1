/**
 * migrate_vma_setup counts pages from the unaligned start/end, then aligns them (review item 9):
 * a sub-page range that straddles no page boundary counts 0 pages and is -EINVAL.
 */
import { describe, expect, it } from 'vitest';
import { EINVAL } from '../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_VMA_SELECT_SYSTEM } from '../../src/hmm/migrate-pfn.ts';
import { kinds, run1 } from '../mm/helpers.ts';

const P = 4096;

/** migrate_vma_setup over [a + from, a + to) of a written 2-page mapping; then pages+finalize if it set up. */
function setupOver(from: number, to: number) {
  return run1(function* (w) {
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    yield* write32(mm, a, 1);
    yield* write32(mm, a + P, 2);
    yield* mmap_read_lock(mm);
    const args = new MigrateVma({ vma: find_vma(mm, a)!, start: a + from, end: a + to, src: [0, 0], dst: [0, 0], flags: MIGRATE_VMA_SELECT_SYSTEM });
    const r = yield* migrate_vma_setup(args);
    if (r === 0) {
      yield* migrate_vma_pages(args);
      yield* migrate_vma_finalize(args);
    }
    yield* mmap_read_unlock(mm);
    return { r, npages: args.npages, start: args.start - a, end: args.end - a };
  });
}

describe('migrate_vma_setup with unaligned start/end', () => {
  it('[P/2, P) counts 0 pages before aligning: -EINVAL', () => {
    const { value, w } = setupOver(P / 2, P);
    expect(value.r).toBe(-EINVAL);
    expect(kinds(w)).toEqual([]);
  });
  it('[P/2, 3P/2) counts one page and aligns to [0, P)', () => {
    const { value, w } = setupOver(P / 2, P + P / 2);
    expect(value).toEqual({ r: 0, npages: 1, start: 0, end: P });
    expect(kinds(w)).toEqual([]);
  });
});
