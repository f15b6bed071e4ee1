/**
 * The mirror's device page table: a sparse map from virtual page number to the *system* page
 * that holds the data, with a two-bit tag (dmirror §1.2):
 *
 *     untagged (0)   the device may read only
 *     ATOMIC   (1)   the device holds the page exclusively (EXCLUSIVE); readable, not writable
 *     WRITE    (3)   the device may read and write
 *
 * The table holds no page references: only the notifier keeps it honest. Every store and erase
 * is mirrored into a coherence shadow (notifier/coherence.ts) under the page the CPU's entry
 * names (for a migrated device-private page that is the device page, not its backing page), so
 * the oracle sees a device mapping the CPU no longer agrees with as a stale-device-mapping.
 * Callers hold the mirror mutex (or run inside the core migration, as the kernel's
 * device-to-system copy does).
 */
import { device_map, device_shadow_create, device_unmap, type DeviceShadow } from '../../notifier/coherence.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../../mm/constants.ts';
import type { Mm } from '../../mm/mm-struct.ts';

/** Read-only entry. */
export const DPT_READ = 0;
/** Device-exclusive (atomic) entry. */
export const DPT_ATOMIC = 1;
/** Writable entry. */
export const DPT_WRITE = 3;

/** One entry: the data page, its tag, and the page the CPU maps (for the oracle). */
export interface DptEntry {
  /** The system page holding the data (dmirror stores the backing page of a device page). */
  page: number;
  tag: number;
  /** The page the CPU's entry names at that address. */
  cpuPage: number;
}

/** A mirror's device page table. */
export class DevicePageTable {
  private readonly entries = new Map<number, DptEntry>();
  readonly shadow: DeviceShadow;

  constructor(
    mm: Mm,
    readonly name: string,
  ) {
    this.shadow = device_shadow_create(mm, name);
  }

  /** The entry of virtual page number `pfn`, if any. */
  load(pfn: number): DptEntry | undefined {
    return this.entries.get(pfn);
  }

  /** Stores an entry (xa_store), replacing any previous one. */
  store(pfn: number, page: number, tag: number, cpuPage = page): void {
    this.entries.set(pfn, { page, tag, cpuPage });
    device_map(this.shadow, pfn * PAGE_SIZE, cpuPage, tag !== DPT_READ);
  }

  /** Erases one entry (xa_erase). */
  erase(pfn: number): void {
    if (!this.entries.delete(pfn)) return;
    device_unmap(this.shadow, pfn * PAGE_SIZE);
  }

  /** Erases every entry with first <= pfn <= last (inclusive, as dmirror_do_update's loop). */
  eraseRange(first: number, last: number): void {
    if (this.entries.size === 0) return;
    if (last - first + 1 < this.entries.size) {
      for (let p = first; p <= last; p++) this.erase(p);
      return;
    }
    for (const p of [...this.entries.keys()]) if (p >= first && p <= last) this.erase(p);
  }

  /** Erases everything (the table is destroyed at release). */
  clear(): void {
    for (const p of [...this.entries.keys()]) this.erase(p);
  }

  /** Number of entries. */
  get size(): number {
    return this.entries.size;
  }
}

/** Virtual page number of an address. */
export function vpn(addr: number): number {
  return Math.floor(addr / 2 ** PAGE_SHIFT);
}
