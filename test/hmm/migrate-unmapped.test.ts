/**
 * migrate_vma_pages / _finalize after the VMA was unmapped mid-migration (the driver dropped the
 * mmap lock): a finding, and the migration still ends as the kernel's does; pages/finalize
 * themselves do not assert the mmap lock (the kernel's do not).
 */
import { describe, expect, it } from 'vitest';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { write32, read32 } from '../../src/mm/cpu-access.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_PFN_MIGRATE, MIGRATE_VMA_SELECT_SYSTEM, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import { consistency, kinds, run1 } from '../mm/helpers.ts';

const P = 4096;

/** Setup over two pages (one written, one empty), with a locked copy as each destination. */
function* prepared(mm: Mm, a: number): Generator<unknown, MigrateVma, unknown> {
  const args = new MigrateVma({ vma: find_vma(mm, a), start: a, end: a + 2 * P, src: [0, 0], dst: [0, 0], pgmap_owner: null, flags: MIGRATE_VMA_SELECT_SYSTEM });
  const r = yield* migrate_vma_setup(args);
  if (r !== 0) throw new Error(`setup returned ${r}`);
  for (let i = 0; i < 2; i++) {
    if ((args.src![i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
    const d = (yield* alloc_page_vma(mm))!;
    yield* folio_lock(d);
    const s = migrate_pfn_to_page(args.src![i]!);
    if (s !== null) copy_highpage(d, s);
    args.dst![i] = migrate_pfn(d);
  }
  return args;
}

describe('migrate_vma with the VMA unmapped mid-migration', () => {
  it('is one vma-unmapped finding, not a crash; every page is unlocked and freed', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 5);
      yield* mmap_read_lock(mm);
      const args = yield* prepared(mm, a);
      yield* mmap_read_unlock(mm); // the driver's mistake
      yield* sys_munmap(mm, a, 2 * P);
      yield* migrate_vma_pages(args);
      yield* migrate_vma_finalize(args);
      return { c: consistency(w) };
    });
    expect(w.findings.map((f) => f.place)).toEqual(['migrate:vma-unmapped']);
    expect(w.findings[0]!.message).toMatch(/unmapped during the migration/);
    expect(kinds(w)).toEqual(['warn']);
    expect(value.c).toEqual([]);
  });

  it('pages and finalize without the mmap lock, VMA still there: no finding (the kernel asserts nothing there)', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 5);
      yield* mmap_read_lock(mm);
      const args = yield* prepared(mm, a);
      yield* mmap_read_unlock(mm);
      yield* migrate_vma_pages(args);
      yield* migrate_vma_finalize(args);
      return { v: yield* read32(mm, a), c: consistency(w) };
    });
    expect(kinds(w)).toEqual([]);
    expect(value.v).toBe(5);
    expect(value.c).toEqual([]);
  });

  it('pages or finalize on a migrate_vma never set up is a BUG finding', () => {
    const { w } = run1(function* (w) {
      mm_create(w);
      yield* migrate_vma_pages(new MigrateVma());
      yield* migrate_vma_finalize(new MigrateVma());
    });
    expect(w.findings.map((f) => f.place)).toEqual(['migrate:not-set-up', 'migrate:not-set-up']);
    expect(kinds(w)).toEqual(['bug']);
  });
});
