/**
 * migrate_vma_finalize WARNs when the faulting page's folio comes back as a destination (review
 * item 14): a migrate_to_ram that "migrates" the page onto itself is a finding, never a crash.
 */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MEMORY_DEVICE_PRIVATE } from '../../src/mm/device-private.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { MigrateVma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_VMA_SELECT_DEVICE_PRIVATE, migrate_pfn } from '../../src/hmm/migrate-pfn.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { run1 } from '../mm/helpers.ts';

const P = 4096;

/**
 * A CPU read faults the first of two device pages back. With `faultPageAsDst`, migrate_to_ram
 * migrates both pages and, off by one, hands the faulting page in as the second entry's dst.
 */
function faultBack(faultPageAsDst: boolean) {
  return run1(function* (w) {
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4, MEMORY_DEVICE_PRIVATE);
    yield* dev.insert(a, 2 * P);
    yield* write32(mm, a, 9);
    yield* write32(mm, a + P, 10);
    if ((yield* dev.migrateToDevice(a, a + 2 * P)) !== 0) throw new Error('migration failed');
    if (faultPageAsDst) {
      dev.pgmap.ops!.migrate_to_ram = function* (vmf) {
        const args = new MigrateVma({ vma: vmf.vma, start: vmf.address, end: vmf.address + 2 * P, src: [0, 0], dst: [0, 0], pgmap_owner: dev.owner, flags: MIGRATE_VMA_SELECT_DEVICE_PRIVATE, fault_page: vmf.page });
        if ((yield* migrate_vma_setup(args)) !== 0) return 0;
        const page = yield* alloc_page_vma(mm);
        if (page === null) throw new Error('no memory');
        yield* folio_lock(page);
        copy_highpage(page, vmf.page);
        args.dst![0] = migrate_pfn(page);
        args.dst![1] = migrate_pfn(vmf.page); // the bug
        yield* migrate_vma_pages(args);
        yield* migrate_vma_finalize(args);
        return 0;
      };
    }
    return yield* read32(mm, a);
  }).w.findings.map((f) => `${f.kind} ${f.place}`);
}

describe('migrate_vma_finalize and the fault page as a destination', () => {
  it('a migrate_to_ram that passes its own fault page as another entry\'s dst is a WARN finding', () => {
    const found = faultBack(true);
    expect(found).toContain('warn migrate:fault-page-as-dst');
    expect(found.filter((k) => k.startsWith('exception'))).toEqual([]);
  });
  it("the reference driver's migrate_to_ram raises nothing", () => {
    expect(faultBack(false)).toEqual([]);
  });
});
