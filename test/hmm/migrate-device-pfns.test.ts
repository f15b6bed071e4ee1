/**
 * migrate_device_pfns (v6.15+, review item 14): eviction by a non-contiguous pfn list, and
 * api-unavailable before v6.15.
 */
import { describe, expect, it } from 'vitest';
import { setKernelContract } from '../../src/locking/version.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { ptePresent, isDevicePrivateEntry, ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { migrate_device_finalize, migrate_device_pages, migrate_device_pfns } from '../../src/hmm/migrate-device.ts';
import { MIGRATE_PFN_MIGRATE, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import { kinds, run1 } from '../mm/helpers.ts';

const P = 4096;

/** Three pages on the device; evicts pages 0 and 2 by pfn. */
function evict(version: string) {
  return run1(function* (w) {
    setKernelContract(w, version);
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4);
    yield* dev.insert(a, 3 * P);
    for (let i = 0; i < 3; i++) yield* write32(mm, a + i * P, 10 + i);
    if ((yield* dev.migrateToDevice(a, a + 3 * P)) !== 0) throw new Error('migration failed');
    const pfnAt = (i: number) => ptePfn(mm.pt.get(a + i * P));
    const src = [pfnAt(0), pfnAt(2)];
    const dst = [0, 0];
    const r = yield* migrate_device_pfns(src, 2);
    if (r !== 0) return { r };
    for (let i = 0; i < 2; i++) {
      const sp = migrate_pfn_to_page(src[i]!);
      if (sp === null || (src[i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
      const dp = (yield* alloc_page_vma(mm))!;
      yield* folio_lock(dp);
      copy_highpage(dp, sp);
      dst[i] = migrate_pfn(dp);
    }
    yield* migrate_device_pages(src, dst, src.length);
    yield* migrate_device_finalize(src, dst, src.length);
    const state = [0, 1, 2].map((i) => (ptePresent(mm.pt.get(a + i * P)) ? 'ram' : isDevicePrivateEntry(mm.pt.get(a + i * P)) ? 'device' : 'other'));
    return { r, state, v: [yield* read32(mm, a), yield* read32(mm, a + 2 * P)] };
  });
}

describe('migrate_device_pfns', () => {
  it('evicts exactly the listed device pages, data intact (v6.15+)', () => {
    const { value, w } = evict('current');
    expect(value).toEqual({ r: 0, state: ['ram', 'device', 'ram'], v: [10, 12] });
    expect(kinds(w)).toEqual([]);
  });
  it('is api-unavailable before v6.15', () => {
    const { value, w } = evict('v6.0');
    expect(value.r).toBeLessThan(0);
    expect(kinds(w)).toEqual(['api-unavailable']);
  });
});
