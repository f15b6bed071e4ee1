/**
 * migrate announces its LRU work (folio_isolate_lru, the putback of a page it gives up on, and
 * finalize's folio_add_lru) as steps on the object reclaim's isolation names, so the explorer
 * orders them against reclaim.
 */
import { describe, expect, it } from 'vitest';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_VMA_SELECT_SYSTEM, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import { Trace, type TraceRow } from '../../src/sim/trace.js';
import { kinds, run1 } from '../mm/helpers.ts';

const P = 4096;

function steps(rows: TraceRow[], prefix: string): { label: string; object: string | null; access: string }[] {
  return rows.flatMap((r) => ('label' in r && r.label.startsWith(prefix) ? [{ label: r.label, object: r.object, access: r.access }] : []));
}

describe('LRU steps of migrate', () => {
  it('isolate, putback and add_lru are steps on the page allocator, as reclaim isolation is', () => {
    const { value, w } = run1(function* (w) {
      w.trace = new Trace();
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 1);
      yield* write32(mm, a + P, 2);
      yield* sys_fork(mm); // page 0 is shared with the child ...
      const held = ptePfn(mm.pt.get(a));
      mm.sys.frames.get(held); // ... and has a reference nobody accounts for: unmap gives it up
      yield* mmap_read_lock(mm);
      const args = new MigrateVma({ vma: find_vma(mm, a), start: a, end: a + 2 * P, src: [0, 0], dst: [0, 0], pgmap_owner: null, flags: MIGRATE_VMA_SELECT_SYSTEM });
      yield* migrate_vma_setup(args);
      const moving = migrate_pfn_to_page(args.src![1]!)!;
      const d = (yield* alloc_page_vma(mm))!;
      yield* folio_lock(d);
      copy_highpage(d, moving);
      args.dst![1] = migrate_pfn(d);
      yield* migrate_vma_pages(args);
      yield* migrate_vma_finalize(args);
      yield* mmap_read_unlock(mm);
      mm.sys.putPage(held);
      return { held, moving, d };
    });
    const rows = w.trace!.rows();
    const iso = steps(rows, 'isolate pfn');
    expect(iso.map((s) => s.label)).toEqual([`isolate pfn ${value.held} (migrate)`, `isolate pfn ${value.moving} (migrate)`]);
    expect(steps(rows, 'putback pfn').map((s) => s.label)).toEqual([`putback pfn ${value.held} (migrate)`]);
    expect(steps(rows, 'add_lru pfn').map((s) => s.label)).toEqual([`add_lru pfn ${value.d} (migrate)`]);
    for (const s of [...iso, ...steps(rows, 'putback pfn'), ...steps(rows, 'add_lru pfn')]) {
      expect(s.object).toBe('page allocator');
      expect(s.access).toBe('W');
    }
    expect(kinds(w)).toEqual([]);
  });
});
