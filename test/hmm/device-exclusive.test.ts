/**
 * Device-exclusive access (spec §6.1–§6.3): both API generations, the restore paths (CPU fault,
 * fork, zap, reclaim), and the oracles.
 */
import { describe, expect, it } from 'vitest';
import { EOPNOTSUPP, ENOMEM } from '../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { setKernelContract } from '../../src/locking/version.js';
import { MmuNotifier, mmu_notifier_register } from '../../src/notifier/classic.js';
import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_EXCLUSIVE, MMU_NOTIFY_PROTECTION_PAGE } from '../../src/notifier/events.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../../src/notifier/range.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../src/notifier/invalidate.js';
import { TlbGather, zapRange } from '../../src/mm/zap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { folio_lock, folio_unlock } from '../../src/mm/folio-lock.ts';
import { PG_LOCKED } from '../../src/mm/frame-flags.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { file_create } from '../../src/mm/files.ts';
import { reclaim_folio } from '../../src/mm/reclaim.ts';
import { isDeviceExclusiveEntry, isSwapEntry, pteDirty, ptePfn, pteWrite, pteYoung } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { make_device_exclusive, make_device_exclusive_range } from '../../src/hmm/device-exclusive.ts';
import { INV_EXCL, INV_EXCL_FORK, device_atomic_create, device_atomic_map } from '../../src/hmm/device-exclusive-oracle.ts';
import { mm_mapcount_deviations } from '../../src/mm/check.ts';
import { consistency, kinds, run, run1 } from '../mm/helpers.ts';
import type { World } from '../../src/sim/world.js';
import { TaskState } from '../../src/sim/task.js';

const P = 4096;
const A = 0x400000;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const DEV = { name: 'gpu0' };

interface Ev {
  event: number;
  owner: unknown;
  start: number;
}

/** A classic notifier that records each start's event and owner. */
function* recorder(mm: Mm): Generator<unknown, Ev[], unknown> {
  const seen: Ev[] = [];
  const sub = new MmuNotifier(
    {
      *invalidate_range_start(_s, r: MmuNotifierRange) {
        seen.push({ event: r.event, owner: r.owner, start: r.start });
        return 0;
      },
    },
    'recorder',
  );
  yield* mmu_notifier_register(sub, mm);
  return seen;
}

/** A page at A written with 42, then made exclusive (v6.15 API), folio unlocked and put. */
function* exclusivePage(w: World, mm: Mm, keepLocked = false): Generator<unknown, number, unknown> {
  yield* sys_mmap(mm, A, 2 * P, RW, ANON | 0);
  yield* write32(mm, A, 42);
  yield* mmap_read_lock(mm);
  const out = { folio: -1 };
  const pfn = yield* make_device_exclusive(mm, A, DEV, out);
  yield* mmap_read_unlock(mm);
  if (!keepLocked) {
    yield* folio_unlock(out.folio);
    mm.sys.putPage(out.folio);
  }
  void w;
  return pfn;
}

describe('make_device_exclusive (v6.15)', () => {
  it('replaces the PTE with an exclusive entry under an EXCLUSIVE invalidation carrying the owner; the folio comes back locked and referenced; the mapcount is kept', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      yield* sys_mmap(mm, A, P, RW, ANON);
      yield* write32(mm, A, 42);
      const seen = yield* recorder(mm);
      yield* mmap_read_lock(mm);
      const out = { folio: -1 };
      const pfn = yield* make_device_exclusive(mm, A, DEV, out);
      yield* mmap_read_unlock(mm);
      const f = mm.sys.frames;
      const r = { pfn, folio: out.folio, exclusive: isDeviceExclusiveEntry(mm.pt.get(A)), locked: f.testFlags(pfn, PG_LOCKED), refs: f.refcount(pfn), mapcount: f.mapcount(pfn), seen: [...seen] };
      yield* folio_unlock(pfn);
      mm.sys.putPage(pfn);
      return { ...r, inconsistent: consistency(w) };
    });
    expect(value.pfn).toBe(value.folio);
    expect(value).toMatchObject({ exclusive: true, locked: true, refs: 2, mapcount: 1, inconsistent: [] });
    expect(value.seen).toEqual([{ event: MMU_NOTIFY_EXCLUSIVE, owner: DEV, start: A }]);
    expect(kinds(w)).toEqual([]);
  });

  it('a CPU access restores the PTE under an owner-null CLEAR (v6.15; EXCLUSIVE before): old, dirty only if the folio is, writable while the page is exclusive to the mm; the data is intact', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      yield* exclusivePage(w, mm);
      const seen = yield* recorder(mm);
      const v = yield* read32(mm, A);
      const pte = mm.pt.get(A);
      return { v, seen, young: pteYoung(pte), dirty: pteDirty(pte), write: pteWrite(pte), inconsistent: consistency(w) };
    });
    expect(value.v).toBe(42);
    expect(value.seen).toEqual([{ event: MMU_NOTIFY_CLEAR, owner: null, start: A }]);
    // The anonymous page was written (dirty PTE moved into the folio) and is this mm's alone.
    expect(value).toMatchObject({ young: false, dirty: true, write: true, inconsistent: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('a CPU fault on an entry whose folio the driver still holds drops the mmap lock and sleeps until the unlock (so the holder may take the mmap lock meanwhile)', () => {
    const { s, w } = run(
      (w) => {
        setKernelContract(w, 'v6.15');
        return { mm: mm_create(w), log: [] as string[], pfn: -1 };
      },
      {
        *driver(s, w) {
          s.pfn = yield* exclusivePage(w, s.mm, true);
          // Wait until the CPU sleeps on the folio, then look at the mmap lock.
          while (w.tasks[1]!.state !== TaskState.Blocked) yield w.spinPoint('wait for the CPU to block');
          s.log.push(`mmap lock free while the CPU waits: ${s.mm.mmap_lock.readers.length === 0 && s.mm.mmap_lock.writer === null}`);
          yield* folio_unlock(s.pfn);
          s.mm.sys.putPage(s.pfn);
        },
        *cpu(s, w) {
          while (s.pfn < 0) yield w.spinPoint('wait for the device');
          s.log.push(`cpu read ${yield* read32(s.mm, A)}`);
        },
      },
      7,
    );
    expect(kinds(w)).toEqual([]);
    expect(s.log).toContain('mmap lock free while the CPU waits: true');
    expect(s.log).toContain('cpu read 42');
  });

  it('an entry already there (this device or another) is undone by the GUP first: an owner-null restore, then the conversion with the new owner', () => {
    const other = { name: 'gpu1' };
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      yield* exclusivePage(w, mm);
      const seen = yield* recorder(mm);
      yield* mmap_read_lock(mm);
      const out = { folio: -1 };
      const pfn = yield* make_device_exclusive(mm, A, other, out);
      yield* mmap_read_unlock(mm);
      yield* folio_unlock(pfn);
      mm.sys.putPage(pfn);
      return { seen, exclusive: isDeviceExclusiveEntry(mm.pt.get(A)), inconsistent: consistency(w) };
    });
    expect(value.seen).toEqual([
      { event: MMU_NOTIFY_CLEAR, owner: null, start: A },
      { event: MMU_NOTIFY_EXCLUSIVE, owner: other, start: A },
    ]);
    expect(value).toMatchObject({ exclusive: true, inconsistent: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('fork raises no invalidation of its own for the entry: the PROTECTION_PAGE over the VMA covers the restore', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      yield* exclusivePage(w, mm);
      const seen = yield* recorder(mm);
      yield* sys_fork(mm);
      return seen.map((e) => [e.event, e.owner, e.start]);
    });
    expect(value).toEqual([[MMU_NOTIFY_PROTECTION_PAGE, null, A]]);
    expect(kinds(w)).toEqual([]);
  });

  it('the PTE changed under it (zapped while it waited for the folio lock): it ends the invalidation, unlocks and puts the old folio, and retries from the GUP, which faults in a new page', () => {
    const { s, w } = run(
      (w) => {
        setKernelContract(w, 'v6.15');
        return { mm: mm_create(w), old: -1, got: -1, seen: [] as Ev[], oldLocked: true, oldRefs: -1 };
      },
      {
        *holder(s, w) {
          yield* sys_mmap(s.mm, A, P, RW, ANON);
          yield* write32(s.mm, A, 42);
          s.seen = yield* recorder(s.mm);
          const f = s.mm.sys.frames;
          const old = ptePfn(s.mm.pt.get(A));
          f.get(old); // our reference, to lock the folio and look at it after the zap
          yield* mmap_read_lock(s.mm);
          yield* folio_lock(old);
          s.old = old;
          // The driver GUPs the page and sleeps on its lock; meanwhile the page is zapped
          // (as MADV_DONTNEED does, under the mmap read lock both hold).
          while (w.tasks[1]!.state !== TaskState.Blocked) yield w.spinPoint('wait for the driver to block on the folio');
          const range = new MmuNotifierRange();
          mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, s.mm, A, A + P);
          const tlb = new TlbGather(s.mm.sys);
          yield* mmu_notifier_invalidate_range_start(range);
          yield* zapRange(s.mm, A, A + P, tlb);
          yield* mmu_notifier_invalidate_range_end(range);
          tlb.finish();
          yield* folio_unlock(old);
          yield* mmap_read_unlock(s.mm);
          while (s.got < 0) yield w.spinPoint('wait for the driver');
          s.oldLocked = f.testFlags(old, PG_LOCKED);
          s.oldRefs = f.refcount(old);
          s.mm.sys.putPage(old);
        },
        *driver(s, w) {
          while (s.old < 0) yield w.spinPoint('wait for the holder');
          yield* mmap_read_lock(s.mm);
          const out = { folio: -1 };
          s.got = yield* make_device_exclusive(s.mm, A, DEV, out);
          yield* mmap_read_unlock(s.mm);
          yield* folio_unlock(out.folio);
          s.mm.sys.putPage(out.folio);
        },
      },
      3,
    );
    expect(kinds(w)).toEqual([]);
    expect(s.got).toBeGreaterThan(0);
    expect(s.got).not.toBe(s.old);
    expect(isDeviceExclusiveEntry(s.mm.pt.get(A)) && ptePfn(s.mm.pt.get(A)) === s.got).toBe(true);
    // The zap's CLEAR, then EXCLUSIVE with the owner twice: the failed attempt's is a false
    // positive (spec §6.4), raised before the PTE was looked at again.
    expect(s.seen.map((e) => [e.event, e.owner])).toEqual([
      [MMU_NOTIFY_CLEAR, null],
      [MMU_NOTIFY_EXCLUSIVE, DEV],
      [MMU_NOTIFY_EXCLUSIVE, DEV],
    ]);
    // The old folio was unlocked and its GUP reference dropped: only the holder's is left.
    expect({ oldLocked: s.oldLocked, oldRefs: s.oldRefs }).toEqual({ oldLocked: false, oldRefs: 1 });
    expect(consistency(w)).toEqual([]);
  });

  it('-EOPNOTSUPP for a page that is not anonymous; api-unavailable under v5.14', () => {
    const { value } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      const file = file_create(w, P);
      const a = yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE & ~MAP_PRIVATE | 1, file); // MAP_SHARED file
      yield* write32(mm, a, 1);
      yield* mmap_read_lock(mm);
      const r = yield* make_device_exclusive(mm, a, DEV, { folio: -1 });
      yield* mmap_read_unlock(mm);
      return r;
    });
    expect(value).toBe(-EOPNOTSUPP);
    const { w } = run1(function* (w) {
      setKernelContract(w, 'v5.14');
      const mm = mm_create(w);
      yield* sys_mmap(mm, A, P, RW, ANON);
      yield* mmap_read_lock(mm);
      yield* make_device_exclusive(mm, A, DEV, { folio: -1 });
    });
    expect(kinds(w)).toContain('api-unavailable');
  });
});

describe('make_device_exclusive_range (v5.14–v6.14)', () => {
  it('a CPU access restores the entry under an owner-null EXCLUSIVE (CLEAR only from v6.15 on); the entry comes back dirty and writable', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v5.14');
      const mm = mm_create(w);
      yield* sys_mmap(mm, A, P, RW, ANON);
      yield* write32(mm, A, 42);
      yield* mmap_read_lock(mm);
      const pages: (number | null)[] = [];
      yield* make_device_exclusive_range(mm, A, A + P, pages, DEV);
      yield* mmap_read_unlock(mm);
      yield* folio_unlock(pages[0]!);
      mm.sys.putPage(pages[0]!);
      const seen = yield* recorder(mm);
      const v = yield* read32(mm, A);
      const pte = mm.pt.get(A);
      return { v, seen, dirty: pteDirty(pte), write: pteWrite(pte), inconsistent: consistency(w) };
    });
    expect(value).toEqual({ v: 42, seen: [{ event: MMU_NOTIFY_EXCLUSIVE, owner: null, start: A }], dirty: true, write: true, inconsistent: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('converts every mapping of the folio, leaves the entries out of the mapcount (recorded, not asserted), and fills pages[] with null where it failed', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v5.14');
      const mm = mm_create(w);
      yield* sys_mmap(mm, A, 2 * P, RW, ANON);
      yield* write32(mm, A, 42);
      yield* write32(mm, A + P, 43);
      const seen = yield* recorder(mm);
      yield* mmap_read_lock(mm);
      const pages: (number | null)[] = [];
      const n = yield* make_device_exclusive_range(mm, A, A + 2 * P, pages, DEV);
      yield* mmap_read_unlock(mm);
      const f = mm.sys.frames;
      const r = { n, converted: pages.map((p) => p !== null), mapcounts: pages.map((p) => f.mapcount(p!)), entries: [isDeviceExclusiveEntry(mm.pt.get(A)), isDeviceExclusiveEntry(mm.pt.get(A + P))], seen: seen.map((e) => [e.event, e.owner]) };
      for (const p of pages) {
        yield* folio_unlock(p!);
        mm.sys.putPage(p!);
      }
      return { ...r, inconsistent: consistency(w), deviations: mm_mapcount_deviations(mm.sys), values: [yield* read32(mm, A), yield* read32(mm, A + P)], after: consistency(w) };
    });
    expect(value).toMatchObject({ n: 2, converted: [true, true], mapcounts: [0, 0], entries: [true, true], inconsistent: [], values: [42, 43], after: [] });
    expect(value.deviations).toHaveLength(2);
    expect(value.seen).toEqual([
      [MMU_NOTIFY_EXCLUSIVE, DEV],
      [MMU_NOTIFY_EXCLUSIVE, DEV],
    ]);
    expect(kinds(w)).toEqual([]);
  });
});

describe('fork meets a device-exclusive entry', () => {
  for (const kernel of ['v5.14', 'v6.15']) {
    it(`${kernel}: folio unlocked: the parent's PTE is restored and copied COW; the child has no exclusive entry`, () => {
      const { value, w } = run1(function* (w) {
        setKernelContract(w, kernel);
        const mm = mm_create(w, { name: 'parent' });
        if (kernel === 'v6.15') yield* exclusivePage(w, mm);
        else {
          yield* sys_mmap(mm, A, 2 * P, RW, ANON);
          yield* write32(mm, A, 42);
          yield* mmap_read_lock(mm);
          const pages: (number | null)[] = [];
          yield* make_device_exclusive_range(mm, A, A + P, pages, DEV);
          yield* mmap_read_unlock(mm);
          yield* folio_unlock(pages[0]!);
          mm.sys.putPage(pages[0]!);
        }
        const child = (yield* sys_fork(mm)) as Mm;
        return { parent: isDeviceExclusiveEntry(mm.pt.get(A)), child: isDeviceExclusiveEntry(child.pt.get(A)), shared: ptePfn(mm.pt.get(A)) === ptePfn(child.pt.get(A)), childReads: yield* read32(child, A), inconsistent: consistency(w) };
      });
      expect(value).toEqual({ parent: false, child: false, shared: true, childReads: 42, inconsistent: [] });
      expect(kinds(w)).toEqual([]);
    });

    it(`${kernel}: folio locked by the device: fork fails with -ENOMEM (no wait, no retry) and leaves the parent as it was`, () => {
      const { s, w } = run(
        (w) => {
          setKernelContract(w, kernel);
          return { mm: mm_create(w, { name: 'parent' }), pfn: -1, forked: false, out: {} as Record<string, unknown> };
        },
        {
          *device(s, w) {
            const mm = s.mm;
            if (kernel === 'v6.15') s.pfn = yield* exclusivePage(w, mm, true);
            else {
              yield* sys_mmap(mm, A, 2 * P, RW, ANON);
              yield* write32(mm, A, 42);
              yield* mmap_read_lock(mm);
              const pages: (number | null)[] = [];
              yield* make_device_exclusive_range(mm, A, A + P, pages, DEV);
              yield* mmap_read_unlock(mm);
              s.pfn = pages[0]!;
            }
            while (!s.forked) yield w.spinPoint('device programs until the fork is over');
            yield* folio_unlock(s.pfn);
            mm.sys.putPage(s.pfn);
          },
          *forker(s, w) {
            while (s.pfn < 0) yield w.spinPoint('wait for the device');
            const mms = s.mm.sys.mms.length;
            const r = yield* sys_fork(s.mm);
            s.out = { r, exclusive: isDeviceExclusiveEntry(s.mm.pt.get(A)), mmsAfter: s.mm.sys.mms.length - mms };
            s.forked = true;
          },
        },
      );
      expect(s.out).toEqual({ r: -ENOMEM, exclusive: true, mmsAfter: 0 });
      expect(consistency(w)).toEqual([]);
      expect(kinds(w)).toEqual([]);
    });
  }
});

describe('zap and reclaim', () => {
  it('munmap drops the entry and its reference under the UNMAP invalidation', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      yield* exclusivePage(w, mm);
      yield* sys_munmap(mm, A, 2 * P);
      return { ram: mm.sys.frames.ramInUse, inconsistent: consistency(w) };
    });
    expect(value).toEqual({ ram: 0, inconsistent: [] });
    expect(kinds(w)).toEqual([]);
  });

  it('v6.15: reclaim unmaps an exclusive entry to swap under its CLEAR invalidation; v5.14: the walk misses it and the folio stays', () => {
    for (const [kernel, freed] of [
      ['v6.15', true],
      ['v5.14', false],
    ] as const) {
      const { value, w } = run1(function* (w) {
        setKernelContract(w, kernel);
        const mm = mm_create(w, { swapPages: 4 });
        yield* sys_mmap(mm, A, P, RW, ANON);
        yield* write32(mm, A, 42);
        yield* mmap_read_lock(mm);
        let pfn: number;
        if (kernel === 'v6.15') pfn = yield* make_device_exclusive(mm, A, DEV, { folio: -1 });
        else {
          const pages: (number | null)[] = [];
          yield* make_device_exclusive_range(mm, A, A + P, pages, DEV);
          pfn = pages[0]!;
        }
        yield* mmap_read_unlock(mm);
        yield* folio_unlock(pfn);
        mm.sys.putPage(pfn);
        const ok = yield* reclaim_folio(mm.sys, pfn);
        return { ok, swapped: isSwapEntry(mm.pt.get(A)), read: yield* read32(mm, A), inconsistent: consistency(w) };
      });
      expect(value).toEqual({ ok: freed, swapped: freed, read: 42, inconsistent: [] });
      expect(kinds(w)).toEqual([]);
    }
  });
});

describe('INV-EXCL and INV-EXCL-FORK', () => {
  it('atomic access without an exclusive entry, and atomic access outliving its entry, are inv-excl', () => {
    const { w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      const pfn = yield* exclusivePage(w, mm);
      const dev = device_atomic_create(mm, 'gpu0');
      device_atomic_map(dev, A, pfn); // fine: the entry is there
      yield* read32(mm, A); // nobody revokes it: the restore meets the atomic mapping
      device_atomic_map(dev, A + P, pfn); // no entry there at all
    });
    expect(w.findings.map((f) => f.kind)).toEqual([INV_EXCL, INV_EXCL]);
    expect(w.findings[0]!.message).toMatch(/still has atomic access .* when the device-exclusive entry goes away/);
  });

  it('an exclusive entry in an mm nobody made one in is inv-excl-fork', () => {
    const { w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      yield* exclusivePage(w, mm);
      const other = mm_create(w, { name: 'other' });
      yield* sys_mmap(other, A, P, RW, ANON);
      yield* write32(other, A, 1);
      other.pt.set(A, mm.pt.get(A)); // what a fork copying the entry verbatim would leave
    });
    for (const h of w.endOfRunChecks) h();
    expect(w.findings.map((f) => f.kind)).toContain(INV_EXCL_FORK);
  });
});

describe('mprotect over an exclusive entry', () => {
  for (const kernel of ['v5.14', 'v6.15']) {
    it(`${kernel}: removing PROT_WRITE ${kernel === 'v5.14' ? 'makes the entry readable' : 'leaves the one entry type as it is'}; the restored PTE is read-only either way`, () => {
      const { value, w } = run1(function* (w) {
        setKernelContract(w, kernel);
        const mm = mm_create(w);
        yield* sys_mmap(mm, A, P, RW, ANON);
        yield* write32(mm, A, 42);
        yield* mmap_read_lock(mm);
        let pfn: number;
        if (kernel === 'v6.15') pfn = yield* make_device_exclusive(mm, A, DEV, { folio: -1 });
        else {
          const pages: (number | null)[] = [];
          yield* make_device_exclusive_range(mm, A, A + P, pages, DEV);
          pfn = pages[0]!;
        }
        yield* mmap_read_unlock(mm);
        yield* folio_unlock(pfn);
        mm.sys.putPage(pfn);
        yield* sys_mprotect(mm, A, P, PROT_READ);
        const entryWritable = pteWrite(mm.pt.get(A));
        const v = yield* read32(mm, A);
        return { entryWritable, v, restoredWritable: pteWrite(mm.pt.get(A)), inconsistent: consistency(w) };
      });
      expect(value).toEqual({ entryWritable: kernel !== 'v5.14', v: 42, restoredWritable: false, inconsistent: [] });
      expect(kinds(w)).toEqual([]);
    });
  }
});
