/**
 * `migrate_vma_setup` / `migrate_vma_pages` / `migrate_vma_finalize` (mm/migrate_device.c,
 * spec §5.3). The caller holds the mmap read lock from setup to finalize (spec §5.3; only setup's
 * walk asserts it, as in the kernel: pages and finalize work through the rmap). A VMA unmapped
 * between setup and finalize (the lock was dropped) is reported, and the migration still ends
 * as the kernel's would, through the mm setup recorded.
 *
 *     setup     check arguments (-EINVAL); zero src; collect under a MIGRATE invalidation carrying
 *               pgmap_owner: system pages (SELECT_SYSTEM), the owner's device-private entries
 *               (SELECT_DEVICE_PRIVATE), the owner's device-coherent pages behind present PTEs
 *               (SELECT_DEVICE_COHERENT, v6.0+); each selected page is referenced, try-locked and replaced by a
 *               migration entry (a CPU fault on it waits for the page's unlock); empty entries of
 *               an anonymous VMA and the zero page are collected with no page; then unmap
 *               (isolate, try_to_migrate, pin check; failures restored)
 *     (driver)  allocate, lock and fill dst; copy the data; tear down its own device mappings
 *     pages     move metadata; pages without a source are inserted into the empty PTE under a
 *               second MIGRATE invalidation; every failure clears MIGRATE in src
 *     (driver)  commit or roll back its device page table
 *     finalize  migration entries become entries for the destination (or the source again);
 *               every page unlocked, references dropped (INV-M2)
 *
 * v6.19+ with MIGRATE_VMA_SELECT_COMPOUND, a PMD the range covers whole moves as one
 * MIGRATE_PFN_COMPOUND entry (a THP, an empty or huge-zero PMD, an own device-private PMD);
 * see migrate-huge.ts. Older kernels split every THP of the range before collecting.
 */
import { EINVAL } from '../locking/errno.js';
import { mmap_assert_locked } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { requireIntervalNotifiers } from '../notifier/interval.js';
import { MMU_NOTIFY_MIGRATE } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init_owner } from '../notifier/range.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { FindingKind } from '../sim/finding.js';
import { currentWorld } from '../sim/world.js';
import { memoryOf } from '../mm/memory.ts';
import { Access } from '../sim/point.js';
import { PAGE_SIZE, PMD_SIZE } from '../mm/constants.ts';
import { HPAGE_PMD_NR } from '../mm/compound-frames.ts';
import { page_pgmap } from '../mm/device-private.ts';
import { folio_test_locked, folio_trylock, folio_unlock } from '../mm/folio-lock.ts';
import { split_huge_for_migration } from '../mm/split.ts';
import { __split_huge_pmd, isHugeZeroPmd } from '../mm/huge-memory.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_LRU, PG_SWAPBACKED, PG_UPTODATE } from '../mm/frame-flags.ts';
import type { Mm } from '../mm/mm-struct.ts';
import {
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_NONE,
  PTE_KIND_PRESENT,
  PTE_SPECIAL,
  PTE_WRITE,
  PTE_DIRTY,
  PTE_YOUNG,
  makeReadableDevicePrivateEntry,
  makeWritableDevicePrivateEntry,
  pfnPte,
  ptePfn,
} from '../mm/pte.ts';
import { anonVmaPrepare } from '../mm/rmap.ts';
import { protBits } from '../mm/vma-ops.ts';
import { VM_HUGETLB, VM_SPECIAL, VM_WRITE } from '../mm/vma-flags.ts';
import type { Vma } from '../mm/vma.ts';
import { installCpuFault } from './cpu-fault.ts';
import { installDeviceCoherentMigrator } from './migrate-device.ts';
import { installMigrationEntry, migrateDeviceFinalize, migrateDeviceUnmap, migrateMapping } from './migrate-core.ts';
import {
  MIGRATE_PFN_COMPOUND,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  migrate_pfn,
  migrate_pfn_to_page,
  type MigratePfnArray,
} from './migrate-pfn.ts';
import { checkMigratedMappings } from './migrate-oracle.ts';
import { collectHugePmd, compoundMigration, insertHugePmd, splitUnmappedFolio } from './migrate-huge.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** An owner no pagemap has: device pages are not selected. */
const NOT_SELECTED = Symbol('device pages not selected');

/** `struct migrate_vma`. */
export class MigrateVma {
  vma: Vma | null = null;
  start = 0;
  end = 0;
  src: MigratePfnArray | null = null;
  dst: MigratePfnArray | null = null;
  /** Output: entries filled in src/dst. */
  npages = 0;
  /** Output: entries collected for migration. */
  cpages = 0;
  /** The caller's pagemap owner: selects its device pages and rides on the MIGRATE events. */
  pgmap_owner: unknown = null;
  /** MIGRATE_VMA_SELECT_* bits. */
  flags = 0;
  /** Set only from migrate_to_ram: the locked device page the CPU faulted on. */
  fault_page: number | null = null;
  /**
   * hmmsim only, set by setup: the VMA's mm (the kernel reads vma->vm_mm, which a VMA keeps
   * after it is unmapped; hmmsim finds a VMA's mm by looking, which fails once it is gone).
   */
  mm: Mm | null = null;
  /** hmmsim only: the VMA was found unmapped mid-migration and that was reported once. */
  unmappedReported = false;

  /** Optionally fill the fields at once. */
  constructor(init: Partial<Pick<MigrateVma, 'vma' | 'start' | 'end' | 'src' | 'dst' | 'pgmap_owner' | 'flags' | 'fault_page'>> = {}) {
    Object.assign(this, init);
  }
}

/** `vma->vm_mm`: the live mm whose VMA set holds `vma`. */
function mmOf(vma: Vma): Mm | null {
  const sys = memoryOf(currentWorld());
  if (sys === undefined) return null;
  for (const mm of sys.mms) if (!mm.dead && mm.vmas.find(vma.start) === vma) return mm;
  return null;
}

/** `find_vma(mm, addr)`: the first VMA ending above `addr` (it may start above it), or null. */
export function find_vma(mm: Mm, addr: number): Vma | null {
  const v = mm.vmas.find(addr);
  if (v !== undefined) return v;
  for (const x of mm.vmas) if (x.end > addr) return x;
  return null;
}

/** `migrate_vma_setup(args)`. @returns 0 or -EINVAL. */
export function* migrate_vma_setup(args: MigrateVma): Gen<number> {
  const vma = args.vma;
  if (vma === null || (vma.flags & (VM_HUGETLB | VM_SPECIAL)) !== 0) return -EINVAL;
  const mm = mmOf(vma);
  if (mm === null) return -EINVAL; // a VMA no live address space holds (unmapped)
  const world = mm.world;
  if (!requireIntervalNotifiers(world, 'migrate_vma_setup')) return -EINVAL;
  installCpuFault(world);
  installDeviceCoherentMigrator(world);
  mmap_assert_locked(mm);
  // The count comes from the arguments as given, before they are page-aligned, as the kernel
  // computes it: [0x1800, 0x2000) counts 0 pages (-EINVAL) though it aligns to a whole page.
  const nr = Math.floor((args.end - args.start) / PAGE_SIZE);
  args.start -= args.start % PAGE_SIZE;
  args.end -= args.end % PAGE_SIZE;
  if (nr <= 0) return -EINVAL;
  if (args.start < vma.start || args.start >= vma.end) return -EINVAL;
  if (args.end <= vma.start || args.end > vma.end) return -EINVAL;
  if (args.src === null || args.dst === null) return -EINVAL;
  const fp = args.fault_page;
  if (fp !== null && (!mm.sys.frames.isDevicePrivate(fp) || !folio_test_locked(fp))) return -EINVAL;
  const src = args.src;
  for (let i = 0; i < nr; i++) src[i] = 0;
  args.cpages = 0;
  args.npages = 0;
  args.mm = mm;
  args.unmappedReported = false;
  yield* collect(mm, vma, args);
  if (args.cpages > 0) args.cpages = yield* migrateDeviceUnmap(mm.sys, src, args.npages, fp);
  return 0;
}

/** `migrate_vma_collect`: the walk, inside a MIGRATE invalidation carrying pgmap_owner. */
function* collect(mm: Mm, vma: Vma, args: MigrateVma): Gen<void> {
  const range = new MmuNotifierRange();
  mmu_notifier_range_init_owner(range, MMU_NOTIFY_MIGRATE, 0, mm, args.start, args.end, args.pgmap_owner);
  yield* mmu_notifier_invalidate_range_start(range);
  // v6.19+ with SELECT_COMPOUND: each PMD is looked at in turn (migrate-huge.ts); older kernels
  // split every THP of the range first.
  const whole = compoundMigration(mm.world, args.flags);
  if (!whole) yield* split_huge_for_migration(mm, args.start, args.end);
  const src = args.src!;
  const dst = args.dst!;
  let addr = args.start;
  while (addr < args.end) {
    const stop = Math.min(args.end, addr - (addr % PMD_SIZE) + PMD_SIZE);
    if (whole) {
      if (addr % PMD_SIZE === 0 && stop - addr === PMD_SIZE && (yield* collectHugePmd(mm, vma, addr, args))) {
        addr = stop;
        continue;
      }
      yield* split_huge_for_migration(mm, addr, stop, { faultPage: args.fault_page, owner: (args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) !== 0 ? args.pgmap_owner : NOT_SELECTED });
    }
    const ptl = mm.ptl(addr);
    yield* spin_lock(ptl);
    for (; addr < stop; addr += PAGE_SIZE) {
      const mpfn = yield* collectOne(mm, vma, addr, args);
      dst[args.npages] = 0;
      src[args.npages++] = mpfn;
    }
    yield* spin_unlock(ptl);
  }
  yield* mmu_notifier_invalidate_range_end(range);
  args.end = args.start + args.npages * PAGE_SIZE;
}

/** One entry of `migrate_vma_collect_pmd` (the PTL is held). @returns its src word. */
function* collectOne(mm: Mm, vma: Vma, addr: number, args: MigrateVma): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const pte = mm.pt.get(addr);
  const kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_NONE) {
    if (!vma.isAnon) return 0;
    args.cpages++;
    return MIGRATE_PFN_MIGRATE;
  }
  let page: number;
  let mpfn: number;
  if (kind !== PTE_KIND_PRESENT) {
    if (kind !== PTE_KIND_DEVICE_PRIVATE) return 0;
    page = ptePfn(pte);
    if ((args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) === 0) return 0;
    const pg = page_pgmap(mm.world, page);
    if (pg === null || pg.owner !== args.pgmap_owner) return 0;
    mpfn = migrate_pfn(page) | MIGRATE_PFN_MIGRATE | ((pte & PTE_WRITE) !== 0 ? MIGRATE_PFN_WRITE : 0);
  } else {
    page = ptePfn(pte);
    if (f.isZeroPfn(page) && (pte & PTE_SPECIAL) !== 0) {
      if ((args.flags & MIGRATE_VMA_SELECT_SYSTEM) === 0) return 0;
      args.cpages++;
      return MIGRATE_PFN_MIGRATE;
    }
    if ((pte & PTE_SPECIAL) !== 0) return 0; // no struct page behind it
    if (!f.isZoneDevice(page) && (args.flags & MIGRATE_VMA_SELECT_SYSTEM) === 0) return 0;
    if (f.isDeviceCoherent(page)) {
      // A present PTE to device-coherent memory: only its owner's SELECT_DEVICE_COHERENT takes it.
      if ((args.flags & MIGRATE_VMA_SELECT_DEVICE_COHERENT) === 0) return 0;
      if (page_pgmap(mm.world, page)?.owner !== args.pgmap_owner) return 0;
    }
    mpfn = migrate_pfn(page) | MIGRATE_PFN_MIGRATE | ((pte & PTE_WRITE) !== 0 ? MIGRATE_PFN_WRITE : 0);
  }
  if (f.owner(page) < 0) return 0; // no mapping: nothing to migrate it as
  f.get(page);
  if (page !== args.fault_page && !(yield* folio_trylock(page))) {
    sys.putPage(page); // best effort: a page someone holds locked stays where it is
    return 0;
  }
  // Under the PTL still (the trylock's point did not release it): the entry is unchanged.
  if (installMigrationEntry(sys, mm, addr, page, args.fault_page) === 0) {
    // An exclusive page that may be pinned cannot be shared: it stays mapped, uncollected.
    if (page !== args.fault_page) yield* folio_unlock(page);
    sys.putPage(page);
    return 0;
  }
  args.cpages++;
  return mpfn;
}

/**
 * The mm of a migration in progress, for pages/finalize: null (after a BUG finding) when setup
 * never succeeded on `args`. A VMA unmapped since setup is reported once (the driver let the
 * mmap lock go mid-migration); the migration goes on as the kernel's does.
 */
function migratingMm(args: MigrateVma, fn: string): Mm | null {
  const mm = args.mm;
  const world = currentWorld();
  if (mm === null || args.vma === null || args.src === null || args.dst === null) {
    world.report(FindingKind.Bug, `BUG: ${fn} on a migrate_vma that migrate_vma_setup did not set up`, 'migrate:not-set-up');
    return null;
  }
  const vma = args.vma;
  if (!args.unmappedReported && (vma.detached || mm.vmas.find(vma.start) !== vma)) {
    args.unmappedReported = true;
    world.report(
      FindingKind.Warn,
      `WARNING: ${fn}: the VMA [0x${vma.start.toString(16)}, 0x${vma.end.toString(16)}) of ${mm.name} was unmapped during the migration; hold the mmap lock from migrate_vma_setup to migrate_vma_finalize (spec §5.3)`,
      'migrate:vma-unmapped',
    );
  }
  return mm;
}

/** `migrate_vma_pages(args)`. */
export function* migrate_vma_pages(args: MigrateVma): Gen<void> {
  const mm = migratingMm(args, 'migrate_vma_pages');
  if (mm === null) return;
  const vma = args.vma!;
  const sys = mm.sys;
  const src = args.src!;
  const dst = args.dst!;
  let range: MmuNotifierRange | null = null;
  for (let i = 0; i < args.npages; i++) {
    const newpage = migrate_pfn_to_page(dst[i]!);
    const page = migrate_pfn_to_page(src[i]!);
    if (newpage === null) {
      src[i] = src[i]! - (src[i]! & MIGRATE_PFN_MIGRATE);
      continue;
    }
    if (!folio_test_locked(newpage)) {
      mm.world.report(FindingKind.Warn, `WARNING: migrate_vma_pages: destination pfn ${newpage} of entry ${i} is not locked (INV-M1)`, 'migrate:dst-unlocked');
    }
    if (page === null) {
      if ((src[i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
      const addr = args.start + i * PAGE_SIZE;
      if (range === null) {
        range = new MmuNotifierRange();
        mmu_notifier_range_init_owner(range, MMU_NOTIFY_MIGRATE, 0, mm, addr, args.end, args.pgmap_owner);
        yield* mmu_notifier_invalidate_range_start(range);
      }
      if ((src[i]! & MIGRATE_PFN_COMPOUND) !== 0) {
        if ((dst[i]! & MIGRATE_PFN_COMPOUND) !== 0) {
          if (!(yield* insertHugePmd(mm, vma, addr, newpage))) src[i] = src[i]! - (src[i]! & MIGRATE_PFN_MIGRATE);
          continue;
        }
        // Order-0 destinations for an empty PMD range: the entries are filled one by one (a
        // huge zero PMD is split into zero PTEs first, each then replaced).
        src[i] = src[i]! - MIGRATE_PFN_COMPOUND;
        if (isHugeZeroPmd(sys, mm.pt.getPmd(addr))) yield* __split_huge_pmd(mm, addr);
        for (let j = 1; j < HPAGE_PMD_NR && i + j < args.npages; j++) src[i + j] = src[i + j]! | MIGRATE_PFN_MIGRATE;
      }
      if (!(yield* insertPage(mm, vma, addr, newpage))) src[i] = src[i]! - (src[i]! & MIGRATE_PFN_MIGRATE);
      continue;
    }
    if ((src[i]! & MIGRATE_PFN_COMPOUND) !== 0 && (dst[i]! & MIGRATE_PFN_COMPOUND) === 0) {
      // A compound source, order-0 destinations: split the source and migrate page by page.
      if (!(yield* splitUnmappedFolio(mm, args.start + i * PAGE_SIZE, src, i))) {
        src[i] = src[i]! - (src[i]! & MIGRATE_PFN_MIGRATE);
        continue;
      }
    }
    yield mm.world.point(`migrate_folio pfn ${page} -> ${newpage}`, sys.allocator, Access.Write);
    if (!migrateMapping(sys, page, newpage, page === args.fault_page ? 1 : 0)) {
      src[i] = src[i]! - (src[i]! & MIGRATE_PFN_MIGRATE);
    }
  }
  if (range !== null) yield* mmu_notifier_invalidate_range_end(range);
}

/**
 * `migrate_vma_insert_page`: put a page where there was none (or the zero page). @returns false
 * when it must abort (not anonymous, the entry changed, the mm is being reaped).
 */
function* insertPage(mm: Mm, vma: Vma, addr: number, page: number): Gen<boolean> {
  if (!vma.isAnon) return false;
  const sys = mm.sys;
  const f = sys.frames;
  anonVmaPrepare(sys, vma);
  // A device-private page gets a device-private entry; a device-coherent one a present PTE like
  // RAM, but stays off the LRU (the device owns it).
  const device = f.isDevicePrivate(page);
  const zoneDevice = f.isZoneDevice(page);
  const write = (vma.flags & VM_WRITE) !== 0;
  const entry = device
    ? write
      ? makeWritableDevicePrivateEntry(page)
      : makeReadableDevicePrivateEntry(page)
    : pfnPte(page, PTE_YOUNG | (write ? PTE_WRITE | PTE_DIRTY : 0) | protBits(vma));
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  const orig = mm.pt.get(addr);
  const kind = orig & PTE_KIND_BITS;
  let ok = !mm.unstable && !vma.detached;
  if (ok && kind === PTE_KIND_PRESENT) ok = f.isZeroPfn(ptePfn(orig)) && (orig & PTE_SPECIAL) !== 0;
  else if (ok && kind !== PTE_KIND_NONE) ok = false;
  if (ok) {
    f.setFlags(page, PG_ANON | PG_ANON_EXCLUSIVE | PG_SWAPBACKED | PG_UPTODATE | (zoneDevice ? 0 : PG_LRU));
    f.setOwner(page, vma.anonVma, vma.pgoffAt(addr));
    f.incMapcount(page);
    f.get(page);
    mm.pt.set(addr, entry);
    cpu_mapping_changed(mm, addr);
  }
  yield* spin_unlock(ptl);
  return ok;
}

/** `migrate_vma_finalize(args)`: INV-M2 is checked when it returns. */
export function* migrate_vma_finalize(args: MigrateVma): Gen<void> {
  const mm = migratingMm(args, 'migrate_vma_finalize');
  if (mm === null) return;
  yield* migrateDeviceFinalize(mm.sys, args.src!, args.dst!, args.npages, args.fault_page);
  checkMigratedMappings(mm, args);
  checkNoMigrationEntries(mm, args);
}

/** INV-M2: no migration entry is left in the range, and no page of it is still locked by us. */
function checkNoMigrationEntries(mm: Mm, args: MigrateVma): void {
  for (let i = 0; i < args.npages; i++) {
    const addr = args.start + i * PAGE_SIZE;
    const pte = mm.pt.get(addr);
    if ((pte & PTE_KIND_BITS) !== PTE_KIND_MIGRATION) continue;
    const p = migrate_pfn_to_page(args.src![i]!);
    if (p !== null && ptePfn(pte) === p) {
      mm.world.report(FindingKind.Warn, `WARNING: migrate_vma_finalize left a migration entry at ${mm.name}:0x${addr.toString(16)} (INV-M2)`, 'migrate:entry-left');
    }
  }
}
