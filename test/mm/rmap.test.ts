/** Reverse mapping: finding every mapping of a page from its owner and index. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { sys_mremap, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../src/mm/mremap.ts';
import { file_create } from '../../src/mm/files.ts';
import { indexOffset, rmapTargets } from '../../src/mm/rmap.ts';
import { ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { run1 } from './helpers.ts';

const P = 4096;

describe('rmapTargets', () => {
  it('finds an anonymous page in the parent and the child, at its address after mremap', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w, { name: 'p' });
      const a = yield* sys_mmap(mm, 0x400000, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | 0x10);
      yield* write32(mm, a + P, 1);
      const pfn = ptePfn(mm.pt.get(a + P));
      const c = (yield* sys_fork(mm, 'c')) as Mm;
      yield* sys_mremap(c, a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x900000);
      return rmapTargets(mm.sys, pfn).map((t) => `${t.mm.name}@0x${t.addr.toString(16)}`);
    });
    expect(value).toEqual(['p@0x401000', 'c@0x901000']);
  });

  it('finds a file page in every mapping of the file, at its offset', () => {
    const { value } = run1(function* (w) {
      const f = file_create(w, 4 * P);
      const mm = mm_create(w, { name: 'p' });
      const a = yield* sys_mmap(mm, 0x400000, 2 * P, PROT_READ, MAP_SHARED | 0x10, f, 2 * P);
      const b = yield* sys_mmap(mm, 0x500000, 4 * P, PROT_READ, MAP_PRIVATE | 0x10, f);
      void a;
      yield* read32(mm, b + 2 * P);
      const pfn = ptePfn(mm.pt.get(b + 2 * P));
      return rmapTargets(mm.sys, pfn).map((t) => `0x${t.addr.toString(16)}`);
    });
    expect(value).toEqual(['0x400000', '0x502000']);
  });

  it('indexOffset is exact modulo 2^32 for any offset below 2^32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 35 }), fc.integer({ min: 0, max: 2 ** 20 }), (pgoff, off) => {
        const stored = (pgoff + off) | 0; // what a 32-bit frame field keeps of the true index
        expect(indexOffset(stored, pgoff)).toBe(off);
      }),
    );
  });
});
