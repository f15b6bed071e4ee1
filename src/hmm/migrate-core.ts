/**
 * What migrate_vma and migrate_device share (mm/migrate_device.c): unmapping the collected pages
 * behind migration entries, moving page metadata to the destinations, and putting real entries
 * back at the end.
 *
 *     collected page (locked, +1 reference)
 *        ── unmap: isolate from the LRU (system pages), try_to_migrate the other mappings
 *                  (CLEAR invalidations), check for pins; failures are restored and unlocked
 *        ── pages: no destination, or unexpected references: MIGRATE cleared
 *        ── finalize: every migration entry of the page becomes an entry for the destination
 *                     (or the source again), pages unlocked, references dropped
 *
 * Reference and map counts follow the kernel: a migration entry holds no reference and no map
 * count; the migration's own reference keeps the source alive; the destination arrives with the
 * driver's allocation reference (dropped at finalize) and takes one per entry it replaces.
 */
import { FindingKind } from '../sim/finding.js';
import { down_read, up_read } from '../locking/rwsem.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_CLEAR } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import { PAGE_SIZE } from '../mm/constants.ts';
import { folio_unlock } from '../mm/folio-lock.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_DIRTY, PG_LRU, PG_SWAPBACKED, PG_SWAPCACHE, PG_UPTODATE } from '../mm/frame-flags.ts';
import type { MemorySystem } from '../mm/memory.ts';
import type { Mm } from '../mm/mm-struct.ts';
import {
  PTE_DIRTY,
  PTE_EXCLUSIVE,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_PRESENT,
  PTE_SPECIAL,
  PTE_WRITE,
  PTE_YOUNG,
  makeReadableDevicePrivateEntry,
  makeReadableExclusiveMigrationEntry,
  makeReadableMigrationEntry,
  makeWritableDevicePrivateEntry,
  makeWritableMigrationEntry,
  pfnPte,
  ptePfn,
  type Pte,
} from '../mm/pte.ts';
import { deleteFromSwapCache, rmapLockOf, rmapTargets } from '../mm/rmap.ts';
import { protBits } from '../mm/vma-ops.ts';
import { MIGRATE_PFN_MIGRATE, migrate_pfn_to_page, type MigratePfnArray } from './migrate-pfn.ts';
import { removeMigrationPmds, tryToMigrateFolio } from './migrate-huge.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * `migrate_device_unmap`: unmap every collected page. @returns how many entries are still
 * marked MIGRATE (cpages).
 */
export function* migrateDeviceUnmap(sys: MemorySystem, src: MigratePfnArray, npages: number, faultPage: number | null): Gen<number> {
  const f = sys.frames;
  let unmapped = 0;
  let restore = 0;
  for (let i = 0; i < npages; i++) {
    const page = migrate_pfn_to_page(src[i]!);
    if (page === null) {
      if ((src[i]! & MIGRATE_PFN_MIGRATE) !== 0) unmapped++;
      continue;
    }
    // ZONE_DEVICE pages (private or coherent) are not on the LRU: collect's reference stays.
    const device = f.isZoneDevice(page);
    if (!device) {
      // folio_isolate_lru: the isolation reference replaces collect's. Under the lruvec lock in
      // the kernel, racing reclaim's isolation: the step names what reclaim's does.
      yield sys.world.point(`isolate pfn ${page} (migrate)`, sys.allocator, Access.Write);
      if (!f.testFlags(page, PG_LRU)) {
        src[i] = src[i]! - (src[i]! & MIGRATE_PFN_MIGRATE);
        restore++;
        continue;
      }
      f.clearFlags(page, PG_LRU);
    }
    // A compound folio (device THP migration, migrate-huge.ts) is unmapped as a whole.
    const large = f.folioOrder(page) > 0;
    if ((large ? f.folioMapcount(page) : f.mapcount(page)) > 0) yield* (large ? tryToMigrateFolio(sys, page, faultPage) : tryToMigrate(sys, page, faultPage));
    if ((large ? f.folioMapcount(page) : f.mapcount(page)) > 0 || !checkPage(sys, page, faultPage)) {
      if (!device) {
        yield sys.world.point(`putback pfn ${page} (migrate)`, sys.allocator, Access.Write);
        f.setFlags(page, PG_LRU);
      }
      src[i] = src[i]! - (src[i]! & MIGRATE_PFN_MIGRATE);
      restore++;
      continue;
    }
    unmapped++;
  }
  for (let i = 0; i < npages && restore > 0; i++) {
    const page = migrate_pfn_to_page(src[i]!);
    if (page === null || (src[i]! & MIGRATE_PFN_MIGRATE) !== 0) continue;
    yield* removeMigrationPtes(sys, page, page);
    src[i] = 0;
    if (page !== faultPage) yield* folio_unlock(page);
    sys.putPage(page);
    restore--;
  }
  return unmapped;
}

/**
 * `migrate_vma_check_page`: nobody but the mappings, the caches and us holds a reference (a
 * GUP pin, a DMA in flight, or reclaim's isolation would show as one more). A ZONE_DEVICE page
 * is allowed one reference more: the kernel still counts the extra reference device pages had
 * before v5.17, so one unexpected reference on a device page passes here and fails later, at
 * migrate_vma_pages (folio_migrate_mapping), which clears MIGRATE.
 */
function checkPage(sys: MemorySystem, page: number, faultPage: number | null): boolean {
  const f = sys.frames;
  const zoneDevice = f.isZoneDevice(page) ? 1 : 0;
  return f.refcount(page) - expectedExtraRefs(sys, page, faultPage) - zoneDevice <= (f.folioOrder(page) > 0 ? f.folioMapcount(page) : f.mapcount(page));
}

/**
 * References a collected page has besides its mappings: the migration's own, the faulting
 * task's for `fault_page`, and the swap or page cache's.
 */
export function expectedExtraRefs(sys: MemorySystem, page: number, faultPage: number | null): number {
  const f = sys.frames;
  let extra = 1 + (page === faultPage ? 1 : 0);
  if (f.testFlags(page, PG_SWAPCACHE) || (!f.testFlags(page, PG_ANON) && f.owner(page) >= 0)) extra++;
  return extra;
}

/**
 * `folio_maybe_dma_pinned` as `folio_try_share_anon_rmap_pte` asks it: hmmsim keeps no pin
 * count, so a reference nobody accounts for (beyond the mappings and `expectedExtraRefs`) is
 * taken for a pin. Device-private pages are never pinned (GUP faults them back to system
 * memory), so they always share, as in the kernel where their count stays far below the bias.
 */
function maybePinned(sys: MemorySystem, page: number, faultPage: number | null): boolean {
  const f = sys.frames;
  if (f.isDevicePrivate(page)) return false;
  return f.refcount(page) - expectedExtraRefs(sys, page, faultPage) > f.mapcount(page);
}

/**
 * `try_to_migrate`: every remaining mapping of the locked `page` becomes a migration entry,
 * each under a one-page CLEAR invalidation, with the rmap lock held.
 */
function* tryToMigrate(sys: MemorySystem, page: number, faultPage: number | null): Gen<void> {
  const lock = rmapLockOf(sys, page);
  if (lock === null) return;
  yield* down_read(lock);
  for (const t of rmapTargets(sys, page)) {
    const { mm, addr } = t;
    if (mm.dead) continue;
    const range = new MmuNotifierRange();
    mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
    yield* mmu_notifier_invalidate_range_start(range);
    const ptl = mm.ptl(addr);
    yield* spin_lock(ptl);
    installMigrationEntry(sys, mm, addr, page, faultPage);
    yield* spin_unlock(ptl);
    yield* mmu_notifier_invalidate_range_end(range);
  }
  yield* up_read(lock);
}

/**
 * Replaces the entry at `addr` with a migration entry if it maps `page` (present or
 * device-private); the caller holds the PTL and the page's lock. An exclusive anonymous page is
 * first shared (`folio_try_share_anon_rmap_pte`): that fails if the page may be pinned, and the
 * entry stays as it was; otherwise a read-only mapping becomes a readable-exclusive entry, so
 * that `removeMigrationPtes` can give the exclusivity back. @returns the replaced entry, or 0
 * (nothing replaced: not this page's mapping, or a maybe-pinned exclusive page).
 */
export function installMigrationEntry(sys: MemorySystem, mm: Mm, addr: number, page: number, faultPage: number | null): number {
  const f = sys.frames;
  const pte = mm.pt.get(addr);
  const kind = pte & PTE_KIND_BITS;
  if (ptePfn(pte) !== page) return 0;
  if (kind === PTE_KIND_PRESENT) {
    if ((pte & PTE_SPECIAL) !== 0) return 0;
  } else if (kind !== PTE_KIND_DEVICE_PRIVATE) {
    return 0;
  }
  const exclusive = f.testFlags(page, PG_ANON) && f.testFlags(page, PG_ANON_EXCLUSIVE);
  if (exclusive) {
    if (maybePinned(sys, page, faultPage)) return 0;
    f.clearFlags(page, PG_ANON_EXCLUSIVE);
  }
  if ((pte & PTE_DIRTY) !== 0) f.setFlags(page, PG_DIRTY);
  const keep = pte & (PTE_DIRTY | PTE_YOUNG);
  let entry: Pte;
  if ((pte & PTE_WRITE) !== 0) entry = makeWritableMigrationEntry(page, keep);
  else if (exclusive) entry = makeReadableExclusiveMigrationEntry(page, keep);
  else entry = makeReadableMigrationEntry(page, keep);
  mm.pt.set(addr, entry);
  f.decMapcount(page);
  sys.putPage(page); // the mapping's reference; the migration holds its own
  cpu_mapping_changed(mm, addr);
  return pte;
}

/**
 * `remove_migration_ptes(src, dst)`: every migration entry naming `src`, in every mm, becomes
 * an entry for `dst` (a present PTE, also for a device-coherent page, or a device-private
 * entry for a device-private page), with one
 * reference and one map count each.
 */
export function* removeMigrationPtes(sys: MemorySystem, src: number, dst: number): Gen<void> {
  if (sys.frames.folioOrder(src) > 0) return yield* removeMigrationPmds(sys, src, dst);
  const lock = rmapLockOf(sys, src);
  if (lock === null) return;
  yield* down_read(lock);
  for (const t of rmapTargets(sys, src)) {
    const { mm, vma, addr } = t;
    if (mm.dead) continue;
    const ptl = mm.ptl(addr);
    yield* spin_lock(ptl);
    const pte = mm.pt.get(addr);
    if ((pte & PTE_KIND_BITS) === PTE_KIND_MIGRATION && ptePfn(pte) === src) {
      const write = (pte & PTE_WRITE) !== 0;
      const f = sys.frames;
      // RMAP_EXCLUSIVE for every anonymous entry that is not readable-only.
      if ((pte & (PTE_WRITE | PTE_EXCLUSIVE)) !== 0 && f.testFlags(dst, PG_ANON)) f.setFlags(dst, PG_ANON_EXCLUSIVE);
      if (f.isDevicePrivate(dst)) {
        mm.pt.set(addr, write ? makeWritableDevicePrivateEntry(dst) : makeReadableDevicePrivateEntry(dst));
      } else {
        // Young and dirty as the entry kept them (dirty only if the page still is); writable
        // does not imply dirty.
        const dirty = (pte & PTE_DIRTY) !== 0 && f.testFlags(dst, PG_DIRTY) ? PTE_DIRTY : 0;
        mm.pt.set(addr, pfnPte(dst, (pte & PTE_YOUNG) | dirty | (write ? PTE_WRITE : 0) | protBits(vma)));
      }
      f.get(dst);
      f.incMapcount(dst);
      cpu_mapping_changed(mm, addr);
    }
    yield* spin_unlock(ptl);
  }
  yield* up_read(lock);
}

/**
 * The metadata step of `__migrate_device_pages` for a source page: the swap cache is dropped
 * for a device destination, unexpected references refuse, and the destination takes the
 * source's owner, index and flags. @returns false to clear MIGRATE.
 */
export function migrateMapping(sys: MemorySystem, page: number, newpage: number, extra: number): boolean {
  const f = sys.frames;
  const toDevice = f.isZoneDevice(newpage); // device-private or device-coherent: anonymous memory only
  const file = !f.testFlags(page, PG_ANON) && f.owner(page) >= 0;
  if (toDevice && (file || f.testFlags(page, PG_SWAPCACHE))) {
    // Only anonymous memory goes to the device, and its swap copy must be freeable.
    if (file) return false;
    if (sys.swap.count(f.getPrivate(page)) > 0) return false;
    deleteFromSwapCache(sys, page);
  }
  if (file || f.testFlags(page, PG_SWAPCACHE)) return false; // page-cache migration is not modelled
  if (f.refcount(page) !== 1 + extra) return false;
  f.setOwner(newpage, f.owner(page), f.index(page));
  const carry = f.flags(page) & (PG_ANON | PG_SWAPBACKED | PG_DIRTY | PG_UPTODATE);
  f.setFlags(newpage, carry | PG_UPTODATE);
  return true;
}

/** `__migrate_device_finalize`. */
export function* migrateDeviceFinalize(sys: MemorySystem, src: MigratePfnArray, dst: MigratePfnArray, npages: number, faultPage: number | null): Gen<void> {
  const f = sys.frames;
  const faultFolio = faultPage === null ? -1 : f.folioHead(faultPage);
  for (let i = 0; i < npages; i++) {
    const newpage = migrate_pfn_to_page(dst[i]!);
    const page = migrate_pfn_to_page(src[i]!);
    if (page === null) {
      if (newpage !== null) {
        warnFaultFolioAsDst(sys, faultFolio, newpage, i);
        yield* folio_unlock(newpage);
        sys.putPage(newpage);
      }
      continue;
    }
    let to = newpage;
    if ((src[i]! & MIGRATE_PFN_MIGRATE) === 0 || to === null) {
      if (to !== null) {
        warnFaultFolioAsDst(sys, faultFolio, to, i);
        yield* folio_unlock(to);
        sys.putPage(to);
      }
      to = page;
    }
    if (!f.isZoneDevice(to)) {
      yield sys.world.point(`add_lru pfn ${to} (migrate)`, sys.allocator, Access.Write);
      f.setFlags(to, PG_LRU);
    }
    yield* removeMigrationPtes(sys, page, to);
    if (page !== faultPage) yield* folio_unlock(page);
    sys.putPage(page);
    if (to !== page) {
      warnFaultFolioAsDst(sys, faultFolio, to, i);
      yield* folio_unlock(to);
      sys.putPage(to);
    }
  }
}

/**
 * The kernel's finalize WARNs (once) when the folio of the faulting page comes back as a
 * destination: the driver handed migrate_to_ram's own page in as dst, and finalize is about to
 * unlock and put a page the fault path still holds locked. It goes on as the kernel does.
 */
function warnFaultFolioAsDst(sys: MemorySystem, faultFolio: number, dst: number, i: number): void {
  if (faultFolio < 0 || sys.frames.folioHead(dst) !== faultFolio) return;
  sys.world.report(
    FindingKind.Warn,
    `WARNING: migrate_vma_finalize: entry ${i}'s destination pfn ${dst} is the faulting page's folio (fault_page); migrate_to_ram must migrate to a new page`,
    'migrate:fault-page-as-dst',
  );
}
