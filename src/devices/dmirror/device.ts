/**
 * The dmirror module and its character devices (dmirror §1.1): hmm_dmirror0 and 1 are
 * device-private; 2 and 3 exist only when the module is given special-purpose memory for them,
 * and are device-coherent. Each device has a memory pool (pool.ts) and is the owner token of
 * its pages, of its migrations and of hmm_range_fault's device-private reporting: the owner is
 * the device, never the file.
 *
 *     dmirror_module_init(world, opts)   devices 0 and 1, each with one chunk on its free list
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
import type { World } from '../../sim/world.js';
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
   * Special-purpose memory for devices 2 and 3 (the spm_addr_dev0/1 parameters). Device-coherent
   * memory is not modelled yet: asking for it is an error that says so.
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
    this.pool = new DevmemPool(world, this.name, this, {
      page_free: (page) => this.pool.pageFree(page),
      folio_split: (head, nr) => this.pool.folioSplit(head, nr),
      migrate_to_ram: (vmf) => dmirror_devmem_fault(this, vmf),
    }, chunkPages);
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
 * Loads the module: devices 0 and 1 (device-private), each with one chunk whose pages are all on
 * its free list. Call after the run's memory exists (mm_create).
 * @throws Error when device-coherent devices are asked for (not modelled yet).
 */
export function dmirror_module_init(world: World, opts: DmirrorModuleOptions = {}): DmirrorModule {
  if (opts.coherent === true) {
    throw new Error('dmirror: device-coherent devices (hmm_dmirror2/3, MEMORY_DEVICE_COHERENT) are not modelled yet');
  }
  const variant = opts.variant ?? 'correct';
  const chunkPages = opts.chunkPages ?? DEVMEM_CHUNK_PAGES;
  const devices: (DmirrorDevice | null)[] = [];
  for (let minor = 0; minor < DMIRROR_NDEVICES; minor++) {
    if (minor >= 2) {
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
  yield* dmirror_device_remove_chunks(file.mdevice);
  file.pt.clear();
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
