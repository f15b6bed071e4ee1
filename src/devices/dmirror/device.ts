/**
 * The dmirror module and its character devices (dmirror §1.1): hmm_dmirror0 and 1 are
 * device-private; 2 and 3 exist only when the module is given special-purpose memory for them,
 * and are device-coherent. Each device has a memory pool (pool.ts) and is the owner token of
 * its pages, of its migrations and of hmm_range_fault's device-private reporting: the owner is
 * the device, never the file.
 *
 *     dmirror_module_init(world, opts)   devices 0 and 1 (and 2 and 3 when given coherent
 *                                        memory), each with one chunk on its free list
 *     dmirror_fops_open(mod, minor, mm)  a Dmirror bound to mm; -ENODEV if the device is absent
 *     dmirror_fops_release(file)         notifier removed; every chunk of the device evicted
 *                                        (its memory all back in RAM); pt destroyed
 *
 * Variants, for showing that the selftest port checks something:
 * - `correct`;
 * - `ignores-notifier`: the invalidate callback erases nothing;
 * - `no-read-retry`: the fault helper stores hmm_range_fault's result without read_retry.
 */
import { ENODEV } from './errno.ts';
import { mutex_lock, mutex_unlock } from '../../locking/mutex.js';
import { spin_lock, spin_unlock } from '../../locking/spinlock.js';
import { contractOf } from '../../locking/version.js';
import type { World } from '../../sim/world.js';
import { MEMORY_DEVICE_COHERENT, MEMORY_DEVICE_PRIVATE } from '../../mm/device-private.ts';
import type { Mm } from '../../mm/mm-struct.ts';
import { DMIRROR_NDEVICES, HMM_DMIRROR_MEMORY_DEVICE_COHERENT, HMM_DMIRROR_MEMORY_DEVICE_PRIVATE } from './uapi.ts';
import { DevmemPool, DEVMEM_CHUNK_PAGES } from './pool.ts';
import { Dmirror } from './mirror.ts';
import { dmirror_devmem_fault, dmirror_device_evict_chunk } from './migrate.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Which driver. */
export type DmirrorVariant = 'correct' | 'ignores-notifier' | 'no-read-retry';

/** Module parameters. */
export interface DmirrorModuleOptions {
  readonly variant?: DmirrorVariant;
  /**
   * Special-purpose memory for devices 2 and 3 (the spm_addr_dev0/1 parameters): they exist, as
   * device-coherent devices, when this is set and the run's kernel has MEMORY_DEVICE_COHERENT
   * (v6.0+). Otherwise opening them fails with -ENODEV, as the kernel's selftest sees it.
   */
  readonly coherent?: boolean;
  /** Pages per chunk (default: the kernel's 256 MiB). */
  readonly chunkPages?: number;
}

/** One character device (`struct dmirror_device`). */
export class DmirrorDevice {
  readonly pool: DevmemPool;
  /** Files opened on it (for reports). */
  opened = 0;

  constructor(
    readonly world: World,
    readonly minor: number,
    readonly zoneDeviceType: number,
    readonly variant: DmirrorVariant,
    chunkPages: number,
  ) {
    this.name = `hmm_dmirror${minor}`;
    this.pool = new DevmemPool(
      world,
      this.name,
      this,
      {
        page_free: (page) => this.pool.pageFree(page),
        folio_split: (head, nr) => this.pool.folioSplit(head, nr),
        // One ops table for both types, as the kernel's; nothing calls it for coherent pages.
        migrate_to_ram: (vmf) => dmirror_devmem_fault(this, vmf),
      },
      chunkPages,
      zoneDeviceType === HMM_DMIRROR_MEMORY_DEVICE_PRIVATE ? MEMORY_DEVICE_PRIVATE : MEMORY_DEVICE_COHERENT,
    );
  }

  readonly name: string;

  /** True for a device-private device. */
  get isPrivate(): boolean {
    return this.zoneDeviceType === HMM_DMIRROR_MEMORY_DEVICE_PRIVATE;
  }

  toString(): string {
    return this.name;
  }
}

/** The loaded module: its devices by minor (null where a device does not exist). */
export class DmirrorModule {
  constructor(readonly devices: readonly (DmirrorDevice | null)[]) {}
}

/**
 * Loads the module: devices 0 and 1 (device-private), and with `coherent` (under a kernel that
 * has device-coherent memory) devices 2 and 3 (device-coherent); each with one chunk whose pages
 * are all on its free list. Call after the run's memory exists (mm_create).
 */
export function dmirror_module_init(world: World, opts: DmirrorModuleOptions = {}): DmirrorModule {
  const variant = opts.variant ?? 'correct';
  const chunkPages = opts.chunkPages ?? DEVMEM_CHUNK_PAGES;
  const coherent = opts.coherent === true && contractOf(world).deviceCoherent;
  const devices: (DmirrorDevice | null)[] = [];
  for (let minor = 0; minor < DMIRROR_NDEVICES; minor++) {
    if (minor >= 2 && !coherent) {
      devices.push(null);
      continue;
    }
    const d = new DmirrorDevice(world, minor, minor < 2 ? HMM_DMIRROR_MEMORY_DEVICE_PRIVATE : HMM_DMIRROR_MEMORY_DEVICE_COHERENT, variant, chunkPages);
    d.pool.addChunk();
    devices.push(d);
  }
  return new DmirrorModule(devices);
}

/**
 * `open("/dev/hmm_dmirrorN")` by a task of `mm`. @returns the file, or -ENODEV when the device
 * does not exist (the selftest turns that into a SKIP or an ASSERT failure).
 */
export function* dmirror_fops_open(mod: DmirrorModule, minor: number, mm: Mm): Gen<Dmirror | number> {
  const dev = mod.devices[minor] ?? null;
  if (dev === null) return -ENODEV;
  const file = new Dmirror(dev.world, dev, mm, `${dev.name}.fd${dev.opened++}`);
  const r = yield* file.insert();
  if (r !== 0) return r;
  return file;
}

/** `close(fd)`: the release of §1.1. @returns 0. */
export function* dmirror_fops_release(file: Dmirror): Gen<number> {
  if (file.closed) return 0;
  file.closed = true;
  yield* file.remove();
  // The kernel destroys the pt after the eviction, but from the notifier's removal on nothing
  // reads it: clearing it first says so to the oracle, which would otherwise see this file
  // "map" its own device pages while the eviction frees them (device-maps-freed-page).
  file.pt.clear();
  yield* dmirror_device_remove_chunks(file.mdevice);
  return 0;
}

/**
 * Removes every chunk of `mdevice` (RELEASE, and every close): mark it, take its idle pages off
 * the free list, evict its in-use pages to system memory, drop it. The next allocation adds a
 * chunk on demand.
 */
export function* dmirror_device_remove_chunks(mdevice: DmirrorDevice): Gen<void> {
  const pool = mdevice.pool;
  yield* mutex_lock(pool.mutex);
  for (const chunk of [...pool.chunks]) {
    chunk.removing = true;
    yield* spin_lock(pool.lock);
    pool.dropFreePagesOf(chunk);
    yield* spin_unlock(pool.lock);
    yield* dmirror_device_evict_chunk(mdevice, chunk);
    pool.dropChunk(chunk);
  }
  yield* mutex_unlock(pool.mutex);
}
