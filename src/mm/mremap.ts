/**
 * mremap (mm/mremap.c), with the mmap lock held for write: shrink in place, grow in place when
 * the next addresses are free, or move.
 *
 * A move makes the new VMA first (keeping the old page offsets and anon object, so the moved
 * pages stay findable by reclaim), then moves the entries under one UNMAP invalidation over the
 * old range, taking the old and the new split PTL together (the second one nested), then unmaps
 * the old range, which raises UNMAP over it a second time with nothing left to zap, as the
 * kernel's do_vmi_munmap after move_vma does:
 *
 *     insert new VMA ── start(UNMAP old) ── move PTEs old -> new ── end ── munmap(old)
 */
import { mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { spin_lock, spin_lock_nested, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_UNMAP } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { PAGE_SIZE, PMD_SIZE, TASK_SIZE, pageAlignUp } from './constants.ts';
import { EFAULT, EINTR, EINVAL, ENOMEM } from './mm-errno.ts';
import { move_huge_range } from './huge-pmd-ops.ts';
import type { Mm } from './mm-struct.ts';
import { do_munmap } from './mmap.ts';
import { KIND_MASK_ANY, PTE_KIND_BITS, PTE_KIND_PRESENT } from './pte.ts';
import { insertVmaExact, vmaAllocAnnotation } from './vma-ops.ts';
import type { Vma } from './vma.ts';
import { VM_HUGETLB } from './vma-flags.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The mapping may be moved if it cannot grow in place. */
export const MREMAP_MAYMOVE = 1;
/** Move it to exactly `newAddr` (requires MREMAP_MAYMOVE). */
export const MREMAP_FIXED = 2;
/**
 * v5.7+: move the pages but leave the old range mapped, empty (requires MREMAP_MAYMOVE and an
 * unchanged length); an old VMA moved whole loses its anon_vma, so later faults there make new
 * pages of their own.
 */
export const MREMAP_DONTUNMAP = 4;

/**
 * `mremap(oldAddr, oldLen, newLen, flags, newAddr)`. @returns the mapping's new address, or
 * -EINVAL (bad arguments), -EFAULT (the old range is not one mapping), -ENOMEM (cannot grow in
 * place and may not move, or no room).
 */
export function* sys_mremap(mm: Mm, oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): Gen<number> {
  if (mm.killed) return -EINTR;
  if ((flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0) return -EINVAL;
  if ((flags & MREMAP_FIXED) !== 0 && (flags & MREMAP_MAYMOVE) === 0) return -EINVAL;
  if ((flags & MREMAP_DONTUNMAP) !== 0 && ((flags & MREMAP_MAYMOVE) === 0 || oldLen !== newLen)) return -EINVAL;
  if (!Number.isSafeInteger(oldAddr) || oldAddr < 0 || oldAddr % PAGE_SIZE !== 0) return -EINVAL;
  if (!Number.isSafeInteger(oldLen) || oldLen <= 0 || !Number.isSafeInteger(newLen) || newLen <= 0) return -EINVAL;
  const olen = pageAlignUp(oldLen);
  const nlen = pageAlignUp(newLen);
  if (nlen > TASK_SIZE) return -ENOMEM;
  const fixed = (flags & MREMAP_FIXED) !== 0;
  if (fixed) {
    if (!Number.isSafeInteger(newAddr) || newAddr % PAGE_SIZE !== 0 || newAddr < 0 || newAddr + nlen > TASK_SIZE) return -EINVAL;
    if (newAddr < oldAddr + olen && oldAddr < newAddr + nlen) return -EINVAL;
  }
  yield* mmap_write_lock(mm);
  const ret = yield* mremapLocked(mm, oldAddr, olen, nlen, flags, newAddr);
  yield* mmap_write_unlock(mm);
  return ret;
}

function* mremapLocked(mm: Mm, oldAddr: number, olen: number, nlen: number, flags: number, newAddr: number): Gen<number> {
  const vma = mm.vmas.find(oldAddr);
  if (vma === undefined || oldAddr + olen > vma.end) return -EFAULT;
  if ((vma.flags & VM_HUGETLB) !== 0) return -EINVAL; // vma_to_resize refuses hugetlb (before v6.0)
  if ((flags & MREMAP_FIXED) !== 0) {
    yield* do_munmap(mm, newAddr, newAddr + nlen);
    let len = olen;
    if (nlen < olen) {
      yield* do_munmap(mm, oldAddr + nlen, oldAddr + olen);
      len = nlen;
    }
    const v = mm.vmas.find(oldAddr);
    if (v === undefined) return -EFAULT;
    return yield* moveVma(mm, v, oldAddr, len, newAddr, nlen, (flags & MREMAP_DONTUNMAP) !== 0);
  }
  if ((flags & MREMAP_DONTUNMAP) !== 0) {
    const to = mm.vmas.findGap(nlen);
    if (to < 0) return -ENOMEM;
    return yield* moveVma(mm, vma, oldAddr, olen, to, nlen, true);
  }
  if (nlen <= olen) {
    if (nlen < olen) yield* do_munmap(mm, oldAddr + nlen, oldAddr + olen);
    return oldAddr;
  }
  const oldEnd = oldAddr + olen;
  if (vma.end === oldEnd && oldAddr + nlen <= TASK_SIZE && mm.vmas.findIntersection(oldEnd, oldAddr + nlen) === undefined) {
    insertVmaExact(mm.vmas, { start: oldEnd, end: oldAddr + nlen, flags: vma.flags, file: vma.file, pgoff: vma.pgoffAt(oldEnd), anonVma: vma.anonVma });
    return oldAddr;
  }
  if ((flags & MREMAP_MAYMOVE) === 0) return -ENOMEM;
  const to = mm.vmas.findGap(nlen);
  if (to < 0) return -ENOMEM;
  return yield* moveVma(mm, vma, oldAddr, olen, to, nlen);
}

/**
 * `move_vma`: [oldAddr, +olen) of `vma` to [newAddr, +nlen); with `dontUnmap` the old range stays
 * mapped and empty. @returns newAddr.
 */
function* moveVma(mm: Mm, vma: Vma, oldAddr: number, olen: number, newAddr: number, nlen: number, dontUnmap = false): Gen<number> {
  vmaAllocAnnotation();
  insertVmaExact(mm.vmas, { start: newAddr, end: newAddr + nlen, flags: vma.flags, file: vma.file, pgoff: vma.pgoffAt(oldAddr), anonVma: vma.anonVma });
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, oldAddr, oldAddr + olen);
  yield* mmu_notifier_invalidate_range_start(range);
  yield* movePageTables(mm, oldAddr, newAddr, Math.min(olen, nlen));
  yield* mmu_notifier_invalidate_range_end(range);
  if (dontUnmap) {
    if (vma.start === oldAddr && vma.end === oldAddr + olen) vma.anonVma = -1; // unlink_anon_vmas
    return newAddr;
  }
  yield* do_munmap(mm, oldAddr, oldAddr + olen);
  return newAddr;
}

/** `move_ptes` over [from, from+len) -> [to, ...), one source 2 MiB region at a time. */
function* movePageTables(mm: Mm, from: number, to: number, len: number): Gen<void> {
  const pt = mm.pt;
  const end = from + len;
  if (pt.hugePmdCount !== 0) yield* move_huge_range(mm, from, to, len);
  let addr = pt.nextEntry(from, end, KIND_MASK_ANY);
  while (addr >= 0) {
    const base = addr - (addr % PMD_SIZE);
    const stop = Math.min(end, base + PMD_SIZE);
    const oldPtl = mm.ptl(addr);
    yield* spin_lock(oldPtl);
    for (let a = pt.nextEntry(Math.max(from, base), stop, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, stop, KIND_MASK_ANY)) {
      const dst = to + (a - from);
      const newPtl = mm.ptl(dst);
      // The destination may lie in another region: its lock nests inside the source's.
      if (newPtl !== oldPtl) yield* spin_lock_nested(newPtl, 1);
      const pte = pt.clear(a);
      pt.set(dst, pte);
      if ((pte & PTE_KIND_BITS) === PTE_KIND_PRESENT) cpu_mapping_changed(mm, a);
      if (newPtl !== oldPtl) yield* spin_unlock(newPtl);
    }
    yield* spin_unlock(oldPtl);
    addr = stop < end ? pt.nextEntry(stop, end, KIND_MASK_ANY) : -1;
  }
}
