/** madvise: DONTNEED and FREE, their CLEAR invalidations under the read lock, and errors. */
import { describe, expect, it } from 'vitest';
import { EINVAL, ENOMEM } from '../../src/mm/mm-errno.ts';
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { sys_madvise, MADV_DONTNEED, MADV_FREE, MADV_POPULATE_WRITE } from '../../src/mm/madvise.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { file_create, sys_pwrite32 } from '../../src/mm/files.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, recordInvalidations, rng, run1, starts } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('MADV_DONTNEED', () => {
  it('zaps each VMA part under its own CLEAR, mmap lock held for read; anonymous memory reads zero, private file memory the file again', () => {
    const { value } = run1(function* (w) {
      const f = file_create(w, P);
      yield* sys_pwrite32(w, f, 0, 5);
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, P, RW, ANON | 0x10);
      yield* sys_mmap(mm, 0x401000, P, RW, MAP_PRIVATE | 0x10, f);
      yield* write32(mm, 0x400000, 1);
      yield* write32(mm, 0x401000, 2);
      const seen = yield* recordInvalidations(mm);
      const r = yield* sys_madvise(mm, 0x400000, 2 * P, MADV_DONTNEED);
      return { r, seen, values: [yield* read32(mm, 0x400000), yield* read32(mm, 0x401000)], ram: mm.sys.frames.ramInUse };
    });
    expect(value.r).toBe(0);
    expect(starts(value.seen)).toEqual([rng('CLEAR', 0x400000, 0x401000), rng('CLEAR', 0x401000, 0x402000)]);
    expect(value.seen.filter((s) => s.op === 'start').every((s) => s.mmapLock === 'read')).toBe(true);
    expect(value.values).toEqual([0, 5]);
    expect(value.ram).toBe(1); // the file page, now mapped again
  });

  it('returns -ENOMEM for a hole but still advises the mapped parts', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x401000, P, RW, ANON | 0x10);
      yield* write32(mm, 0x401000, 1);
      const r = yield* sys_madvise(mm, 0x400000, 3 * P, MADV_DONTNEED);
      return [r, yield* read32(mm, 0x401000), yield* sys_madvise(mm, 0x400001, P, MADV_DONTNEED), yield* sys_madvise(mm, 0x401000, P, 99)];
    });
    expect(value).toEqual([-ENOMEM, 0, -EINVAL, -EINVAL]);
  });
});

describe('MADV_FREE', () => {
  it('lets reclaim discard clean pages (they read zero) but keeps pages written again', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* write32(mm, a, 1);
      yield* write32(mm, a + P, 2);
      const seen = yield* recordInvalidations(mm);
      const r = yield* sys_madvise(mm, a, 2 * P, MADV_FREE);
      yield* write32(mm, a + P, 3);
      mm.sys.configure({ reclaimBatch: 2 });
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      return { r, first: starts(seen)[0], values: [yield* read32(mm, a), yield* read32(mm, a + P)], swapped: mm.sys.swap.inUse };
    });
    expect(value.r).toBe(0);
    expect(value.first).toBe(rng('CLEAR', 0x7fffffffd000, 0x7ffffffff000));
    expect(value.values).toEqual([0, 3]);
    expect(value.swapped).toBe(0); // the written page was swapped out and back in: its slot is gone
    expect(consistency(w)).toEqual([]);
  });

  it('only applies to private anonymous memory', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, MAP_SHARED | MAP_ANONYMOUS);
      return [yield* sys_madvise(mm, a, P, MADV_FREE), yield* sys_madvise(mm, a, P, MADV_POPULATE_WRITE), mm.pt.presentCount];
    });
    expect(value).toEqual([-EINVAL, 0, 1]);
  });
});
