/**
 * The reference HMM driver (modelled on the kernel's test_hmm.c "dmirror"): mirrors one
 * interval of an mm with hmm_range_fault (the documented loop of spec §4.4), owns a pool of
 * device-private memory, migrates ranges into it and back, and serves migrate_to_ram.
 *
 *     fault(start, end, write)   mmget; again: read_begin; mmap_read_lock; hmm_range_fault;
 *                                mmap_read_unlock; -EBUSY: again; driver lock; read_retry: again;
 *                                program the device from hmm_pfns; unlock; mmput
 *     migrateToDevice(start, end)  mmap_read_lock; migrate_vma_setup(SELECT_SYSTEM); allocate,
 *                                lock and fill device pages; migrate_vma_pages; map the new pages
 *                                under the driver lock; migrate_vma_finalize; unlock
 *     migrateToRam(start, end)   the same back to system pages (SELECT_DEVICE_PRIVATE, or
 *                                SELECT_DEVICE_COHERENT for a device with coherent memory: the
 *                                CPU maps that memory directly, it never faults it back)
 *     migrate_to_ram(vmf)        the pagemap op: the faulting page back to system memory (its
 *                                whole PMD-sized folio when it is one and fits the VMA), tearing
 *                                down the device's own mapping of it before the copy
 *     deviceWrite32(addr, v)     a device store through its mapping, under the driver lock
 *
 * With `deviceFolios` (v6.19 device THP migration, device-private memory only) the device also
 * has PMD-sized folios and asks for MIGRATE_VMA_SELECT_COMPOUND: a whole-PMD entry gets a folio
 * of its order when one is free, order-0 pages otherwise (the core then splits the source).
 *     invalidate                 its own MIGRATE events (owner = this device) update the sequence
 *                                but skip the unmap: the migration remaps or tears down itself
 *
 * Known-bug variants:
 * - `no-read-retry`: programs the device without read_retry under the driver lock;
 * - `ebusy-fatal`: returns -EBUSY to the device instead of restarting;
 * - `ebusy-no-read-begin`: retries hmm_range_fault after -EBUSY without a new read_begin (it can
 *   never succeed: a livelock);
 * - `dmirror`: lib/test_hmm.c as it is (v5.9+): returns from its own MIGRATE invalidation before the
 *   lock and without set_seq. A device fault that walked the range before the migration's collect
 *   then passes read_retry and maps the old system page after finalize freed it
 *   (stale-device-mapping): the filter is only safe with no concurrent fault of the same range;
 * - `filter-migrate-no-teardown`: filters as `dmirror` does and also never tears its mapping of a
 *   page down when migrate_to_ram moves it back (INV-H5).
 */
import { EBUSY, EFAULT, ENOENT } from '../locking/errno.js';
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../locking/mutex.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { device_map, device_shadow_create, device_unmap, device_unmap_range, type DeviceShadow } from '../notifier/coherence.js';
import { MMU_NOTIFY_MIGRATE } from '../notifier/events.js';
import {
  MmuIntervalNotifier,
  mmu_interval_notifier_insert,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
  type MmuIntervalNotifierOps,
} from '../notifier/interval.js';
import { mmu_notifier_range_blockable } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { PAGE_SIZE } from '../mm/constants.ts';
import { DevPagemap, MEMORY_DEVICE_COHERENT, MEMORY_DEVICE_PRIVATE, VM_FAULT_SIGBUS, memremap_pages, zone_device_folio_init, zone_device_page_init, type VmFault } from '../mm/device-private.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER } from '../mm/compound-frames.ts';
import { alloc_huge_folio } from '../mm/huge-memory.ts';
import { memoryOf } from '../mm/memory.ts';
import { mmput } from '../mm/exit.ts';
import { vmaAllows } from '../mm/vma-ops.ts';
import { folio_lock } from '../mm/folio-lock.ts';
import { mmget_not_zero, type Mm } from '../mm/mm-struct.ts';
import { alloc_page_vma, clear_highpage, copy_highpage } from '../mm/page-copy.ts';
import { HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_page } from '../hmm/hmm-pfn.ts';
import { hmm_range_fault } from '../hmm/hmm-range-fault.ts';
import { HmmRange } from '../hmm/range.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../hmm/migrate-vma.ts';
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
} from '../hmm/migrate-pfn.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Which driver. */
export type HmmMirrorVariant = 'correct' | 'no-read-retry' | 'ebusy-fatal' | 'ebusy-no-read-begin' | 'dmirror' | 'filter-migrate-no-teardown';

const ops: MmuIntervalNotifierOps = {
  *invalidate(sub, range, curSeq) {
    const dev = (sub as HmmMirrorNotifier).dev;
    const own = range.event === MMU_NOTIFY_MIGRATE && range.owner === dev.owner;
    if (own && (dev.variant === 'dmirror' || dev.variant === 'filter-migrate-no-teardown')) return true;
    if (mmu_notifier_range_blockable(range)) yield* mutex_lock(dev.lock);
    else if ((yield* mutex_trylock(dev.lock)) === 0) return false;
    mmu_interval_set_seq(sub, curSeq);
    // Its own migration remaps (to device) or tears down (migrate_to_ram) the pages itself.
    if (!own) device_unmap_range(dev.pt, Math.max(range.start, sub.start), Math.min(range.end, sub.last + 1));
    yield* mutex_unlock(dev.lock);
    return true;
  },
};

/** The device's interval subscription. */
export class HmmMirrorNotifier extends MmuIntervalNotifier {
  constructor(
    readonly dev: HmmMirror,
    name: string,
  ) {
    super(ops, name);
  }
}

/** A device mirroring one interval of one mm, with its own device-private memory. */
export class HmmMirror {
  readonly lock: Mutex;
  readonly pt: DeviceShadow;
  readonly notifier: HmmMirrorNotifier;
  readonly pgmap: DevPagemap;
  /** The owner token of its pagemap (the kernel's dmirror passes its device). */
  readonly owner: object;
  /** Idle device pages. */
  readonly free: number[] = [];
  /** Errors the device saw from its faults (for scenario checks). */
  readonly faultErrors: number[] = [];
  /** Restarts of the fault loop. */
  retries = 0;

  /** Idle PMD-sized device folios (heads), when the device has any (v6.19 device THP migration). */
  readonly freeFolios: number[] = [];

  constructor(
    readonly world: World,
    readonly mm: Mm,
    readonly variant: HmmMirrorVariant = 'correct',
    readonly name = 'dmirror',
    devicePages = 16,
    /** MEMORY_DEVICE_PRIVATE (default) or MEMORY_DEVICE_COHERENT (v6.0+): the type of its memory. */
    readonly memoryType = MEMORY_DEVICE_PRIVATE,
    /** PMD-sized device folios (a second pagemap); with any, migrations ask for SELECT_COMPOUND. */
    readonly deviceFolios = 0,
  ) {
    this.lock = new Mutex(world, `${name}->mutex`, 'dmirror->mutex');
    this.pt = device_shadow_create(mm, name);
    this.notifier = new HmmMirrorNotifier(this, `${name}->notifier`);
    this.owner = { name: `${name} (pgmap owner)` };
    this.pgmap = new DevPagemap(`${name}->pgmap`);
    this.pgmap.owner = this.owner;
    this.pgmap.type = memoryType;
    this.pgmap.ops = {
      page_free: (page) => {
        this.free.push(page);
      },
      migrate_to_ram: (vmf) => this.migrate_to_ram(vmf),
    };
    const first = memremap_pages(world, this.pgmap, devicePages);
    if (first < 0) throw new Error(`${name}: memremap_pages refused its pagemap (${first}); device-coherent memory needs a v6.0+ kernel`);
    for (let p = first + devicePages - 1; p >= first; p--) this.free.push(p);
    if (deviceFolios > 0) {
      if (memoryType !== MEMORY_DEVICE_PRIVATE) throw new Error(`${name}: PMD-sized device folios are device-private memory only (deviceFolios needs memoryType MEMORY_DEVICE_PRIVATE)`);
      const large = new DevPagemap(`${name}->pgmap-thp`);
      large.owner = this.owner;
      large.folioOrder = HPAGE_PMD_ORDER;
      large.ops = {
        // A folio still whole goes back on the folio list; pages of a split one on the page list.
        page_free: (page) => (memoryOf(world)!.frames.folioOrder(page) > 0 ? this.freeFolios : this.free).push(page),
        migrate_to_ram: (vmf) => this.migrate_to_ram(vmf),
      };
      memremap_pages(world, large, deviceFolios * HPAGE_PMD_NR);
      for (let k = large.folios.length - 1; k >= 0; k--) this.freeFolios.push(large.folios[k]!);
    }
  }

  /** The SELECT_COMPOUND flag when this device has PMD-sized folios. */
  private get compound(): number {
    return this.deviceFolios > 0 ? MIGRATE_VMA_SELECT_COMPOUND : 0;
  }

  /** Inserts the interval notifier over [start, start + length). */
  *insert(start: number, length: number): Gen<number> {
    return yield* mmu_interval_notifier_insert(this.notifier, this.mm, start, length);
  }

  /** The device faults [start, end) in (write: writable) and maps it. @returns 0 or an errno. */
  *fault(start: number, end: number, write: boolean): Gen<number> {
    const mm = this.mm;
    if (!(yield* mmget_not_zero(mm))) return -EFAULT;
    const range = new HmmRange({
      notifier: this.notifier,
      start,
      end,
      hmm_pfns: new BigUint64Array((end - start) / PAGE_SIZE),
      default_flags: HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0n),
      dev_private_owner: this.owner,
    });
    let ret = 0;
    let fresh = true;
    for (;;) {
      if (fresh || this.variant !== 'ebusy-no-read-begin') range.notifier_seq = yield* mmu_interval_read_begin(this.notifier);
      fresh = false;
      yield* mmap_read_lock(mm);
      ret = yield* hmm_range_fault(range);
      yield* mmap_read_unlock(mm);
      if (ret === -EBUSY && this.variant !== 'ebusy-fatal') {
        this.retries++;
        continue;
      }
      if (ret !== 0) break;
      yield* mutex_lock(this.lock);
      if (this.variant !== 'no-read-retry' && (yield* mmu_interval_read_retry(this.notifier, range.notifier_seq))) {
        yield* mutex_unlock(this.lock);
        this.retries++;
        continue;
      }
      yield mm.world.point(`program ${this.name} [0x${start.toString(16)}, 0x${end.toString(16)})`, this.pt, Access.Write);
      for (let i = 0; i < range.hmm_pfns.length; i++) {
        const w = range.hmm_pfns[i]!;
        const addr = start + i * PAGE_SIZE;
        if ((w & HMM_PFN_VALID) === 0n) device_unmap(this.pt, addr);
        else device_map(this.pt, addr, hmm_pfn_to_page(w), (w & HMM_PFN_WRITE) !== 0n);
      }
      yield* mutex_unlock(this.lock);
      break;
    }
    yield* mmput(mm);
    if (ret !== 0) this.faultErrors.push(ret);
    return ret;
  }

  /** An idle device page, initialised and locked (dmirror_devmem_alloc_page), or null. */
  private *allocDevicePage(): Gen<number | null> {
    const p = this.free.pop();
    if (p === undefined) return null;
    yield* zone_device_page_init(this.world, p);
    return p;
  }

  /** An idle PMD-sized device folio, initialised and locked, or null. */
  private *allocDeviceFolio(): Gen<number | null> {
    const p = this.freeFolios.pop();
    if (p === undefined) return null;
    yield* zone_device_folio_init(this.world, p);
    return p;
  }

  /** Migrates [start, end) of the mm into device memory. @returns 0 or an errno. */
  *migrateToDevice(start: number, end: number): Gen<number> {
    const mm = this.mm;
    if (!(yield* mmget_not_zero(mm))) return -EFAULT;
    yield* mmap_read_lock(mm);
    const ret = yield* this.migrateLocked(start, end, true);
    yield* mmap_read_unlock(mm);
    yield* mmput(mm);
    return ret;
  }

  /** Migrates the device pages of [start, end) back to system memory. @returns 0 or an errno. */
  *migrateToRam(start: number, end: number): Gen<number> {
    const mm = this.mm;
    if (!(yield* mmget_not_zero(mm))) return -EFAULT;
    yield* mmap_read_lock(mm);
    const ret = yield* this.migrateLocked(start, end, false);
    yield* mmap_read_unlock(mm);
    yield* mmput(mm);
    return ret;
  }

  /** The migrate_vma selection of this device's own pages. */
  private get selectOwn(): number {
    return this.memoryType === MEMORY_DEVICE_COHERENT ? MIGRATE_VMA_SELECT_DEVICE_COHERENT : MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
  }

  private *migrateLocked(start: number, end: number, toDevice: boolean): Gen<number> {
    const vma = find_vma(this.mm, start);
    if (vma === null || vma.start > start || vma.end < end) return -EFAULT;
    const n = (end - start) / PAGE_SIZE;
    const args = new MigrateVma({
      vma,
      start,
      end,
      src: new Array<number>(n).fill(0),
      dst: new Array<number>(n).fill(0),
      pgmap_owner: this.owner,
      flags: (toDevice ? MIGRATE_VMA_SELECT_SYSTEM : this.selectOwn) | this.compound,
    });
    const r = yield* migrate_vma_setup(args);
    if (r !== 0) return r;
    yield* this.allocAndCopy(args, toDevice);
    yield* migrate_vma_pages(args);
    if (toDevice) yield* this.finalizeAndMap(args);
    yield* migrate_vma_finalize(args);
    return 0;
  }

  /** Step 2: a locked destination per migrating entry, with the data copied. */
  private *allocAndCopy(args: MigrateVma, toDevice: boolean): Gen<void> {
    const src = args.src!;
    const dst = args.dst!;
    for (let i = 0; i < args.npages; i++) {
      if ((src[i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
      const spage = migrate_pfn_to_page(src[i]!);
      if ((src[i]! & MIGRATE_PFN_COMPOUND) !== 0) {
        // A PMD-sized entry: a folio of the same order if one is free; otherwise order-0 pages
        // for each of its entries, and the core splits it.
        const folio = toDevice ? yield* this.allocDeviceFolio() : yield* alloc_huge_folio(this.mm);
        const frames = memoryOf(this.world)!.frames;
        if (folio !== null && folio >= 0) {
          if (!toDevice) yield* folio_lock(folio);
          // Teardown before the copy, as for a base page below.
          if (!toDevice) for (let k = 0; k < HPAGE_PMD_NR; k++) yield* this.teardown(args.start + (i + k) * PAGE_SIZE);
          if (spage === null) frames.clearFolioContents(folio);
          else frames.copyFolioContents(folio, spage);
          dst[i] = migrate_pfn(folio) | MIGRATE_PFN_COMPOUND;
        } else {
          for (let k = 0; k < HPAGE_PMD_NR && i + k < args.npages; k++) {
            const d = toDevice ? yield* this.allocDevicePage() : yield* alloc_page_vma(this.mm);
            if (d === null) continue;
            if (!toDevice) yield* folio_lock(d);
            if (!toDevice) yield* this.teardown(args.start + (i + k) * PAGE_SIZE);
            if (spage === null) clear_highpage(d);
            else copy_highpage(d, spage + k);
            dst[i + k] = migrate_pfn(d);
          }
        }
        i += HPAGE_PMD_NR - 1;
        continue;
      }
      let dpage: number | null;
      if (toDevice) {
        dpage = yield* this.allocDevicePage();
      } else {
        dpage = yield* alloc_page_vma(this.mm);
        if (dpage !== null) yield* folio_lock(dpage);
      }
      if (dpage === null) continue;
      // Back to RAM: the device loses its mapping before the copy, so a device write cannot land
      // in the old page after its contents were taken (dmirror erases its entry, then copies).
      if (!toDevice) yield* this.teardown(args.start + i * PAGE_SIZE);
      if (spage === null) clear_highpage(dpage);
      else copy_highpage(dpage, spage);
      dst[i] = migrate_pfn(dpage);
    }
  }

  /** Removes the device's own mapping of a page migrating back (before finalize: INV-H5). */
  private *teardown(addr: number): Gen<void> {
    if (this.variant === 'filter-migrate-no-teardown') return;
    yield* mutex_lock(this.lock);
    device_unmap(this.pt, addr);
    yield* mutex_unlock(this.lock);
  }

  /** Step 4 of a migration to the device: map the new device pages (dmirror_migrate_finalize_and_map). */
  private *finalizeAndMap(args: MigrateVma): Gen<void> {
    const src = args.src!;
    const dst = args.dst!;
    // A range the process made inaccessible (PROT_NONE) still migrates, as the kernel lets it,
    // but the mirror maps only what the CPU may read: hmm_range_fault would never hand it such a
    // page, and the coherence oracle holds the device to the CPU's access.
    if (args.vma === null || !vmaAllows(args.vma, false)) return;
    yield* mutex_lock(this.lock);
    yield this.world.point(`map migrated ${this.name}`, this.pt, Access.Write);
    for (let i = 0; i < args.npages; i++) {
      if ((src[i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
      const dpage = migrate_pfn_to_page(dst[i]!);
      if (dpage === null) continue;
      const nr = (dst[i]! & MIGRATE_PFN_COMPOUND) !== 0 ? HPAGE_PMD_NR : 1;
      for (let k = 0; k < nr; k++) device_map(this.pt, args.start + (i + k) * PAGE_SIZE, dpage + k, (src[i]! & MIGRATE_PFN_WRITE) !== 0);
    }
    yield* mutex_unlock(this.lock);
  }

  /** The pagemap's migrate_to_ram: bring the faulting page back (dmirror_devmem_fault). */
  *migrate_to_ram(vmf: VmFault): Gen<number> {
    // A PMD-sized folio comes back whole when its aligned range lies inside the VMA.
    let start = vmf.address;
    let nr = 1;
    if (memoryOf(this.world)!.frames.folioOrder(vmf.page) > 0) {
      const s = vmf.address - (vmf.address % (HPAGE_PMD_NR * PAGE_SIZE));
      if (s >= vmf.vma.start && s + HPAGE_PMD_NR * PAGE_SIZE <= vmf.vma.end) {
        start = s;
        nr = HPAGE_PMD_NR;
      }
    }
    const args = new MigrateVma({
      vma: vmf.vma,
      start,
      end: start + nr * PAGE_SIZE,
      src: new Array<number>(nr).fill(0),
      dst: new Array<number>(nr).fill(0),
      pgmap_owner: this.owner,
      flags: MIGRATE_VMA_SELECT_DEVICE_PRIVATE | this.compound,
      fault_page: vmf.page,
    });
    if ((yield* migrate_vma_setup(args)) !== 0) return VM_FAULT_SIGBUS;
    yield* this.allocAndCopy(args, false);
    const i = (vmf.address - start) / PAGE_SIZE;
    // The faulting page found no destination (a compound entry's may sit at entry 0 or its own).
    const src = args.src!;
    const dst = args.dst!;
    const lost = (src[0]! & MIGRATE_PFN_COMPOUND) !== 0 ? (src[0]! & MIGRATE_PFN_MIGRATE) !== 0 && dst[0] === 0 && dst[i] === 0 : (src[i]! & MIGRATE_PFN_MIGRATE) !== 0 && dst[i] === 0;
    yield* migrate_vma_pages(args);
    yield* migrate_vma_finalize(args);
    return lost ? VM_FAULT_SIGBUS : 0;
  }

  /**
   * Writes a word through the device's mapping, under the driver lock as dmirror_do_write does.
   * @returns 0, or -ENOENT when the device has no writable mapping of the page (it must fault first).
   */
  *deviceWrite32(addr: number, value: number): Gen<number> {
    const page = addr - (addr % PAGE_SIZE);
    yield* mutex_lock(this.lock);
    yield this.world.point(`device write ${this.name}:0x${addr.toString(16)}`, this.pt, Access.Read);
    const m = this.pt.entries.get(page);
    let ret = -ENOENT;
    if (m !== undefined && m.write) {
      this.mm.sys.frames.write32(m.pfn, addr - page, value);
      ret = 0;
    }
    yield* mutex_unlock(this.lock);
    return ret;
  }

  /** Reads a word through the device's mapping (a device access). @returns the word or -EFAULT. */
  deviceRead32(addr: number): number {
    const page = addr - (addr % PAGE_SIZE);
    const m = this.pt.entries.get(page);
    if (m === undefined) return -EFAULT;
    return this.mm.sys.frames.read32(m.pfn, addr - page);
  }
}
