/** MADV_COLLAPSE and khugepaged-on-request: the collapse, its CLEAR invalidation, its refusals. */
import { describe, expect, it } from 'vitest';
import { EAGAIN, EINVAL } from '../../src/mm/mm-errno.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { sys_madvise, MADV_COLLAPSE, MADV_HUGEPAGE } from '../../src/mm/madvise.ts';
import { khugepaged_scan_mm } from '../../src/mm/khugepaged.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, kinds, recordInvalidations, rng, run1, starts } from './helpers.ts';

const P = 4096;
const H = 2 * 1024 * 1024;
const A = 0x40000000;
const RW = PROT_READ | PROT_WRITE;

describe('MADV_COLLAPSE', () => {
  it('collapses base pages into one PMD-mapped folio under a CLEAR over the 2 MiB region, keeping contents', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { thp: 'never' });
      yield* sys_mmap(mm, A, 2 * H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
      for (let i = 0; i < 512; i += 50) yield* write32(mm, A + i * P, i + 1);
      const ramBefore = mm.sys.frames.ramInUse;
      const seen = yield* recordInvalidations(mm);
      const r = yield* sys_madvise(mm, A, H, MADV_COLLAPSE);
      const vals: number[] = [];
      for (let i = 0; i < 512; i += 50) vals.push(yield* read32(mm, A + i * P));
      return { r, ramBefore, ram: mm.sys.frames.ramInUse, pmds: mm.pt.hugePmdCount, seen: starts(seen), vals };
    });
    expect(value.r).toBe(0);
    expect(value.ramBefore).toBe(11);
    expect(value.ram).toBe(512);
    expect(value.pmds).toBe(1);
    expect(value.seen).toEqual([rng('CLEAR', A, A + H)]);
    expect(value.vals).toEqual(Array.from({ length: 11 }, (_, k) => k * 50 + 1));
    expect(consistency(w)).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('refuses a region with nothing in it (-EINVAL) and one with a pinned page (-EAGAIN), leaving it as it was', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { thp: 'never' });
      yield* sys_mmap(mm, A, 2 * H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
      const empty = yield* sys_madvise(mm, A + H, H, MADV_COLLAPSE);
      yield* write32(mm, A, 5);
      const pfn = yield* pin_user_page(mm, A, true);
      const pinned = yield* sys_madvise(mm, A, H, MADV_COLLAPSE);
      const after = [mm.pt.hugePmdCount, yield* read32(mm, A)];
      unpin_user_page(w, pfn);
      const again = yield* sys_madvise(mm, A, H, MADV_COLLAPSE);
      return { empty, pinned, after, again, pmds: mm.pt.hugePmdCount };
    });
    expect(value).toEqual({ empty: -EINVAL, pinned: -EAGAIN, after: [0, 5], again: 0, pmds: 1 });
    expect(consistency(w)).toEqual([]);
  });

  it('collapses pages shared with a fork child into a private copy for the caller only', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { thp: 'never' });
      yield* sys_mmap(mm, A, H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
      yield* write32(mm, A + P, 3);
      const child = (yield* sys_fork(mm)) as Mm;
      const r = yield* sys_madvise(mm, A, H, MADV_COLLAPSE);
      yield* write32(mm, A + P, 4);
      return { r, vals: [yield* read32(mm, A + P), yield* read32(child, A + P)], pmds: [mm.pt.hugePmdCount, child.pt.hugePmdCount] };
    });
    expect(value).toEqual({ r: 0, vals: [4, 3], pmds: [1, 0] });
    expect(consistency(w)).toEqual([]);
  });
});

describe('khugepaged on request', () => {
  it('collapses only where the THP mode allows it (madvise mode: MADV_HUGEPAGE regions)', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { thp: 'madvise' });
      yield* sys_mmap(mm, A, 2 * H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
      yield* write32(mm, A, 1);
      yield* write32(mm, A + H, 2);
      const none = yield* khugepaged_scan_mm(mm);
      yield* sys_madvise(mm, A + H, H, MADV_HUGEPAGE);
      const one = yield* khugepaged_scan_mm(mm);
      return { none, one, pmd: [mm.pt.getPmd(A) !== 0, mm.pt.getPmd(A + H) !== 0], v: yield* read32(mm, A + H) };
    });
    expect(value).toEqual({ none: 0, one: 1, pmd: [false, true], v: 2 });
    expect(consistency(w)).toEqual([]);
  });
});
