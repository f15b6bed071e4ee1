/**
 * fork's address-space copy (kernel/fork.c dup_mmap, mm/memory.c copy_page_range), holding the
 * parent's mmap lock for write and the child's nested inside it.
 *
 * Every VMA is copied (except VM_DONTCOPY; VM_WIPEONFORK ones come out empty). Page tables are
 * copied only where the child could not refault the same data: VMAs with anonymous pages. For a
 * copy-on-write mapping the copy runs under one PROTECTION_PAGE invalidation over the parent's
 * whole VMA, because the parent's writable entries are write-protected:
 *
 *     start(PROTECTION_PAGE [vm_start, vm_end) of the parent)
 *       per 2 MiB region: child PTL, then parent PTL (nested)
 *         present page:  both share it read-only (refcount and mapcount +1, no longer exclusive)
 *         swap entry:    one more swap reference; the exclusive marker cleared
 *         device-private: shared, read-only in both for a COW mapping
 *         device-exclusive: restored to a present entry first (backing off while the device
 *                           holder keeps the page locked), then copied as present
 *     end
 */
import { mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { down_write_nested, up_write } from '../locking/rwsem.js';
import { spin_lock, spin_lock_nested, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_PROTECTION_PAGE } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { PAGE_SIZE, PMD_SIZE } from './constants.ts';
import { folio_wait_locked } from './folio-lock.ts';
import { PG_ANON_EXCLUSIVE, PG_LOCKED } from './frame-flags.ts';
import { EINTR } from './mm-errno.ts';
import { Mm } from './mm-struct.ts';
import {
  KIND_MASK_ANY,
  PTE_EXCLUSIVE,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_PRESENT,
  PTE_KIND_SWAP,
  PTE_SPECIAL,
  PTE_WRITE,
  PTE_YOUNG,
  PTE_DIRTY,
  pfnPte,
  ptePfn,
} from './pte.ts';
import { copy_huge_range } from './huge-pmd-ops.ts';
import { copy_hugetlb_page_range } from './hugetlb.ts';
import { insertVmaExact, vmaAllocAnnotation } from './vma-ops.ts';
import { VM_DONTCOPY, VM_PFNMAP, VM_MIXEDMAP, VM_WIPEONFORK, isCowMapping } from './vma-flags.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * fork: a new address space that is a copy-on-write copy of `parent`'s.
 * @returns the child (one user), or -EINTR if the parent was OOM-killed.
 */
export function* sys_fork(parent: Mm, childName?: string): Gen<Mm | number> {
  if (parent.killed) return -EINTR;
  yield* mmap_write_lock(parent);
  const child = new Mm(parent.world, parent.sys, childName ?? `${parent.name}-child`);
  yield* down_write_nested(child.mmap_lock, 1);
  for (const vma of parent.vmas.toArray()) {
    if ((vma.flags & VM_DONTCOPY) !== 0) continue;
    const wipe = (vma.flags & VM_WIPEONFORK) !== 0;
    vmaAllocAnnotation();
    const copy = insertVmaExact(child.vmas, {
      start: vma.start,
      end: vma.end,
      flags: vma.flags,
      file: vma.file,
      pgoff: vma.pgoff,
      anonVma: wipe ? -1 : vma.anonVma,
    });
    copy.hpageShift = vma.hpageShift;
    if (wipe) continue;
    if (vma.anonVma < 0 && (vma.flags & (VM_PFNMAP | VM_MIXEDMAP)) === 0) continue; // vma_needs_copy
    yield* copy_page_range(child, parent, vma);
  }
  yield* up_write(child.mmap_lock);
  yield* mmap_write_unlock(parent);
  return child;
}

/** `copy_page_range` of one VMA. */
function* copy_page_range(dst: Mm, src: Mm, vma: Vma): Gen<void> {
  if (vma.hpageShift !== 0) return yield* copy_hugetlb_page_range(dst, src, vma);
  const cow = isCowMapping(vma.flags);
  let range: MmuNotifierRange | null = null;
  if (cow) {
    range = new MmuNotifierRange();
    mmu_notifier_range_init(range, MMU_NOTIFY_PROTECTION_PAGE, 0, src, vma.start, vma.end);
    yield* mmu_notifier_invalidate_range_start(range);
  }
  if (src.pt.hugePmdCount !== 0) yield* copy_huge_range(dst, src, vma, cow);
  const pt = src.pt;
  let addr = pt.nextEntry(vma.start, vma.end, KIND_MASK_ANY);
  while (addr >= 0) {
    const base = addr - (addr % PMD_SIZE);
    const stop = Math.min(vma.end, base + PMD_SIZE);
    const dstPtl = dst.ptl(addr);
    const srcPtl = src.ptl(addr);
    yield* spin_lock(dstPtl);
    yield* spin_lock_nested(srcPtl, 1);
    let busy = -1;
    for (let a = pt.nextEntry(Math.max(vma.start, base), stop, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, stop, KIND_MASK_ANY)) {
      if (dst.pt.get(a) !== 0) continue; // copied on an earlier pass over this region
      if (!copyOne(dst, src, a, cow)) {
        busy = ptePfn(pt.get(a));
        src.sys.frames.get(busy); // keeps the page while we wait for it without the PTLs
        break;
      }
    }
    yield* spin_unlock(srcPtl);
    yield* spin_unlock(dstPtl);
    if (busy >= 0) {
      // A device holds the page of an exclusive entry locked: sleep until it lets go, then redo
      // the region (the kernel spins here; a wait is the same without burning the explorer).
      yield* folio_wait_locked(busy);
      src.sys.putPage(busy);
      continue;
    }
    addr = stop < vma.end ? pt.nextEntry(stop, vma.end, KIND_MASK_ANY) : -1;
  }
  if (range !== null) yield* mmu_notifier_invalidate_range_end(range);
}

/** Copies the entry at `a` (both PTLs held). @returns false if it must be retried later. */
function copyOne(dst: Mm, src: Mm, a: number, cow: boolean): boolean {
  const f = src.sys.frames;
  let pte = src.pt.get(a);
  let kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_DEVICE_EXCLUSIVE) {
    const pfn = ptePfn(pte);
    if (f.testFlags(pfn, PG_LOCKED)) return false;
    // Restore the CPU entry the device-exclusive one replaced (same page, same mapcount).
    pte = pfnPte(pfn, PTE_YOUNG | (pte & PTE_WRITE ? PTE_WRITE | PTE_DIRTY : 0));
    src.pt.set(a, pte);
    kind = PTE_KIND_PRESENT;
  }
  if (kind === PTE_KIND_PRESENT) {
    let child = pte - (pte & PTE_YOUNG);
    if ((pte & PTE_SPECIAL) === 0) {
      const pfn = ptePfn(pte);
      f.get(pfn);
      f.incMapcount(pfn);
      f.clearFlags(pfn, PG_ANON_EXCLUSIVE);
    }
    if (cow && (pte & PTE_WRITE) !== 0) {
      src.pt.set(a, pte - PTE_WRITE);
      cpu_mapping_changed(src, a);
      child -= PTE_WRITE;
    }
    dst.pt.set(a, child);
    return true;
  }
  if (kind === PTE_KIND_SWAP) {
    src.sys.swap.dup(ptePfn(pte));
    if ((pte & PTE_EXCLUSIVE) !== 0) {
      pte -= PTE_EXCLUSIVE;
      src.pt.set(a, pte);
    }
    dst.pt.set(a, pte);
    return true;
  }
  if (kind === PTE_KIND_DEVICE_PRIVATE) {
    const pfn = ptePfn(pte);
    f.get(pfn);
    f.incMapcount(pfn);
    f.clearFlags(pfn, PG_ANON_EXCLUSIVE);
    if (cow && (pte & PTE_WRITE) !== 0) {
      pte -= PTE_WRITE;
      src.pt.set(a, pte);
    }
    dst.pt.set(a, pte);
    return true;
  }
  if (kind === PTE_KIND_MIGRATION) {
    // Writable or readable-exclusive: the parent's entry becomes readable-only too.
    if (cow && (pte & (PTE_WRITE | PTE_EXCLUSIVE)) !== 0) {
      pte -= pte & (PTE_WRITE | PTE_EXCLUSIVE);
      src.pt.set(a, pte);
    }
    dst.pt.set(a, pte - (pte & PTE_EXCLUSIVE));
  }
  return true;
}
