/** hmm_range_fault, spec §4.3 case by case, against the kernel's results. */
import { describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, EPERM, EBUSY } from '../../src/locking/errno.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { VM_IO } from '../../src/mm/vma-flags.ts';
import { PTE_SPECIAL, PTE_WRITE, isMigrationEntry, makeReadableMigrationEntry, makeWritableDeviceExclusiveEntry, pfnPte, ptePfn, ptePresent } from '../../src/mm/pte.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_VMA_SELECT_SYSTEM, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import {
  HMM_PFN_ERROR,
  HMM_PFN_REQ_FAULT,
  HMM_PFN_REQ_WRITE,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  HMM_PFN_DMA_MAPPED,
  hmm_pfn_decode,
  hmm_pfn_encode,
  hmm_pfn_to_map_order,
  hmm_pfn_to_page,
} from '../../src/hmm/hmm-pfn.ts';
import { HmmRange } from '../../src/hmm/range.ts';
import { hmm_range_fault } from '../../src/hmm/hmm-range-fault.ts';
import { MmuIntervalNotifier, mmu_interval_read_begin } from '../../src/notifier/interval.js';
import { kinds, run, run1 } from '../mm/helpers.ts';
import { P, plainNotifier, snapshot } from './helpers.ts';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('hmm_pfn words (§4.2)', () => {
  it('encode and decode are lossless, with the kernel bit positions', () => {
    expect(HMM_PFN_VALID).toBe(1n << 63n);
    expect(HMM_PFN_WRITE).toBe(1n << 62n);
    expect(HMM_PFN_ERROR).toBe(1n << 61n);
    const f = { pfn: 123456, valid: true, write: true, error: false, order: 9, sticky: HMM_PFN_DMA_MAPPED };
    const w = hmm_pfn_encode(f);
    expect(hmm_pfn_decode(w)).toEqual(f);
    expect(hmm_pfn_to_page(w)).toBe(123456);
    expect(hmm_pfn_to_map_order(w)).toBe(9);
  });
});

describe('hmm_range_fault (§4.3)', () => {
  it('snapshots present pages (VALID, WRITE as the PTE), none entries as 0, without faulting', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 3 * P, RW, ANON);
      yield* write32(mm, a, 1);
      yield* read32(mm, a + P); // zero page, read-only
      const r = yield* snapshot(mm, sub, a, a + 3 * P);
      return { r, pfn0: ptePfn(mm.pt.get(a)), third: mm.pt.get(a + 2 * P) };
    });
    const d = [...value.r.pfns].map(hmm_pfn_decode);
    expect(value.r.ret).toBe(0);
    expect(d[0]).toMatchObject({ pfn: value.pfn0, valid: true, write: true, order: 0 });
    expect(d[1]).toMatchObject({ pfn: 0, valid: true, write: false }); // the zero page
    expect(value.r.pfns[2]).toBe(0n);
    expect(value.third).toBe(0); // not faulted
    expect(kinds(w)).toEqual([]);
  });

  it('REQ_FAULT faults holes and none entries in; REQ_WRITE breaks COW of the zero page', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 4 * P, RW, ANON);
      yield* read32(mm, a);
      const r = yield* snapshot(mm, sub, a, a + 4 * P, { default_flags: HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE });
      return r;
    });
    expect(value.ret).toBe(0);
    for (const x of value.pfns) expect(hmm_pfn_decode(x)).toMatchObject({ valid: true, write: true });
    expect(new Set([...value.pfns].map(hmm_pfn_to_page)).size).toBe(4);
  });

  it('a hole (no page table) that needs a fault is faulted in as a whole, as hmm_vma_walk_hole does', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      return yield* snapshot(mm, sub, a, a + 2 * P, { inputs: [0n, HMM_PFN_REQ_FAULT], pfn_flags_mask: HMM_PFN_REQ_FAULT });
    });
    expect(value.ret).toBe(0);
    expect((value.pfns[0]! & HMM_PFN_VALID) !== 0n).toBe(true);
  });

  it('REQ_WRITE without REQ_FAULT is ignored; per-page requests count only through pfn_flags_mask', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 3 * P, RW, ANON);
      yield* write32(mm, a + 2 * P, 1); // a page table exists: pages, not a hole, are walked
      const r1 = yield* snapshot(mm, sub, a, a + 2 * P, { default_flags: HMM_PFN_REQ_WRITE });
      const r2 = yield* snapshot(mm, sub, a, a + 2 * P, { inputs: [HMM_PFN_REQ_FAULT, 0n] }); // mask 0: ignored
      const r3 = yield* snapshot(mm, sub, a, a + 2 * P, { inputs: [0n, HMM_PFN_REQ_FAULT], pfn_flags_mask: HMM_PFN_REQ_FAULT });
      return [r1, r2, r3];
    });
    expect(value[0]!.ret).toBe(0);
    expect([...value[0]!.pfns]).toEqual([0n, 0n]);
    expect([...value[1]!.pfns]).toEqual([0n, 0n]);
    expect(value[2]!.ret).toBe(0);
    expect(value[2]!.pfns[0]).toBe(0n);
    expect((value[2]!.pfns[1]! & HMM_PFN_VALID) !== 0n).toBe(true);
  });

  it('no VMA: ERROR for a snapshot, -EFAULT when a fault is required', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 3 * P, RW, ANON);
      yield* sys_munmap(mm, a + P, P);
      const s = yield* snapshot(mm, sub, a, a + 3 * P);
      const f = yield* snapshot(mm, sub, a, a + 3 * P, { default_flags: HMM_PFN_REQ_FAULT });
      return { s, f };
    });
    expect(value.s.ret).toBe(0);
    expect(value.s.pfns[1]).toBe(HMM_PFN_ERROR);
    expect(value.f.ret).toBe(-EFAULT);
  });

  it('an unreadable VMA: ERROR, or -EFAULT; a write to a read-only VMA: -EPERM', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* sys_mprotect(mm, a, P, PROT_NONE);
      yield* sys_mprotect(mm, a + P, P, PROT_READ);
      const s = yield* snapshot(mm, sub, a, a + P);
      const f = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT });
      const r = yield* snapshot(mm, sub, a + P, a + 2 * P, { default_flags: HMM_PFN_REQ_FAULT });
      const wr = yield* snapshot(mm, sub, a + P, a + 2 * P, { default_flags: HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE });
      return { s, f, r, wr };
    });
    expect(value.s.pfns[0]).toBe(HMM_PFN_ERROR);
    expect(value.f.ret).toBe(-EFAULT);
    expect(value.r.ret).toBe(0);
    expect(hmm_pfn_decode(value.r.pfns[0]!)).toMatchObject({ valid: true, write: false });
    expect(value.wr.ret).toBe(-EPERM);
  });

  it('an I/O VMA: ERROR for a snapshot', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      mm.vmas.find(a)!.flags |= VM_IO;
      return yield* snapshot(mm, sub, a, a + P);
    });
    expect(value.pfns[0]).toBe(HMM_PFN_ERROR);
  });

  it('a swap entry: 0 for a snapshot, swapped in when a fault is required', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w, { memoryLimitPages: 1 });
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* write32(mm, a, 7);
      yield* write32(mm, a + P, 8); // pushes the first page to swap
      const s = yield* snapshot(mm, sub, a, a + P);
      const f = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT });
      return { s, f, v: mm.sys.frames.read32(hmm_pfn_to_page(f.pfns[0]!), 0) };
    });
    expect(value.s.pfns[0]).toBe(0n);
    expect(value.f.ret).toBe(0);
    expect(value.v).toBe(7);
  });

  it('a migration entry: 0 for a snapshot (nothing waits)', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 1);
      const pfn = ptePfn(mm.pt.get(a));
      const saved = mm.pt.get(a);
      mm.pt.set(a, makeReadableMigrationEntry(pfn));
      const s = yield* snapshot(mm, sub, a, a + P);
      mm.pt.set(a, saved);
      return s;
    });
    expect(value.ret).toBe(0);
    expect(value.pfns[0]).toBe(0n);
  });

  it('a special PTE with no page behind it (not the zero page): ERROR, or -EFAULT when a fault is required', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      mm.pt.set(a, pfnPte(12345, PTE_SPECIAL | PTE_WRITE));
      const s = yield* snapshot(mm, sub, a, a + P);
      const f = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT });
      mm.pt.clear(a);
      return { s: s.pfns[0], f: f.ret };
    });
    expect(value).toEqual({ s: HMM_PFN_ERROR, f: -EFAULT });
  });

  it('a device-exclusive entry: 0 for a snapshot; with REQ_FAULT the fault restores the page (EXCLUSIVE invalidation) and it is reported', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 6);
      const pfn = ptePfn(mm.pt.get(a));
      mm.pt.set(a, makeWritableDeviceExclusiveEntry(pfn));
      const s = yield* snapshot(mm, sub, a, a + P);
      const f = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE });
      return { pfn, s: s.pfns[0], f: f.ret, page: hmm_pfn_to_page(f.pfns[0]!), present: ptePresent(mm.pt.get(a)) };
    });
    expect(value.s).toBe(0n);
    expect(value.f).toBe(0);
    expect(value.page).toBe(value.pfn);
    expect(value.present).toBe(true);
    expect(kinds(w)).toEqual([]);
  });

  it('a migration entry with REQ_FAULT waits for the migration to end, then reports the new page', () => {
    const { s: value, w } = run(
      (w) => ({ mm: mm_create(w), a: 0, q: w.waitQueue('q'), ret: -1, page: -1, newPage: -2, sub: null as unknown as MmuIntervalNotifier, waited: false }),
      {
        *migrator(s) {
          s.a = yield* sys_mmap(s.mm, 0, P, RW, ANON);
          yield* write32(s.mm, s.a, 1);
          s.sub = yield* plainNotifier(s.mm);
          yield* mmapLock.mmap_read_lock(s.mm);
          const args = new MigrateVma({ vma: find_vma(s.mm, s.a), start: s.a, end: s.a + P, src: [0], dst: [0], flags: MIGRATE_VMA_SELECT_SYSTEM });
          yield* migrate_vma_setup(args);
          s.q.wakeOne();
          yield s.mm.world.point('device walks now', null);
          s.waited = isMigrationEntry(s.mm.pt.get(s.a));
          const d = (yield* alloc_page_vma(s.mm))!;
          yield* folio_lock(d);
          copy_highpage(d, migrate_pfn_to_page(args.src![0]!)!);
          args.dst![0] = migrate_pfn(d);
          s.newPage = d;
          yield* migrate_vma_pages(args);
          yield* migrate_vma_finalize(args);
          yield* mmapLock.mmap_read_unlock(s.mm);
        },
        *device(s) {
          yield s.q.block();
          const r = yield* snapshot(s.mm, s.sub, s.a, s.a + P, { default_flags: HMM_PFN_REQ_FAULT });
          s.ret = r.ret;
          s.page = hmm_pfn_to_page(r.pfns[0]!);
        },
      },
    );
    expect(value.waited).toBe(true);
    expect(value.ret).toBe(0);
    expect(value.page).toBe(value.newPage);
    expect(kinds(w)).toEqual([]);
  });

  it('sticky bits are carried through', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      return yield* snapshot(mm, sub, a, a + P, { inputs: [HMM_PFN_DMA_MAPPED] });
    });
    expect(value.pfns[0]).toBe(HMM_PFN_DMA_MAPPED);
  });

  it('-EINVAL for an empty range; -EBUSY when the sequence moved since read_begin', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      const empty = yield* snapshot(mm, sub, a, a);
      const range = new HmmRange({ notifier: sub, start: a, end: a + P, hmm_pfns: new BigUint64Array(1) });
      range.notifier_seq = yield* mmu_interval_read_begin(sub);
      yield* sys_munmap(mm, a + P, P); // an invalidation of the notifier's interval
      yield* mmapLock.mmap_read_lock(mm);
      const busy = yield* hmm_range_fault(range);
      yield* mmapLock.mmap_read_unlock(mm);
      return { empty: empty.ret, busy };
    });
    expect(value.empty).toBe(-EINVAL);
    expect(value.busy).toBe(-EBUSY);
  });

  it('calling it without the mmap lock is a finding (mmap_assert_locked)', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const sub = yield* plainNotifier(mm);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      return yield* snapshot(mm, sub, a, a + P, { lock: false });
    });
    expect(kinds(w)).toEqual(['warn']);
  });
});

import * as mmapLock from '../../src/locking/mmap-lock.js';
