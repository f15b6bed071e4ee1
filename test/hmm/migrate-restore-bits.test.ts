/** remove_migration_pte rebuilds young and dirty from the migration entry, not from writability. */
import { describe, expect, it } from 'vitest';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { PG_DIRTY } from '../../src/mm/frame-flags.ts';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_VMA_SELECT_SYSTEM } from '../../src/hmm/migrate-pfn.ts';
import { kinds, run1 } from '../mm/helpers.ts';

const P = 4096;

/** A written page, optionally made old and clean first, through a migration undone at finalize. */
function restored(oldAndClean: boolean) {
  return run1(function* (w) {
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    yield* write32(mm, a, 1);
    if (oldAndClean) {
      // As after reclaim's aging and a writeback: the mapping stays writable.
      const pte = mm.pt.get(a);
      mm.pt.set(a, pte - (pte & (PTE_YOUNG | PTE_DIRTY)));
      mm.sys.frames.clearFlags(ptePfn(pte), PG_DIRTY);
    }
    yield* mmap_read_lock(mm);
    const args = new MigrateVma({ vma: find_vma(mm, a), start: a, end: a + P, src: [0], dst: [0], pgmap_owner: null, flags: MIGRATE_VMA_SELECT_SYSTEM });
    yield* migrate_vma_setup(args);
    yield* migrate_vma_pages(args);
    yield* migrate_vma_finalize(args);
    yield* mmap_read_unlock(mm);
    const pte = mm.pt.get(a);
    return { write: (pte & PTE_WRITE) !== 0, young: (pte & PTE_YOUNG) !== 0, dirty: (pte & PTE_DIRTY) !== 0 };
  });
}

describe('restored PTE bits', () => {
  it('a young, dirty mapping comes back young and dirty', () => {
    const { value, w } = restored(false);
    expect(value).toEqual({ write: true, young: true, dirty: true });
    expect(kinds(w)).toEqual([]);
  });

  it('an old, clean, writable mapping comes back old and clean (writable does not mean dirty)', () => {
    const { value, w } = restored(true);
    expect(value).toEqual({ write: true, young: false, dirty: false });
    expect(kinds(w)).toEqual([]);
  });
});
