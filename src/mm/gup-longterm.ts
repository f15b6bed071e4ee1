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
 * Over a range GUP took (migrate_longterm_unpinnable_pages), every page is let go: each
 * device-coherent one is migrated as above, every other one is released; then -EAGAIN and GUP
 * walks the range again. The first migration that fails releases what is left and ends it with
 * -EBUSY. Under v6.0 FOLL_LONGTERM could still come with plain references (FOLL_GET) instead of
 * pins; the page then already holds the plain reference the migration consumes.
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
 * `migrate_longterm_unpinnable_pages` for pages[from..to), which GUP took with pins (`pinned`)
 * or plain references, when at least one of them is device-coherent: lets every page go,
 * migrating the device-coherent ones to system memory.
 * @returns -EAGAIN (all let go and migrated: walk the range again) or -EBUSY (a migration failed;
 *   the pages not yet handled are released, nothing stays taken).
 */
export function* migrate_longterm_unpinnable_pages(mm: Mm, pages: readonly number[], from: number, to: number, pinned: boolean): Gen<number> {
  const sys = mm.sys;
  for (let i = from; i < to; i++) {
    const pfn = pages[i]!;
    if (sys.frames.isDeviceCoherent(pfn)) {
      if ((yield* migrateCoherentOut(mm, pfn, pinned)) === 0) continue;
      for (let k = i + 1; k < to; k++) release(mm, pages[k]!, pinned);
      return -EBUSY;
    }
    release(mm, pfn, pinned);
  }
  return -EAGAIN;
}

/** Drops what GUP took on `pfn`: a pin (unpin_user_page) or a plain reference (put_page). */
function release(mm: Mm, pfn: number, pinned: boolean): void {
  const sys = mm.sys;
  if (!pinned || sys.frames.unpin(pfn)) sys.putPage(pfn);
}

/**
 * Migrates device-coherent `pfn` out; what GUP took on it (a pin, turned into a plain reference
 * first, since a pinned page will not migrate; or that plain reference) is consumed.
 * @returns 0 or -EBUSY.
 */
function* migrateCoherentOut(mm: Mm, pfn: number, pinned: boolean): Gen<number> {
  const sys = mm.sys;
  if (pinned) {
    sys.frames.get(pfn);
    if (sys.frames.unpin(pfn)) sys.putPage(pfn);
  }
  const migrate = sys.world.locals.get(KEY) as DeviceCoherentMigrator | undefined;
  if (migrate === undefined) {
    // Nobody ever migrated to device memory in this run, so there is no such page to pin.
    sys.putPage(pfn);
    return -EBUSY;
  }
  return yield* migrate(mm, pfn);
}
