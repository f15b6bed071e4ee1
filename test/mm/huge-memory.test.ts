/**
 * Transparent huge pages: PMD faults, the huge zero page, fallback, and every split trigger with
 * the invalidations it raises (event, range, nesting), against the kernel's call sites.
 */
import { describe, expect, it } from 'vitest';
import { EFAULT } from '../../src/mm/mm-errno.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { sys_madvise, MADV_DONTNEED, MADV_FREE } from '../../src/mm/madvise.ts';
import { MADV_HUGEPAGE, MADV_NOHUGEPAGE } from '../../src/mm/khugepaged.ts';
import { sys_mremap, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../src/mm/mremap.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { leafOrder, thpStats } from '../../src/mm/huge-memory.ts';
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import type { ThpMode } from '../../src/mm/huge-memory.ts';
import type { World } from '../../src/sim/world.js';
import { Trace } from '../../src/sim/trace.js';
import { consistency, kinds, recordInvalidations, rng, run1, starts, type Seen } from './helpers.ts';

const P = 4096;
const H = 2 * 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const A = 0x40000000; // 1 GiB: 2 MiB aligned

function* setup(w: World, thp: ThpMode = 'always', len = 2 * H, memoryLimitPages?: number): Generator<unknown, Mm, unknown> {
  const mm = mm_create(w, { thp, ...(memoryLimitPages === undefined ? {} : { memoryLimitPages }) });
  const r = yield* sys_mmap(mm, A, len, RW, ANON | MAP_FIXED);
  if (r !== A) throw new Error(`mmap: ${r}`);
  return mm;
}

/** Starts and ends in order, with their nesting depth: `  CLEAR [..)` is inside the line above. */
function nesting(seen: readonly Seen[]): string[] {
  const names = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE'];
  const out: string[] = [];
  let depth = 0;
  for (const s of seen) {
    if (s.op === 'start') out.push(`${'  '.repeat(depth++)}${names[s.event]} [0x${s.start.toString(16)}, 0x${s.end.toString(16)})`);
    else if (s.op === 'end') depth--;
  }
  return out;
}

describe('THP faults', () => {
  it('a write fault in an aligned 2 MiB region maps one huge PMD; the folio counts and contents hold', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A + 5 * P + 8, 42);
      const f = mm.sys.frames;
      const head = mm.pt.getPmd(A);
      return {
        pmds: mm.pt.hugePmdCount,
        ptes: mm.pt.entryCount,
        ram: f.ramInUse,
        vals: [yield* read32(mm, A + 5 * P + 8), yield* read32(mm, A + 7 * P)],
        entire: f.entireMapcount(Math.floor(head / 0x10000)),
        order: leafOrder(mm, A + 77 * P),
        stats: { ...thpStats(mm.sys) },
      };
    });
    expect(value.pmds).toBe(1);
    expect(value.ptes).toBe(0);
    expect(value.ram).toBe(512);
    expect(value.vals).toEqual([42, 0]);
    expect(value.entire).toBe(1);
    expect(value.order).toBe(9);
    expect(value.stats.faultAlloc).toBe(1);
    expect(consistency(w)).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('a read fault maps the huge zero page; a write then splits it (CLEAR over 2 MiB) and copies one page', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      const r0 = yield* read32(mm, A + P);
      const zeroMapped = mm.pt.hugePmdCount === 1 && mm.sys.frames.ramInUse === 0;
      const seen = yield* recordInvalidations(mm);
      yield* write32(mm, A + P, 7);
      return { r0, zeroMapped, seen: nesting(seen), ram: mm.sys.frames.ramInUse, v: yield* read32(mm, A + P), pmds: mm.pt.hugePmdCount };
    });
    expect(value.r0).toBe(0);
    expect(value.zeroMapped).toBe(true);
    expect(value.seen).toEqual([rng('CLEAR', A, A + H), rng('CLEAR', A + P, A + 2 * P)]);
    expect(value.ram).toBe(1);
    expect(value.v).toBe(7);
    expect(value.pmds).toBe(0);
    expect(consistency(w)).toEqual([]);
  });

  it('falls back to base pages when no 2 MiB folio fits, when THP is never, and outside MADV_HUGEPAGE in madvise mode', () => {
    const hugeAfterWrite = (mode: ThpMode, limit?: number): number =>
      run1(function* (w) {
        const mm = yield* setup(w, mode, 2 * H, limit);
        yield* write32(mm, A, 1);
        return mm.pt.hugePmdCount;
      }).value;
    const { value: advised } = run1(function* (w) {
      const out: number[] = [];
      const mm = yield* setup(w, 'madvise');
      out.push(yield* sys_madvise(mm, A, H, MADV_HUGEPAGE));
      yield* write32(mm, A, 1);
      yield* write32(mm, A + H, 1);
      out.push(mm.pt.hugePmdCount, mm.vmas.count);
      out.push(yield* sys_madvise(mm, A, H, MADV_NOHUGEPAGE), mm.pt.hugePmdCount);
      return out;
    });
    const value = [hugeAfterWrite('always', 100), hugeAfterWrite('never'), hugeAfterWrite('madvise'), ...advised];
    // madvise mode: only the advised first 2 MiB is huge; NOHUGEPAGE does not split what is there.
    expect(value).toEqual([0, 0, 0, 0, 1, 2, 0, 1]);
    expect(hugeAfterWrite('always')).toBe(1);
  });
});

describe('placement and advice', () => {
  it('mmap of a 2 MiB multiple lands 2 MiB aligned when THP is on (thp_get_unmapped_area), anywhere when it is off', () => {
    const addrOf = (thp: ThpMode): number =>
      run1(function* (w) {
        const mm = mm_create(w, { thp });
        yield* sys_mmap(mm, 0, P, RW, ANON); // leaves the top of the address space unaligned
        return yield* sys_mmap(mm, 0, 2 * H, RW, ANON);
      }).value;
    expect(addrOf('always') % H).toBe(0);
    expect(addrOf('never') % H).not.toBe(0);
  });

  it('MADV_HUGEPAGE on part of a huge PMD splits it at the new VMA boundary, outside any other invalidation', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      const seen = yield* recordInvalidations(mm);
      const r = yield* sys_madvise(mm, A + 8 * P, 8 * P, MADV_NOHUGEPAGE);
      return { r, seen: nesting(seen), vmas: mm.vmas.count, pmds: mm.pt.hugePmdCount };
    });
    expect(value).toEqual({ r: 0, seen: [rng('CLEAR', A, A + H)], vmas: 3, pmds: 0 });
    expect(consistency(w)).toEqual([]);
  });
});

describe('zap and split triggers', () => {
  it('munmap of a whole huge mapping zaps the PMD under the one UNMAP invalidation and frees the folio', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      const seen = yield* recordInvalidations(mm);
      yield* sys_munmap(mm, A, H);
      return { seen: nesting(seen), ram: mm.sys.frames.ramInUse, pmds: mm.pt.hugePmdCount };
    });
    expect(value.seen).toEqual([rng('UNMAP', A, A + H)]);
    expect(value.ram).toBe(0);
    expect(value.pmds).toBe(0);
    expect(consistency(w)).toEqual([]);
  });

  it('munmap of part splits the PMD first, when the VMA is split, outside the UNMAP invalidation', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A + 3 * P, 3);
      const seen = yield* recordInvalidations(mm);
      yield* sys_munmap(mm, A + P, P);
      return { seen: nesting(seen), ram: mm.sys.frames.ramInUse, v: yield* read32(mm, A + 3 * P), ptes: mm.pt.entryCount };
    });
    expect(value.seen).toEqual([rng('CLEAR', A, A + H), rng('UNMAP', A + P, A + 2 * P)]);
    expect(value.ram).toBe(512); // the folio stays whole, PTE-mapped but for one page
    expect(value.v).toBe(3);
    expect(value.ptes).toBe(511);
    expect(consistency(w)).toEqual([]);
  });

  it('MADV_DONTNEED of part splits inside its own CLEAR (nested); of all of it, zaps the PMD', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      yield* write32(mm, A + H, 2);
      const seen = yield* recordInvalidations(mm);
      yield* sys_madvise(mm, A + 2 * P, 2 * P, MADV_DONTNEED);
      yield* sys_madvise(mm, A + H, H, MADV_DONTNEED);
      return { seen: nesting(seen), v: yield* read32(mm, A), pmds: mm.pt.hugePmdCount };
    });
    expect(value.seen).toEqual([
      rng('CLEAR', A + 2 * P, A + 4 * P),
      '  ' + rng('CLEAR', A, A + H),
      rng('CLEAR', A + H, A + 2 * H),
    ]);
    expect(value.v).toBe(1);
    expect(value.pmds).toBe(0);
    expect(consistency(w)).toEqual([]);
  });

  it('mprotect of all of a PMD changes it in place; of part splits it at the VMA split, outside PROTECTION_VMA', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      yield* write32(mm, A + H, 2);
      const seen = yield* recordInvalidations(mm);
      const r1 = yield* sys_mprotect(mm, A, H, PROT_READ);
      const pmdsAfterWhole = mm.pt.hugePmdCount;
      const w1 = yield* write32(mm, A, 5);
      const r2 = yield* sys_mprotect(mm, A + H, P, PROT_READ);
      return { r1, r2, w1, pmdsAfterWhole, seen: nesting(seen), v: yield* read32(mm, A) };
    });
    expect([value.r1, value.r2, value.w1, value.pmdsAfterWhole, value.v]).toEqual([0, 0, -EFAULT, 2, 1]);
    expect(value.seen).toEqual([
      rng('PROTECTION_VMA', A, A + H),
      rng('CLEAR', A + H, A + 2 * H),
      rng('PROTECTION_VMA', A + H, A + H + P),
    ]);
    expect(consistency(w)).toEqual([]);
  });

  it('mremap moves a whole aligned PMD as one entry, and splits one it moves only part of (nested in UNMAP)', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A + 4, 9);
      yield* write32(mm, A + H + 4, 10);
      const seen = yield* recordInvalidations(mm);
      const to = 0x80000000;
      const r1 = yield* sys_mremap(mm, A, H, H, MREMAP_MAYMOVE | MREMAP_FIXED, to);
      const pmds1 = mm.pt.hugePmdCount;
      const r2 = yield* sys_mremap(mm, A + H, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, to + 4 * H);
      return { r1, r2, pmds1, seen: nesting(seen), v: [yield* read32(mm, to + 4), yield* read32(mm, to + 4 * H + 4)] };
    });
    expect([value.r1, value.pmds1, value.v]).toEqual([0x80000000, 2, [9, 10]]);
    expect(value.seen).toEqual([
      rng('UNMAP', A, A + H),
      rng('UNMAP', A, A + H), // do_munmap of the old range after the move
      rng('UNMAP', A + H, A + H + P),
      '  ' + rng('CLEAR', A + H, A + 2 * H),
      rng('UNMAP', A + H, A + H + P),
    ]);
    expect(consistency(w)).toEqual([]);
  });

  it('MADV_FREE of a whole PMD marks the folio lazily free; of part splits the folio (nested CLEARs) first', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      yield* write32(mm, A + H, 2);
      const seen = yield* recordInvalidations(mm);
      yield* sys_madvise(mm, A, H, MADV_FREE);
      const pmds = mm.pt.hugePmdCount;
      yield* sys_madvise(mm, A + H, P, MADV_FREE);
      return { pmds, seen: nesting(seen), compound: mm.sys.frames.compoundInUse, split: thpStats(mm.sys).splitPage };
    });
    expect(value.pmds).toBe(2);
    expect(value.seen).toEqual([
      rng('CLEAR', A, A + H),
      rng('CLEAR', A + H, A + H + P),
      '  ' + rng('CLEAR', A + H, A + 2 * H),
      '  ' + rng('CLEAR', A + H, A + 2 * H),
    ]);
    expect(value.compound).toBe(1);
    expect(value.split).toBe(1);
    expect(consistency(w)).toEqual([]);
  });

  it('reclaim splits a huge page (the PMD split, then the unmap of the folio span), then swaps a page out; contents survive', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w, 'always', H, 600);
      yield* write32(mm, A + 100 * P, 77);
      const seen = yield* recordInvalidations(mm);
      const freed = yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      return { freed, seen: nesting(seen), split: thpStats(mm.sys).splitPage, v: yield* read32(mm, A + 100 * P), pmds: mm.pt.hugePmdCount };
    });
    expect(value.freed).toBeGreaterThan(0);
    expect(value.seen).toEqual([
      rng('CLEAR', A, A + H), // __split_huge_pmd (try_to_migrate_one with TTU_SPLIT_HUGE_PMD)
      rng('CLEAR', A, A + H), // try_to_migrate_one over the folio's span
      rng('CLEAR', A, A + P), // try_to_unmap_one of the head page, now a base page
    ]);
    expect(value.split).toBe(1);
    expect(value.pmds).toBe(0);
    expect(value.v).toBe(77);
    expect(consistency(w)).toEqual([]);
  });
});

describe('fork and COW of a huge PMD', () => {
  it('fork shares the folio write-protected; a write in either splits only that PMD and copies one page', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A + P, 1);
      const seenParent = yield* recordInvalidations(mm);
      const child = (yield* sys_fork(mm)) as Mm;
      const f = mm.sys.frames;
      const head = Math.floor(mm.pt.getPmd(A) / 0x10000);
      const shared = [f.entireMapcount(head), f.refcount(head), child.pt.hugePmdCount];
      const seenChild = yield* recordInvalidations(child);
      yield* write32(child, A + P, 2);
      const afterChild = [mm.pt.hugePmdCount, child.pt.hugePmdCount, child.pt.entryCount];
      yield* write32(mm, A + 2 * P, 3);
      return {
        shared,
        afterChild,
        parent: nesting(seenParent),
        child: nesting(seenChild),
        vals: [yield* read32(mm, A + P), yield* read32(child, A + P), yield* read32(mm, A + 2 * P), yield* read32(child, A + 2 * P)],
      };
    });
    expect(value.shared).toEqual([2, 2, 1]);
    expect(value.afterChild).toEqual([1, 0, 512]);
    expect(value.child).toEqual([rng('CLEAR', A, A + H), rng('CLEAR', A + P, A + 2 * P)]);
    expect(value.parent).toEqual([
      rng('PROTECTION_PAGE', A, A + 2 * H),
      rng('CLEAR', A, A + H),
      rng('CLEAR', A + 2 * P, A + 3 * P),
    ]);
    expect(value.vals).toEqual([1, 2, 3, 0]);
    expect(consistency(w)).toEqual([]);
  });

  it('fork of a huge page that may be pinned splits the parent PMD inside fork\'s PROTECTION_PAGE and copies PTEs', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      const pfn = yield* pin_user_page(mm, A, true);
      const seen = yield* recordInvalidations(mm);
      const child = (yield* sys_fork(mm)) as Mm;
      const out = { seen: nesting(seen), pmds: [mm.pt.hugePmdCount, child.pt.hugePmdCount], v: yield* read32(child, A) };
      unpin_user_page(w, pfn);
      return out;
    });
    expect(value.seen).toEqual([rng('PROTECTION_PAGE', A, A + 2 * H), '  ' + rng('CLEAR', A, A + H)]);
    expect(value.pmds).toEqual([0, 0]);
    expect(value.v).toBe(1);
    expect(consistency(w)).toEqual([]);
  });

  it('a write to a huge PMD mapped only here after the child exited reuses it without splitting', () => {
    const { value, w } = run1(function* (w) {
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      const child = (yield* sys_fork(mm)) as Mm;
      yield* sys_exit(child);
      const seen = yield* recordInvalidations(mm);
      yield* write32(mm, A, 2);
      return { seen: starts(seen), pmds: mm.pt.hugePmdCount, v: yield* read32(mm, A) };
    });
    expect(value).toEqual({ seen: [], pmds: 1, v: 2 });
    expect(consistency(w)).toEqual([]);
  });
});

describe('nesting in traces', () => {
  it('the split inside MADV_DONTNEED shows as nested in its start and end points', () => {
    const { value } = run1(function* (w) {
      w.trace = new Trace();
      const mm = yield* setup(w);
      yield* write32(mm, A, 1);
      yield* sys_madvise(mm, A + P, P, MADV_DONTNEED);
      return w.trace.rows().flatMap((r) => ('label' in r && r.label.startsWith('invalidate_range_') ? [r.label] : []));
    });
    const outer = `[0x${(A + P).toString(16)}, 0x${(A + 2 * P).toString(16)}) CLEAR`;
    const inner = `[0x${A.toString(16)}, 0x${(A + H).toString(16)}) CLEAR`;
    expect(value).toEqual([
      `invalidate_range_start ${outer}`,
      `invalidate_range_start ${inner} (nested in ${outer})`,
      `invalidate_range_end ${inner} (nested in ${outer})`,
      `invalidate_range_end ${outer}`,
    ]);
  });
});
