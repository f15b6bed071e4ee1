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
 *         present page:  both share it read-only (refcount and mapcount +1, no longer exclusive);
 *                        since v5.9, an anonymous page that may be DMA-pinned (FOLL_PIN) in an
 *                        mm that has pinned pages is copied for the child instead
 *                        (copy_present_page), and the parent keeps its writable PTE; the copy is
 *                        allocated with the PTLs dropped, then the region is redone
 *         swap entry:    one more swap reference; the exclusive marker cleared
 *         device-private: shared, read-only in both for a COW mapping
 *         device-exclusive: try-lock the folio; on success restore the parent's PTE and copy it
 *                        as present; on failure (a device holds the folio locked) the copy
 *                        fails with -EBUSY, which copy_pmd_range turns into -ENOMEM: fork fails
 *                        (no wait, no retry; v5.14 to the v6.15 rework alike)
 *     end
 *
 * A failed copy ends the invalidation, stops copying, and the half-built child is torn down by
 * mmput, as dup_mm does.
 */
import { mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { down_write_nested, up_write } from '../locking/rwsem.js';
import { spin_lock, spin_lock_nested, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_PROTECTION_PAGE } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { PAGE_SIZE, PMD_SIZE } from './constants.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE } from './frame-flags.ts';
import { exclusiveEntriesUncounted, restoreExclusivePte } from './device-exclusive-entry.ts';
import type { World } from '../sim/world.js';
import { mmput } from './exit.ts';
import { alloc_user_page } from './reclaim.ts';
import { addNewAnonPage } from './rmap.ts';
import { protBits } from './vma-ops.ts';
import { contractOf } from '../locking/version.js';
import { EINTR, ENOMEM } from './mm-errno.ts';
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
import { VM_DONTCOPY, VM_PFNMAP, VM_MIXEDMAP, VM_WIPEONFORK, VM_WRITE, isCowMapping } from './vma-flags.ts';
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
    const err = yield* copy_page_range(child, parent, vma);
    if (err < 0) {
      yield* up_write(child.mmap_lock);
      yield* mmap_write_unlock(parent);
      yield* mmput(child);
      return err;
    }
  }
  yield* up_write(child.mmap_lock);
  yield* mmap_write_unlock(parent);
  return child;
}

/** `copy_page_range` of one VMA. @returns 0, or -ENOMEM when the copy failed. */
function* copy_page_range(dst: Mm, src: Mm, vma: Vma): Gen<number> {
  if (vma.hpageShift !== 0) {
    yield* copy_hugetlb_page_range(dst, src, vma);
    return 0;
  }
  const cow = isCowMapping(vma.flags);
  let range: MmuNotifierRange | null = null;
  if (cow) {
    range = new MmuNotifierRange();
    mmu_notifier_range_init(range, MMU_NOTIFY_PROTECTION_PAGE, 0, src, vma.start, vma.end);
    yield* mmu_notifier_invalidate_range_start(range);
  }
  if (src.pt.hugePmdCount !== 0) yield* copy_huge_range(dst, src, vma, cow);
  const pt = src.pt;
  const ctx: CopyContext = { dst, src, vma, dstVma: dst.vmas.find(vma.start)!, cow, copiesPinned: cow && src.hasPinned && contractOf(src.world).forkCopiesPinned, prealloc: -1, brokenCopiesExclusive: src.world.locals.get(BROKEN_FORK_KEY) === true };
  let ret = 0;
  let addr = pt.nextEntry(vma.start, vma.end, KIND_MASK_ANY);
  while (addr >= 0) {
    const base = addr - (addr % PMD_SIZE);
    const stop = Math.min(vma.end, base + PMD_SIZE);
    const dstPtl = dst.ptl(addr);
    const srcPtl = src.ptl(addr);
    yield* spin_lock(dstPtl);
    yield* spin_lock_nested(srcPtl, 1);
    let r = COPIED;
    for (let a = pt.nextEntry(Math.max(vma.start, base), stop, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, stop, KIND_MASK_ANY)) {
      if (dst.pt.get(a) !== 0) continue; // copied on an earlier pass over this region
      r = copyOne(ctx, a);
      if (r !== COPIED) break;
    }
    yield* spin_unlock(srcPtl);
    yield* spin_unlock(dstPtl);
    if (r === BUSY) {
      ret = -ENOMEM;
      break;
    }
    if (r === NEED_PAGE) {
      // copy_present_page needs a page: allocate it without the PTLs, then redo the region.
      const pfn = yield* alloc_user_page(src);
      if (pfn < 0) {
        ret = -ENOMEM;
        break;
      }
      ctx.prealloc = pfn;
      continue;
    }
    addr = stop < vma.end ? pt.nextEntry(stop, vma.end, KIND_MASK_ANY) : -1;
  }
  if (ctx.prealloc >= 0) src.sys.putPage(ctx.prealloc);
  if (range !== null) yield* mmu_notifier_invalidate_range_end(range);
  return ret;
}

/** What one copy step needs: both mms, the parent's and the child's VMA, and a preallocated page. */
interface CopyContext {
  readonly dst: Mm;
  readonly src: Mm;
  readonly vma: Vma;
  readonly dstVma: Vma;
  readonly cow: boolean;
  /** v5.9+, COW mapping, parent has pinned pages: maybe-pinned anonymous pages are copied. */
  readonly copiesPinned: boolean;
  /** A page allocated for copy_present_page, or -1. */
  prealloc: number;
  /** The what-if core that copies device-exclusive entries verbatim (see `whatIfForkCopiesExclusive`). */
  readonly brokenCopiesExclusive: boolean;
}

const BROKEN_FORK_KEY = 'mm.whatIf.forkCopiesExclusive';

/**
 * Makes this run's fork copy device-exclusive entries verbatim instead of restoring them: a
 * deliberately broken core, for showing that the INV-EXCL-FORK oracle catches it (scenarios.md
 * S-EXCL-LAZY-1 B). Never what a kernel does.
 */
export function whatIfForkCopiesExclusive(world: World): void {
  world.locals.set(BROKEN_FORK_KEY, true);
}

/** copyOne results. */
const COPIED = 0;
/** A device holds the folio of an exclusive entry locked (copy_nonpresent_pte's -EBUSY). */
const BUSY = 1;
/** copy_present_page needs a preallocated page (copy_present_pte's -EAGAIN). */
const NEED_PAGE = 2;

/** Copies the entry at `a` (both PTLs held). */
function copyOne(ctx: CopyContext, a: number): number {
  const { dst, src, cow } = ctx;
  const f = src.sys.frames;
  let pte = src.pt.get(a);
  let kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_DEVICE_EXCLUSIVE && ctx.brokenCopiesExclusive) {
    // The deliberately broken core of S-EXCL-LAZY-1 B: the entry copied as it is.
    const pfn = ptePfn(pte);
    f.get(pfn);
    if (!exclusiveEntriesUncounted(src)) f.incMapcount(pfn);
    dst.pt.set(a, pte);
    return COPIED;
  }
  if (kind === PTE_KIND_DEVICE_EXCLUSIVE) {
    // try_restore_exclusive_pte: the bit is taken and dropped inside this one step, so no folio
    // waiter can be queued meanwhile (waiters only queue while it is held).
    const pfn = ptePfn(pte);
    if (!f.trylock(pfn)) return BUSY;
    pte = restoreExclusivePte(src, ctx.vma, a, pte);
    f.unlock(pfn);
    kind = PTE_KIND_PRESENT;
  }
  if (kind === PTE_KIND_PRESENT) {
    const special = (pte & PTE_SPECIAL) !== 0;
    const pfn = ptePfn(pte);
    if (!special && ctx.copiesPinned && f.testFlags(pfn, PG_ANON) && f.maybeDmaPinned(pfn)) {
      // copy_present_page: the child gets its own copy now; the parent's PTE stays as it is.
      if (ctx.prealloc < 0) return NEED_PAGE;
      const copy = ctx.prealloc;
      ctx.prealloc = -1;
      f.copyPage(copy, pfn);
      const bits = PTE_DIRTY | ((ctx.dstVma.flags & VM_WRITE) !== 0 ? PTE_WRITE : 0) | protBits(ctx.dstVma);
      dst.pt.set(a, pfnPte(copy, bits));
      addNewAnonPage(dst.sys, copy, ctx.dstVma, a);
      return COPIED;
    }
    let child = pte - (pte & PTE_YOUNG);
    if (!special) {
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
    return COPIED;
  }
  if (kind === PTE_KIND_SWAP) {
    src.sys.swap.dup(ptePfn(pte));
    if ((pte & PTE_EXCLUSIVE) !== 0) {
      pte -= PTE_EXCLUSIVE;
      src.pt.set(a, pte);
    }
    dst.pt.set(a, pte);
    return COPIED;
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
    return COPIED;
  }
  if (kind === PTE_KIND_MIGRATION) {
    // Writable or readable-exclusive: the parent's entry becomes readable-only too.
    if (cow && (pte & (PTE_WRITE | PTE_EXCLUSIVE)) !== 0) {
      pte -= pte & (PTE_WRITE | PTE_EXCLUSIVE);
      src.pt.set(a, pte);
    }
    dst.pt.set(a, pte - (pte & PTE_EXCLUSIVE));
  }
  return COPIED;
}
