/**
 * Device memory (ZONE_DEVICE): `struct dev_pagemap`, `memremap_pages`, `zone_device_page_init`,
 * `page_pgmap`, `is_device_private_page`, `is_device_coherent_page`, `is_zone_device_page`.
 *
 * Two types, as the kernel has them:
 * - MEMORY_DEVICE_PRIVATE: the CPU cannot address it; the CPU's entries for it are
 *   device-private swap-like entries, and a CPU access faults into `migrate_to_ram`.
 * - MEMORY_DEVICE_COHERENT (v6.0+): the CPU maps it with ordinary present PTEs and accesses it
 *   like RAM. It is owned by the device (so it is never on the LRU, never reclaimed, never
 *   long-term pinned: FOLL_LONGTERM migrates it out first), and it only goes back to system
 *   memory when the driver migrates it (there is no migrate_to_ram for it). memremap_pages
 *   requires page_free and an owner for it, and no migrate_to_ram.
 *
 * A driver describes its device memory with a pagemap (type, owner token, ops) and registers it;
 * the mm layer makes one frame per page, idle until the driver hands one out:
 *
 *     memremap_pages(world, pgmap, npages)   frames [first, first + npages), idle
 *     zone_device_page_init(page)            refcount 1, and the page LOCKED (as the kernel's
 *                                            does: a migration destination must be locked)
 *     ... mapped by device-private entries; the CPU never maps it (INV-M3) ...
 *     last reference dropped                 pgmap.ops.page_free(page): back to the driver
 *
 * A CPU access to a device-private entry is do_swap_page's business (§5.4), which the hmm layer
 * installs as the mm's special-fault hook; it calls `pgmap.ops.migrate_to_ram(vmf)`.
 *
 * Device pages that replace anonymous memory carry the anon owner and index like any anon page
 * (folio->mapping and ->index), so the reverse map finds their mappings; the pagemap is found by
 * pfn range, as the kernel's page->pgmap.
 */
import { FindingKind } from '../sim/finding.js';
import type { World } from '../sim/world.js';
import { EINVAL } from '../locking/errno.js';
import { PAGE_SIZE } from './constants.ts';
import { PG_DEVICE_COHERENT, PG_DEVICE_PRIVATE } from './frame-flags.ts';
import { folio_lock } from './folio-lock.ts';
import { contractOf } from '../locking/version.js';
import { memoryOf, type MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** `MEMORY_DEVICE_PRIVATE`: memory the CPU cannot access. */
export const MEMORY_DEVICE_PRIVATE = 1;
/** `MEMORY_DEVICE_COHERENT` (v6.0+): device memory the CPU maps and accesses like RAM. */
export const MEMORY_DEVICE_COHERENT = 2;

/** `struct vm_fault`, as far as migrate_to_ram needs it. */
export interface VmFault {
  readonly vma: Vma;
  /** The faulting address, page aligned. */
  readonly address: number;
  /** The device-private page (pfn) the entry named; locked by the fault path. */
  readonly page: number;
  /** The fault's FAULT_FLAG_* bits (fault-flags.ts): WRITE, and REMOTE from hmm_range_fault. */
  readonly flags: number;
  /** The address space (`vmf->vma->vm_mm`). */
  readonly mm: Mm;
}

export { FAULT_FLAG_WRITE, FAULT_FLAG_REMOTE } from './fault-flags.ts';

/** `VM_FAULT_SIGBUS`: migrate_to_ram could not bring the page back. */
export const VM_FAULT_SIGBUS = 0x2;

/** `struct dev_pagemap_ops`. */
export interface DevPagemapOps {
  /** The page's last reference went: it is the driver's again. Must not sleep. */
  page_free?(page: number): void;
  /**
   * v6.19+: the core split the device-private folio at `head` into `nr` order-0 pages (a partial
   * migration, a split PMD collected page by page); the driver splits its own state the same way.
   */
  folio_split?(head: number, nr: number): void;
  /** Migrate the page the CPU faulted on back to system memory; 0 or VM_FAULT_SIGBUS. */
  migrate_to_ram?(vmf: VmFault): Gen<number>;
}

/** `struct dev_pagemap`. Fill type, ops and owner; `memremap_pages` fills range. */
export class DevPagemap {
  /** MEMORY_DEVICE_PRIVATE or MEMORY_DEVICE_COHERENT. */
  type = MEMORY_DEVICE_PRIVATE;
  /** Physical range, inclusive end (struct range), set by memremap_pages. */
  range = { start: 0, end: -1 };
  /** Number of ranges (always 1 here). */
  nr_range = 1;
  /** The owner token hmm_range_fault and migrate_vma compare with. */
  owner: unknown = null;
  ops: DevPagemapOps = {};
  /** First pfn and page count, once registered. */
  firstPfn = -1;
  npages = 0;
  /** Set by memunmap_pages. */
  dead = false;
  /**
   * Set before memremap_pages to 9 (v6.19+, a chunk for large allocations): the memory comes as
   * idle PMD-sized device folios, listed in `folios`. 0: order-0 pages.
   */
  folioOrder = 0;
  /** The heads of the folios memremap_pages made when `folioOrder` is set. */
  folios: readonly number[] = [];

  constructor(readonly name = 'pgmap') {}
}

/** The pagemaps of one run. */
class PagemapRegistry {
  readonly maps: DevPagemap[] = [];

  constructor(readonly sys: MemorySystem) {
    sys.onDevicePageFree = (pfn) => {
      const pg = this.find(pfn);
      pg?.ops.page_free?.(pfn);
    };
    sys.onDeviceFolioSplit = (head, nr) => {
      const pg = this.find(head);
      pg?.ops.folio_split?.(head, nr);
    };
  }

  find(pfn: number): DevPagemap | null {
    const m = this.maps;
    for (let i = 0; i < m.length; i++) {
      const p = m[i]!;
      if (pfn >= p.firstPfn && pfn < p.firstPfn + p.npages) return p;
    }
    return null;
  }
}

const KEY = 'mm.pagemaps';

function registry(sys: MemorySystem): PagemapRegistry {
  let r = sys.world.locals.get(KEY) as PagemapRegistry | undefined;
  if (r === undefined) {
    r = new PagemapRegistry(sys);
    sys.world.locals.set(KEY, r);
  }
  return r;
}

/**
 * `memremap_pages(pgmap, nid)` for `npages` pages of device memory: makes their frames (idle)
 * and sets `pgmap.range`. A device-coherent pagemap without page_free or without an owner is
 * the kernel's WARN (a finding) and -EINVAL, as is one under a kernel before v6.0 (which has no
 * such type: "Invalid pgmap type").
 * @returns the first pfn, or -EINVAL.
 * @throws Error if the run has no memory yet (make an mm first) or the type is not one hmmsim models.
 */
export function memremap_pages(world: World, pgmap: DevPagemap, npages: number): number {
  const sys = memoryOf(world);
  if (sys === undefined) throw new Error('memremap_pages: the run has no memory yet; make an mm (mm_create) first');
  let type: number;
  if (pgmap.type === MEMORY_DEVICE_PRIVATE) {
    type = PG_DEVICE_PRIVATE;
  } else if (pgmap.type === MEMORY_DEVICE_COHERENT) {
    const bad = !contractOf(world).deviceCoherent
      ? `Invalid pgmap type ${pgmap.type} (MEMORY_DEVICE_COHERENT is v6.0+; kernel ${contractOf(world).name})`
      : pgmap.ops.page_free === undefined
        ? 'Missing page_free method'
        : pgmap.owner === null || pgmap.owner === undefined
          ? 'Missing owner'
          : null;
    if (bad !== null) {
      world.report(FindingKind.Warn, `WARNING: memremap_pages(${pgmap.name}): ${bad}`, 'memremap:coherent');
      return -EINVAL;
    }
    type = PG_DEVICE_COHERENT;
  } else {
    throw new Error(`memremap_pages: pgmap type ${String(pgmap.type)} is not modelled (MEMORY_DEVICE_PRIVATE or MEMORY_DEVICE_COHERENT)`);
  }
  if (pgmap.folioOrder !== 0) {
    if (type !== PG_DEVICE_PRIVATE) throw new Error(`memremap_pages(${pgmap.name}): PMD-sized device-coherent folios are not modelled (folioOrder must be 0 for MEMORY_DEVICE_COHERENT)`);
    return memremapFolios(sys, pgmap, npages);
  }
  const first = sys.frames.createDevicePages(npages, -1, type);
  pgmap.firstPfn = first;
  pgmap.npages = npages;
  pgmap.range = { start: first * PAGE_SIZE, end: (first + npages) * PAGE_SIZE - 1 };
  registry(sys).maps.push(pgmap);
  return first;
}

/**
 * A pagemap whose memory is carved into PMD-sized folios (a driver's chunk made for large
 * allocations, v6.19+): each folio takes a chunk of pfns of its own, so the range spans more pfns
 * than pages; `folios` lists their heads.
 */
function memremapFolios(sys: MemorySystem, pgmap: DevPagemap, npages: number): number {
  const nr = 2 ** pgmap.folioOrder;
  const count = Math.max(1, Math.floor(npages / nr));
  const heads = sys.frames.createDeviceFolios(count, pgmap.folioOrder);
  const first = heads[0]!;
  const last = heads[heads.length - 1]! + nr;
  pgmap.firstPfn = first;
  pgmap.npages = last - first;
  pgmap.folios = heads;
  pgmap.range = { start: first * PAGE_SIZE, end: last * PAGE_SIZE - 1 };
  registry(sys).maps.push(pgmap);
  return first;
}

/** The pagemap of a device page (`page_pgmap`), or null for an ordinary page. */
export function page_pgmap(world: World, page: number): DevPagemap | null {
  const sys = memoryOf(world);
  if (sys === undefined || !sys.frames.isZoneDevice(page)) return null;
  return registry(sys).find(page);
}

/** `is_device_private_page`. */
export function is_device_private_page(world: World, page: number): boolean {
  const sys = memoryOf(world);
  return sys !== undefined && page > 0 && page < sys.frames.capacity && sys.frames.isDevicePrivate(page);
}

/** `is_device_coherent_page`: a MEMORY_DEVICE_COHERENT page (the CPU maps it like RAM). */
export function is_device_coherent_page(world: World, page: number): boolean {
  const sys = memoryOf(world);
  return sys !== undefined && page > 0 && page < sys.frames.capacity && sys.frames.isDeviceCoherent(page);
}

/** `is_zone_device_page`: device-private or device-coherent. */
export function is_zone_device_page(world: World, page: number): boolean {
  const sys = memoryOf(world);
  return sys !== undefined && page > 0 && page < sys.frames.capacity && sys.frames.isZoneDevice(page);
}

/**
 * `zone_device_folio_init(folio, order)` (v6.19+): an idle device-private folio becomes in use
 * with one reference and locked, as zone_device_page_init does for one page.
 */
export function* zone_device_folio_init(world: World, head: number): Gen<void> {
  const sys = memoryOf(world);
  if (sys === undefined) throw new Error('zone_device_folio_init: the run has no memory');
  if (!sys.frames.initDeviceFolio(head)) return;
  sys.frames.setOwner(head, -1, 0);
  yield* folio_lock(head);
}

/**
 * `zone_device_page_init(page)`: an idle device page becomes in use with one reference, and is
 * returned locked (so it can be a migration destination). A page that is not idle device memory
 * is a Bad-page-state finding. May sleep (the lock).
 */
export function* zone_device_page_init(world: World, page: number): Gen<void> {
  const sys = memoryOf(world);
  if (sys === undefined) throw new Error('zone_device_page_init: the run has no memory');
  if (!sys.frames.initDevicePage(page)) return;
  sys.frames.setOwner(page, -1, 0);
  yield* folio_lock(page);
}
