/**
 * `migrate_device_range` / `migrate_device_pages` / `migrate_device_finalize`: migration by
 * device pfn rather than by address, which a driver uses to evict its device memory when it is
 * torn down (every page still in use goes back to system memory, wherever it is mapped).
 *
 *     migrate_device_range(src, start, npages)   reference and try-lock each in-use page;
 *                                                unmap it everywhere (migration entries)
 *     migrate_device_pfns(src, npages)           the same for the pfns src holds (v6.15+)
 *     (driver) allocate, lock and fill dst; copy
 *     migrate_device_pages(src, dst, npages)     move metadata; an entry with MIGRATE and no
 *                                                source page is a BUG (no VMA to insert into)
 *     migrate_device_finalize(src, dst, npages)  entries for the new pages; unlock, put
 *
 * The caller holds no mmap lock: the pages are found by pfn and unmapped through the rmap.
 *
 * `migrate_device_coherent_page` is the same for one device-coherent page, to a system page it
 * allocates itself: what a long-term pin does with device-coherent memory (v6.0+).
 */
import { EBUSY, EOPNOTSUPP } from '../locking/errno.js';
import { contractOf } from '../locking/version.js';
import { API_UNAVAILABLE } from '../notifier/kinds.js';
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
  for (let i = 0; i < npages; i++) src_pfns[i] = yield* migrateDevicePfnLock(sys, start + i);
  yield* migrateDeviceUnmap(sys, src_pfns, npages, null);
  return 0;
}

/**
 * `migrate_device_pfns(src_pfns, npages)` (v6.15+): migrate_device_range for an array of device
 * pfns that need not be contiguous. On entry each `src_pfns[i]` is a plain pfn (the v6.15 form);
 * on return it is a migrate pfn word, as from migrate_device_range. @returns 0, or -EOPNOTSUPP
 * (with an api-unavailable finding) under a kernel contract that lacks it.
 */
export function* migrate_device_pfns(src_pfns: MigratePfnArray, npages: number): Gen<number> {
  const sys = sysNow();
  const c = contractOf(sys.world);
  if (c.migrateDevicePfns !== true) {
    sys.world.report(API_UNAVAILABLE, `migrate_device_pfns does not exist in kernel contract ${c.name} (it arrived in v6.15)`, 'migrate_device_pfns', true);
    return -EOPNOTSUPP;
  }
  installCpuFault(sys.world);
  installDeviceCoherentMigrator(sys.world);
  for (let i = 0; i < npages; i++) src_pfns[i] = yield* migrateDevicePfnLock(sys, src_pfns[i]!);
  yield* migrateDeviceUnmap(sys, src_pfns, npages, null);
  return 0;
}

/** `migrate_device_pfn_lock`: a reference and the lock of an in-use page, as a MIGRATE word; else 0. */
function* migrateDevicePfnLock(sys: MemorySystem, pfn: number): Gen<number> {
  if (!sys.frames.tryGet(pfn)) return 0;
  if (!(yield* folio_trylock(pfn))) {
    sys.putPage(pfn);
    return 0;
  }
  return migrate_pfn(pfn) | MIGRATE_PFN_MIGRATE;
}

/** `migrate_device_pages(src_pfns, dst_pfns, npages)`. */
export function* migrate_device_pages(src_pfns: MigratePfnArray, dst_pfns: MigratePfnArray, npages: number): Gen<void> {
  const sys = sysNow();
  for (let i = 0; i < npages; i++) {
    const newpage = migrate_pfn_to_page(dst_pfns[i]!);
    const page = migrate_pfn_to_page(src_pfns[i]!);
    if (newpage === null) {
      src_pfns[i] = src_pfns[i]! - (src_pfns[i]! & MIGRATE_PFN_MIGRATE);
      continue;
    }
    if (page === null) {
      // An empty source still asking to migrate would be a hole to insert into, and there is no
      // VMA here: the kernel hits VM_BUG_ON(!migrate) (then a NULL dereference). migrate_device_range
      // never produces such an entry; a driver that builds src_pfns by hand can.
      if ((src_pfns[i]! & MIGRATE_PFN_MIGRATE) !== 0) {
        sys.world.report(
          FindingKind.Bug,
          `BUG: migrate_device_pages: entry ${i} has MIGRATE_PFN_MIGRATE but no source page; without a VMA there is nothing to insert into (src_pfns must come from migrate_device_range)`,
          'migrate:device-pages-no-source',
        );
        src_pfns[i] = src_pfns[i]! - MIGRATE_PFN_MIGRATE;
      }
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
