/**
 * Migration between system memory and a dmirror device (dmirror §1.3 MIGRATE_TO_DEV,
 * MIGRATE_TO_SYS; §1.7 eviction) and the pagemap's migrate_to_ram:
 *
 *     to device   mmget_not_zero (-EINVAL); mmap_read_lock; per window of <= 512 pages cut at
 *                 the VMA end: VMA containing addr with VM_READ (-EINVAL);
 *                 migrate_vma_setup(SELECT_SYSTEM, owner = device);
 *                 alloc_and_copy: a device page per collected entry (backing page first), data
 *                   copied (zero-filled for an empty entry or the zero page), the mirror recorded
 *                   in it, writable iff the source was; FAIL_ALLOC set: cleared, page skipped;
 *                 migrate_vma_pages; finalize_and_map (mutex: pt entries for what migrated);
 *                 migrate_vma_finalize
 *                 mmap_read_unlock; mmput; read the range back from the pt without faulting
 *                 (cpages = pages present; -ENOENT if one is missing)
 *     to system   same checks; SELECT this device's pages (SELECT_DEVICE_PRIVATE, or
 *                 SELECT_DEVICE_COHERENT on a coherent device); a system page per entry, copied
 *                 from the backing page (a coherent page is its own), pt entry erased (inside
 *                 the core migration, no mutex). The only way coherent memory comes back: the
 *                 CPU maps it directly, so it never faults into migrate_to_ram
 *     fault       migrate_to_ram(vmf): the one page, for the mirror recorded in it; SIGBUS if
 *                 setup or the copy fails
 *     evict       migrate_device_range over the chunk's in-use pages; copy each to a new system
 *                 page; pages; finalize
 *
 * The device's own MIGRATE events are filtered by its notifier (notifier.ts): these paths keep
 * the pt right by hand.
 */
import { EINVAL, ENOMEM } from '../../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../locking/mmap-lock.js';
import { mutex_lock, mutex_unlock } from '../../locking/mutex.js';
import { Access } from '../../sim/point.js';
import { PAGE_SIZE, PMD_SIZE } from '../../mm/constants.ts';
import { HPAGE_PMD_NR } from '../../mm/compound-frames.ts';
import { VM_FAULT_SIGBUS, zone_device_folio_init, zone_device_page_init, type VmFault } from '../../mm/device-private.ts';
import { alloc_huge_folio } from '../../mm/huge-memory.ts';
import { memoryOf } from '../../mm/memory.ts';
import { mmput } from '../../mm/exit.ts';
import { folio_lock } from '../../mm/folio-lock.ts';
import { mmget_not_zero, type Mm } from '../../mm/mm-struct.ts';
import { alloc_page_vma, clear_highpage, copy_highpage } from '../../mm/page-copy.ts';
import { VM_READ } from '../../mm/vma-flags.ts';
import type { Vma } from '../../mm/vma.ts';
import { migrate_device_finalize, migrate_device_pages, migrate_device_range } from '../../hmm/migrate-device.ts';
import {
  MIGRATE_PFN_COMPOUND,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  migrate_pfn,
  migrate_pfn_to_page,
  type MigratePfnArray,
} from '../../hmm/migrate-pfn.ts';
import { MigrateVma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../hmm/migrate-vma.ts';
import type { DmirrorDevice } from './device.ts';
import type { DevmemChunk } from './pool.ts';
import { DPT_READ, DPT_WRITE, vpn } from './device-pt.ts';
import type { Dmirror } from './mirror.ts';
import { dmirror_do_read, type Bounce } from './read-write.ts';
import { HMM_DMIRROR_FLAG_FAIL_ALLOC, type HmmDmirrorCmd } from './uapi.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Pages per migration window (the kernel's 512: one PMD). */
const MIGRATE_WINDOW_PAGES = 512;

/** `vma_lookup(mm, addr)`: the VMA containing addr, or null. */
function vma_lookup(mm: Mm, addr: number): Vma | null {
  return mm.vmas.find(addr) ?? null;
}

/**
 * A kernel page for data (alloc_page(GFP_HIGHUSER)): backing pages and eviction targets.
 * @returns the pfn, or -1.
 */
function* allocKernelPage(mm: Mm): Gen<number> {
  const p = yield* alloc_page_vma(mm);
  return p === null ? -1 : p;
}

/**
 * `dmirror_devmem_alloc_page`: a device page, initialised (refcount 1) and locked, its backing
 * page allocated. @returns the device pfn, or -1 (backing or chunk exhausted).
 */
function* dmirror_devmem_alloc_page(dmirror: Dmirror, large = false): Gen<number> {
  const mdevice = dmirror.mdevice;
  const pool = mdevice.pool;
  let backing = -1;
  if (mdevice.isPrivate) {
    backing = large ? yield* alloc_huge_folio(dmirror.mm) : yield* allocKernelPage(dmirror.mm);
    if (backing < 0) return -1;
  }
  const dpage = large ? yield* pool.allocFolio() : yield* pool.allocPage();
  if (dpage < 0) {
    if (backing >= 0) dmirror.mm.sys.putPage(backing);
    return -1;
  }
  pool.inUse.set(dpage, { backing: backing >= 0 ? backing : dpage, owner: dmirror });
  if (large) yield* zone_device_folio_init(dmirror.world, dpage);
  else yield* zone_device_page_init(dmirror.world, dpage);
  return dpage;
}

/** The page holding a device page's data (BACKING_PAGE; a page of a PMD-sized folio's backing folio). */
function backingOf(mdevice: DmirrorDevice, page: number): number {
  const inUse = mdevice.pool.inUse;
  const info = inUse.get(page);
  if (info !== undefined) return info.backing;
  const head = memoryOf(mdevice.world)!.frames.folioHead(page);
  const h = inUse.get(head);
  return h === undefined ? page : h.backing + (page - head);
}

/** Copies (or zero-fills, with no source) `nr` pages into the backing of `dpage`. */
function fillBacking(mdevice: DmirrorDevice, dpage: number, spage: number | null, nr: number): void {
  const rpage = backingOf(mdevice, dpage);
  const frames = memoryOf(mdevice.world)!.frames;
  if (nr > 1) {
    if (spage === null) frames.clearFolioContents(rpage);
    else frames.copyFolioContents(rpage, spage);
    return;
  }
  if (spage === null) clear_highpage(rpage);
  else copy_highpage(rpage, spage);
}

/** Step 2 towards the device (dmirror_migrate_alloc_and_copy). */
function* allocAndCopyToDevice(args: MigrateVma, dmirror: Dmirror): Gen<void> {
  const src = args.src!;
  const dst = args.dst!;
  const mdevice = dmirror.mdevice;
  for (let i = 0; i < args.npages; i++) {
    const s = src[i]!;
    if ((s & MIGRATE_PFN_MIGRATE) === 0) continue;
    const large = (s & MIGRATE_PFN_COMPOUND) !== 0;
    const write = (s & MIGRATE_PFN_WRITE) !== 0 ? MIGRATE_PFN_WRITE : 0;
    const spage = migrate_pfn_to_page(s);
    let dpage = -1;
    if ((dmirror.flags & HMM_DMIRROR_FLAG_FAIL_ALLOC) !== 0) {
      // One-shot: this allocation "fails".
      dmirror.flags &= ~HMM_DMIRROR_FLAG_FAIL_ALLOC;
    } else {
      dpage = yield* dmirror_devmem_alloc_page(dmirror, large);
    }
    if (dpage < 0) {
      if (!large) continue; // an order-0 page is simply not migrated
      // A compound entry falls back to order-0 device pages, one per page (the core splits it).
      for (let k = 0; k < HPAGE_PMD_NR && i + k < args.npages; k++) {
        const p = yield* dmirror_devmem_alloc_page(dmirror);
        if (p < 0) continue;
        fillBacking(mdevice, p, spage === null ? null : spage + k, 1);
        dst[i + k] = migrate_pfn(p) | write;
      }
      i += HPAGE_PMD_NR - 1;
      continue;
    }
    fillBacking(mdevice, dpage, spage, large ? HPAGE_PMD_NR : 1);
    dst[i] = migrate_pfn(dpage) | write | (large ? MIGRATE_PFN_COMPOUND : 0);
    if (large) i += HPAGE_PMD_NR - 1;
  }
}

/** Step 4 towards the device (dmirror_migrate_finalize_and_map): pt entries, mutex held. */
function* finalizeAndMap(args: MigrateVma, dmirror: Dmirror): Gen<void> {
  const src = args.src!;
  const dst = args.dst!;
  yield* mutex_lock(dmirror.mutex);
  yield dmirror.world.point(`${dmirror.name}: map migrated pages`, dmirror.pt, Access.Write);
  for (let i = 0; i < args.npages; i++) {
    if ((src[i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
    const dpage = migrate_pfn_to_page(dst[i]!);
    if (dpage === null) continue;
    const tag = (dst[i]! & MIGRATE_PFN_WRITE) !== 0 ? DPT_WRITE : DPT_READ;
    // Every page of a compound destination gets its entry.
    const nr = (dst[i]! & MIGRATE_PFN_COMPOUND) !== 0 ? HPAGE_PMD_NR : 1;
    for (let k = 0; k < nr; k++) dmirror.pt.store(vpn(args.start) + i + k, backingOf(dmirror.mdevice, dpage + k), tag, dpage + k);
  }
  yield* mutex_unlock(dmirror.mutex);
}

/**
 * Step 2 towards system memory (dmirror_devmem_fault_alloc_and_copy): a system page per entry,
 * copied from the backing page; the mirror's pt entry erased. @returns 0 or -ENOMEM.
 */
function* allocAndCopyToSystem(args: MigrateVma, dmirror: Dmirror): Gen<number> {
  const src = args.src!;
  const dst = args.dst!;
  const mdevice = dmirror.mdevice;
  for (let i = 0; i < args.npages; i++) {
    const s = src[i]!;
    const spage = migrate_pfn_to_page(s);
    if (spage === null || (s & MIGRATE_PFN_MIGRATE) === 0) continue;
    const write = (s & MIGRATE_PFN_WRITE) !== 0 ? MIGRATE_PFN_WRITE : 0;
    if ((s & MIGRATE_PFN_COMPOUND) !== 0) {
      // A PMD-sized device folio: a system folio of the same order, unless the fail-alloc flag
      // (one-shot) makes that allocation fail: then order-0 pages, and the core splits it.
      let folio = -1;
      if ((dmirror.flags & HMM_DMIRROR_FLAG_FAIL_ALLOC) !== 0) dmirror.flags &= ~HMM_DMIRROR_FLAG_FAIL_ALLOC;
      else folio = yield* alloc_huge_folio(dmirror.mm);
      if (folio >= 0) {
        yield* folio_lock(folio);
        memoryOf(mdevice.world)!.frames.copyFolioContents(folio, backingOf(mdevice, spage));
        for (let k = 0; k < HPAGE_PMD_NR; k++) dmirror.pt.erase(vpn(args.start) + i + k);
        dst[i] = migrate_pfn(folio) | write | MIGRATE_PFN_COMPOUND;
        i += HPAGE_PMD_NR - 1;
        continue;
      }
      for (let k = 0; k < HPAGE_PMD_NR && i + k < args.npages; k++) {
        const dpage = yield* alloc_page_vma(dmirror.mm);
        if (dpage === null) return -ENOMEM;
        yield* folio_lock(dpage);
        copy_highpage(dpage, backingOf(mdevice, spage + k));
        dmirror.pt.erase(vpn(args.start) + i + k);
        dst[i + k] = migrate_pfn(dpage) | write;
      }
      i += HPAGE_PMD_NR - 1;
      continue;
    }
    const dpage = yield* alloc_page_vma(dmirror.mm);
    if (dpage === null) return -ENOMEM;
    yield* folio_lock(dpage);
    copy_highpage(dpage, backingOf(mdevice, spage));
    dmirror.pt.erase(vpn(args.start) + i);
    dst[i] = migrate_pfn(dpage) | write;
  }
  return 0;
}

/** The device selection flag of `mdevice`'s own pages (dmirror_select_device). */
function selectOwn(mdevice: DmirrorDevice): number {
  return (mdevice.isPrivate ? MIGRATE_VMA_SELECT_DEVICE_PRIVATE : MIGRATE_VMA_SELECT_DEVICE_COHERENT) | MIGRATE_VMA_SELECT_COMPOUND;
}

function pfnArray(n: number): MigratePfnArray {
  return new Array<number>(n).fill(0);
}

/** Walks [start, end) in migration windows under the mmap read lock. @returns 0 or an errno. */
function* migrateWindows(dmirror: Dmirror, start: number, end: number, toDevice: boolean, migrated = { count: 0 }): Gen<number> {
  const mm = dmirror.mm;
  if (!(yield* mmget_not_zero(mm))) return -EINVAL;
  yield* mmap_read_lock(mm);
  let ret = 0;
  for (let addr = start; addr < end; ) {
    const vma = vma_lookup(mm, addr);
    if (vma === null || (vma.flags & VM_READ) === 0) {
      ret = -EINVAL;
      break;
    }
    const next = Math.min(end, addr + MIGRATE_WINDOW_PAGES * PAGE_SIZE, vma.end);
    const n = (next - addr) / PAGE_SIZE;
    const args = new MigrateVma({
      vma,
      start: addr,
      end: next,
      src: pfnArray(n),
      dst: pfnArray(n),
      pgmap_owner: dmirror.mdevice,
      flags: toDevice ? MIGRATE_VMA_SELECT_SYSTEM | MIGRATE_VMA_SELECT_COMPOUND : selectOwn(dmirror.mdevice),
    });
    ret = yield* migrate_vma_setup(args);
    if (ret !== 0) break;
    if (toDevice) {
      yield* allocAndCopyToDevice(args, dmirror);
      yield* migrate_vma_pages(args);
      yield* finalizeAndMap(args, dmirror);
    } else {
      ret = yield* allocAndCopyToSystem(args, dmirror);
      yield* migrate_vma_pages(args);
      migrated.count += successfullyMigrated(args);
    }
    yield* migrate_vma_finalize(args);
    if (ret !== 0) break;
    addr = next;
  }
  yield* mmap_read_unlock(mm);
  yield* mmput(mm);
  return ret;
}

/** Entries still marked for migration after migrate_vma_pages (dmirror_successful_migrated_pages). */
function successfullyMigrated(args: MigrateVma): number {
  let n = 0;
  for (let i = 0; i < args.npages; i++) {
    const s = args.src![i]!;
    if (migrate_pfn_to_page(s) !== null && (s & MIGRATE_PFN_MIGRATE) !== 0) n += (s & MIGRATE_PFN_COMPOUND) !== 0 ? HPAGE_PMD_NR : 1;
  }
  return n;
}

/** HMM_DMIRROR_MIGRATE_TO_DEV. @returns 0, -EINVAL, -ENOENT, -ENOMEM. */
export function* dmirror_migrate_to_device(dmirror: Dmirror, cmd: HmmDmirrorCmd, bounce: Bounce): Gen<number> {
  const start = cmd.addr;
  const end = start + cmd.npages * PAGE_SIZE;
  const ret = yield* migrateWindows(dmirror, start, end, true);
  if (ret !== 0) return ret;
  // Read back what the pt holds now, as a read that never faults.
  const r = yield* dmirror_do_read(dmirror, start, end, bounce);
  cmd.cpages = bounce.cpages;
  return r;
}

/** HMM_DMIRROR_MIGRATE_TO_SYS. @returns 0, -EINVAL or -ENOMEM; cpages = pages migrated back. */
export function* dmirror_migrate_to_system(dmirror: Dmirror, cmd: HmmDmirrorCmd): Gen<number> {
  const start = cmd.addr;
  const end = start + cmd.npages * PAGE_SIZE;
  const migrated = { count: 0 };
  const ret = yield* migrateWindows(dmirror, start, end, false, migrated);
  cmd.cpages = migrated.count;
  return ret;
}

/** The pagemap's migrate_to_ram (dmirror_devmem_fault). @returns 0 or VM_FAULT_SIGBUS. */
export function* dmirror_devmem_fault(mdevice: DmirrorDevice, vmf: VmFault): Gen<number> {
  const info = mdevice.pool.inUse.get(vmf.page) ?? mdevice.pool.inUse.get(memoryOf(mdevice.world)!.frames.folioHead(vmf.page));
  if (info === undefined) return VM_FAULT_SIGBUS;
  const dmirror = info.owner as Dmirror;
  // A PMD-sized folio comes back whole when its aligned range lies inside the VMA.
  let start = vmf.address;
  let nr = 1;
  if (memoryOf(mdevice.world)!.frames.folioOrder(vmf.page) > 0) {
    const s = vmf.address - (vmf.address % PMD_SIZE);
    if (s >= vmf.vma.start && s + PMD_SIZE <= vmf.vma.end) {
      start = s;
      nr = HPAGE_PMD_NR;
    }
  }
  const args = new MigrateVma({
    vma: vmf.vma,
    start,
    end: start + nr * PAGE_SIZE,
    src: pfnArray(nr),
    dst: pfnArray(nr),
    pgmap_owner: mdevice,
    flags: selectOwn(mdevice),
    fault_page: vmf.page,
  });
  const sr = yield* migrate_vma_setup(args);
  if (sr !== 0) return VM_FAULT_SIGBUS;
  const ret = yield* allocAndCopyToSystem(args, dmirror);
  if (ret !== 0) return VM_FAULT_SIGBUS;
  yield* migrate_vma_pages(args);
  yield* migrate_vma_finalize(args);
  return 0;
}

/**
 * Evicts every in-use page of `chunk` to system memory (dmirror_device_evict_chunk), wherever
 * it is mapped. The kernel scans the chunk's whole pfn range; idle pages are skipped there, so
 * only runs of in-use pages are handed to migrate_device_range here.
 */
export function* dmirror_device_evict_chunk(mdevice: DmirrorDevice, chunk: DevmemChunk): Gen<void> {
  const pages = mdevice.pool.inUsePagesOf(chunk);
  const frames = memoryOf(mdevice.world)!.frames;
  for (let i = 0; i < pages.length; ) {
    if (frames.folioOrder(pages[i]!) > 0) {
      yield* evictFolio(mdevice, pages[i]!);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < pages.length && pages[j] === pages[j - 1]! + 1 && frames.folioOrder(pages[j]!) === 0) j++;
    const start = pages[i]!;
    const n = j - i;
    const src = pfnArray(n);
    const dst = pfnArray(n);
    yield* migrate_device_range(src, start, n);
    for (let k = 0; k < n; k++) {
      const spage = migrate_pfn_to_page(src[k]!);
      if (spage === null || (src[k]! & MIGRATE_PFN_MIGRATE) === 0) continue;
      const owner = mdevice.pool.inUse.get(spage)?.owner as Dmirror | undefined;
      const mm = owner?.mm;
      // __GFP_NOFAIL in the kernel: the model has no limit in the selftest's runs.
      const dpage = mm === undefined ? -1 : yield* allocKernelPage(mm);
      if (dpage < 0) continue;
      yield* folio_lock(dpage);
      copy_highpage(dpage, backingOf(mdevice, spage));
      dst[k] = migrate_pfn(dpage);
    }
    yield* migrate_device_pages(src, dst, n);
    yield* migrate_device_finalize(src, dst, n);
    i = j;
  }
}

/** Evicts one PMD-sized device folio to a system folio of the same order (v6.19+). */
function* evictFolio(mdevice: DmirrorDevice, head: number): Gen<void> {
  const src = pfnArray(1);
  const dst = pfnArray(1);
  yield* migrate_device_range(src, head, 1);
  const spage = migrate_pfn_to_page(src[0]!);
  if (spage !== null && (src[0]! & MIGRATE_PFN_MIGRATE) !== 0) {
    const owner = mdevice.pool.inUse.get(spage)?.owner as Dmirror | undefined;
    const folio = owner === undefined ? -1 : yield* alloc_huge_folio(owner.mm);
    if (folio >= 0) {
      yield* folio_lock(folio);
      memoryOf(mdevice.world)!.frames.copyFolioContents(folio, backingOf(mdevice, spage));
      dst[0] = migrate_pfn(folio) | MIGRATE_PFN_COMPOUND;
    }
  }
  yield* migrate_device_pages(src, dst, 1);
  yield* migrate_device_finalize(src, dst, 1);
}
