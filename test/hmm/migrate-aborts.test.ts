/** migrate_vma, §5.3: what is selected, and every abort reason, against the kernel's result. */
import { describe, expect, it } from 'vitest';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { handle_mm_fault } from '../../src/mm/fault.ts';
import { folio_lock, folio_unlock } from '../../src/mm/folio-lock.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { zone_device_page_init } from '../../src/mm/device-private.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { PG_LRU } from '../../src/mm/frame-flags.ts';
import { isDevicePrivateEntry, isMigrationEntry, ptePfn, ptePresent } from '../../src/mm/pte.ts';
import { MMU_NOTIFY_MIGRATE } from '../../src/notifier/events.js';
import { MmuIntervalNotifier, mmu_interval_notifier_insert, mmu_interval_set_seq } from '../../src/notifier/interval.js';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import {
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  migrate_pfn,
  migrate_pfn_to_page,
} from '../../src/hmm/migrate-pfn.ts';
import type { World } from '../../src/sim/world.js';
import { consistency, kinds, run, run1 } from '../mm/helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** setup over [a, a + n pages) of `mm` with `flags`, under the mmap read lock, returning args (lock still held). */
function* setup(mm: Mm, a: number, n: number, flags: number, owner: unknown = 'owner'): Generator<unknown, MigrateVma, unknown> {
  yield* mmap_read_lock(mm);
  const args = new MigrateVma({ vma: find_vma(mm, a), start: a, end: a + n * P, src: new Array(n).fill(0), dst: new Array(n).fill(0), pgmap_owner: owner, flags });
  const r = yield* migrate_vma_setup(args);
  if (r !== 0) throw new Error(`setup returned ${r}`);
  return args;
}

/** Gives every MIGRATE entry a locked system destination with the data copied. */
function* systemDst(mm: Mm, args: MigrateVma): Generator<unknown, void, unknown> {
  for (let i = 0; i < args.npages; i++) {
    if ((args.src![i]! & MIGRATE_PFN_MIGRATE) === 0) continue;
    const d = (yield* alloc_page_vma(mm))!;
    yield* folio_lock(d);
    const s = migrate_pfn_to_page(args.src![i]!);
    if (s !== null) copy_highpage(d, s);
    args.dst![i] = migrate_pfn(d);
  }
}

function* finish(mm: Mm, args: MigrateVma): Generator<unknown, void, unknown> {
  yield* migrate_vma_pages(args);
  yield* migrate_vma_finalize(args);
  yield* mmap_read_unlock(mm);
}

describe('collect (§5.3 step 3)', () => {
  it('selects system pages only with SELECT_SYSTEM; empty entries of an anonymous VMA always; WRITE as the PTE', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 4 * P, RW, ANON);
      yield* write32(mm, a, 1);
      yield* read32(mm, a + P); // zero page
      yield* write32(mm, a + 2 * P, 3);
      const none = yield* setup(mm, a, 4, 0);
      const srcNone = Array.from(none.src as number[]);
      const cpagesNone = none.cpages;
      yield* finish(mm, none);
      const sys = yield* setup(mm, a, 4, MIGRATE_VMA_SELECT_SYSTEM);
      const srcSys = Array.from(sys.src as number[]);
      const migrating = [0, 1, 2, 3].map((i) => isMigrationEntry(mm.pt.get(a + i * P)));
      yield* finish(mm, sys); // no destinations: everything restored
      return { srcNone, cpagesNone, srcSys, cpagesSys: sys.cpages, migrating, restored: ptePresent(mm.pt.get(a)) && ptePresent(mm.pt.get(a + 2 * P)), v: yield* read32(mm, a + 2 * P), c: consistency(w) };
    });
    expect(value.srcNone).toEqual([0, 0, 0, MIGRATE_PFN_MIGRATE]);
    expect(value.cpagesNone).toBe(1);
    expect(value.srcSys.map((x) => x & (MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE))).toEqual([
      MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE,
      MIGRATE_PFN_MIGRATE, // zero page: no page, no WRITE
      MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE,
      MIGRATE_PFN_MIGRATE,
    ]);
    expect(migrate_pfn_to_page(value.srcSys[1]!)).toBe(null);
    expect(migrate_pfn_to_page(value.srcSys[3]!)).toBe(null);
    expect(value.cpagesSys).toBe(4);
    expect(value.migrating).toEqual([true, false, true, false]);
    expect(value.restored).toBe(true);
    expect(value.v).toBe(3);
    expect(value.c).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('selects device-private pages only with SELECT_DEVICE_PRIVATE and the matching owner', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 5);
      yield* dev.migrateToDevice(a, a + P);
      const out: number[] = [];
      for (const [flags, owner] of [[MIGRATE_VMA_SELECT_SYSTEM, dev.owner], [MIGRATE_VMA_SELECT_DEVICE_PRIVATE, 'someone else'], [MIGRATE_VMA_SELECT_DEVICE_PRIVATE, dev.owner]] as const) {
        const args = yield* setup(mm, a, 1, flags, owner);
        out.push(args.src![0]! & (MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE));
        yield* finish(mm, args);
      }
      return { out, still: isDevicePrivateEntry(mm.pt.get(a)), v: yield* read32(mm, a) };
    });
    expect(value.out).toEqual([0, 0, MIGRATE_PFN_MIGRATE | MIGRATE_PFN_WRITE]);
    expect(value.still).toBe(true);
    expect(value.v).toBe(5);
  });

  it('the collect invalidation is MIGRATE, blockable, with the caller\'s owner (mmu_notifier_range_init_owner)', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      const seen: string[] = [];
      const sub = new MmuIntervalNotifier({
        *invalidate(s, r, cur) {
          seen.push(`${r.event === MMU_NOTIFY_MIGRATE ? 'MIGRATE' : r.event} ${String(r.owner)} ${(r.end - r.start) / P}`);
          mmu_interval_set_seq(s, cur);
          return true;
        },
      });
      yield* mmu_interval_notifier_insert(sub, mm, a, 2 * P);
      const args = yield* setup(mm, a, 2, MIGRATE_VMA_SELECT_SYSTEM, 'gpu0');
      yield* systemDst(mm, args);
      yield* finish(mm, args);
      return seen;
    });
    // collect over both pages, then migrate_vma_pages' own MIGRATE for inserting into empty entries
    expect(value).toEqual(['MIGRATE gpu0 2', 'MIGRATE gpu0 2']);
  });

  it('a page someone holds locked is skipped (best effort): src 0, left mapped', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 1);
      const pfn = ptePfn(mm.pt.get(a));
      yield* folio_lock(pfn);
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      const src = args.src![0];
      yield* finish(mm, args);
      yield* folio_unlock(pfn);
      return { src, cpages: args.cpages, present: ptePresent(mm.pt.get(a)) };
    });
    expect(value).toEqual({ src: 0, cpages: 0, present: true });
  });

  it('a page mapped by a forked child too is unmapped from both (try_to_migrate) and migrates for both', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 9);
      const child = (yield* sys_fork(mm)) as Mm;
      yield* dev.migrateToDevice(a, a + P);
      return { both: [isDevicePrivateEntry(mm.pt.get(a)), isDevicePrivateEntry(child.pt.get(a))], v: [yield* read32(child, a), yield* read32(mm, a)], c: consistency(w) };
    });
    expect(value).toEqual({ both: [true, true], v: [9, 9], c: [] });
    expect(kinds(w)).toEqual([]);
  });
});

describe('unmap and pages (§5.3 steps 4 and 5): restores', () => {
  it('a page that cannot be isolated from the LRU is restored: src 0, original PTE back, unlocked', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 1);
      const pfn = ptePfn(mm.pt.get(a));
      mm.sys.frames.clearFlags(pfn, PG_LRU); // someone else has it isolated
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      const src = args.src![0];
      yield* finish(mm, args);
      mm.sys.frames.setFlags(pfn, PG_LRU);
      return { src, cpages: args.cpages, back: ptePfn(mm.pt.get(a)) === pfn && ptePresent(mm.pt.get(a)), c: consistency(w) };
    });
    expect(value).toEqual({ src: 0, cpages: 0, back: true, c: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('no destination: MIGRATE cleared at pages, the source restored at finalize', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 4);
      const pfn = ptePfn(mm.pt.get(a));
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      yield* migrate_vma_pages(args);
      const after = args.src![0]! & MIGRATE_PFN_MIGRATE;
      yield* migrate_vma_finalize(args);
      yield* mmap_read_unlock(mm);
      return { after, back: ptePfn(mm.pt.get(a)) === pfn, v: yield* read32(mm, a) };
    });
    expect(value).toEqual({ after: 0, back: true, v: 4 });
  });

  it('an unexpected reference taken after setup makes migrate_vma_pages refuse (MIGRATE cleared); the destination is freed', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 4);
      const pfn = ptePfn(mm.pt.get(a));
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      yield* systemDst(mm, args);
      const dst = migrate_pfn_to_page(args.dst![0]!)!;
      mm.sys.frames.get(pfn); // a late GUP-style reference
      yield* migrate_vma_pages(args);
      const after = args.src![0]! & MIGRATE_PFN_MIGRATE;
      yield* migrate_vma_finalize(args);
      yield* mmap_read_unlock(mm);
      mm.sys.putPage(pfn);
      return { after, back: ptePfn(mm.pt.get(a)) === pfn, dstFree: mm.sys.frames.isFree(dst), c: consistency(w) };
    });
    expect(value).toEqual({ after: 0, back: true, dstFree: true, c: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('an empty entry a CPU fault filled after setup is not overwritten: the insert aborts', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      yield* systemDst(mm, args);
      yield* handle_mm_fault(mm, find_vma(mm, a)!, a, true); // the racing CPU fault
      const cpu = ptePfn(mm.pt.get(a));
      yield* migrate_vma_pages(args);
      const after = args.src![0]! & MIGRATE_PFN_MIGRATE;
      yield* migrate_vma_finalize(args);
      yield* mmap_read_unlock(mm);
      return { after, kept: ptePfn(mm.pt.get(a)) === cpu, c: consistency(w) };
    });
    expect(value).toEqual({ after: 0, kept: true, c: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('the zero page is replaced by the inserted destination', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* read32(mm, a);
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      yield* systemDst(mm, args);
      const dst = migrate_pfn_to_page(args.dst![0]!);
      yield* finish(mm, args);
      return { mapped: ptePfn(mm.pt.get(a)) === dst, migrate: (args.src![0]! & MIGRATE_PFN_MIGRATE) !== 0 };
    });
    expect(value).toEqual({ mapped: true, migrate: true });
  });

  it('an address space being reaped (MMF_UNSTABLE) refuses the insert', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      yield* systemDst(mm, args);
      mm.unstable = true;
      yield* finish(mm, args);
      mm.unstable = false;
      return { after: args.src![0]! & MIGRATE_PFN_MIGRATE, none: mm.pt.get(a) === 0 };
    });
    expect(value).toEqual({ after: 0, none: true });
  });

  it('a destination that is not locked at migrate_vma_pages is a WARN (INV-M1)', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      const args = yield* setup(mm, a, 1, MIGRATE_VMA_SELECT_SYSTEM);
      const d = (yield* alloc_page_vma(mm))!;
      args.dst![0] = migrate_pfn(d);
      yield* migrate_vma_pages(args);
      yield* folio_lock(d); // finalize unlocks it
      yield* migrate_vma_finalize(args);
      yield* mmap_read_unlock(mm);
      return 0;
    });
    expect(kinds(w)).toEqual(['warn']);
  });
});

describe('CPU faults during a migration (§5.4 and migration entries)', () => {
  interface S {
    mm: Mm;
    dev: HmmMirror;
    a: number;
    q: import('../../src/sim/waitqueue.js').WaitQueue;
    log: string[];
  }
  const base = (w: World): S => {
    const mm = mm_create(w);
    return { mm, dev: new HmmMirror(w, mm, 'correct', 'dmirror', 4), a: 0, q: w.waitQueue('q'), log: [] };
  };

  it('a CPU fault on a migration entry sleeps until finalize unlocks the page, then sees the migrated data', () => {
    const { s, w } = run(base, {
      *migrator(s) {
        s.a = yield* sys_mmap(s.mm, 0, P, RW, ANON);
        yield* write32(s.mm, s.a, 42);
        const args = yield* setup(s.mm, s.a, 1, MIGRATE_VMA_SELECT_SYSTEM);
        s.log.push(`entry is migration: ${String(isMigrationEntry(s.mm.pt.get(s.a)))}`);
        s.q.wakeOne();
        yield s.mm.world.point('let the CPU fault run', null);
        yield* systemDst(s.mm, args);
        s.log.push('finalize');
        yield* finish(s.mm, args);
      },
      *cpu(s) {
        yield s.q.block();
        const v = yield* read32(s.mm, s.a);
        s.log.push(`cpu read ${v}`);
      },
    });
    expect(s.log).toEqual(['entry is migration: true', 'finalize', 'cpu read 42']);
    expect(kinds(w)).toEqual([]);
  });

  it('a CPU fault on a device page the device holds locked waits for the unlock (do_swap_page), then migrates it back', () => {
    const { s, w } = run(base, {
      *device(s) {
        s.a = yield* sys_mmap(s.mm, 0, P, RW, ANON);
        yield* write32(s.mm, s.a, 8);
        yield* s.dev.migrateToDevice(s.a, s.a + P);
        const page = ptePfn(s.mm.pt.get(s.a));
        yield* folio_lock(page); // the device works on the page
        s.q.wakeOne();
        yield s.mm.world.point('device busy', null);
        s.log.push('device unlocks');
        yield* folio_unlock(page);
      },
      *cpu(s) {
        yield s.q.block();
        const v = yield* read32(s.mm, s.a);
        s.log.push(`cpu read ${v}`);
      },
    });
    expect(s.log).toEqual(['device unlocks', 'cpu read 8']);
    expect(kinds(w)).toEqual([]);
  });

  it('zone_device_page_init on a page that is not idle device memory is a Bad-page-state finding', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const pfn = mm.sys.frames.alloc();
      yield* zone_device_page_init(w, pfn);
      mm.sys.putPage(pfn);
      return 0;
    });
    expect(kinds(w)).toEqual(['page-use-after-free']);
  });
});
