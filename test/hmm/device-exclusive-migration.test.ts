/**
 * Migration and splitting meeting a device-exclusive entry, per generation:
 * - migrate_vma_collect skips it in both (migrate_vma_collect_pmd migrates only device-private
 *   non-present entries): not collected, the entry and the device's access stay;
 * - a THP split (try_to_migrate + remove_migration_ptes) since v6.15 takes the entry like a
 *   mapping and maps the page again read-only, clean and old, under its CLEAR; in v5.14–v6.14
 *   the uncounted entry's reference makes can_split_folio fail, and the entry stays.
 * (Reclaim's try_to_unmap is in device-exclusive.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { EAGAIN } from '../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { setKernelContract } from '../../src/locking/version.js';
import { MmuNotifier, mmu_notifier_register } from '../../src/notifier/classic.js';
import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_MIGRATE } from '../../src/notifier/events.js';
import type { MmuNotifierRange } from '../../src/notifier/range.js';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { folio_lock, folio_unlock } from '../../src/mm/folio-lock.ts';
import { PG_ANON_EXCLUSIVE, PG_LOCKED } from '../../src/mm/frame-flags.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { split_folio } from '../../src/mm/split.ts';
import { pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { isDeviceExclusiveEntry, pteDirty, ptePfn, ptePresent, pteWrite, pteYoung } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { make_device_exclusive, make_device_exclusive_range } from '../../src/hmm/device-exclusive.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_PFN_MIGRATE, MIGRATE_VMA_SELECT_SYSTEM } from '../../src/hmm/migrate-pfn.ts';
import type { World } from '../../src/sim/world.js';
import { consistency, kinds, run1 } from '../mm/helpers.ts';

const P = 4096;
const H = 2 * 1024 * 1024;
const A = 0x40000000; // 2 MiB aligned
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const DEV = { name: 'gpu0' };

/** A classic notifier recording [event, owner, start, end] of each start. */
function* recorder(mm: Mm): Generator<unknown, unknown[][], unknown> {
  const seen: unknown[][] = [];
  const sub = new MmuNotifier(
    {
      *invalidate_range_start(_s, r: MmuNotifierRange) {
        seen.push([r.event, r.owner, r.start, r.end]);
        return 0;
      },
    },
    'recorder',
  );
  yield* mmu_notifier_register(sub, mm);
  return seen;
}

/**
 * Page `addr` (written with 42) made exclusive to DEV under `kernel`'s API, folio unlocked and
 * put again. @returns its pfn.
 */
function* makeExclusive(w: World, mm: Mm, kernel: string, addr: number): Generator<unknown, number, unknown> {
  void w;
  yield* write32(mm, addr, 42);
  yield* mmap_read_lock(mm);
  let pfn: number;
  if (kernel === 'v5.14') {
    const pages: (number | null)[] = [];
    yield* make_device_exclusive_range(mm, addr, addr + P, pages, DEV);
    pfn = pages[0]!;
  } else {
    pfn = yield* make_device_exclusive(mm, addr, DEV, { folio: -1 });
  }
  yield* mmap_read_unlock(mm);
  yield* folio_unlock(pfn);
  mm.sys.putPage(pfn);
  return pfn;
}

describe('migrate_vma_collect meets a device-exclusive entry', () => {
  for (const kernel of ['v5.14', 'v6.15']) {
    it(`${kernel}: it is not collected (only device-private entries are); the entry, its page and the data stay`, () => {
      const { value, w } = run1(function* (w) {
        setKernelContract(w, kernel);
        const mm = mm_create(w);
        yield* sys_mmap(mm, A, 2 * P, RW, ANON | MAP_FIXED);
        yield* write32(mm, A + P, 7);
        const pfn = yield* makeExclusive(w, mm, kernel, A);
        const seen = yield* recorder(mm);
        yield* mmap_read_lock(mm);
        const args = new MigrateVma({ vma: find_vma(mm, A), start: A, end: A + 2 * P, src: [0, 0], dst: [0, 0], pgmap_owner: 'owner', flags: MIGRATE_VMA_SELECT_SYSTEM });
        const r = yield* migrate_vma_setup(args);
        const collected = [(args.src![0]! & MIGRATE_PFN_MIGRATE) !== 0, (args.src![1]! & MIGRATE_PFN_MIGRATE) !== 0];
        const locked = mm.sys.frames.testFlags(pfn, PG_LOCKED);
        args.dst![1] = 0; // no destination: the other page is restored
        yield* migrate_vma_pages(args);
        yield* migrate_vma_finalize(args);
        yield* mmap_read_unlock(mm);
        const stillExclusive = isDeviceExclusiveEntry(mm.pt.get(A)) && ptePfn(mm.pt.get(A)) === pfn;
        return { r, collected, locked, stillExclusive, migrate: seen.filter((e) => e[0] === MMU_NOTIFY_MIGRATE).length, v: yield* read32(mm, A), inconsistent: consistency(w) };
      });
      expect(value).toEqual({ r: 0, collected: [false, true], locked: false, stillExclusive: true, migrate: 1, v: 42, inconsistent: [] });
      expect(kinds(w)).toEqual([]);
    });
  }
});

describe('a THP split meets a device-exclusive entry on one of its pages', () => {
  it('v6.15: the split takes the entry like a mapping and maps the page again read-only, clean and old, under its CLEAR; the page stays exclusive to the mm, so a write reuses it', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w, { thp: 'always' });
      yield* sys_mmap(mm, A, H, RW, ANON | MAP_FIXED);
      yield* write32(mm, A, 1); // one huge PMD
      const pfn = yield* makeExclusive(w, mm, 'v6.15', A + 5 * P); // splits the PMD, not the folio
      const f = mm.sys.frames;
      const head = f.folioHead(pfn);
      const before = { compound: f.folioOrder(head) > 0, exclusive: isDeviceExclusiveEntry(mm.pt.get(A + 5 * P)) };
      const seen = yield* recorder(mm);
      f.get(head);
      yield* folio_lock(head);
      const r = yield* split_folio(mm.sys, head);
      yield* folio_unlock(head);
      mm.sys.putPage(head);
      const pte = mm.pt.get(A + 5 * P);
      const after = {
        r,
        present: ptePresent(pte) && ptePfn(pte) === pfn,
        write: pteWrite(pte),
        dirty: pteDirty(pte),
        young: pteYoung(pte),
        anonExclusive: f.testFlags(pfn, PG_ANON_EXCLUSIVE),
      };
      const clear = seen.some((e) => e[0] === MMU_NOTIFY_CLEAR && e[1] === null && (e[2] as number) <= A + 5 * P && (e[3] as number) > A + 5 * P);
      const v = yield* read32(mm, A + 5 * P);
      yield* write32(mm, A + 5 * P, 43);
      return { before, after, clear, v, reused: ptePfn(mm.pt.get(A + 5 * P)) === pfn, inconsistent: consistency(w) };
    });
    expect(value).toEqual({
      before: { compound: true, exclusive: true },
      after: { r: 0, present: true, write: false, dirty: false, young: false, anonExclusive: true },
      clear: true,
      v: 42,
      reused: true,
      inconsistent: [],
    });
    expect(kinds(w)).toEqual([]);
  });

  it('v6.15, a page of the folio pinned: can_split_folio fails before anything is unmapped, so the entry stays', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w, { thp: 'always' });
      yield* sys_mmap(mm, A, H, RW, ANON | MAP_FIXED);
      yield* write32(mm, A, 1);
      const pfn = yield* makeExclusive(w, mm, 'v6.15', A + 5 * P);
      const pinned = yield* pin_user_page(mm, A + 7 * P, false);
      const f = mm.sys.frames;
      const head = f.folioHead(pfn);
      f.get(head);
      yield* folio_lock(head);
      const r = yield* split_folio(mm.sys, head);
      yield* folio_unlock(head);
      mm.sys.putPage(head);
      const exclusive = isDeviceExclusiveEntry(mm.pt.get(A + 5 * P));
      unpin_user_page(w, pinned);
      return { r, exclusive, inconsistent: consistency(w) };
    });
    expect(value).toEqual({ r: -EAGAIN, exclusive: true, inconsistent: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('v5.14: the entry holds a reference the mapcount does not count, so the split fails (-EAGAIN) and the entry stays', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v5.14');
      const mm = mm_create(w, { thp: 'always' });
      yield* sys_mmap(mm, A, H, RW, ANON | MAP_FIXED);
      yield* write32(mm, A, 1);
      const pfn = yield* makeExclusive(w, mm, 'v5.14', A + 5 * P);
      const f = mm.sys.frames;
      const head = f.folioHead(pfn);
      f.get(head);
      yield* folio_lock(head);
      const r = yield* split_folio(mm.sys, head);
      yield* folio_unlock(head);
      mm.sys.putPage(head);
      return { r, compound: f.folioOrder(head) > 0, exclusive: isDeviceExclusiveEntry(mm.pt.get(A + 5 * P)), inconsistent: consistency(w) };
    });
    expect(value).toEqual({ r: -EAGAIN, compound: true, exclusive: true, inconsistent: [] });
    expect(kinds(w)).toEqual([]);
  });
});
