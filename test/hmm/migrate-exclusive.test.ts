/**
 * migrate_vma keeps PageAnonExclusive as the kernel does: collect shares an exclusive page
 * (refusing one that may be pinned), read-only exclusive mappings become readable-exclusive
 * migration entries, and remove_migration_pte gives the exclusivity back.
 */
import { describe, expect, it } from 'vitest';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { write32, read32 } from '../../src/mm/cpu-access.ts';
import { pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { memoryOf } from '../../src/mm/memory.ts';
import { PG_ANON_EXCLUSIVE } from '../../src/mm/frame-flags.ts';
import { isReadableExclusiveMigrationEntry, isWritableMigrationEntry, ptePfn, ptePresent } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_PFN_MIGRATE, MIGRATE_VMA_SELECT_SYSTEM, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import type { World } from '../../src/sim/world.js';
import { consistency, kinds, run1 } from '../mm/helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function exclusive(w: World, pfn: number): boolean {
  return memoryOf(w)!.frames.testFlags(pfn, PG_ANON_EXCLUSIVE);
}

/** setup of one page at `a` with SELECT_SYSTEM, mmap read lock held on return. */
function* setup(mm: Mm, a: number): Generator<unknown, MigrateVma, unknown> {
  yield* mmap_read_lock(mm);
  const args = new MigrateVma({ vma: find_vma(mm, a), start: a, end: a + P, src: [0], dst: [0], pgmap_owner: 'owner', flags: MIGRATE_VMA_SELECT_SYSTEM });
  const r = yield* migrate_vma_setup(args);
  if (r !== 0) throw new Error(`setup returned ${r}`);
  return args;
}

function* finish(mm: Mm, args: MigrateVma, withDst: boolean): Generator<unknown, void, unknown> {
  if (withDst && (args.src![0]! & MIGRATE_PFN_MIGRATE) !== 0) {
    const d = (yield* alloc_page_vma(mm))!;
    yield* folio_lock(d);
    copy_highpage(d, migrate_pfn_to_page(args.src![0]!)!);
    args.dst![0] = migrate_pfn(d);
  }
  yield* migrate_vma_pages(args);
  yield* migrate_vma_finalize(args);
  yield* mmap_read_unlock(mm);
}

describe('PageAnonExclusive across migrate_vma', () => {
  it('a migration undone for want of a destination gives the page its exclusivity back', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 7);
      const pfn = ptePfn(mm.pt.get(a));
      const before = exclusive(w, pfn);
      const args = yield* setup(mm, a);
      const entryWritable = isWritableMigrationEntry(mm.pt.get(a));
      yield* finish(mm, args, false);
      return { before, entryWritable, after: exclusive(w, pfn), same: ptePfn(mm.pt.get(a)) === pfn, c: consistency(w) };
    });
    expect(value.before).toBe(true);
    expect(value.entryWritable).toBe(true);
    expect(value.after).toBe(true);
    expect(value.same).toBe(true);
    expect(value.c).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('the destination of a completed migration is exclusive', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 7);
      const old = ptePfn(mm.pt.get(a));
      const args = yield* setup(mm, a);
      yield* finish(mm, args, true);
      const now = ptePfn(mm.pt.get(a));
      return { moved: now !== old, excl: exclusive(w, now), v: yield* read32(mm, a) };
    });
    expect(value.moved).toBe(true);
    expect(value.excl).toBe(true);
    expect(value.v).toBe(7);
  });

  it('a read-only exclusive mapping migrates behind a readable-exclusive entry, and a later write reuses the page', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 7);
      yield* sys_mprotect(mm, a, P, PROT_READ);
      const pfn = ptePfn(mm.pt.get(a));
      const args = yield* setup(mm, a);
      const entry = isReadableExclusiveMigrationEntry(mm.pt.get(a));
      yield* finish(mm, args, false);
      yield* sys_mprotect(mm, a, P, RW);
      yield* write32(mm, a, 8); // do_wp_page: an exclusive page is reused in place, not copied
      return { entry, reused: ptePfn(mm.pt.get(a)) === pfn, v: yield* read32(mm, a), c: consistency(w) };
    });
    expect(value.entry).toBe(true);
    expect(value.reused).toBe(true);
    expect(value.v).toBe(8);
    expect(value.c).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('an exclusive page that may be pinned is not collected: its PTE never changes and it stays exclusive', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 7);
      const pte = mm.pt.get(a);
      const pfn = yield* pin_user_page(mm, a, true);
      const args = yield* setup(mm, a);
      const during = mm.pt.get(a) === pte; // collect left the PTE as it was
      const src = args.src![0]!;
      const cpages = args.cpages;
      yield* finish(mm, args, false);
      unpin_user_page(w, pfn);
      return { during, src, cpages, present: ptePresent(mm.pt.get(a)), excl: exclusive(w, pfn), c: consistency(w) };
    });
    expect(value.during).toBe(true);
    expect(value.src).toBe(0);
    expect(value.cpages).toBe(0);
    expect(value.present).toBe(true);
    expect(value.excl).toBe(true);
    expect(value.c).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });
});
