/**
 * The device-exclusive oracles (scenarios.md INV-EXCL, INV-EXCL-FORK; spec §8 INV-X2, INV-X3).
 *
 * A device that uses make_device_exclusive declares its atomic mappings here
 * (`device_atomic_map` / `device_atomic_unmap`), as mirroring devices declare theirs in a shadow.
 * The mm core tells this file (through the hook hmm installs, see
 * mm/device-exclusive-entry.ts) whenever an exclusive entry goes away, and the checks follow:
 *
 *     device_atomic_map(dev, a, pfn)   the CPU entry at a must be device-exclusive for pfn, and no
 *                                      other device may hold atomic access to pfn     INV-EXCL
 *     entry at (mm, a) goes away       an invalidation must cover a (INV-X2), and no device may
 *                                      still hold atomic access there (INV-X3)        INV-EXCL
 *     end of run                       no exclusive entry in an mm that was never the target
 *                                      of make_device_exclusive                       INV-EXCL-FORK
 *                                      no present PTE for a page that is exclusive    INV-EXCL
 *
 * The checks read page tables and other devices' mappings past their step's point, so each
 * declares that with `touchUndeclared`.
 */
import { invalidationOpenAt } from '../notifier/coherence.js';
import type { World } from '../sim/world.js';
import { setExclusiveEntryHook } from '../mm/device-exclusive-entry.ts';
import type { Mm } from '../mm/mm-struct.ts';
import { memoryOf } from '../mm/memory.ts';
import { KIND_MASK_ANY, PTE_KIND_BITS, PTE_KIND_DEVICE_EXCLUSIVE, PTE_KIND_PRESENT, PTE_SPECIAL, ptePfn } from '../mm/pte.ts';
import { PAGE_SIZE } from '../mm/constants.ts';

/** Finding kind: a device's atomic access and the CPU's view of the page disagree (INV-EXCL, INV-X2, INV-X3). */
export const INV_EXCL = 'inv-excl';
/** Finding kind: a device-exclusive entry in an mm nobody made one in (a fork that copied it). */
export const INV_EXCL_FORK = 'inv-excl-fork';

/** One device's atomic (exclusive) mappings of one mm. */
export class DeviceAtomicMap {
  /** Address -> pfn the device may access atomically. */
  readonly entries = new Map<number, number>();

  constructor(
    readonly name: string,
    readonly mm: Mm,
  ) {}
}

/** Per-run state of the oracle. */
class ExclusiveOracle {
  readonly devices: DeviceAtomicMap[] = [];
  /** Address spaces make_device_exclusive was called on. */
  readonly targets = new Set<Mm>();

  constructor(readonly world: World) {}

  entryGone(mm: Mm, addr: number, pfn: number): void {
    this.world.touchUndeclared();
    const where = `${mm.name}:0x${addr.toString(16)}`;
    // With no subscriber, start and end are no-ops with nothing to tell.
    if (mm.notifier_subscriptions !== null && !invalidationOpenAt(mm, addr)) {
      this.world.report(INV_EXCL, `the device-exclusive entry at ${where} (pfn ${pfn}) went away outside any invalidation covering it: no device was told (INV-X2)`, `${mm.name}:exclusive-without-invalidation`);
    }
    for (const d of this.devices) {
      if (d.mm !== mm || d.entries.get(addr) !== pfn) continue;
      this.world.report(
        INV_EXCL,
        `${d.name} still has atomic access to ${where} -> pfn ${pfn} when the device-exclusive entry goes away: its notifier did not revoke it (INV-X3)`,
        `${d.name}:atomic-outlives-entry`,
      );
    }
  }

  endOfRun(): void {
    const sys = memoryOf(this.world);
    if (sys === undefined) return;
    const exclusivePfns = new Set<number>();
    for (const mm of sys.mms) {
      if (mm.dead) continue;
      const pt = mm.pt;
      for (let a = pt.nextEntry(0, 2 ** 48, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, 2 ** 48, KIND_MASK_ANY)) {
        const pte = pt.get(a);
        if ((pte & PTE_KIND_BITS) !== PTE_KIND_DEVICE_EXCLUSIVE) continue;
        exclusivePfns.add(ptePfn(pte));
        if (!this.targets.has(mm)) {
          this.world.report(INV_EXCL_FORK, `${mm.name}:0x${a.toString(16)} holds a device-exclusive entry (pfn ${ptePfn(pte)}), but make_device_exclusive was never called on ${mm.name}: it was copied there`, `${mm.name}:copied-exclusive-entry`);
        }
      }
    }
    if (exclusivePfns.size === 0) return;
    for (const mm of sys.mms) {
      if (mm.dead) continue;
      const pt = mm.pt;
      for (let a = pt.nextEntry(0, 2 ** 48, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, 2 ** 48, KIND_MASK_ANY)) {
        const pte = pt.get(a);
        if ((pte & PTE_KIND_BITS) !== PTE_KIND_PRESENT || (pte & PTE_SPECIAL) !== 0 || !exclusivePfns.has(ptePfn(pte))) continue;
        this.world.report(INV_EXCL, `${mm.name}:0x${a.toString(16)} maps pfn ${ptePfn(pte)} present while the page is device-exclusive elsewhere`, `${mm.name}:present-while-exclusive`);
      }
    }
  }
}

const KEY = 'hmm.exclusiveOracle';

/** The run's oracle, installed (hook and end-of-run check) on first use. */
export function exclusiveOracle(world: World): ExclusiveOracle {
  let o = world.locals.get(KEY) as ExclusiveOracle | undefined;
  if (o === undefined) {
    const made = new ExclusiveOracle(world);
    world.locals.set(KEY, made);
    setExclusiveEntryHook(world, (mm, addr, pfn) => made.entryGone(mm, addr, pfn));
    world.endOfRunChecks.push(() => made.endOfRun());
    o = made;
  }
  return o;
}

/** Creates a device's record of atomic mappings of `mm` (one per device and mm). */
export function device_atomic_create(mm: Mm, name: string): DeviceAtomicMap {
  const d = new DeviceAtomicMap(name, mm);
  exclusiveOracle(mm.world).devices.push(d);
  return d;
}

/**
 * The device programs atomic access to `pfn` at `addr`. The CPU entry there must be a
 * device-exclusive entry for `pfn`, and no other device may have atomic access to `pfn`.
 */
export function device_atomic_map(d: DeviceAtomicMap, addr: number, pfn: number): void {
  const world = d.mm.world;
  world.touchUndeclared();
  const o = exclusiveOracle(world);
  const pte = d.mm.dead ? 0 : d.mm.pt.get(addr - (addr % PAGE_SIZE));
  const where = `${d.mm.name}:0x${addr.toString(16)}`;
  if ((pte & PTE_KIND_BITS) !== PTE_KIND_DEVICE_EXCLUSIVE || ptePfn(pte) !== pfn) {
    const cpu = (pte & PTE_KIND_BITS) === PTE_KIND_PRESENT ? `a present PTE for pfn ${ptePfn(pte)}` : pte === 0 ? 'nothing' : 'no device-exclusive entry for it';
    world.report(INV_EXCL, `${d.name} programs atomic access to ${where} -> pfn ${pfn}, but the CPU has ${cpu} there: the page is not exclusive to the device`, `${d.name}:atomic-without-entry`);
  }
  for (const other of o.devices) {
    if (other === d) continue;
    for (const [a, p] of other.entries) {
      if (p !== pfn) continue;
      world.report(INV_EXCL, `${d.name} and ${other.name} both have atomic access to pfn ${pfn} (${where}, ${other.mm.name}:0x${a.toString(16)})`, `pfn:two-atomic-holders`);
    }
  }
  d.entries.set(addr - (addr % PAGE_SIZE), pfn);
}

/** The device no longer has atomic access at `addr`. */
export function device_atomic_unmap(d: DeviceAtomicMap, addr: number): void {
  d.mm.world.touchUndeclared();
  d.entries.delete(addr - (addr % PAGE_SIZE));
}

/** The device no longer has atomic access anywhere in [start, end). */
export function device_atomic_unmap_range(d: DeviceAtomicMap, start: number, end: number): void {
  d.mm.world.touchUndeclared();
  for (const a of [...d.entries.keys()]) if (a >= start && a < end) d.entries.delete(a);
}
