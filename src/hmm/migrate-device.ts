/**
 * `migrate_device_range` / `migrate_device_pages` / `migrate_device_finalize`: migration by
 * device pfn rather than by address, which a driver uses to evict its device memory when it is
 * torn down (every page still in use goes back to system memory, wherever it is mapped).
 *
 *     migrate_device_range(src, start, npages)   reference and try-lock each in-use page;
 *                                                unmap it everywhere (migration entries)
 *     (driver) allocate, lock and fill dst; copy
 *     migrate_device_pages(src, dst, npages)     move metadata
 *     migrate_device_finalize(src, dst, npages)  entries for the new pages; unlock, put
 *
 * The caller holds no mmap lock: the pages are found by pfn and unmapped through the rmap.
 *
 * `migrate_device_coherent_page` is the same for one device-coherent page, to a system page it
 * allocates itself: what a long-term pin does with device-coherent memory (v6.0+).
 */
import { EBUSY } from '../locking/errno.js';
import { FindingKind } from '../sim/finding.js';
import { currentWorld } from '../sim/world.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { folio_lock, folio_test_locked, folio_trylock } from '../mm/folio-lock.ts';
import { setDeviceCoherentMigrator } from '../mm/gup-longterm.ts';
import { memoryOf, type MemorySystem } from '../mm/memory.ts';
import type { Mm } from '../mm/mm-struct.ts';
import { copy_highpage } from '../mm/page-copy.ts';
import { alloc_user_page } from '../mm/reclaim.ts';
import { installCpuFault } from './cpu-fault.ts';
import { migrateDeviceFinalize, migrateDeviceUnmap, migrateMapping } from './migrate-core.ts';
import { MIGRATE_PFN_MIGRATE, migrate_pfn, migrate_pfn_to_page, type MigratePfnArray } from './migrate-pfn.ts';

type Gen<T> = Generator<unknown, T, unknown>;

function sysNow(): MemorySystem {
  const sys = memoryOf(currentWorld());
  if (sys === undefined) throw new Error('migrate_device_*: the run has no memory');
  return sys;
}

/** `migrate_device_range(src_pfns, start, npages)`. @returns 0. */
export function* migrate_device_range(src_pfns: MigratePfnArray, start: number, npages: number): Gen<number> {
  const sys = sysNow();
  installCpuFault(sys.world);
  installDeviceCoherentMigrator(sys.world);
  const f = sys.frames;
  for (let i = 0; i < npages; i++) {
    const pfn = start + i;
    if (!f.tryGet(pfn)) {
      src_pfns[i] = 0;
      continue;
    }
    if (!(yield* folio_trylock(pfn))) {
      src_pfns[i] = 0;
      sys.putPage(pfn);
      continue;
    }
    src_pfns[i] = migrate_pfn(pfn) | MIGRATE_PFN_MIGRATE;
  }
  yield* migrateDeviceUnmap(sys, src_pfns, npages, null);
  return 0;
}

/** `migrate_device_pages(src_pfns, dst_pfns, npages)`. */
export function* migrate_device_pages(src_pfns: MigratePfnArray, dst_pfns: MigratePfnArray, npages: number): Gen<void> {
  const sys = sysNow();
  for (let i = 0; i < npages; i++) {
    const newpage = migrate_pfn_to_page(dst_pfns[i]!);
    const page = migrate_pfn_to_page(src_pfns[i]!);
    if (newpage === null || page === null) {
      // No destination, or no source page (there is no VMA to insert into here).
      src_pfns[i] = src_pfns[i]! - (src_pfns[i]! & MIGRATE_PFN_MIGRATE);
      continue;
    }
    if (!folio_test_locked(newpage)) {
      sys.world.report(FindingKind.Warn, `WARNING: migrate_device_pages: destination pfn ${newpage} is not locked (INV-M1)`, 'migrate:dst-unlocked');
    }
    yield sys.world.point(`migrate_folio pfn ${page} -> ${newpage}`, sys.allocator, Access.Write);
    if (!migrateMapping(sys, page, newpage, 0)) src_pfns[i] = src_pfns[i]! - (src_pfns[i]! & MIGRATE_PFN_MIGRATE);
  }
}

/** `migrate_device_finalize(src_pfns, dst_pfns, npages)`. */
export function* migrate_device_finalize(src_pfns: MigratePfnArray, dst_pfns: MigratePfnArray, npages: number): Gen<void> {
  yield* migrateDeviceFinalize(sysNow(), src_pfns, dst_pfns, npages, null);
}

/**
 * `migrate_device_coherent_page(page)` (v6.0+): moves one device-coherent page to a new system
 * page, wherever it is mapped; what a FOLL_LONGTERM pin does with such a page (gup-longterm.ts).
 * The caller hands over a reference to `page`, which the migration consumes. @returns 0, or
 * -EBUSY when the page could not be unmapped or its metadata moved (it stays where it was).
 */
export function* migrate_device_coherent_page(mm: Mm, page: number): Gen<number> {
  const sys = mm.sys;
  if (sys.frames.isCompound(page)) {
    sys.world.report(FindingKind.Warn, `WARNING: migrate_device_coherent_page: pfn ${page} is compound`, 'migrate:coherent-compound');
  }
  yield* folio_lock(page);
  const src: MigratePfnArray = [migrate_pfn(page) | MIGRATE_PFN_MIGRATE];
  const dst: MigratePfnArray = [0];
  yield* migrateDeviceUnmap(sys, src, 1, null);
  if ((src[0]! & MIGRATE_PFN_MIGRATE) === 0) return -EBUSY;
  const dpage = yield* alloc_user_page(mm);
  if (dpage >= 0) {
    yield* folio_lock(dpage);
    dst[0] = migrate_pfn(dpage);
  }
  // migrate_vma_pages without a VMA: there is a source page, so nothing to insert.
  if (dpage < 0) src[0] = src[0]! - (src[0]! & MIGRATE_PFN_MIGRATE);
  else {
    yield sys.world.point(`migrate_folio pfn ${page} -> ${dpage}`, sys.allocator, Access.Write);
    if (!migrateMapping(sys, page, dpage, 0)) src[0] = src[0]! - (src[0]! & MIGRATE_PFN_MIGRATE);
  }
  const migrated = (src[0]! & MIGRATE_PFN_MIGRATE) !== 0;
  if (migrated) copy_highpage(dpage, page);
  yield* migrateDeviceFinalize(sys, src, dst, 1, null);
  return migrated ? 0 : -EBUSY;
}

/** Lets the mm layer's long-term GUP migrate device-coherent pages out (idempotent, per run). */
export function installDeviceCoherentMigrator(world: World): void {
  setDeviceCoherentMigrator(world, migrate_device_coherent_page);
}
