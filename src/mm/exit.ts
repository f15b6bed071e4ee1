/**
 * Process exit's address-space teardown: `mmput`, and `exit_mmap` when the last user goes
 * (kernel/fork.c, mm/mmap.c):
 *
 *     mmu_notifier_release(mm)                 classic release callbacks, interval RELEASE
 *     mmap_read_lock
 *       start(UNMAP [0, ULONG_MAX)) ── zap every VMA ── end
 *     mmap_read_unlock
 *     flag OOM-skip (the OOM reaper leaves it alone from here)
 *     mmap_write_lock
 *       free page tables, remove the VMAs, free the pages
 *     mmap_write_unlock
 *
 * The OOM reaper may be reaping the same mm at the same time (both hold the mmap lock for
 * read); each PTE is zapped once, under its lock, by whichever gets there first.
 */
import { mmap_read_lock, mmap_read_unlock, mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { mmu_notifier_release } from '../notifier/teardown.js';
import { MMU_NOTIFY_UNMAP, ULONG_MAX } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { FindingKind } from '../sim/finding.js';
import { Access } from '../sim/point.js';
import { VA_SPACE_SIZE } from './constants.ts';
import { mmdrop, type Mm } from './mm-struct.ts';
import { freePgtables } from './mmap.ts';
import { TlbGather, zapRange } from './zap.ts';
import { unmap_hugepage_range } from './hugetlb.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * `mmput(mm)`: drops a user at a point naming the mm; the task that drops the last one tears the
 * address space down, there and then.
 */
export function* mmput(mm: Mm): Gen<void> {
  yield mm.world.point(`mmput ${mm.name}`, mm, Access.Write);
  if (mm.mm_users <= 0) {
    mm.world.report(FindingKind.Warn, `WARNING: mmput(${mm.name}) with mm_users already 0`, `mmput:${mm.name}`);
    return;
  }
  mm.mm_users--;
  if (mm.mm_users > 0) return;
  yield* exit_mmap(mm);
  mmdrop(mm);
}

/** The exit of the task owning `mm`: `mmput` of its reference. */
export function sys_exit(mm: Mm): Gen<void> {
  return mmput(mm);
}

/** `exit_mmap`: tears down every mapping of an mm that has no users left. */
export function* exit_mmap(mm: Mm): Gen<void> {
  mm.exiting = true;
  yield* mmu_notifier_release(mm);
  yield* mmap_read_lock(mm);
  const vmas = mm.vmas.toArray();
  const tlb = new TlbGather(mm.sys);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, 0, ULONG_MAX);
  yield* mmu_notifier_invalidate_range_start(range);
  for (const v of vmas) {
    if (v.hpageShift !== 0) yield* unmap_hugepage_range(mm, v, v.start, v.end, tlb);
    else yield* zapRange(mm, v.start, v.end, tlb);
  }
  yield* mmu_notifier_invalidate_range_end(range);
  yield* mmap_read_unlock(mm);
  mm.oomSkip = true;
  yield* mmap_write_lock(mm);
  const all = mm.vmas.toArray();
  if (all.length > 0) mm.vmas.removeRange(all[0]!.start, all[all.length - 1]!.end);
  yield* freePgtables(mm, all);
  mm.pt.freeEmptyTables(0, VA_SPACE_SIZE);
  tlb.finish();
  mm.dead = true;
  const i = mm.sys.mms.indexOf(mm);
  if (i >= 0) mm.sys.mms.splice(i, 1);
  yield* mmap_write_unlock(mm);
}
