/** Direct reclaim: swap-out through the rmap under CLEAR invalidations, file writeback, kmalloc. */
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL, GFP_NOWAIT, kmalloc } from '../../src/locking/alloc.js';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { file_create, sys_pread32 } from '../../src/mm/files.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { isSwapEntry, ptePresent } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MmuNotifier, mmu_notifier_register } from '../../src/notifier/classic.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { consistency, kinds, recordInvalidations, rng, run1, starts } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('direct reclaim', () => {
  it('swaps the oldest page out under a one-page CLEAR, holding fs_reclaim but no mmap lock, and swaps it back in on access', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { memoryLimitPages: 2 });
      const seen = yield* recordInvalidations(mm);
      const a = yield* sys_mmap(mm, 0, 3 * P, RW, ANON);
      yield* write32(mm, a, 10);
      yield* write32(mm, a + P, 11);
      yield* write32(mm, a + 2 * P, 12); // memory full: reclaim a page to make room
      const out = isSwapEntry(mm.pt.get(a));
      return { seen, out, values: [yield* read32(mm, a), yield* read32(mm, a + P), yield* read32(mm, a + 2 * P)], ram: mm.sys.frames.ramInUse };
    });
    expect(starts(value.seen)[0]).toBe(rng('CLEAR', 0x7fffffffc000, 0x7fffffffd000));
    const first = value.seen.find((s) => s.op === 'start')!;
    expect(first.mmapLock === 'none' || first.mmapLock === 'read').toBe(true); // the fault's own read lock, not reclaim's
    expect(first.fsReclaim).toBe(true);
    expect(value.out).toBe(true);
    expect(value.values).toEqual([10, 11, 12]);
    expect(value.ram).toBe(2);
    expect(kinds(w)).toEqual([]);
  });

  it('unmaps a page shared after fork from both processes (rmap), once per mapping', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w, { name: 'parent' });
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 8);
      const child = (yield* sys_fork(mm)) as Mm;
      const p = yield* recordInvalidations(mm);
      const c = yield* recordInvalidations(child);
      const freed = yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      return { freed, locks: [...p, ...c].filter((x) => x.op === 'start').map((x) => `${x.mmapLock}/${x.fsReclaim}`), p: starts(p), c: starts(c), swapped: [isSwapEntry(mm.pt.get(a)), isSwapEntry(child.pt.get(a))], v: [yield* read32(child, a), yield* read32(mm, a)] };
    });
    expect(value.freed).toBe(1);
    expect(value.p).toEqual([rng('CLEAR', 0x7fffffffe000, 0x7ffffffff000)]);
    expect(value.c).toEqual(value.p);
    // Reclaim through the rmap holds no mmap lock, only fs_reclaim (and the folio and rmap locks).
    expect(value.locks).toEqual(['none/true', 'none/true']);
    expect(value.swapped).toEqual([true, true]);
    expect(value.v).toEqual([8, 8]);
  });

  it('writes dirty file pages back before dropping them', () => {
    const { value, w } = run1(function* (w) {
      const f = file_create(w, P);
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, MAP_SHARED, f);
      yield* write32(mm, a, 99);
      const freed = yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      return { freed, present: ptePresent(mm.pt.get(a)), cached: mm.sys.cache.cachedCount(f), backing: mm.sys.cache.readBacking32(f, 0), reread: yield* sys_pread32(w, f, 0) };
    });
    expect(value).toEqual({ freed: 1, present: false, cached: 0, backing: 99, reread: 99 });
    expect(consistency(w)).toEqual([]);
  });

  it('a GFP_KERNEL kmalloc under a full memory limit reclaims; a GFP_NOWAIT one fails instead', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w, { memoryLimitPages: 1 });
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 1);
      const nowait = yield* kmalloc(64, GFP_NOWAIT);
      const kernel = yield* kmalloc(64, GFP_KERNEL);
      return { nowait, kernel: kernel !== null, swapped: isSwapEntry(mm.pt.get(a)) };
    });
    expect(value).toEqual({ nowait: null, kernel: true, swapped: true });
  });

  it('records fs_reclaim -> notifier -> driver lock, so a lock held across GFP_KERNEL closes a cycle', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const m = new Mutex(w, 'drv');
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 1);
      yield* mmu_notifier_register(
        new MmuNotifier({
          *invalidate_range_start() {
            yield* mutex_lock(m);
            yield* mutex_unlock(m);
            return 0;
          },
        }),
        mm,
      );
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      yield* mutex_lock(m);
      yield* kmalloc(8, GFP_KERNEL);
      yield* mutex_unlock(m);
      return 0;
    });
    expect(kinds(w)).toEqual(['lockdep-circular']);
  });

  it('a notifier that takes the mmap lock closes mmap_lock -> fs_reclaim -> notifier map -> mmap_lock', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const other = mm_create(w, { name: 'other' });
      yield* mmu_notifier_register(
        new MmuNotifier({
          *invalidate_range_start() {
            yield* mmap_read_lock(other);
            yield* mmap_read_unlock(other);
            return 0;
          },
        }),
        mm,
      );
      const a = yield* sys_mmap(mm, 0, P, RW, ANON); // mmap allocates a VMA under mmap_lock
      yield* write32(mm, a, 1);
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      return 0;
    });
    expect(kinds(w)).toEqual(['lockdep-circular']);
  });
});
