/** migrate_vma (§5.3), device-private memory (§5.1) and the CPU fault on it (§5.4). */
import { describe, expect, it } from 'vitest';
import { EINVAL } from '../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { VM_IO } from '../../src/mm/vma-flags.ts';
import { isDevicePrivateEntry, isWritableDevicePrivateEntry, ptePfn, ptePresent } from '../../src/mm/pte.ts';
import { file_create } from '../../src/mm/files.ts';
import type { Mm } from '../../src/mm/mm-struct.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { MigrateVma, find_vma, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_PFN_MIGRATE, MIGRATE_PFN_VALID, MIGRATE_PFN_WRITE, MIGRATE_VMA_SELECT_SYSTEM, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import { HMM_PFN_REQ_FAULT, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_page } from '../../src/hmm/hmm-pfn.ts';
import { consistency, kinds, run1 } from '../mm/helpers.ts';
import { P, plainNotifier, snapshot } from './helpers.ts';
import { mm_check } from '../../src/mm/check.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('migrate pfn words (§5.2)', () => {
  it('has the kernel bits and round-trips pages', () => {
    expect([MIGRATE_PFN_VALID, MIGRATE_PFN_MIGRATE, MIGRATE_PFN_WRITE]).toEqual([1, 2, 8]);
    expect(migrate_pfn(77)).toBe(77 * 64 + 1);
    expect(migrate_pfn_to_page(migrate_pfn(77) | MIGRATE_PFN_MIGRATE)).toBe(77);
    expect(migrate_pfn_to_page(MIGRATE_PFN_MIGRATE)).toBe(null);
  });
});

describe('migrate_vma_setup argument checks (§5.3 step 1)', () => {
  it('returns -EINVAL for a special VMA, an empty range, a range outside the VMA, missing src/dst, a bad fault_page', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      const io = yield* sys_mmap(mm, 0, P, RW, ANON);
      mm.vmas.find(io)!.flags |= VM_IO;
      yield* write32(mm, a, 1);
      yield* mmap_read_lock(mm);
      const vma = find_vma(mm, a)!;
      const mk = (o: Partial<MigrateVma>) => new MigrateVma({ vma, start: a, end: a + P, src: [0, 0], dst: [0, 0], flags: MIGRATE_VMA_SELECT_SYSTEM, ...o });
      const out = [
        yield* migrate_vma_setup(mk({ vma: null })),
        yield* migrate_vma_setup(mk({ vma: find_vma(mm, io)!, start: io, end: io + P })),
        yield* migrate_vma_setup(mk({ end: a })),
        yield* migrate_vma_setup(mk({ start: a - P })),
        yield* migrate_vma_setup(mk({ end: a + 3 * P })),
        yield* migrate_vma_setup(mk({ src: null })),
        yield* migrate_vma_setup(mk({ dst: null })),
        yield* migrate_vma_setup(mk({ fault_page: ptePfn(mm.pt.get(a)) })), // not device-private
      ];
      yield* mmap_read_unlock(mm);
      return out;
    });
    expect(value).toEqual(Array(8).fill(-EINVAL));
  });
});

function* setupDevice(w: import('../../src/sim/world.js').World, pages = 4, opts: { limit?: number } = {}) {
  const mm = mm_create(w, opts.limit === undefined ? {} : { memoryLimitPages: opts.limit });
  const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 8);
  const a = yield* sys_mmap(mm, 0, pages * P, RW, ANON);
  yield* dev.insert(a, pages * P);
  return { mm, dev, a };
}

describe('migration to device memory and back (§5.3, §5.4)', () => {
  it('moves written pages, zero pages and empty entries to device-private entries; contents survive the round trip', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 4);
      yield* write32(mm, a, 11);
      yield* write32(mm, a + P + 8, 22);
      yield* read32(mm, a + 2 * P); // zero page
      const r = yield* dev.migrateToDevice(a, a + 4 * P);
      const entries = [0, 1, 2, 3].map((i) => mm.pt.get(a + i * P));
      const onDevice = entries.map((e) => isDevicePrivateEntry(e));
      const ramAfter = mm.sys.frames.ramInUse;
      const back = yield* dev.migrateToRam(a, a + 4 * P);
      const values = [yield* read32(mm, a), yield* read32(mm, a + P + 8), yield* read32(mm, a + 2 * P), yield* read32(mm, a + 3 * P)];
      return { r, back, onDevice, writable: entries.map(isWritableDevicePrivateEntry), ramAfter, values, present: ptePresent(mm.pt.get(a)), free: dev.free.length, c: consistency(w) };
    });
    expect(value.r).toBe(0);
    expect(value.onDevice).toEqual([true, true, true, true]);
    expect(value.writable).toEqual([true, true, true, true]);
    expect(value.ramAfter).toBe(0);
    expect(value.back).toBe(0);
    expect(value.present).toBe(true);
    expect(value.values).toEqual([11, 22, 0, 0]);
    expect(value.free).toBe(8); // every device page handed back through page_free
    expect(value.c).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('a CPU access to a device-private entry runs migrate_to_ram and sees the data', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 2);
      yield* write32(mm, a + 4, 5);
      yield* dev.migrateToDevice(a, a + 2 * P);
      const v = yield* read32(mm, a + 4);
      yield* write32(mm, a + P, 9);
      return { v, e0: ptePresent(mm.pt.get(a)), e1: ptePresent(mm.pt.get(a + P)), free: dev.free.length, c: consistency(w) };
    });
    expect(value).toEqual({ v: 5, e0: true, e1: true, free: 8, c: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('hmm_range_fault reports device pages to their owner without faulting, and faults them back for anyone else', () => {
    const { value } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 1);
      yield* write32(mm, a, 3);
      yield* dev.migrateToDevice(a, a + P);
      const dpage = ptePfn(mm.pt.get(a));
      const sub = yield* plainNotifier(mm);
      const own = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT, owner: dev.owner });
      const stillDevice = isDevicePrivateEntry(mm.pt.get(a));
      const other = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT, owner: { other: true } });
      return { dpage, own: own.pfns[0]!, stillDevice, other: other.pfns[0]!, after: ptePresent(mm.pt.get(a)), v: yield* read32(mm, a) };
    });
    expect(hmm_pfn_to_page(value.own)).toBe(value.dpage);
    expect(value.own & (HMM_PFN_VALID | HMM_PFN_WRITE)).toBe(HMM_PFN_VALID | HMM_PFN_WRITE);
    expect(value.stillDevice).toBe(true);
    expect(value.after).toBe(true);
    expect(hmm_pfn_to_page(value.other)).not.toBe(value.dpage);
    expect(value.v).toBe(3);
  });

  it('a pinned page is restored, not migrated (the pin is an extra reference)', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 2);
      yield* write32(mm, a, 1);
      yield* write32(mm, a + P, 2);
      const pinned = yield* pin_user_page(mm, a, true);
      yield* dev.migrateToDevice(a, a + 2 * P);
      const e = [mm.pt.get(a), mm.pt.get(a + P)];
      unpin_user_page(w, pinned);
      return { p0: ptePresent(e[0]!) && ptePfn(e[0]!) === pinned, d1: isDevicePrivateEntry(e[1]!), c: consistency(w) };
    });
    expect(value).toEqual({ p0: true, d1: true, c: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('a file-backed private page is not selected (no device copy of page cache); a shared file VMA collects no empty entries', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4);
      const f = file_create(w, 2 * P);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, MAP_SHARED, f, 0);
      yield* read32(mm, a);
      yield* dev.insert(a, 2 * P);
      const r = yield* dev.migrateToDevice(a, a + 2 * P);
      return { r, d: [isDevicePrivateEntry(mm.pt.get(a)), isDevicePrivateEntry(mm.pt.get(a + P))], free: dev.free.length };
    });
    expect(value).toEqual({ r: 0, d: [false, false], free: 4 });
  });

  it('fork copies device-private entries read-only on both sides (COW); munmap and exit hand the pages back', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 1);
      yield* write32(mm, a, 4);
      yield* dev.migrateToDevice(a, a + P);
      const child = (yield* sys_fork(mm)) as Mm;
      const both = [mm.pt.get(a), child.pt.get(a)];
      const ro = both.map((e) => isDevicePrivateEntry(e) && !isWritableDevicePrivateEntry(e));
      const vc = yield* read32(child, a);
      yield* write32(mm, a, 6);
      const vp = yield* read32(mm, a);
      const vc2 = yield* read32(child, a);
      yield* sys_munmap(child, a, P);
      yield* sys_munmap(mm, a, P);
      return { ro, vc, vp, vc2, free: dev.free.length, c: consistency(w) };
    });
    expect(value).toEqual({ ro: [true, true], vc: 4, vp: 6, vc2: 4, free: 8, c: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('mm_check is clean after a round trip and at exit', () => {
    const { w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 3);
      yield* write32(mm, a, 1);
      yield* dev.migrateToDevice(a, a + 3 * P);
      mm_check(w);
      yield* sys_munmap(mm, a, 3 * P);
      return 0;
    });
    mm_check(w);
    expect(kinds(w)).toEqual([]);
  });
});

describe('migrate_device_range (eviction by pfn)', () => {
  it('brings every in-use device page back to system memory wherever it is mapped, data intact', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 3);
      yield* write32(mm, a, 1);
      yield* write32(mm, a + P, 2);
      yield* dev.migrateToDevice(a, a + 3 * P);
      const child = (yield* sys_fork(mm)) as Mm;
      const { migrate_device_range, migrate_device_pages, migrate_device_finalize } = deviceApi;
      const first = dev.pgmap.firstPfn;
      const n = dev.pgmap.npages;
      const src = new Array<number>(n).fill(0);
      const dst = new Array<number>(n).fill(0);
      yield* migrate_device_range(src, first, n);
      for (let i = 0; i < n; i++) {
        const sp = migrate_pfn_to_page(src[i]!);
        if (sp === null || (src[i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
        const dp = yield* alloc_page_vma(mm);
        yield* folio_lock(dp!);
        copy_highpage(dp!, sp);
        dst[i] = migrate_pfn(dp!);
      }
      yield* migrate_device_pages(src, dst, n);
      yield* migrate_device_finalize(src, dst, n);
      const present = [0, 1, 2].map((i) => ptePresent(mm.pt.get(a + i * P)) && ptePresent(child.pt.get(a + i * P)));
      return { present, v: [yield* read32(mm, a), yield* read32(child, a + P)], inUse: mm.sys.frames.deviceInUse, c: consistency(w) };
    });
    expect(value).toEqual({ present: [true, true, true], v: [1, 2], inUse: 0, c: [] });
    expect(kinds(w)).toEqual([]);
  });
});

import * as deviceApi from '../../src/hmm/migrate-device.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';

describe('other CPU paths meeting device-private entries (§5.4)', () => {
  it('madvise(DONTNEED) and exit drop the entries and hand the pages back through page_free', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 3);
      yield* write32(mm, a, 1);
      yield* dev.migrateToDevice(a, a + 3 * P);
      yield* sys_madvise(mm, a, P, MADV_DONTNEED);
      const afterMadvise = { none: mm.pt.get(a) === 0, free: dev.free.length, v: yield* read32(mm, a) };
      yield* sys_exit(mm);
      return { afterMadvise, free: dev.free.length, inUse: mm.sys.frames.deviceInUse };
    });
    expect(value.afterMadvise).toEqual({ none: true, free: 6, v: 0 });
    expect(value.free).toBe(8);
    expect(value.inUse).toBe(0);
    expect(kinds(w)).toEqual([]);
  });

  it('GUP (pin_user_page) faults a device-private page back to system memory and pins that', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 1);
      yield* write32(mm, a, 77);
      yield* dev.migrateToDevice(a, a + P);
      const pinned = yield* pin_user_page(mm, a, true);
      const ok = !mm.sys.frames.isDevicePrivate(pinned) && ptePfn(mm.pt.get(a)) === pinned;
      const v = mm.sys.frames.read32(pinned, 0);
      unpin_user_page(w, pinned);
      return { ok, v, c: consistency(w) };
    });
    expect(value).toEqual({ ok: true, v: 77, c: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('mprotect(PROT_READ) makes a writable device-private entry readable; the device loses write access', () => {
    const { value, w } = run1(function* (w) {
      const { mm, dev, a } = yield* setupDevice(w, 1);
      yield* write32(mm, a, 1);
      yield* dev.migrateToDevice(a, a + P);
      const before = dev.pt.entries.get(a)?.write;
      yield* sys_mprotect(mm, a, P, PROT_READ);
      return { before, entry: isDevicePrivateEntry(mm.pt.get(a)) && !isWritableDevicePrivateEntry(mm.pt.get(a)), dev: dev.pt.entries.get(a) ?? null };
    });
    expect(value).toEqual({ before: true, entry: true, dev: null });
    expect(kinds(w)).toEqual([]);
  });
});

import { MADV_DONTNEED, sys_madvise } from '../../src/mm/madvise.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
