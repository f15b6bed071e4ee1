/**
 * migrate_device_pages with an entry that has MIGRATE but no source page (review item 14): the
 * kernel's __migrate_device_pages VM_BUG_ONs there (no migrate_vma, so no VMA to insert into).
 * It is a BUG finding; before, the model dropped MIGRATE silently.
 */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { migrate_device_finalize, migrate_device_pages, migrate_device_range } from '../../src/hmm/migrate-device.ts';
import { MIGRATE_PFN_MIGRATE, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import { run1 } from '../mm/helpers.ts';

const P = 4096;

/** Evicts the device; `hole` appends an entry with MIGRATE, no source page and a destination. */
function evict(hole: boolean): string[] {
  return run1(function* (w) {
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 2);
    yield* dev.insert(a, P);
    yield* write32(mm, a, 5);
    if ((yield* dev.migrateToDevice(a, a + P)) !== 0) throw new Error('migration failed');
    const n = dev.pgmap.npages;
    const src = new Array<number>(n).fill(0);
    const dst = new Array<number>(n).fill(0);
    yield* migrate_device_range(src, dev.pgmap.firstPfn, n);
    for (let i = 0; i < n; i++) {
      const sp = migrate_pfn_to_page(src[i]!);
      if (sp === null || (src[i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
      const dp = (yield* alloc_page_vma(mm))!;
      yield* folio_lock(dp);
      copy_highpage(dp, sp);
      dst[i] = migrate_pfn(dp);
    }
    if (hole) {
      const dp = (yield* alloc_page_vma(mm))!;
      yield* folio_lock(dp);
      src.push(MIGRATE_PFN_MIGRATE);
      dst.push(migrate_pfn(dp));
    }
    yield* migrate_device_pages(src, dst, src.length);
    yield* migrate_device_finalize(src, dst, src.length);
    return 0;
  }).w.findings.map((f) => `${f.kind} ${f.place}`);
}

describe('migrate_device_pages misuse', () => {
  it('an entry with MIGRATE and no source page is a BUG finding', () => {
    expect(evict(true)).toContain('bug migrate:device-pages-no-source');
  });
  it('migrate_device_range entries raise nothing', () => {
    expect(evict(false)).toEqual([]);
  });
});
