/** The consistency oracle and peek32: they must see what is wrong and what is there. */
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { mm_check, mm_consistency, peek32 } from '../../src/mm/check.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { file_create, sys_pwrite32 } from '../../src/mm/files.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { kinds, run1 } from './helpers.ts';

const P = 4096;

describe('mm_consistency', () => {
  it('is empty for a sound state and names a planted refcount, mapcount and swap-count error', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 1);
      yield* write32(mm, a + P, 2);
      const sound = mm_consistency(mm.sys).length;
      const pfn = ptePfn(mm.pt.get(a));
      mm.sys.frames.get(pfn); // a leaked reference
      const leak = mm_consistency(mm.sys);
      mm.sys.frames.put(pfn);
      mm.sys.frames.incMapcount(pfn);
      const map = mm_consistency(mm.sys);
      mm.sys.frames.decMapcount(pfn);
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      mm.sys.swap.dup(ptePfn(mm.pt.get(a)));
      const swap = mm_consistency(mm.sys);
      return { sound, leak, map, swap };
    });
    expect(value.sound).toBe(0);
    expect(value.leak.join()).toMatch(/refcount 2 but 1 mappings/);
    expect(value.map.join()).toMatch(/mapcount 2 but 1 page-table entries/);
    expect(value.swap.join()).toMatch(/swap slot \d+: count 2 but 1 swap entries/);
  });

  it('mm_check reports pages left behind after every address space exited', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 1);
      mm.sys.frames.alloc(); // allocated and forgotten
      yield* sys_exit(mm);
      return 0;
    });
    mm_check(w);
    expect(kinds(w)).toEqual(['mm-inconsistent', 'mm-leak']);
  });
});

describe('peek32', () => {
  it('reads through swap, the page cache, the backing store and untouched memory without faulting', () => {
    const { value } = run1(function* (w) {
      const f = file_create(w, P);
      yield* sys_pwrite32(w, f, 4, 6);
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      const b = yield* sys_mmap(mm, 0, 2 * P, PROT_READ, MAP_PRIVATE, f);
      yield* write32(mm, a, 5);
      mm.sys.configure({ reclaimBatch: 2 });
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      const before = mm.pt.entryCount;
      return { v: [peek32(mm, a), peek32(mm, b + 4), peek32(mm, b + P), peek32(mm, 0x10000)], unchanged: mm.pt.entryCount === before, cached: mm.sys.cache.totalCached };
    });
    expect(value).toEqual({ v: [5, 6, null, null], unchanged: true, cached: 0 });
  });
});
