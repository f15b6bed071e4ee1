/**
 * Device THP migration (v6.19+, migrate-huge.ts): a PMD-mapped THP moves to a PMD-sized device
 * folio as one compound entry and back, through dmirror; older contracts split it first.
 */
import { describe, expect, it } from 'vitest';
import { setKernelContract } from '../../src/locking/version.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { thpStats } from '../../src/mm/huge-memory.ts';
import { PTE_KIND_BITS, PTE_KIND_DEVICE_PRIVATE, PTE_KIND_PRESENT, PTE_WRITE, ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import type { World } from '../../src/sim/world.js';
import {
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_MIGRATE_TO_SYS,
  dmirror_fops_open,
  dmirror_fops_unlocked_ioctl,
  dmirror_module_init,
  type Dmirror,
} from '../../src/devices/dmirror/index.ts';
import { consistency, kinds, recordInvalidations, run1 } from '../mm/helpers.ts';

const H = 2 * 1024 * 1024;
const P = 4096;
const A = 0x40000000;
const RW = PROT_READ | PROT_WRITE;

function* setup(w: World, kernel = 'current'): Generator<unknown, { mm: Mm; fd: Dmirror }, unknown> {
  setKernelContract(w, kernel);
  const mm = mm_create(w, { thp: 'always' });
  const mod = dmirror_module_init(w);
  yield* sys_mmap(mm, A, 2 * H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  for (let p = 0; p < 512; p++) yield* write32(mm, A + p * P, p + 1);
  const fd = yield* dmirror_fops_open(mod, 0, mm);
  if (typeof fd === 'number') throw new Error('open failed');
  return { mm, fd };
}

function* cmd(fd: Dmirror, request: number, addr: number, npages: number): Generator<unknown, number, unknown> {
  return yield* dmirror_fops_unlocked_ioctl(fd, request, { addr, ptr: new ArrayBuffer(npages * P), npages, cpages: 0, faults: 0 });
}

function pmdKind(mm: Mm, addr: number): number {
  return mm.pt.getPmd(addr) & PTE_KIND_BITS;
}

describe('migrate_vma of a PMD-mapped THP as one compound entry (v6.19+)', () => {
  it('moves the THP into a device-private PMD and a CPU read brings the whole folio back as a PMD; nothing is split', () => {
    const { value, w } = run1(function* (w) {
      const { mm, fd } = yield* setup(w);
      const seen = yield* recordInvalidations(mm);
      const r = yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, A, 512);
      const dev = mm.pt.getPmd(A);
      const devOrder = mm.sys.frames.folioOrder(ptePfn(dev));
      const events = seen.filter((s) => s.op === 'start').map((s) => `${s.event}:${(s.start - A) / P}-${(s.end - A) / P}`);
      const v = yield* read32(mm, A + 300 * P);
      return { r, devKind: dev & PTE_KIND_BITS, devWrite: (dev & PTE_WRITE) !== 0, devOrder, events, v, backKind: pmdKind(mm, A), backOrder: mm.sys.frames.folioOrder(ptePfn(mm.pt.getPmd(A))), split: thpStats(mm.sys).splitPage + thpStats(mm.sys).splitPmd };
    });
    expect(value.r).toBe(0);
    expect([value.devKind, value.devWrite, value.devOrder]).toEqual([PTE_KIND_DEVICE_PRIVATE, true, 9]);
    expect(value.events[0]).toBe('6:0-512'); // the collect's MIGRATE, no nested CLEAR of a split
    expect([value.v, value.backKind, value.backOrder, value.split]).toEqual([301, PTE_KIND_PRESENT, 9, 0]);
    expect(consistency(w)).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('under v6.15 the same command splits the THP first and the device gets order-0 pages', () => {
    const { value, w } = run1(function* (w) {
      const { mm, fd } = yield* setup(w, 'v6.15');
      const r = yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, A, 512);
      const pte = mm.pt.get(A + 3 * P);
      const out = { r, pmd: mm.pt.getPmd(A), kind: pte & PTE_KIND_BITS, order: mm.sys.frames.folioOrder(ptePfn(pte)), split: thpStats(mm.sys).splitPage, v: yield* read32(mm, A + 3 * P) };
      yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, A, 512);
      return out;
    });
    expect([value.r, value.pmd, value.kind, value.order, value.split, value.v]).toEqual([0, 0, PTE_KIND_DEVICE_PRIVATE, 0, 1, 4]);
    expect(consistency(w)).toEqual([]);
  });

  it('a migration covering part of the THP splits it and moves only the covered pages', () => {
    const { value, w } = run1(function* (w) {
      const { mm, fd } = yield* setup(w);
      const r = yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, A + 256 * P, 256);
      const out = { r, pmd: mm.pt.getPmd(A), lo: mm.pt.get(A) & PTE_KIND_BITS, hi: mm.pt.get(A + 300 * P) & PTE_KIND_BITS, split: thpStats(mm.sys).splitPage, v: yield* read32(mm, A + 300 * P) };
      yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, A, 512);
      return out;
    });
    expect([value.r, value.pmd, value.lo, value.hi, value.split, value.v]).toEqual([0, 0, PTE_KIND_PRESENT, PTE_KIND_DEVICE_PRIVATE, 1, 301]);
    expect(consistency(w)).toEqual([]);
  });

  it('MIGRATE_TO_SYS brings the device folio back whole; munmap of a device PMD frees the device folio', () => {
    const { value, w } = run1(function* (w) {
      const { mm, fd } = yield* setup(w);
      yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, A, 512);
      const back = yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, A, 512);
      const kindBack = pmdKind(mm, A);
      const orderBack = mm.sys.frames.folioOrder(ptePfn(mm.pt.getPmd(A)));
      yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, A, 512);
      const inUse = mm.sys.frames.deviceInUse;
      yield* sys_munmap(mm, A, H);
      return { back, kindBack, orderBack, inUse, after: mm.sys.frames.deviceInUse };
    });
    expect([value.back, value.kindBack, value.orderBack, value.inUse, value.after]).toEqual([0, PTE_KIND_PRESENT, 9, 512, 0]);
    expect(consistency(w)).toEqual([]);
  });

  it('fork shares a device PMD read-only, mprotect keeps it readable, and a partial munmap splits it into device-private PTEs', () => {
    const { value, w } = run1(function* (w) {
      const { mm, fd } = yield* setup(w);
      yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, A, 512);
      const child = yield* sys_fork(mm, 'child');
      if (typeof child === 'number') throw new Error('fork failed');
      const parentPmd = mm.pt.getPmd(A);
      const childPmd = child.pt.getPmd(A);
      const entire = mm.sys.frames.entireMapcount(ptePfn(parentPmd));
      yield* sys_munmap(child, A, 2 * H);
      yield* sys_mprotect(mm, A, H, PROT_READ);
      const ro = mm.pt.getPmd(A);
      yield* sys_mprotect(mm, A, H, RW);
      yield* sys_munmap(mm, A + 256 * P, 256 * P);
      const lo = mm.pt.get(A + 5 * P);
      const v = yield* read32(mm, A + 5 * P);
      yield* cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, A, 256);
      return { parentW: (parentPmd & PTE_WRITE) !== 0, childKind: childPmd & PTE_KIND_BITS, childW: (childPmd & PTE_WRITE) !== 0, entire, roW: (ro & PTE_WRITE) !== 0, roKind: ro & PTE_KIND_BITS, pmdAfter: mm.pt.getPmd(A), lo: lo & PTE_KIND_BITS, v };
    });
    expect(value).toEqual({ parentW: false, childKind: PTE_KIND_DEVICE_PRIVATE, childW: false, entire: 2, roW: false, roKind: PTE_KIND_DEVICE_PRIVATE, pmdAfter: 0, lo: PTE_KIND_DEVICE_PRIVATE, v: 6 });
    expect(consistency(w)).toEqual([]);
  });
});
