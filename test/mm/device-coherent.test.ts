/** Device-coherent frames in the mm layer: life cycle, mm_check's view, reclaim leaving them alone. */
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { FrameTable, PG_ANON, PG_DEVICE_COHERENT, PG_DEVICE_PRIVATE, PG_LRU } from '../../src/mm/frames.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { makeWritableDevicePrivateEntry, pfnPte, PTE_WRITE } from '../../src/mm/pte.ts';
import { DevPagemap, MEMORY_DEVICE_COHERENT, memremap_pages, zone_device_page_init } from '../../src/mm/device-private.ts';
import { folio_unlock } from '../../src/mm/folio-lock.ts';
import { mm_consistency } from '../../src/mm/check.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { run1 } from './helpers.ts';

describe('device-coherent frames', () => {
  it('are created idle, brought into use by initDevicePage, and go idle again keeping their type', () => {
    const f = new FrameTable();
    const first = f.createDevicePages(2, 7, PG_DEVICE_COHERENT);
    const idle = [f.isFree(first), f.isDeviceCoherent(first), f.isZoneDevice(first), f.isDevicePrivate(first)];
    expect(f.initDevicePage(first)).toBe(true);
    const used = [f.isFree(first), f.refcount(first), f.deviceInUse];
    expect(f.put(first)).toBe(true);
    f.checkInvariants();
    expect(idle).toEqual([true, true, true, false]);
    expect(used).toEqual([false, 1, 1]);
    expect([f.isFree(first), f.isDeviceCoherent(first), f.deviceInUse, f.ramInUse]).toEqual([true, true, 0, 0]);
    expect(() => f.createDevicePages(1, 7, PG_DEVICE_PRIVATE | PG_DEVICE_COHERENT)).toThrow(/not device_private or device_coherent/);
  });
});

describe('mm_check and reclaim with device-coherent pages', () => {
  it('a mapped coherent page is counted like RAM (no INV-M3); on the LRU, or behind a device-private entry, it is an inconsistency; reclaim never takes it', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w, { memoryLimitPages: 4 });
      const pg = new DevPagemap('pg');
      pg.type = MEMORY_DEVICE_COHERENT;
      pg.owner = 'dev';
      pg.ops = { page_free: () => {} };
      const first = memremap_pages(w, pg, 1);
      yield* zone_device_page_init(w, first);
      yield* folio_unlock(first);
      const a = yield* sys_mmap(mm, 0, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      mm.sys.frames.setFlags(first, PG_ANON);
      mm.pt.set(a, pfnPte(first, PTE_WRITE));
      mm.sys.frames.incMapcount(first);
      const clean = mm_consistency(mm.sys);
      mm.sys.frames.setFlags(first, PG_LRU);
      const onLru = mm_consistency(mm.sys);
      mm.sys.frames.clearFlags(first, PG_LRU);
      mm.pt.set(a, makeWritableDevicePrivateEntry(first));
      const asPrivate = mm_consistency(mm.sys);
      mm.pt.set(a, pfnPte(first, PTE_WRITE));
      // Fill memory, then reclaim: the coherent page stays mapped.
      for (let i = 2; i < 8; i++) yield* write32(mm, a + i * 4096, i);
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      return { clean, onLru, asPrivate, still: mm.pt.get(a) === pfnPte(first, PTE_WRITE) };
    });
    expect(value.clean).toEqual([]);
    expect(value.onLru.some((l) => l.includes('device page on the LRU'))).toBe(true);
    expect(value.asPrivate.some((l) => l.includes('device-private entry names a page that is not device-private'))).toBe(true);
    expect(value.still).toBe(true);
  });
});
