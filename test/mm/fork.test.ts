/** fork: PROTECTION_PAGE over the parent's COW VMAs, isolation, sharing, swap entries. */
import { describe, expect, it } from 'vitest';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { isSwapEntry, ptePfn, pteWrite } from '../../src/mm/pte.ts';
import { dma_write32, pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { GUP_PIN_COUNTING_BIAS } from '../../src/mm/frames.ts';
import { setKernelContract } from '../../src/locking/version.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, kinds, recordInvalidations, rng, run1, starts } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('fork', () => {
  it('write-protects the parent under one PROTECTION_PAGE per COW VMA with anonymous pages, parent mmap lock held for write', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w, { name: 'parent' });
      const a = yield* sys_mmap(mm, 0x400000, 4 * P, RW, ANON);
      yield* sys_mmap(mm, 0x500000, 2 * P, RW, ANON); // never touched: not copied, no invalidation
      yield* write32(mm, a + P, 1);
      const seen = yield* recordInvalidations(mm);
      const child = (yield* sys_fork(mm)) as Mm;
      return {
        seen,
        parentWritable: pteWrite(mm.pt.get(a + P)),
        childVmas: child.vmas.toArray().map((v) => [v.start, v.end]),
      };
    });
    expect(starts(value.seen)).toEqual([rng('PROTECTION_PAGE', 0x400000, 0x404000)]);
    expect(value.seen.find((s) => s.op === 'start')!.mmapLock).toBe('write');
    expect(value.parentWritable).toBe(false);
    expect(value.childVmas).toEqual([
      [0x400000, 0x404000],
      [0x500000, 0x502000],
    ]);
  });

  it('private memory is copied on write both ways; shared memory stays shared', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const priv = yield* sys_mmap(mm, 0, P, RW, ANON);
      const shr = yield* sys_mmap(mm, 0, P, RW, MAP_SHARED | MAP_ANONYMOUS);
      yield* write32(mm, priv, 1);
      yield* write32(mm, shr, 1);
      const c = (yield* sys_fork(mm)) as Mm;
      yield* write32(c, priv, 2);
      yield* write32(mm, shr, 3);
      return [yield* read32(mm, priv), yield* read32(c, priv), yield* read32(c, shr), consistency(w).length];
    });
    expect(value).toEqual([1, 2, 3, 0]);
    expect(kinds(w)).toEqual([]);
  });

  it('swapped-out pages are shared through their swap slot and come back as one frame', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 77);
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      const swapped = isSwapEntry(mm.pt.get(a));
      const c = (yield* sys_fork(mm)) as Mm;
      const slot = mm.pt.get(a) / 0x10000;
      const count = mm.sys.swap.count(Math.floor(slot));
      const r = [yield* read32(mm, a), yield* read32(c, a)];
      return { swapped, count, r, same: mm.pt.get(a) === c.pt.get(a), ram: mm.sys.frames.ramInUse, cons: consistency(w) };
    });
    expect(value.swapped).toBe(true);
    expect(value.count).toBe(2);
    expect(value.r).toEqual([77, 77]);
    expect(value.same).toBe(true);
    expect(value.ram).toBe(1);
    expect(value.cons).toEqual([]);
  });
});

describe('fork of pinned anonymous pages (copy_present_page)', () => {
  const cases: [string, boolean][] = [
    ['v5.4', false],
    ['v5.9', true],
    ['current', true],
  ];
  for (const [kernel, copies] of cases) {
    it(`${kernel}: a FOLL_PIN-pinned page is ${copies ? 'copied for the child, and the parent keeps its writable PTE' : 'shared read-only, as any other'}`, () => {
      const { value, w } = run1(function* (w) {
        setKernelContract(w, kernel);
        const mm = mm_create(w, { name: 'parent' });
        const a = yield* sys_mmap(mm, 0x400000, 2 * P, RW, ANON);
        yield* write32(mm, a, 11);
        yield* write32(mm, a + P, 22);
        const pfn = yield* pin_user_page(mm, a, true);
        const pinnedRefs = mm.sys.frames.refcount(pfn);
        const child = (yield* sys_fork(mm)) as Mm;
        const out = {
          pinnedRefs,
          parentWritable: pteWrite(mm.pt.get(a)),
          samePage: ptePfn(child.pt.get(a)) === pfn,
          childWritable: pteWrite(child.pt.get(a)),
          // the unpinned neighbour is shared COW as usual
          neighbourShared: ptePfn(child.pt.get(a + P)) === ptePfn(mm.pt.get(a + P)),
          childReads: yield* read32(child, a),
        };
        // The device writes through its pin: the parent sees it; the child only if it shares the page.
        yield* dma_write32(w, pfn, 0, 99);
        const seen = { parent: yield* read32(mm, a), child: yield* read32(child, a) };
        unpin_user_page(w, pfn);
        return { ...out, seen, inconsistent: consistency(w) };
      });
      expect(value.pinnedRefs).toBe(1 + GUP_PIN_COUNTING_BIAS);
      expect(value.neighbourShared).toBe(true);
      expect(value.childReads).toBe(11);
      expect(value.inconsistent).toEqual([]);
      if (copies) {
        expect(value).toMatchObject({ parentWritable: true, samePage: false, childWritable: true, seen: { parent: 99, child: 11 } });
      } else {
        expect(value).toMatchObject({ parentWritable: false, samePage: true, childWritable: false, seen: { parent: 99, child: 99 } });
      }
      expect(kinds(w)).toEqual([]);
    });
  }

  it('an unpinned mm copies nothing even if a page has many plain references', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 1);
      const child = (yield* sys_fork(mm)) as Mm;
      return ptePfn(child.pt.get(a)) === ptePfn(mm.pt.get(a));
    });
    expect(value).toBe(true);
  });
});
