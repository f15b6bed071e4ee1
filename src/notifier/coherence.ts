/**
 * The device-coherence oracle (spec §8 INV-H1..H3, scenarios' INV-COHERENT and INV-NO-UAF).
 *
 * Devices declare what they map in a shadow page table (`device_map` / `device_unmap`); the CPU
 * side (the mm layer, or a scenario's stand-in) says when a CPU mapping changes or a page is
 * freed. A device mapping that disagrees with the CPU while no invalidation covering its address
 * is open is stale:
 *
 *     CPU (munmap)                          device driver
 *     start(range)  ── callback zaps A ──>  (nothing mapped yet)
 *     pte(A) = none, free P1
 *     end(range)
 *                                           programs A -> P1 from an old snapshot
 *                                           ^ no invalidation open, CPU maps nothing at A: stale
 *
 * The oracle reaches past the scheduling point of the step that calls it (it reads the CPU page
 * table and every device shadow), so each hook declares that with `touchUndeclared`: the
 * explorer then never assumes such a step commutes with another.
 *
 * A driver declaring the `pinned` contract (a registration cache that holds its own page
 * references) is loosely coherent by design: a mismatch is not reported.
 */
import type { World } from '../sim/world.js';
import type { MmStruct } from './mm.js';

/** Whether a device promises to mirror the CPU exactly, or holds page references of its own. */
export type CoherenceContract = 'mirror' | 'pinned';

/** One device mapping. */
export interface DeviceMapping {
  pfn: number;
  write: boolean;
}

/** The finding kinds this oracle reports. */
export const STALE_DEVICE_MAPPING = 'stale-device-mapping';
export const DEVICE_MAPS_FREED_PAGE = 'device-maps-freed-page';
/** A classic subscriber created a mapping between its start and its end for that range (INV-C5). */
export const MAP_IN_INVALIDATION_WINDOW = 'map-in-invalidation-window';

/** A device's mirror of one mm, as the oracle sees it. */
export class DeviceShadow {
  readonly entries = new Map<number, DeviceMapping>();
  /** How many entries name each pfn (kept by device_map/unmap), so a page's freeing is checked without a scan. */
  readonly pfnCount = new Map<number, number>();

  constructor(
    readonly name: string,
    readonly mm: MmStruct,
    readonly contract: CoherenceContract,
    /** The classic subscription that keeps this mirror, if any: it may not map inside its own windows. */
    readonly notifier: object | null = null,
  ) {}
}

const REGISTRY_KEY = 'notifier.shadows';

function shadows(world: World): DeviceShadow[] {
  let list = world.locals.get(REGISTRY_KEY) as DeviceShadow[] | undefined;
  if (list === undefined) {
    list = [];
    world.locals.set(REGISTRY_KEY, list);
  }
  return list;
}

/** Every device shadow of the run (for oracles in higher layers). */
export function device_shadows(world: World): readonly DeviceShadow[] {
  return (world.locals.get(REGISTRY_KEY) as DeviceShadow[] | undefined) ?? [];
}

/** Creates and registers a device's shadow of `mm`. */
export function device_shadow_create(mm: MmStruct, name: string, contract: CoherenceContract = 'mirror', notifier: object | null = null): DeviceShadow {
  const d = new DeviceShadow(name, mm, contract, notifier);
  shadows(mm.world).push(d);
  return d;
}

/** True while some invalidation covering `addr` has started and not yet ended on `mm`. */
export function invalidationOpenAt(mm: MmStruct, addr: number): boolean {
  const subs = mm.notifier_subscriptions;
  if (subs === null) return false;
  for (const inst of subs.open) if (inst.range.start <= addr && addr < inst.range.end) return true;
  return false;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Compares one device mapping with the CPU; reports when it is stale and nothing excuses it. */
function checkOne(d: DeviceShadow, addr: number, m: DeviceMapping, why: string): void {
  if (d.contract === 'pinned') return;
  const cpu = d.mm.cpuView;
  if (cpu === null || invalidationOpenAt(d.mm, addr) || cpu.inFlux?.(addr) === true) return;
  const c = cpu.lookup(addr);
  let problem: string | null = null;
  if (c === null) problem = `the CPU maps nothing there`;
  else if (c.pfn !== m.pfn) problem = `the CPU maps pfn ${c.pfn}`;
  else if (m.write && !c.write) problem = `the device may write but the CPU mapping is read-only`;
  if (problem === null) return;
  d.mm.world.report(
    STALE_DEVICE_MAPPING,
    `${d.name} maps ${d.mm.name}:${hex(addr)} -> pfn ${m.pfn}${m.write ? ' (write)' : ''} but ${problem}, and no invalidation of that address is in progress (${why})`,
    `${d.name}:stale`,
  );
}

/** The device maps `addr` to `pfn`. Checked against the CPU at once. */
export function device_map(d: DeviceShadow, addr: number, pfn: number, write: boolean): void {
  d.mm.world.touchUndeclared(); // the check reads the CPU's page table
  checkWindow(d, addr);
  const m = { pfn, write };
  const old = d.entries.get(addr);
  if (old !== undefined) dropPfn(d, old.pfn);
  d.entries.set(addr, m);
  d.pfnCount.set(pfn, (d.pfnCount.get(pfn) ?? 0) + 1);
  checkOne(d, addr, m, 'device programmed');
}

/**
 * INV-C5: between a classic subscription's successful start and its end for a range, it must not
 * establish a new device mapping inside that range (the CPU side is about to change it).
 */
function checkWindow(d: DeviceShadow, addr: number): void {
  const subs = d.mm.notifier_subscriptions;
  if (d.notifier === null || subs === null) return;
  for (const inst of subs.open) {
    if (addr < inst.range.start || addr >= inst.range.end) continue;
    for (const [sub, ret] of inst.started) {
      if (sub !== d.notifier || ret !== 0 || inst.ended.has(sub)) continue;
      d.mm.world.report(
        MAP_IN_INVALIDATION_WINDOW,
        `${d.name} maps ${d.mm.name}:${hex(addr)} after its invalidate_range_start for ${inst.range} and before the end: the CPU may change that page under it`,
        `${d.name}:window`,
      );
      return;
    }
  }
}

/** The device no longer maps `addr`. */
export function device_unmap(d: DeviceShadow, addr: number): void {
  d.mm.world.touchUndeclared();
  const old = d.entries.get(addr);
  if (old === undefined) return;
  dropPfn(d, old.pfn);
  d.entries.delete(addr);
}

function dropPfn(d: DeviceShadow, pfn: number): void {
  const n = d.pfnCount.get(pfn) ?? 0;
  if (n <= 1) d.pfnCount.delete(pfn);
  else d.pfnCount.set(pfn, n - 1);
}

/** The device no longer maps anything in [start, end). */
export function device_unmap_range(d: DeviceShadow, start: number, end: number): void {
  d.mm.world.touchUndeclared();
  if (d.entries.size === 0) return;
  for (const [a, m] of [...d.entries]) {
    if (a < start || a >= end) continue;
    dropPfn(d, m.pfn);
    d.entries.delete(a);
  }
}

/** The CPU mapping at `addr` of `mm` changed (called by the mm layer after it changed a PTE). */
export function cpu_mapping_changed(mm: MmStruct, addr: number): void {
  const list = mm.world.locals.get(REGISTRY_KEY) as DeviceShadow[] | undefined;
  if (list === undefined) return;
  mm.world.touchUndeclared(); // reads every device's shadow
  for (const d of list) {
    if (d.mm !== mm) continue;
    const m = d.entries.get(addr);
    if (m !== undefined) checkOne(d, addr, m, 'CPU mapping changed');
  }
}

/** The page `pfn` was freed (called by the mm layer): no mirroring device may still map it. */
export function page_freed(world: World, pfn: number): void {
  const list = world.locals.get(REGISTRY_KEY) as DeviceShadow[] | undefined;
  if (list === undefined) return;
  world.touchUndeclared(); // reads every device's shadow
  for (const d of list) {
    if (d.contract === 'pinned' || !d.pfnCount.has(pfn)) continue;
    for (const [addr, m] of d.entries) {
      if (m.pfn !== pfn) continue;
      world.report(
        DEVICE_MAPS_FREED_PAGE,
        `pfn ${pfn} was freed while ${d.name} still maps it at ${d.mm.name}:${hex(addr)}`,
        `${d.name}:freed`,
      );
    }
  }
}

/** Checks every device mapping of `world` against the CPU (end of run, quiescence). */
export function check_coherence(world: World): void {
  const list = world.locals.get(REGISTRY_KEY) as DeviceShadow[] | undefined;
  if (list === undefined) return;
  for (const d of list) for (const [addr, m] of d.entries) checkOne(d, addr, m, 'at quiescence');
}
