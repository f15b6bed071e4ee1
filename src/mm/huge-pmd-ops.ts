/**
 * Huge PMDs under the operations that walk page tables (mm/huge_memory.c's zap_huge_pmd,
 * copy_huge_pmd, change_huge_pmd, move_huge_pmd, madvise_free_huge_pmd). Each runs inside the
 * caller's invalidation, over the huge leaves of the caller's range, before the caller's PTE
 * walk: a PMD wholly inside the range is handled as one entry; one only partly inside is split
 * first (__split_huge_pmd, its CLEAR nested in the caller's) and left to the PTE walk.
 */
import { spin_lock, spin_lock_nested, spin_unlock } from '../locking/spinlock.js';
import { PMD_SIZE, PUD_SIZE } from './constants.ts';
import { PG_DIRTY, PG_LOCKED, PG_ANON_EXCLUSIVE, PG_SWAPBACKED, PG_SWAPCACHE } from './frame-flags.ts';
import { folio_trylock, folio_unlock } from './folio-lock.ts';
import { __split_huge_pmd, cpuRangeChanged } from './huge-memory.ts';
import { zap_huge_pud } from './hugetlb.ts';
import type { Mm } from './mm-struct.ts';
import { PTE_DIRTY, PTE_KIND_BITS, PTE_KIND_DEVICE_PRIVATE, PTE_KIND_MIGRATION, PTE_KIND_PRESENT, PTE_PROTNONE, PTE_SPECIAL, PTE_WRITE, PTE_YOUNG, ptePfn } from './pte.ts';
import { split_folio } from './split.ts';
import type { Vma } from './vma.ts';
import type { TlbGather } from './zap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * The huge leaves of a zap of [start, end) (zap_pmd_range's huge case): a PMD wholly inside is
 * zapped (zap_huge_pmd), one only partly inside is split first (nested invalidation) and its
 * PTEs are left to the PTE zap. The caller holds an invalidation over the range.
 */
export function* zap_huge_range(mm: Mm, start: number, end: number, tlb: TlbGather): Gen<void> {
  const pt = mm.pt;
  for (let b = pt.nextHuge(start, end); b >= 0; ) {
    const pud = pt.getPud(b) !== 0;
    const size = pud ? PUD_SIZE : PMD_SIZE;
    if (pud) yield* zap_huge_pud(mm, b, tlb);
    else if (b >= start && b + PMD_SIZE <= end) yield* zap_huge_pmd(mm, b, tlb);
    else yield* __split_huge_pmd(mm, b);
    b = b + size < end ? pt.nextHuge(b + size, end) : -1;
  }
}

/** `zap_huge_pmd`: clear the PMD at `haddr`, drop the entire mapping, queue the reference. */
export function* zap_huge_pmd(mm: Mm, haddr: number, tlb: TlbGather): Gen<void> {
  const ptl = mm.ptl(haddr);
  yield* spin_lock(ptl);
  const pmd = mm.pt.clearPmd(haddr);
  if (pmd !== 0) {
    cpuRangeChanged(mm, haddr, PMD_SIZE);
    if (((pmd & PTE_KIND_BITS) === PTE_KIND_PRESENT && (pmd & PTE_SPECIAL) === 0) || (pmd & PTE_KIND_BITS) === PTE_KIND_DEVICE_PRIVATE) {
      const folio = ptePfn(pmd);
      mm.sys.frames.decEntireMapcount(folio);
      tlb.add(folio);
    }
  }
  yield* spin_unlock(ptl);
}

/**
 * fork's huge leaves of one VMA (copy_huge_pmd), inside fork's PROTECTION_PAGE invalidation:
 * child and parent share the folio read-only (one more entire mapping and reference, no longer
 * anon-exclusive). A folio that may be pinned (references beyond its mappings) is not shared:
 * the parent's PMD is split (nested invalidation) and the PTE copy takes over, as the kernel
 * does when folio_try_dup_anon_rmap_pmd fails.
 */
export function* copy_huge_range(dst: Mm, src: Mm, vma: Vma, cow: boolean): Gen<void> {
  const pt = src.pt;
  const f = src.sys.frames;
  for (let b = pt.nextHuge(vma.start, vma.end); b >= 0; b = b + PMD_SIZE < vma.end ? pt.nextHuge(b + PMD_SIZE, vma.end) : -1) {
    const pmd0 = pt.getPmd(b);
    if (pmd0 === 0) continue; // a PUD leaf: hugetlb VMAs are not copied here
    if ((pmd0 & PTE_SPECIAL) === 0 && (pmd0 & PTE_KIND_BITS) === PTE_KIND_PRESENT) {
      const folio = ptePfn(pmd0);
      const expected = f.entireMapcount(folio) + f.pteMapcountTotal(folio) + (f.testFlags(folio, PG_SWAPCACHE) ? 1 : 0);
      if (f.refcount(folio) > expected) {
        yield* __split_huge_pmd(src, b);
        continue;
      }
    }
    const dstPtl = dst.ptl(b);
    const srcPtl = src.ptl(b);
    yield* spin_lock(dstPtl);
    yield* spin_lock_nested(srcPtl, 1);
    const pmd = pt.getPmd(b);
    if (pmd !== 0 && dst.pt.pmdNone(b)) {
      let child = pmd - (pmd & PTE_YOUNG);
      // A device-private PMD (v6.19+) is shared like a present one; a migration PMD holds no counts.
      if (((pmd & PTE_SPECIAL) === 0 && (pmd & PTE_KIND_BITS) === PTE_KIND_PRESENT) || (pmd & PTE_KIND_BITS) === PTE_KIND_DEVICE_PRIVATE) {
        const folio = ptePfn(pmd);
        f.get(folio);
        f.incEntireMapcount(folio);
        f.clearFlags(folio, PG_ANON_EXCLUSIVE);
      }
      if (cow && (pmd & PTE_WRITE) !== 0) {
        pt.setPmd(b, pmd - PTE_WRITE);
        cpuRangeChanged(src, b, PMD_SIZE);
        child -= PTE_WRITE;
      }
      dst.pt.setPmd(b, child);
    }
    yield* spin_unlock(srcPtl);
    yield* spin_unlock(dstPtl);
  }
}

/**
 * mprotect's huge leaves in [start, end) (change_huge_pmd), inside its PROTECTION_VMA
 * invalidation: a whole PMD changes in place, a partly covered one is split (nested).
 */
export function* change_huge_range(mm: Mm, start: number, end: number, writable: boolean, noAccess: boolean): Gen<void> {
  const pt = mm.pt;
  for (let b = pt.nextHuge(start, end); b >= 0; b = b + PMD_SIZE < end ? pt.nextHuge(b + PMD_SIZE, end) : -1) {
    if (pt.getPmd(b) === 0) continue;
    if (b < start || b + PMD_SIZE > end) {
      yield* __split_huge_pmd(mm, b);
      continue;
    }
    const ptl = mm.ptl(b);
    yield* spin_lock(ptl);
    const old = pt.getPmd(b);
    const kind = old & PTE_KIND_BITS;
    if ((kind === PTE_KIND_DEVICE_PRIVATE || kind === PTE_KIND_MIGRATION) && !writable && (old & PTE_WRITE) !== 0) {
      // A writable device-private or migration PMD (v6.19+) becomes its readable kind.
      pt.setPmd(b, old - PTE_WRITE);
      cpuRangeChanged(mm, b, PMD_SIZE);
    } else if (kind === PTE_KIND_PRESENT) {
      let p = old;
      if (!writable && (p & PTE_WRITE) !== 0) p -= PTE_WRITE;
      if (noAccess && (p & PTE_PROTNONE) === 0) p += PTE_PROTNONE;
      if (!noAccess && (p & PTE_PROTNONE) !== 0) p -= PTE_PROTNONE;
      if (p !== old) {
        pt.setPmd(b, p);
        cpuRangeChanged(mm, b, PMD_SIZE);
      }
    }
    yield* spin_unlock(ptl);
  }
}

/**
 * mremap's huge leaves of [from, from + len) moving to `to` (move_huge_pmd), inside its UNMAP
 * invalidation of the old range: a whole PMD whose destination is 2 MiB aligned and empty moves
 * as is; any other is split (nested) and its PTEs move with the rest.
 */
export function* move_huge_range(mm: Mm, from: number, to: number, len: number): Gen<void> {
  const pt = mm.pt;
  const end = from + len;
  for (let b = pt.nextHuge(from, end); b >= 0; b = b + PMD_SIZE < end ? pt.nextHuge(b + PMD_SIZE, end) : -1) {
    if (pt.getPmd(b) === 0) continue;
    const dst = to + (b - from);
    if (b < from || b + PMD_SIZE > end || dst % PMD_SIZE !== 0 || !pt.pmdNone(dst)) {
      yield* __split_huge_pmd(mm, b);
      continue;
    }
    const oldPtl = mm.ptl(b);
    const newPtl = mm.ptl(dst);
    yield* spin_lock(oldPtl);
    yield* spin_lock_nested(newPtl, 1);
    const pmd = pt.clearPmd(b);
    if (pmd !== 0) {
      pt.setPmd(dst, pmd);
      cpuRangeChanged(mm, b, PMD_SIZE);
    }
    yield* spin_unlock(newPtl);
    yield* spin_unlock(oldPtl);
  }
}

/**
 * MADV_FREE's huge leaves of [s, e) (madvise_free_huge_pmd), inside its CLEAR invalidation. A
 * whole PMD mapped only here is made clean, old and lazily freeable; a partly covered one has its
 * folio split (split.ts: nested invalidations) so the PTE pass frees only the covered pages.
 */
export function* free_huge_range(mm: Mm, s: number, e: number): Gen<void> {
  const pt = mm.pt;
  const sys = mm.sys;
  const f = sys.frames;
  for (let b = pt.nextHuge(s, e); b >= 0; b = b + PMD_SIZE < e ? pt.nextHuge(b + PMD_SIZE, e) : -1) {
    const pmd = pt.getPmd(b);
    if (pmd === 0 || (pmd & PTE_KIND_BITS) !== PTE_KIND_PRESENT) continue;
    if ((pmd & PTE_SPECIAL) !== 0) {
      if (b < s || b + PMD_SIZE > e) yield* __split_huge_pmd(mm, b);
      continue;
    }
    const folio = ptePfn(pmd);
    if (b < s || b + PMD_SIZE > e) {
      f.get(folio);
      if (yield* folio_trylock(folio)) {
        yield* split_folio(sys, folio);
        yield* folio_unlock(folio);
      }
      sys.putPage(folio);
      continue;
    }
    const ptl = mm.ptl(b);
    yield* spin_lock(ptl);
    const cur = pt.getPmd(b);
    if (cur === pmd && f.folioMapcount(folio) === 1 && !f.testFlags(folio, PG_LOCKED) && !f.testFlags(folio, PG_SWAPCACHE)) {
      f.clearFlags(folio, PG_SWAPBACKED | PG_DIRTY);
      pt.setPmd(b, pmd - (pmd & (PTE_DIRTY | PTE_YOUNG)));
    }
    yield* spin_unlock(ptl);
  }
}
