/**
 * mmap and munmap (mm/mmap.c, mm/vma.c).
 *
 * munmap takes the mmap lock for write and detaches the VMAs in the range (splitting the ones
 * that straddle its ends). Since v4.20 it then downgrades the lock to read: nobody can find the
 * detached VMAs any more, so faults and other readers may run beside the unmap. It unmaps them
 * under one UNMAP invalidation over the whole requested range, holes included, as unmap_vmas
 * does; page tables are freed next, under the rmap locks, and the pages last, after the
 * invalidation ended:
 *
 *     mmap_write_lock
 *     detach VMAs ── mmap_write_downgrade (v4.20+)
 *     start(UNMAP [start, end)) ── zap each VMA's part ── end
 *     free_pgtables (anon_vma / i_mmap locks for write) ── free the pages
 *     mmap_read_unlock (mmap_write_unlock before v4.20)
 *
 * mmap's MAP_FIXED replacement and mremap unmap without downgrading (the caller goes on writing).
 *
 * Shared anonymous memory is shmem: a file of the mapping's size, made at mmap time. A device
 * file's mmap operation (device-file.ts) runs on the new VMA under the write lock.
 */
import { EBADF, EEXIST, EINTR, EINVAL, ENOMEM } from './mm-errno.ts';
import { mmap_read_unlock, mmap_write_downgrade, mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { contractOf } from '../locking/version.js';
import { down_write, up_write } from '../locking/rwsem.js';
import { MMU_NOTIFY_UNMAP } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { MMAP_MIN_ADDR, PAGE_SIZE, TASK_SIZE, VA_SPACE_SIZE, pageAlignUp } from './constants.ts';
import { split_huge_at_boundaries, thp_get_unmapped_area } from './huge-memory.ts';
import { MAP_HUGETLB, MAP_HUGE_MASK, MAP_HUGE_SHIFT, MAP_NORESERVE, hugetlbBadSplit, hugetlb_reserve_pages, mmapHugeShift, unmap_hugepage_range } from './hugetlb.ts';
import type { Mm } from './mm-struct.ts';
import { deviceFileOps } from './device-file.ts';
import { populateRange } from './populate.ts';
import type { RwSemaphore } from '../locking/rwsem.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE, mmapVmFlags, vmaAllocAnnotation } from './vma-ops.ts';
import { VM_DONTEXPAND, VM_HUGETLB, VM_SHARED, VM_WRITE } from './vma-flags.ts';
import type { Vma } from './vma.ts';
import { TlbGather, zapRange } from './zap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

const KNOWN_MAP_FLAGS =
  MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_POPULATE | MAP_FIXED_NOREPLACE | MAP_HUGETLB | MAP_NORESERVE | MAP_HUGE_MASK * 2 ** MAP_HUGE_SHIFT;

/**
 * `mmap(addr, length, prot, flags, file, offset)`: maps anonymous memory (`MAP_ANONYMOUS`, file
 * -1) or file `file` (from `file_create`) at byte offset `offset`.
 * @returns the address of the mapping, or a negative errno (-EINVAL for bad arguments, -ENOMEM
 *   when no room is left, -EEXIST for MAP_FIXED_NOREPLACE over a mapping, -EBADF for an unknown
 *   file, -EINTR once the task was OOM-killed).
 */
export function* sys_mmap(mm: Mm, addr: number, length: number, prot: number, flags: number, file = -1, offset = 0): Gen<number> {
  if (mm.killed) return -EINTR;
  if ((flags - (flags & KNOWN_MAP_FLAGS)) !== 0 || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return -EINVAL;
  const type = flags & (MAP_SHARED | MAP_PRIVATE);
  if (type !== MAP_SHARED && type !== MAP_PRIVATE) return -EINVAL;
  if (!Number.isSafeInteger(length) || length <= 0 || !Number.isSafeInteger(offset) || offset < 0 || offset % PAGE_SIZE !== 0) return -EINVAL;
  const hugetlb = (flags & MAP_HUGETLB) !== 0;
  const hshift = hugetlb ? mmapHugeShift(flags) : 0;
  // hugetlbfs files are not modelled: MAP_HUGETLB is for anonymous memory here.
  if (hshift < 0 || (hugetlb && (flags & MAP_ANONYMOUS) === 0)) return -EINVAL;
  const len = hugetlb ? Math.ceil(length / 2 ** hshift) * 2 ** hshift : pageAlignUp(length);
  if (len > TASK_SIZE) return -ENOMEM;
  const anon = (flags & MAP_ANONYMOUS) !== 0;
  const sys = mm.sys;
  if (!anon && (file < 0 || file >= sys.cache.fileCount)) return -EBADF;
  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed && (!Number.isSafeInteger(addr) || addr % (hugetlb ? 2 ** hshift : PAGE_SIZE) !== 0 || addr < 0)) return -EINVAL;
  if (fixed && addr + len > TASK_SIZE) return -ENOMEM;
  yield* mmap_write_lock(mm);
  let start: number;
  if (fixed) {
    start = addr;
    if (mm.vmas.findIntersection(start, start + len) !== undefined) {
      if (flags & MAP_FIXED_NOREPLACE) {
        yield* mmap_write_unlock(mm);
        return -EEXIST;
      }
      yield* do_munmap(mm, start, start + len);
    }
  } else {
    const hint = addr - (addr % PAGE_SIZE);
    const free = hint >= MMAP_MIN_ADDR && hint + len <= TASK_SIZE && mm.vmas.findIntersection(hint, hint + len) === undefined;
    start = free && !hugetlb ? hint : hugetlb ? alignedGap(mm, len, 2 ** hshift) : anon && type === MAP_PRIVATE ? thp_get_unmapped_area(mm, len) : mm.vmas.findGap(len);
  }
  if (start < 0) {
    yield* mmap_write_unlock(mm);
    return -ENOMEM;
  }
  const vmFlags = mmapVmFlags(prot, flags);
  vmaAllocAnnotation();
  if (hugetlb) {
    // Never merged with a neighbour (VM_DONTEXPAND makes it special), as hugetlbfs mappings.
    const v = mm.vmas.insert({ start, end: start + len, flags: vmFlags | VM_HUGETLB | VM_DONTEXPAND });
    v.hpageShift = hshift;
    if (!hugetlb_reserve_pages(mm, v, (flags & MAP_NORESERVE) !== 0)) {
      mm.vmas.removeRange(start, start + len);
      yield* mmap_write_unlock(mm);
      return -ENOMEM;
    }
  } else if (anon && type === MAP_SHARED) {
    const shm = sys.cache.createFile(len);
    mm.vmas.insert({ start, end: start + len, flags: vmFlags, file: shm, pgoff: 0 });
  } else if (anon) {
    mm.vmas.insert({ start, end: start + len, flags: vmFlags });
  } else {
    const v = mm.vmas.insert({ start, end: start + len, flags: vmFlags, file, pgoff: offset / PAGE_SIZE });
    const fops = deviceFileOps(mm.world, file);
    if (fops !== undefined) {
      // call_mmap: the driver sets up the new VMA; on failure mmap_region unmaps it again.
      const r = yield* fops.mmap(mm, v);
      if (r < 0) {
        yield* do_munmap(mm, start, start + len);
        yield* mmap_write_unlock(mm);
        return r;
      }
    }
  }
  yield* mmap_write_unlock(mm);
  if (flags & MAP_POPULATE) {
    // mm_populate: write-fault private writable mappings, read-fault the rest.
    const ret = yield* populateRange(mm, start, start + len, (vmFlags & (VM_WRITE | VM_SHARED)) === VM_WRITE);
    if (ret === -EINTR) return ret;
  }
  return start;
}

/**
 * `munmap(addr, length)`. @returns 0, or -EINVAL for an unaligned address, a zero length or a
 * range outside user space.
 */
export function* sys_munmap(mm: Mm, addr: number, length: number): Gen<number> {
  if (mm.killed) return -EINTR;
  if (!Number.isSafeInteger(addr) || addr % PAGE_SIZE !== 0 || !Number.isSafeInteger(length) || length <= 0) return -EINVAL;
  const len = pageAlignUp(length);
  if (addr + len > TASK_SIZE) return -EINVAL;
  yield* mmap_write_lock(mm);
  if (hugetlbBadSplit(mm, addr, addr + len)) {
    // A hugetlb VMA cannot be split inside a huge page (hugetlb_vm_op_split).
    yield* mmap_write_unlock(mm);
    return -EINVAL;
  }
  if (!contractOf(mm.world).munmapDowngrade) {
    yield* do_munmap(mm, addr, addr + len);
    yield* mmap_write_unlock(mm);
    return 0;
  }
  const end = addr + len;
  if (mm.vmas.findIntersection(addr, end) === undefined) {
    yield* mmap_write_unlock(mm);
    return 0;
  }
  yield* split_huge_at_boundaries(mm, addr, end);
  const removed = mm.vmas.removeRange(addr, end);
  yield* mmap_write_downgrade(mm);
  yield* unmapRegion(mm, removed, addr, end);
  yield* mmap_read_unlock(mm);
  return 0;
}

/**
 * `do_vmi_munmap` for page-aligned [start, end); the caller holds the mmap lock for write.
 * Nothing mapped there: nothing happens, not even an invalidation.
 */
export function* do_munmap(mm: Mm, start: number, end: number): Gen<void> {
  if (mm.vmas.findIntersection(start, end) === undefined) return;
  yield* split_huge_at_boundaries(mm, start, end);
  const removed = mm.vmas.removeRange(start, end);
  yield* unmapRegion(mm, removed, start, end);
}

/**
 * `unmap_region` for detached VMAs: one UNMAP invalidation over [start, end), zap, free page
 * tables, free pages. Exit passes [0, ULONG_MAX).
 */
export function* unmapRegion(mm: Mm, removed: readonly Vma[], start: number, end: number): Gen<void> {
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, start, end);
  const tlb = new TlbGather(mm.sys);
  yield* mmu_notifier_invalidate_range_start(range);
  for (const v of removed) {
    const s = Math.max(start, v.start);
    const e = Math.min(end, v.end);
    if (v.hpageShift !== 0) yield* unmap_hugepage_range(mm, v, s, e, tlb);
    else yield* zapRange(mm, s, e, tlb);
  }
  yield* mmu_notifier_invalidate_range_end(range);
  yield* freePgtables(mm, removed);
  tlb.finish();
}

/**
 * `free_pgtables`: unlinks each removed VMA from its anon object or file under that rmap lock
 * held for write (unlink_anon_vmas / unlink_file_vma: one lock at a time, which is where the
 * mmap_lock -> anon_vma / i_mmap ordering comes from), then frees the page tables the removed
 * VMAs no longer need (between the neighbouring VMAs, the kernel's floor and ceiling).
 */
export function* freePgtables(mm: Mm, removed: readonly Vma[]): Gen<void> {
  if (removed.length === 0) return;
  let last: RwSemaphore | null = null;
  for (const v of removed) {
    const l = v.anonVma >= 0 ? mm.sys.anonLock(v.anonVma) : v.file >= 0 ? mm.sys.fileLock(v.file) : null;
    if (l === null || l === last) continue;
    // Nothing to undo here (the rmap walk finds VMAs through the VMA sets), but the locking is real.
    yield* down_write(l);
    yield* up_write(l);
    last = l;
  }
  const lo = removed[0]!.start;
  const hi = removed[removed.length - 1]!.end;
  const prev = lastBelow(mm, lo);
  const next = mm.vmas.findNext(hi);
  mm.pt.freeEmptyTables(prev === undefined ? 0 : prev.end, next === undefined ? VA_SPACE_SIZE : next.start);
}

/** The highest gap of `len` bytes starting at a multiple of `align`, or -1. */
function alignedGap(mm: Mm, len: number, align: number): number {
  const g = mm.vmas.findGap(len + align);
  return g < 0 ? -1 : Math.floor((g + align) / align) * align;
}

function lastBelow(mm: Mm, addr: number): Vma | undefined {
  let best: Vma | undefined;
  for (const v of mm.vmas) {
    if (v.end > addr) break;
    best = v;
  }
  return best;
}
