/** Populating: the bulk path (one PTL section per 2 MiB) and its fallback to ordinary faults. */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32 } from '../../src/mm/cpu-access.ts';
import { isSwapEntry, ptePfn, ptePresent, pteWrite } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, run1 } from './helpers.ts';

const P = 4096;

describe('MAP_POPULATE', () => {
  it('faults a writable private mapping in for write, a few scheduling points per 2 MiB', () => {
    const pages = 4096; // 16 MiB: 8 regions
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const s0 = w.steps;
      const a = yield* sys_mmap(mm, 0, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
      let writable = 0;
      for (let i = 0; i < pages; i++) if (pteWrite(mm.pt.get(a + i * P))) writable++;
      return { steps: w.steps - s0, writable, ram: mm.sys.frames.ramInUse };
    });
    expect(value.writable).toBe(pages);
    expect(value.ram).toBe(pages);
    expect(value.steps).toBeLessThan(60);
    expect(consistency(w)).toEqual([]);
  });

  it('maps the zero page everywhere for a read-only mapping', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 8 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
      return { zero: [0, 7].map((i) => ptePfn(mm.pt.get(a + i * P))), present: mm.pt.presentCount, ram: mm.sys.frames.ramInUse };
    });
    expect(value).toEqual({ zero: [0, 0], present: 8, ram: 0 });
  });

  it('falls back to ordinary faults, which reclaim, when memory runs short', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { memoryLimitPages: 4 });
      const a = yield* sys_mmap(mm, 0, 6 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
      let swapped = 0;
      for (let i = 0; i < 6; i++) if (isSwapEntry(mm.pt.get(a + i * P))) swapped++;
      return { swapped, last: ptePresent(mm.pt.get(a + 5 * P)), v: yield* read32(mm, a) };
    });
    expect(value).toEqual({ swapped: 2, last: true, v: 0 });
    expect(consistency(w)).toEqual([]);
  });
});
