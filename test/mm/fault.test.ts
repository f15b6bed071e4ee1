/** Page faults: zero page, anonymous and file faults, COW break and reuse, SIGSEGV/SIGBUS. */
import { describe, expect, it } from 'vitest';
import { EFAULT } from '../../src/mm/mm-errno.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { file_create, sys_pread32, sys_pwrite32 } from '../../src/mm/files.ts';
import { ptePfn, ptePresent, pteWrite } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import type { Mm } from '../../src/mm/mm-struct.ts';
import { consistency, kinds, recordInvalidations, rng, run1, starts } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function pfnAt(mm: Mm, a: number): number {
  const pte = mm.pt.get(a);
  return ptePresent(pte) ? ptePfn(pte) : -1;
}

describe('anonymous faults', () => {
  it('a read maps the shared zero page read-only and allocates nothing; a write allocates a zeroed page', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      const r = [yield* read32(mm, a), yield* read32(mm, a + P + 8)];
      const zero = [pfnAt(mm, a), pfnAt(mm, a + P), pteWrite(mm.pt.get(a)) ? 1 : 0, mm.sys.frames.ramInUse];
      yield* write32(mm, a + 4, 7);
      return { r, zero, after: [yield* read32(mm, a), yield* read32(mm, a + 4), mm.sys.frames.ramInUse, pfnAt(mm, a) === 0 ? 1 : 0] };
    });
    expect(value.r).toEqual([0, 0]);
    expect(value.zero).toEqual([0, 0, 0, 0]);
    expect(value.after).toEqual([0, 7, 1, 0]);
  });

  it('an access the VMA forbids, or with no VMA, is a SIGSEGV (-EFAULT), not a crash', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const ro = yield* sys_mmap(mm, 0, P, PROT_READ, ANON);
      const none = yield* sys_mmap(mm, 0, P, PROT_NONE, ANON);
      return [yield* write32(mm, ro, 1), yield* read32(mm, ro), yield* read32(mm, none), yield* write32(mm, 0x10000, 1), yield* read32(mm, ro + 2)];
    });
    expect(value).toEqual([-EFAULT, 0, -EFAULT, -EFAULT, -EFAULT]);
    expect(kinds(w)).toEqual([]);
  });
});

describe('copy-on-write', () => {
  it('a write to a shared page copies it under a one-page CLEAR invalidation, mmap lock held for read', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w, { name: 'parent' });
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* write32(mm, a + P, 5);
      const child = (yield* sys_fork(mm)) as Mm;
      const shared = pfnAt(mm, a + P);
      const seen = yield* recordInvalidations(mm);
      yield* write32(mm, a + P, 6);
      return {
        seen,
        copied: pfnAt(mm, a + P) !== shared,
        childKeeps: pfnAt(child, a + P) === shared,
        values: [yield* read32(mm, a + P), yield* read32(child, a + P)],
        consistent: consistency(w),
      };
    });
    expect(starts(value.seen)).toEqual([rng('CLEAR', 0x7fffffffe000, 0x7ffffffff000)]);
    expect(value.seen.filter((s) => s.op === 'start')[0]!.mmapLock).toBe('read');
    expect(value.copied && value.childKeeps).toBe(true);
    expect(value.values).toEqual([6, 5]);
    expect(value.consistent).toEqual([]);
  });

  it('a write to the zero page copies it too (CLEAR of one page)', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* read32(mm, a);
      const seen = yield* recordInvalidations(mm);
      yield* write32(mm, a, 1);
      return { seen: starts(seen), pfn: pfnAt(mm, a) };
    });
    expect(value.seen).toEqual([rng('CLEAR', 0x7fffffffe000, 0x7ffffffff000)]);
    expect(value.pfn).toBeGreaterThan(0);
  });

  it('once the other sharer is gone the page is reused in place: no copy, no invalidation', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 5);
      const before = pfnAt(mm, a);
      const child = (yield* sys_fork(mm)) as Mm;
      yield* sys_exit(child);
      const seen = yield* recordInvalidations(mm);
      yield* write32(mm, a, 6);
      return { same: pfnAt(mm, a) === before, seen: starts(seen), ram: mm.sys.frames.ramInUse };
    });
    expect(value).toEqual({ same: true, seen: [], ram: 1 });
  });
});

describe('file faults', () => {
  it('private mappings read the file and copy on write; shared mappings write the file', () => {
    const { value } = run1(function* (w) {
      const f = file_create(w, 2 * P);
      yield* sys_pwrite32(w, f, P + 8, 42);
      const mm = mm_create(w);
      const priv = yield* sys_mmap(mm, 0, 2 * P, RW, MAP_PRIVATE, f);
      const shr = yield* sys_mmap(mm, 0, 2 * P, RW, MAP_SHARED, f);
      const r1 = yield* read32(mm, priv + P + 8);
      yield* write32(mm, priv + P + 8, 1);
      const r2 = [yield* read32(mm, priv + P + 8), yield* sys_pread32(w, f, P + 8)];
      yield* write32(mm, shr + 12, 9);
      const r3 = [yield* sys_pread32(w, f, 12), yield* read32(mm, priv + 12)];
      return { r1, r2, r3, consistent: consistency(w) };
    });
    expect(value.r1).toBe(42);
    expect(value.r2).toEqual([1, 42]);
    // The private mapping has not copied page 0: it still sees the file.
    expect(value.r3).toEqual([9, 9]);
    expect(value.consistent).toEqual([]);
  });

  it('a page past end of file is a SIGBUS (-EFAULT)', () => {
    const { value } = run1(function* (w) {
      const f = file_create(w, P);
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, MAP_SHARED, f);
      return [yield* read32(mm, a), yield* read32(mm, a + P), yield* write32(mm, a + P, 1)];
    });
    expect(value).toEqual([0, -EFAULT, -EFAULT]);
  });
});
