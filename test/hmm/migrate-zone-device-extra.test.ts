/**
 * migrate_vma_check_page's ZONE_DEVICE allowance (review item 6): a device page is allowed one
 * reference beyond what migration expects at setup, so setup still collects it (cpages, src
 * MIGRATE) and it is migrate_vma_pages that refuses it (the mapping move sees the reference);
 * finalize puts it back where it was.
 */
import { describe, expect, it } from 'vitest';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { isDevicePrivateEntry, ptePfn } from '../../src/mm/pte.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_PFN_MIGRATE, MIGRATE_VMA_SELECT_DEVICE_PRIVATE, migrate_pfn } from '../../src/hmm/migrate-pfn.ts';
import { alloc_page_vma } from '../../src/mm/page-copy.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { consistency, kinds, run1 } from '../mm/helpers.ts';
import { P } from './helpers.ts';

describe('migrate_vma_check_page and ZONE_DEVICE pages', () => {
  it('a device-private page with one unexpected reference is collected at setup and refused at migrate_vma_pages', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4);
      const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* dev.insert(a, P);
      yield* write32(mm, a, 5);
      yield* dev.migrateToDevice(a, a + P);
      const dpage = ptePfn(mm.pt.get(a));
      mm.sys.frames.get(dpage); // somebody else's reference
      yield* mmap_read_lock(mm);
      const args = new MigrateVma({ vma: find_vma(mm, a), start: a, end: a + P, src: [0], dst: [0], pgmap_owner: dev.owner, flags: MIGRATE_VMA_SELECT_DEVICE_PRIVATE });
      yield* migrate_vma_setup(args);
      const afterSetup = { cpages: args.cpages, migrate: (args.src![0]! & MIGRATE_PFN_MIGRATE) !== 0 };
      const d = (yield* alloc_page_vma(mm))!;
      yield* folio_lock(d);
      args.dst![0] = migrate_pfn(d);
      yield* migrate_vma_pages(args);
      yield* migrate_vma_finalize(args);
      yield* mmap_read_unlock(mm);
      const restored = isDevicePrivateEntry(mm.pt.get(a)) && ptePfn(mm.pt.get(a)) === dpage;
      const refcount = mm.sys.frames.refcount(dpage);
      mm.sys.putPage(dpage);
      return { afterSetup, afterPages: (args.src![0]! & MIGRATE_PFN_MIGRATE) !== 0, restored, refcount, dstFreed: mm.sys.frames.isFree(d), cons: consistency(w) };
    });
    expect(value.afterSetup).toEqual({ cpages: 1, migrate: true });
    expect(value.afterPages).toBe(false);
    expect(value.restored).toBe(true);
    expect(value.dstFreed).toBe(true);
    expect(value.refcount).toBe(2); // the mapping's and the extra one: nothing leaked or lost
    expect(value.cons).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });
});
