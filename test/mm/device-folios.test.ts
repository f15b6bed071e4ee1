/**
 * PMD-sized device-private folios (device THP migration, v6.19): their life cycle in the frame
 * table, the page-table view of device-private and migration PMD entries, and splitting them.
 */
import { describe, expect, it } from 'vitest';
import { FrameTable, PG_DEVICE_PRIVATE, PG_LOCKED } from '../../src/mm/frames.ts';
import { HPAGE_PMD_NR } from '../../src/mm/compound-frames.ts';
import { PageTable } from '../../src/mm/page-table.ts';
import {
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_WRITE,
  makeWritableDevicePrivateEntry,
  makeWritableMigrationEntry,
  ptePfn,
} from '../../src/mm/pte.ts';

const H = 2 * 1024 * 1024;
const P = 4096;

describe('device-private folios in the frame table', () => {
  it('are created idle, come into use whole (512 device pages), and go idle again whole on the last put', () => {
    const f = new FrameTable();
    const [a, b] = f.createDeviceFolios(2, 9);
    expect(f.folioOrder(a!)).toBe(9);
    expect(f.isFree(a!) && f.isDevicePrivate(a! + 7)).toBe(true);
    expect(f.deviceFrames).toBe(2 * HPAGE_PMD_NR);
    expect(f.initDeviceFolio(a!)).toBe(true);
    expect([f.refcount(a! + 3), f.deviceInUse, f.ramInUse]).toEqual([1, HPAGE_PMD_NR, 0]);
    f.checkInvariants();
    expect(f.put(a!)).toBe(true);
    expect([f.isFree(a!), f.folioOrder(a!), f.deviceInUse]).toEqual([true, 9, 0]);
    expect(f.initDeviceFolio(a! + 1)).toBe(false); // not a head
    expect(f.problems.map((p) => p.kind)).toEqual(['frame-use-after-free']);
    expect(f.isFree(b!)).toBe(true);
    f.checkInvariants();
  });

  it('split with one reference each gives 512 locked device pages; freeing one is a device page going idle', () => {
    const f = new FrameTable();
    const [a] = f.createDeviceFolios(1, 9);
    f.initDeviceFolio(a!);
    f.setFlags(a!, PG_LOCKED);
    f.getN(a!, HPAGE_PMD_NR - 1);
    expect(f.splitCompound(a!, true)).toEqual([]);
    expect([f.folioOrder(a! + 5), f.refcount(a! + 5), f.testFlags(a! + 5, PG_LOCKED | PG_DEVICE_PRIVATE)]).toEqual([0, 1, true]);
    f.clearFlags(a! + 5, PG_LOCKED);
    expect(f.put(a! + 5)).toBe(true);
    expect([f.isFree(a! + 5), f.isDevicePrivate(a! + 5), f.deviceInUse, f.ramInUse]).toEqual([true, true, HPAGE_PMD_NR - 1, 0]);
    // The chunk's unused pfns stay device memory nobody hands out.
    expect(f.isDevicePrivate(a! + HPAGE_PMD_NR) && f.isFree(a! + HPAGE_PMD_NR)).toBe(true);
    f.checkInvariants();
  });
});

describe('device-private and migration PMD entries in the page table', () => {
  it('read as the entry of each page (head pfn + offset, same bits); other leaves are unchanged', () => {
    const pt = new PageTable();
    pt.setPmd(H, makeWritableDevicePrivateEntry(1024));
    pt.setPmd(2 * H, makeWritableMigrationEntry(2048));
    const d = pt.get(H + 7 * P);
    const m = pt.get(2 * H + 9 * P);
    expect([d & PTE_KIND_BITS, ptePfn(d), (d & PTE_WRITE) !== 0]).toEqual([PTE_KIND_DEVICE_PRIVATE, 1031, true]);
    expect([m & PTE_KIND_BITS, ptePfn(m)]).toEqual([PTE_KIND_MIGRATION, 2057]);
    expect(pt.getPmd(H + 7 * P)).toBe(makeWritableDevicePrivateEntry(1024));
  });
});
