/** Device-private pagemaps: registration, page init (locked), page_free, and mm_check's view. */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { DevPagemap, memremap_pages, page_pgmap, zone_device_page_init, is_device_private_page } from '../../src/mm/device-private.ts';
import { folio_test_locked, folio_unlock } from '../../src/mm/folio-lock.ts';
import { mm_consistency } from '../../src/mm/check.ts';
import { run1 } from './helpers.ts';

describe('device-private memory', () => {
  it('memremap_pages makes idle frames; zone_device_page_init hands one out locked; the last put calls page_free', () => {
    const freed: number[] = [];
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const pg = new DevPagemap('pg');
      pg.owner = 'me';
      pg.ops = { page_free: (p) => freed.push(p) };
      const first = memremap_pages(w, pg, 4);
      yield* zone_device_page_init(w, first + 1);
      const locked = folio_test_locked(first + 1);
      const inUse = mm.sys.frames.deviceInUse;
      const leak = mm_consistency(mm.sys);
      yield* folio_unlock(first + 1);
      mm.sys.putPage(first + 1);
      return { first, locked, inUse, leak, owner: page_pgmap(w, first + 1)?.owner, dp: is_device_private_page(w, first), range: pg.range, after: mm.sys.frames.deviceInUse };
    });
    expect(value.locked).toBe(true);
    expect(value.inUse).toBe(1);
    expect(value.leak.length).toBe(1); // in use, mapped by nothing: mm_check would call it a leak
    expect(value.owner).toBe('me');
    expect(value.dp).toBe(true);
    expect(value.range).toEqual({ start: value.first * 4096, end: (value.first + 4) * 4096 - 1 });
    expect(freed).toEqual([value.first + 1]);
    expect(value.after).toBe(0);
  });
});

describe('mm_check and device-private pages', () => {
  it('a present CPU PTE naming a device-private page is an inconsistency (INV-M3)', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const pg = new DevPagemap('pg');
      const first = memremap_pages(w, pg, 1);
      yield* zone_device_page_init(w, first);
      yield* folio_unlock(first);
      const a = yield* sys_mmap(mm, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
      mm.pt.set(a, pfnPte(first, 0));
      mm.sys.frames.incMapcount(first);
      const lines = mm_consistency(mm.sys);
      mm.pt.clear(a);
      mm.sys.frames.decMapcount(first);
      mm.sys.putPage(first);
      return lines;
    });
    expect(value.some((l) => l.includes('INV-M3'))).toBe(true);
  });
});

import { sys_mmap } from '../../src/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ } from '../../src/mm/vma-ops.ts';
import { pfnPte } from '../../src/mm/pte.ts';
