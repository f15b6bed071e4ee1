/**
 * Device-coherent memory (MEMORY_DEVICE_COHERENT, v6.0+): memremap_pages of the type, migrate_vma
 * into it (present PTEs, off the LRU), SELECT_DEVICE_COHERENT, the way back, hmm_range_fault,
 * long-term pins, fork/COW, zap and page_free.
 */
import { describe, expect, it } from 'vitest';
import { EBUSY, EINVAL } from '../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { setKernelContract } from '../../src/locking/version.js';
import { FindingKind } from '../../src/sim/finding.js';
import type { World } from '../../src/sim/world.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { FOLL_LONGTERM } from '../../src/mm/gup-longterm.ts';
import { PG_LRU } from '../../src/mm/frame-flags.ts';
import { sys_madvise as madvise, MADV_COLLAPSE, MADV_FREE } from '../../src/mm/madvise.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { PTE_KIND_BITS, PTE_KIND_PRESENT, PTE_WRITE, ptePfn } from '../../src/mm/pte.ts';
import {
  DevPagemap,
  MEMORY_DEVICE_COHERENT,
  is_device_coherent_page,
  is_device_private_page,
  is_zone_device_page,
  memremap_pages,
  zone_device_page_init,
} from '../../src/mm/device-private.ts';
import { copy_highpage, clear_highpage } from '../../src/mm/page-copy.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import {
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_SYSTEM,
  migrate_pfn,
  migrate_pfn_to_page,
} from '../../src/hmm/migrate-pfn.ts';
import { HMM_PFN_REQ_FAULT, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_page } from '../../src/hmm/hmm-pfn.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { alloc_page_vma } from '../../src/mm/page-copy.ts';
import { consistency, kinds, run1 } from '../mm/helpers.ts';
import { P, plainNotifier, snapshot } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** A device with `npages` of coherent memory, a LIFO of idle pages, and a record of page_free. */
interface CoherentDevice {
  owner: { name: string };
  pgmap: DevPagemap;
  idle: number[];
  freed: number[];
}

function coherentDevice(w: World, name: string, npages = 8): CoherentDevice {
  const owner = { name };
  const pgmap = new DevPagemap(`${name}->pgmap`);
  pgmap.type = MEMORY_DEVICE_COHERENT;
  pgmap.owner = owner;
  const dev: CoherentDevice = { owner, pgmap, idle: [], freed: [] };
  pgmap.ops = {
    page_free: (p) => {
      dev.freed.push(p);
      dev.idle.push(p);
    },
  };
  const first = memremap_pages(w, pgmap, npages);
  for (let p = first + npages - 1; p >= first; p--) dev.idle.push(p);
  return dev;
}

/** One migrate_vma over [a, a + n pages) with `flags`; `toDevice` allocates coherent pages, else system pages. */
function* migrate(mm: Mm, dev: CoherentDevice, a: number, n: number, flags: number, toDevice: boolean): Generator<unknown, { setup: number[]; after: number[] }, unknown> {
  yield* mmap_read_lock(mm);
  const args = new MigrateVma({ vma: find_vma(mm, a), start: a, end: a + n * P, src: Array<number>(n).fill(0), dst: Array<number>(n).fill(0), pgmap_owner: dev.owner, flags });
  expect(yield* migrate_vma_setup(args)).toBe(0);
  const setup = [...(args.src as number[])];
  for (let i = 0; i < n; i++) {
    const s = args.src![i]!;
    if ((s & MIGRATE_PFN_MIGRATE) === 0) continue;
    let d: number;
    if (toDevice) {
      d = dev.idle.pop()!;
      yield* zone_device_page_init(mm.world, d);
    } else {
      d = (yield* alloc_page_vma(mm))!;
      yield* folio_lock(d);
    }
    const from = migrate_pfn_to_page(s);
    if (from === null) clear_highpage(d);
    else copy_highpage(d, from);
    args.dst![i] = migrate_pfn(d) | (s & MIGRATE_PFN_WRITE);
  }
  yield* migrate_vma_pages(args);
  yield* migrate_vma_finalize(args);
  yield* mmap_read_unlock(mm);
  return { setup, after: [...(args.src as number[])] };
}

function pfnAt(mm: Mm, a: number): number {
  return ptePfn(mm.pt.get(a));
}

describe('memremap_pages(MEMORY_DEVICE_COHERENT)', () => {
  it('makes idle coherent frames (zone device, not device-private) given page_free and an owner', () => {
    const { value, w } = run1(function* (w) {
      mm_create(w);
      const dev = coherentDevice(w, 'devA', 4);
      const p = dev.idle.at(-1)!;
      yield* zone_device_page_init(w, p);
      return { coherent: is_device_coherent_page(w, p), zone: is_zone_device_page(w, p), priv: is_device_private_page(w, p) };
    });
    expect(value).toEqual({ coherent: true, zone: true, priv: false });
    expect(kinds(w)).toEqual([]);
  });

  it('WARNs and returns -EINVAL without page_free, without an owner, and before v6.0', () => {
    const cases: [string, (pg: DevPagemap) => void, string | null][] = [
      ['no page_free', (pg) => (pg.ops = {}), null],
      ['no owner', (pg) => (pg.owner = null), null],
      ['v5.14', () => {}, 'v5.14'],
      ['complete', () => {}, null],
    ];
    const out = cases.map(([, spoil, kernel]) =>
      run1(function* (w) {
        if (kernel !== null) setKernelContract(w, kernel);
        mm_create(w);
        const pg = new DevPagemap('pg');
        pg.type = MEMORY_DEVICE_COHERENT;
        pg.owner = 'me';
        pg.ops = { page_free: () => {} };
        spoil(pg);
        yield* [];
        return { ret: memremap_pages(w, pg, 2), msg: w.findings.map((f) => f.message).join() };
      }),
    );
    for (let i = 0; i < 3; i++) {
      expect(out[i]!.value.ret, cases[i]![0]).toBe(-EINVAL);
      expect(kinds(out[i]!.w), cases[i]![0]).toEqual([FindingKind.Warn]);
    }
    expect(out[0]!.value.msg).toMatch(/Missing page_free method/);
    expect(out[1]!.value.msg).toMatch(/Missing owner/);
    expect(out[2]!.value.msg).toMatch(/Invalid pgmap type/);
    expect(out[3]!.value.ret).toBeGreaterThan(0);
    expect(kinds(out[3]!.w)).toEqual([]);
  });
});

describe('migrate_vma to and from device-coherent memory', () => {
  it('installs present PTEs to coherent pages (off the LRU): the CPU reads and writes them in place, mm_check agrees', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = coherentDevice(w, 'devA');
      const a = yield* sys_mmap(mm, 0, 3 * P, RW, ANON);
      yield* write32(mm, a, 11);
      yield* read32(mm, a + P); // the zero page
      const r = yield* migrate(mm, dev, a, 3, MIGRATE_VMA_SELECT_SYSTEM, true);
      const pfns = [0, 1, 2].map((i) => pfnAt(mm, a + i * P));
      const present = [0, 1, 2].map((i) => (mm.pt.get(a + i * P) & PTE_KIND_BITS) === PTE_KIND_PRESENT);
      const writable = [0, 1, 2].map((i) => (mm.pt.get(a + i * P) & PTE_WRITE) !== 0);
      const lru = pfns.map((p) => mm.sys.frames.testFlags(p, PG_LRU));
      const v0 = yield* read32(mm, a);
      const w1 = yield* write32(mm, a + 2 * P, 33); // in place: no fault, same page
      const samePage = pfnAt(mm, a + 2 * P) === pfns[2];
      return { r, pfns: pfns.map((p) => is_device_coherent_page(w, p)), present, writable, lru, v0, w1, samePage, data: mm.sys.frames.read32(pfns[2]!, 0), cons: consistency(w) };
    });
    expect(value.r.after.map((s) => (s & MIGRATE_PFN_MIGRATE) !== 0)).toEqual([true, true, true]);
    expect(value.pfns).toEqual([true, true, true]);
    expect(value.present).toEqual([true, true, true]);
    // The written page was writable; the zero page and the empty entry follow the VMA (RW).
    expect(value.writable).toEqual([true, true, true]);
    expect(value.lru).toEqual([false, false, false]);
    expect(value).toMatchObject({ v0: 11, w1: 0, samePage: true, data: 33, cons: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('collect takes coherent pages only with SELECT_DEVICE_COHERENT and the owner; back to system memory frees them to page_free', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const devA = coherentDevice(w, 'devA');
      const devB = coherentDevice(w, 'devB');
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* write32(mm, a, 7);
      yield* write32(mm, a + P, 8);
      yield* migrate(mm, devA, a, 2, MIGRATE_VMA_SELECT_SYSTEM, true);
      const coherent = [pfnAt(mm, a), pfnAt(mm, a + P)];
      const sysOnly = yield* migrate(mm, devA, a, 2, MIGRATE_VMA_SELECT_SYSTEM, false);
      const otherOwner = yield* migrate(mm, devB, a, 2, MIGRATE_VMA_SELECT_DEVICE_COHERENT, false);
      const still = [pfnAt(mm, a), pfnAt(mm, a + P)];
      const back = yield* migrate(mm, devA, a, 2, MIGRATE_VMA_SELECT_DEVICE_COHERENT, false);
      const now = [pfnAt(mm, a), pfnAt(mm, a + P)];
      return {
        sysOnly: sysOnly.setup,
        otherOwner: otherOwner.setup,
        still: still.every((p, i) => p === coherent[i]),
        back: back.setup.map((s) => [migrate_pfn_to_page(s) === coherent[back.setup.indexOf(s)], (s & MIGRATE_PFN_MIGRATE) !== 0, (s & MIGRATE_PFN_WRITE) !== 0]),
        nowSystem: now.map((p) => !mm.sys.frames.isZoneDevice(p) && mm.sys.frames.testFlags(p, PG_LRU)),
        data: [yield* read32(mm, a), yield* read32(mm, a + P)],
        freed: [...devA.freed].sort(),
        coherent: [...coherent].sort(),
        cons: consistency(w),
      };
    });
    expect(value.sysOnly).toEqual([0, 0]);
    expect(value.otherOwner).toEqual([0, 0]);
    expect(value.still).toBe(true);
    expect(value.back).toEqual([
      [true, true, true],
      [true, true, true],
    ]);
    expect(value.nowSystem).toEqual([true, true]);
    expect(value.data).toEqual([7, 8]);
    expect(value.freed).toEqual(value.coherent);
    expect(value.cons).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('hmm_range_fault reports a coherent page as a normal valid page, with its write permission', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = coherentDevice(w, 'devA');
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 5);
      yield* migrate(mm, dev, a, 1, MIGRATE_VMA_SELECT_SYSTEM, true);
      const sub = yield* plainNotifier(mm);
      const { ret, pfns } = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT });
      return { ret, valid: (pfns[0]! & HMM_PFN_VALID) !== 0n, write: (pfns[0]! & HMM_PFN_WRITE) !== 0n, page: hmm_pfn_to_page(pfns[0]!) === pfnAt(mm, a), coherent: is_device_coherent_page(w, hmm_pfn_to_page(pfns[0]!)) };
    });
    expect(value).toEqual({ ret: 0, valid: true, write: true, page: true, coherent: true });
  });
});

describe('long-term pins and device-coherent pages (v6.0 gup)', () => {
  it('a short-term pin keeps the coherent page; FOLL_LONGTERM migrates it to system memory first and pins that', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = coherentDevice(w, 'devA');
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* write32(mm, a, 41);
      yield* write32(mm, a + P, 42);
      yield* migrate(mm, dev, a, 2, MIGRATE_VMA_SELECT_SYSTEM, true);
      const c0 = pfnAt(mm, a);
      const c1 = pfnAt(mm, a + P);
      const short = yield* pin_user_page(mm, a, true);
      const long = yield* pin_user_page(mm, a + P, true, FOLL_LONGTERM);
      const out = {
        shortIsCoherent: short === c0,
        longIsSystem: long > 0 && long !== c1 && !mm.sys.frames.isZoneDevice(long),
        mapsPinned: pfnAt(mm, a + P) === long,
        data: mm.sys.frames.read32(long, 0),
        freed: dev.freed.includes(c1),
        cons: consistency(w),
      };
      unpin_user_page(w, short);
      unpin_user_page(w, long);
      return out;
    });
    expect(value).toEqual({ shortIsCoherent: true, longIsSystem: true, mapsPinned: true, data: 42, freed: true, cons: [] });
    expect(kinds(w)).toEqual([]);
  });
});

describe('a long-term pin that cannot migrate the coherent page out', () => {
  it('fails with -EBUSY when the page is already pinned (the migration cannot unmap it); nothing is pinned, the page stays', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = coherentDevice(w, 'devA');
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 3);
      yield* migrate(mm, dev, a, 1, MIGRATE_VMA_SELECT_SYSTEM, true);
      const c = pfnAt(mm, a);
      const short = yield* pin_user_page(mm, a, true);
      const refBefore = mm.sys.frames.refcount(c);
      const long = yield* pin_user_page(mm, a, true, FOLL_LONGTERM);
      const out = { short: short === c, long, still: pfnAt(mm, a) === c, refAfter: mm.sys.frames.refcount(c) === refBefore, cons: consistency(w) };
      unpin_user_page(w, short);
      return out;
    });
    expect(value).toEqual({ short: true, long: -EBUSY, still: true, refAfter: true, cons: [] });
    expect(kinds(w)).toEqual([]);
  });
});

describe('fork, COW, MADV_FREE, collapse, zap on device-coherent pages', () => {
  it('fork shares the coherent page read-only; the child write copies to a system page; munmap frees it to page_free', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = coherentDevice(w, 'devA');
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 9);
      yield* migrate(mm, dev, a, 1, MIGRATE_VMA_SELECT_SYSTEM, true);
      const c = pfnAt(mm, a);
      const child = (yield* sys_fork(mm)) as Mm;
      const shared = pfnAt(child, a) === c && mm.sys.frames.mapcount(c) === 2 && (mm.pt.get(a) & PTE_WRITE) === 0;
      yield* write32(child, a, 10);
      const childPage = pfnAt(child, a);
      const copied = childPage !== c && !mm.sys.frames.isZoneDevice(childPage);
      const values = [yield* read32(mm, a), yield* read32(child, a)];
      const freedBefore = dev.freed.length;
      yield* sys_munmap(mm, a, P);
      return { shared, copied, values, freedBefore, freedAfter: dev.freed, c, cons: consistency(w) };
    });
    expect(value.shared).toBe(true);
    expect(value.copied).toBe(true);
    expect(value.values).toEqual([9, 10]);
    expect(value.freedBefore).toBe(0);
    expect(value.freedAfter).toEqual([value.c]);
    expect(value.cons).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('MADV_FREE leaves a coherent page alone; MADV_COLLAPSE refuses a range holding one (-EINVAL)', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = coherentDevice(w, 'devA');
      const a = yield* sys_mmap(mm, 0, 4 << 20, RW, ANON);
      const h = a + ((2 << 20) - (a % (2 << 20))) % (2 << 20);
      for (let i = 0; i < 512; i++) yield* write32(mm, h + i * P, i + 1);
      yield* migrate(mm, dev, h, 1, MIGRATE_VMA_SELECT_SYSTEM, true);
      const c = pfnAt(mm, h);
      const before = mm.pt.get(h);
      const flags = mm.sys.frames.flags(c);
      const free = yield* madvise(mm, h, P, MADV_FREE);
      const stillDirty = mm.pt.get(h) === before && mm.sys.frames.flags(c) === flags && (yield* read32(mm, h)) === 1;
      const collapse = yield* madvise(mm, h, 2 << 20, MADV_COLLAPSE);
      return { free, stillDirty, collapse, still: pfnAt(mm, h) === c };
    });
    expect(value).toEqual({ free: 0, stillDirty: true, collapse: -EINVAL, still: true });
  });
});
