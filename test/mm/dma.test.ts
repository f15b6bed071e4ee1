/** Pinning and DMA: a pin keeps a page alive past munmap; DMA to a freed page is reported. */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { dma_read32, dma_write32, pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import type { Mm } from '../../src/mm/mm-struct.ts';
import { kinds, run1 } from './helpers.ts';

const P = 4096;

describe('pin_user_page and DMA', () => {
  it('a pinned page outlives munmap and is freed by the unpin', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 3);
      const pfn = yield* pin_user_page(mm, a, false);
      yield* sys_munmap(mm, a, P);
      const alive = !mm.sys.frames.isFree(pfn);
      const v = yield* dma_read32(w, pfn, 0);
      unpin_user_page(w, pfn);
      return { alive, v, freed: mm.sys.frames.isFree(pfn) };
    });
    expect(value).toEqual({ alive: true, v: 3, freed: true });
    expect(kinds(w)).toEqual([]);
  });

  it('a write pin breaks COW first, so the device writes the process\'s own copy', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 1);
      const child = (yield* sys_fork(mm)) as Mm;
      const pfn = yield* pin_user_page(mm, a, true);
      yield* dma_write32(w, pfn, 0, 2);
      const mine = pfn === ptePfn(mm.pt.get(a));
      unpin_user_page(w, pfn);
      return { mine, v: [yield* read32(mm, a), yield* read32(child, a)] };
    });
    expect(value).toEqual({ mine: true, v: [2, 1] });
  });

  it('DMA to a page the kernel freed is a page-use-after-free finding', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 3);
      const pfn = yield* pin_user_page(mm, a, false);
      unpin_user_page(w, pfn); // not held: the registration forgot to keep its pin
      yield* sys_munmap(mm, a, P);
      yield* dma_write32(w, pfn, 0, 9);
      return 0;
    });
    expect(kinds(w)).toEqual(['page-use-after-free']);
  });
});
