/**
 * Long-term pins and device-coherent memory (mm/gup.c, v6.0+: "migrate device coherent pages
 * when pinning instead of failing").
 *
 * Device-coherent pages belong to the device: the driver must always be able to evict them, so
 * none may be pinned indefinitely. A FOLL_LONGTERM pin that lands on one does not keep it:
 *
 *     pin taken on a device-coherent page
 *       -> the pin becomes a plain reference (migration fails on a pinned page)
 *       -> migrate_device_coherent_page: lock it, unmap it everywhere, copy it into a new system
 *          page, put the system page where it was mapped (the reference is consumed)
 *       -> -EAGAIN: GUP looks the address up again and pins the system page
 *     migration failed (another reference, a racing lock)  -> -EBUSY, nothing pinned
 *
 * A short-term pin (no FOLL_LONGTERM) keeps the coherent page where it is. The migration itself
 * is the hmm layer's (migrate_device.c), which installs it here the first time it migrates.
 */
import type { World } from '../sim/world.js';
import { EAGAIN, EBUSY } from '../locking/errno.js';
import type { Mm } from './mm-struct.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** `FOLL_WRITE`. */
export const FOLL_WRITE = 0x01;
/** `FOLL_LONGTERM`: the pin's lifetime is indefinite (RDMA, vfio): nothing may move the page after. */
export const FOLL_LONGTERM = 0x100;

/**
 * Migrates one unlocked device-coherent page, on which the caller holds a reference it hands
 * over, to a system page allocated for `mm`. @returns 0 or -EBUSY.
 */
export type DeviceCoherentMigrator = (mm: Mm, pfn: number) => Gen<number>;

const KEY = 'mm.migrateDeviceCoherent';

/** Installs the migration `check_and_migrate_movable_pages` uses (the hmm layer's; per run). */
export function setDeviceCoherentMigrator(world: World, m: DeviceCoherentMigrator): void {
  world.locals.set(KEY, m);
}

/**
 * `check_and_migrate_movable_pages` for one pinned page: a device-coherent page is unpinned (the
 * pin becomes a plain reference, which the migration consumes) and migrated to system memory.
 * @returns 0 (the pin stands: not device-coherent), -EAGAIN (migrated: look the page up and pin
 *   again) or -EBUSY (could not migrate; the pin is gone either way).
 */
export function* check_and_migrate_movable_page(mm: Mm, pfn: number): Gen<number> {
  const sys = mm.sys;
  const world = sys.world;
  if (!sys.frames.isDeviceCoherent(pfn)) return 0;
  const f = sys.frames;
  f.get(pfn);
  if (f.unpin(pfn)) sys.putPage(pfn);
  const migrate = world.locals.get(KEY) as DeviceCoherentMigrator | undefined;
  if (migrate === undefined) {
    // Nobody ever migrated to device memory in this run, so there is no such page to pin.
    sys.putPage(pfn);
    return -EBUSY;
  }
  return (yield* migrate(mm, pfn)) === 0 ? -EAGAIN : -EBUSY;
}
