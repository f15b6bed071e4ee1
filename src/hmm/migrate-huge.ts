/**
 * Device THP migration (v6.19+, contract `deviceThpMigration`; mm/migrate_device.c's
 * migrate_vma_collect_huge_pmd, migrate_vma_insert_huge_pmd_page,
 * migrate_vma_split_unmapped_folio and remove_migration_pmd): a PMD-sized folio moves between
 * system memory and a device as one compound entry.
 *
 *     collect   with MIGRATE_VMA_SELECT_COMPOUND and a range covering the whole PMD:
 *                 empty PMD, or the huge zero page   src = MIGRATE | COMPOUND (no page)
 *                 PMD-mapped THP (SELECT_SYSTEM), or own device-private PMD (SELECT_DEVICE_PRIVATE):
 *                   referenced, try-locked, the PMD becomes a migration entry (entire mapcount
 *                   and the mapping's reference dropped); src = pfn | MIGRATE | COMPOUND (| WRITE)
 *               the next HPAGE_PMD_NR - 1 entries are 0; anything else falls back to the
 *               split-first path older kernels take for every THP
 *     pages     compound dst: one metadata move, or one huge PMD inserted into the empty (or huge
 *               zero) PMD; order-0 dsts (the driver could not get a large page): a folio source
 *               is split in place (its migration PMD becomes 512 migration PTEs, the folio 512
 *               locked order-0 pages, one reference each) and an empty one gets 512 PTEs
 *     finalize  the migration PMD becomes a PMD for the destination (present, or device-private)
 *
 * A compound folio still mapped elsewhere after collect (a THP shared with a fork child, a
 * device folio evicted by pfn) is unmapped by `tryToMigrateFolio`: migration PMDs, or migration
 * PTEs where its PMD was split.
 */
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { down_read, up_read } from '../locking/rwsem.js';
import { contractOf } from '../locking/version.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { PAGE_SIZE, PMD_SIZE } from '../mm/constants.ts';
import { HPAGE_PMD_NR } from '../mm/compound-frames.ts';
import { folio_trylock, folio_unlock } from '../mm/folio-lock.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_DIRTY, PG_LRU, PG_SWAPBACKED, PG_UPTODATE } from '../mm/frame-flags.ts';
import { cpuRangeChanged, isHugeZeroPmd, thpStats } from '../mm/huge-memory.ts';
import type { MemorySystem } from '../mm/memory.ts';
import type { Mm } from '../mm/mm-struct.ts';
import { pteIndex } from '../mm/page-table.ts';
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
import { anonVmaPrepare, rmapLockOf } from '../mm/rmap.ts';
import { folioMappings } from '../mm/split.ts';
import { protBits } from '../mm/vma-ops.ts';
import { VM_WRITE } from '../mm/vma-flags.ts';
import type { Vma } from '../mm/vma.ts';
import type { World } from '../sim/world.js';
import { MMU_NOTIFY_CLEAR } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { page_pgmap } from '../mm/device-private.ts';
import { installMigrationEntry } from './migrate-core.ts';
import {
  MIGRATE_PFN_COMPOUND,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  migrate_pfn,
  migrate_pfn_to_page,
  type MigratePfnArray,
} from './migrate-pfn.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** What collect needs of `struct migrate_vma` (kept structural: migrate-vma.ts owns the class). */
interface Collecting {
  src: MigratePfnArray | null;
  dst: MigratePfnArray | null;
  npages: number;
  cpages: number;
  flags: number;
  pgmap_owner: unknown;
  fault_page: number | null;
}

/** True when this run's kernel migrates THPs whole and the caller asked for it. */
export function compoundMigration(world: World, flags: number): boolean {
  return contractOf(world).deviceThpMigration === true && (flags & MIGRATE_VMA_SELECT_COMPOUND) !== 0;
}

/**
 * `migrate_vma_collect_huge_pmd` for the PMD at `haddr`, which the range covers whole. Fills
 * HPAGE_PMD_NR entries and @returns true when it collected the PMD as one compound entry; false
 * (nothing filled) to take the split-first path.
 */
export function* collectHugePmd(mm: Mm, vma: Vma, haddr: number, args: Collecting): Gen<boolean> {
  const sys = mm.sys;
  const f = sys.frames;
  const pt = mm.pt;
  if (pt.pmdNone(haddr)) {
    if (!vma.isAnon) return false;
    fillCompound(args, MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND);
    return true;
  }
  const ptl = mm.ptl(haddr);
  yield* spin_lock(ptl);
  const pmd = pt.getPmd(haddr);
  const kind = pmd & PTE_KIND_BITS;
  let folio = -1;
  if (pmd !== 0 && kind === PTE_KIND_PRESENT) {
    if ((args.flags & MIGRATE_VMA_SELECT_SYSTEM) !== 0) {
      if (isHugeZeroPmd(sys, pmd)) {
        // The huge zero page is collected as a hole; insertion replaces it.
        yield* spin_unlock(ptl);
        fillCompound(args, MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND);
        return true;
      }
      if ((pmd & PTE_SPECIAL) === 0) folio = ptePfn(pmd);
    }
  } else if (pmd !== 0 && kind === PTE_KIND_DEVICE_PRIVATE) {
    const pg = page_pgmap(mm.world, ptePfn(pmd));
    if ((args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) !== 0 && pg !== null && pg.owner === args.pgmap_owner) folio = ptePfn(pmd);
  }
  if (folio < 0) {
    yield* spin_unlock(ptl);
    return false;
  }
  f.get(folio);
  const faultFolio = args.fault_page === null ? -1 : f.folioHead(args.fault_page);
  if (folio !== faultFolio && !(yield* folio_trylock(folio))) {
    yield* spin_unlock(ptl);
    sys.putPage(folio);
    return false;
  }
  if (pt.getPmd(haddr) !== pmd || !installMigrationPmd(sys, mm, haddr, folio, faultFolio)) {
    yield* spin_unlock(ptl);
    if (folio !== faultFolio) yield* folio_unlock(folio);
    sys.putPage(folio);
    return false;
  }
  yield* spin_unlock(ptl);
  fillCompound(args, migrate_pfn(folio) | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND | ((pmd & PTE_WRITE) !== 0 ? MIGRATE_PFN_WRITE : 0));
  return true;
}

function fillCompound(args: Collecting, first: number): void {
  const src = args.src!;
  const dst = args.dst!;
  src[args.npages] = first;
  dst[args.npages++] = 0;
  for (let k = 1; k < HPAGE_PMD_NR; k++) {
    src[args.npages] = 0;
    dst[args.npages++] = 0;
  }
  args.cpages++;
}

/**
 * `set_pmd_migration_entry`: the huge PMD at `haddr` (present or device-private, mapping
 * `folio`, PTL and folio lock held) becomes a migration entry. An anon-exclusive system folio
 * that may be pinned cannot be shared and stays mapped. @returns false when nothing changed.
 */
function installMigrationPmd(sys: MemorySystem, mm: Mm, haddr: number, folio: number, faultFolio: number): boolean {
  const f = sys.frames;
  const pmd = mm.pt.getPmd(haddr);
  const exclusive = f.testFlags(folio, PG_ANON) && f.testFlags(folio, PG_ANON_EXCLUSIVE);
  if (exclusive) {
    const extra = 1 + (folio === faultFolio ? 1 : 0);
    if (!f.isDevicePrivate(folio) && f.refcount(folio) - extra > f.folioMapcount(folio)) return false;
    f.clearFlags(folio, PG_ANON_EXCLUSIVE);
  }
  if ((pmd & PTE_DIRTY) !== 0) f.setFlags(folio, PG_DIRTY);
  const keep = pmd & (PTE_DIRTY | PTE_YOUNG);
  let entry: Pte;
  if ((pmd & PTE_WRITE) !== 0) entry = makeWritableMigrationEntry(folio, keep);
  else if (exclusive) entry = makeReadableExclusiveMigrationEntry(folio, keep);
  else entry = makeReadableMigrationEntry(folio, keep);
  mm.pt.setPmd(haddr, entry);
  f.decEntireMapcount(folio);
  sys.putPage(folio); // the mapping's reference; the migration holds its own
  cpuRangeChanged(mm, haddr, PMD_SIZE);
  return true;
}

/**
 * `remove_migration_pmd` for every mapping of the compound folio `src`: each migration PMD
 * naming it becomes a PMD for `dst` (present, or device-private for a device folio), with one
 * reference and one entire mapping each.
 */
export function* removeMigrationPmds(sys: MemorySystem, src: number, dst: number): Gen<void> {
  const lock = rmapLockOf(sys, src);
  if (lock === null) return;
  const f = sys.frames;
  yield* down_read(lock);
  for (const m of folioMappings(sys, src)) {
    for (let b = m.start - (m.start % PMD_SIZE); b < m.end; b += PMD_SIZE) {
      const ptl = m.mm.ptl(b);
      yield* spin_lock(ptl);
      const pmd = m.mm.pt.getPmd(b);
      if (pmd === 0) removeMigrationPtesOfFolio(sys, m.mm, m.vma, Math.max(b, m.start), Math.min(b + PMD_SIZE, m.end), src, dst);
      if ((pmd & PTE_KIND_BITS) === PTE_KIND_MIGRATION && ptePfn(pmd) === src) {
        const write = (pmd & PTE_WRITE) !== 0;
        if ((pmd & (PTE_WRITE | PTE_EXCLUSIVE)) !== 0 && f.testFlags(dst, PG_ANON)) f.setFlags(dst, PG_ANON_EXCLUSIVE);
        if (f.isDevicePrivate(dst)) {
          m.mm.pt.setPmd(b, write ? makeWritableDevicePrivateEntry(dst) : makeReadableDevicePrivateEntry(dst));
        } else {
          const dirty = (pmd & PTE_DIRTY) !== 0 && f.testFlags(dst, PG_DIRTY) ? PTE_DIRTY : 0;
          m.mm.pt.setPmd(b, pfnPte(dst, (pmd & PTE_YOUNG) | dirty | (write ? PTE_WRITE : 0) | protBits(m.vma)));
        }
        f.get(dst);
        f.incEntireMapcount(dst);
        cpuRangeChanged(m.mm, b, PMD_SIZE);
      }
      yield* spin_unlock(ptl);
    }
  }
  yield* up_read(lock);
}

/**
 * The PTE-mapped part of remove_migration_ptes for a compound folio (its PMD was split while it
 * migrated): each migration PTE naming page k of `src` in [from, to) becomes an entry for page
 * k of `dst`. PTL held.
 */
function removeMigrationPtesOfFolio(sys: MemorySystem, mm: Mm, vma: Vma, from: number, to: number, src: number, dst: number): void {
  const f = sys.frames;
  const nr = f.folioNrPages(src);
  for (let a = from; a < to; a += PAGE_SIZE) {
    const pte = mm.pt.get(a);
    const k = ptePfn(pte) - src;
    if ((pte & PTE_KIND_BITS) !== PTE_KIND_MIGRATION || k < 0 || k >= nr) continue;
    const write = (pte & PTE_WRITE) !== 0;
    if ((pte & (PTE_WRITE | PTE_EXCLUSIVE)) !== 0 && f.testFlags(dst, PG_ANON)) f.setFlags(dst, PG_ANON_EXCLUSIVE);
    if (f.isDevicePrivate(dst)) mm.pt.set(a, write ? makeWritableDevicePrivateEntry(dst + k) : makeReadableDevicePrivateEntry(dst + k));
    else {
      const dirty = (pte & PTE_DIRTY) !== 0 && f.testFlags(dst, PG_DIRTY) ? PTE_DIRTY : 0;
      mm.pt.set(a, pfnPte(dst + k, (pte & PTE_YOUNG) | dirty | (write ? PTE_WRITE : 0) | protBits(vma)));
    }
    f.get(dst + k);
    f.incMapcount(dst + k);
    cpu_mapping_changed(mm, a);
  }
}

/**
 * `try_to_migrate` of a compound folio (locked, referenced): every PMD mapping it becomes a
 * migration PMD and every PTE mapping one of its pages a migration PTE, each mapping under a
 * CLEAR invalidation of its span, with the rmap lock held.
 */
export function* tryToMigrateFolio(sys: MemorySystem, head: number, faultPage: number | null): Gen<void> {
  const lock = rmapLockOf(sys, head);
  if (lock === null) return;
  const f = sys.frames;
  const nr = f.folioNrPages(head);
  const faultFolio = faultPage === null ? -1 : f.folioHead(faultPage);
  yield* down_read(lock);
  for (const m of folioMappings(sys, head)) {
    const range = new MmuNotifierRange();
    mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, m.mm, m.start, m.end);
    yield* mmu_notifier_invalidate_range_start(range);
    for (let b = m.start - (m.start % PMD_SIZE); b < m.end; b += PMD_SIZE) {
      const ptl = m.mm.ptl(b);
      yield* spin_lock(ptl);
      const pmd = m.mm.pt.getPmd(b);
      const kind = pmd & PTE_KIND_BITS;
      if (pmd !== 0 && (kind === PTE_KIND_PRESENT || kind === PTE_KIND_DEVICE_PRIVATE) && ptePfn(pmd) === head) {
        installMigrationPmd(sys, m.mm, b, head, faultFolio);
      } else if (pmd === 0) {
        for (let a = Math.max(b, m.start); a < Math.min(b + PMD_SIZE, m.end); a += PAGE_SIZE) {
          const k = ptePfn(m.mm.pt.get(a)) - head;
          if (k >= 0 && k < nr) installMigrationEntry(sys, m.mm, a, head + k, faultPage);
        }
      }
      yield* spin_unlock(ptl);
    }
    yield* mmu_notifier_invalidate_range_end(range);
  }
  yield* up_read(lock);
}

/**
 * `migrate_vma_insert_huge_pmd_page`: the compound destination `folio` (locked, the driver's
 * reference) goes where the PMD at `haddr` is empty or maps the huge zero page. @returns false
 * when it must abort (not anonymous, the PMD changed, the mm is being reaped).
 */
export function* insertHugePmd(mm: Mm, vma: Vma, haddr: number, folio: number): Gen<boolean> {
  if (!vma.isAnon) return false;
  const sys = mm.sys;
  const f = sys.frames;
  anonVmaPrepare(sys, vma);
  const device = f.isDevicePrivate(folio);
  const write = (vma.flags & VM_WRITE) !== 0;
  const ptl = mm.ptl(haddr);
  yield* spin_lock(ptl);
  const orig = mm.pt.getPmd(haddr);
  const ok = !mm.unstable && !vma.detached && (mm.pt.pmdNone(haddr) || isHugeZeroPmd(sys, orig));
  if (ok) {
    if (orig !== 0) mm.pt.clearPmd(haddr);
    f.setFlags(folio, PG_ANON | PG_ANON_EXCLUSIVE | PG_SWAPBACKED | PG_UPTODATE | (device ? 0 : PG_LRU));
    f.setOwner(folio, vma.anonVma, vma.pgoffAt(haddr));
    f.incEntireMapcount(folio);
    f.get(folio);
    const entry = device
      ? write
        ? makeWritableDevicePrivateEntry(folio)
        : makeReadableDevicePrivateEntry(folio)
      : pfnPte(folio, PTE_YOUNG | (write ? PTE_WRITE | PTE_DIRTY : 0) | protBits(vma));
    mm.pt.setPmd(haddr, entry);
    cpuRangeChanged(mm, haddr, PMD_SIZE);
  }
  yield* spin_unlock(ptl);
  return ok;
}

/**
 * `migrate_vma_split_unmapped_folio`: the collected compound folio of entry `i` (locked,
 * isolated, behind a migration PMD at `haddr`) becomes order-0 pages for order-0 destinations:
 * the migration PMD becomes 512 migration PTEs with its bits, the folio 512 locked pages with one
 * reference each, and entries i..i+511 name them. A device folio's driver splits its own state
 * (folio_split). @returns false if it could not (the entry is then not migrated).
 */
export function* splitUnmappedFolio(mm: Mm, haddr: number, src: MigratePfnArray, i: number): Gen<boolean> {
  const sys = mm.sys;
  const f = sys.frames;
  const head = migrate_pfn_to_page(src[i]!)!;
  const ptl = mm.ptl(haddr);
  yield* spin_lock(ptl);
  const pmd = mm.pt.getPmd(haddr);
  if ((pmd & PTE_KIND_BITS) === PTE_KIND_MIGRATION && ptePfn(pmd) === head) {
    const pt = mm.pt;
    pt.clearPmd(haddr);
    const leaf = pt.allocLeaf(haddr);
    const first = pteIndex(haddr);
    for (let k = 0; k < HPAGE_PMD_NR; k++) pt.setAt(leaf, first + k, pmd + k * 0x10000);
    thpStats(sys).splitPmd++;
  }
  yield* spin_unlock(ptl);
  f.getN(head, HPAGE_PMD_NR - 1);
  const freed = f.splitCompound(head, true);
  if (freed === null) {
    for (let k = 1; k < HPAGE_PMD_NR; k++) sys.putPage(head);
    return false;
  }
  if (f.isDevicePrivate(head)) sys.onDeviceFolioSplit?.(head, HPAGE_PMD_NR);
  thpStats(sys).splitPage++;
  const flags = src[i]! & (MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE);
  for (let k = 0; k < HPAGE_PMD_NR && i + k < src.length; k++) src[i + k] = migrate_pfn(head + k) | flags;
  for (let k = 0; k < HPAGE_PMD_NR; k++) cpu_mapping_changed(mm, haddr + k * PAGE_SIZE);
  return true;
}
