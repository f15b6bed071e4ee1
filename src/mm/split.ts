/**
 * Splitting a compound folio into base pages (split_huge_page / split_folio), for reclaim and
 * for MADV_FREE of part of a huge page.
 *
 * The caller holds the folio lock and a reference. The kernel unmaps the folio from every
 * mapping (try_to_migrate with TTU_SPLIT_HUGE_PMD: a huge PMD is first split under its own CLEAR
 * invalidation, then the PTEs become migration entries under a CLEAR invalidation of the folio's
 * span in that VMA), splits it, and puts the PTEs back. Here the same invalidations are raised in
 * the same order, per mapping:
 *
 *     anon_vma lock (write)
 *       for each VMA that maps part of the folio:
 *         PMD-mapped there?  __split_huge_pmd (CLEAR over the 2 MiB region)
 *         start(CLEAR [folio's first address in the VMA, last + 1)) ... end
 *       references beyond the mappings and the caller's (a pin)?  give up: -EAGAIN
 *       the folio becomes 512 order-0 pages, each holding its own mappings' references
 *     unlock
 *
 * The PTEs keep pointing at the same pages throughout (what the kernel restores), so the model
 * does not pass through migration entries: a concurrent fault sees the page mapped instead of
 * waiting for the split. Noted as a simplification.
 *
 * Device-exclusive entries of the folio, per generation:
 * - v6.15+: try_to_migrate_one takes such an entry like a mapping ("handle device-exclusive
 *   entries correctly in try_to_migrate_one()"): cleared, replaced by a migration entry that is
 *   never writable (the writability test it uses is the device-private one) and neither young nor
 *   dirty, and remove_migration_ptes then maps the page again: a present PTE, read-only, clean and
 *   old, soft-dirty kept, PageAnonExclusive kept (a later write fault reuses the page). So after a
 *   split, or a failed one (remap_page), the entry is gone and the device was told by the CLEAR;
 *   here it is replaced inside that CLEAR.
 * - v5.14–v6.14: the entry holds a reference the mapcount does not count, so can_split_folio's
 *   refcount test fails and the split gives up with the entry in place. (When the walk
 *   did reach such an entry in a large folio, that try_to_migrate_one took it for a present PTE:
 *   the bug the v6.15 series fixed; not modelled.)
 */
import { EAGAIN } from '../locking/errno.js';
import { down_write, up_write } from '../locking/rwsem.js';
import { MMU_NOTIFY_CLEAR } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { PAGE_SIZE, PMD_SIZE } from './constants.ts';
import { PG_ANON, PG_SWAPCACHE, PG_ZERO } from './frame-flags.ts';
import { folio_trylock, folio_unlock } from './folio-lock.ts';
import { __split_huge_pmd, thpStats } from './huge-memory.ts';
import type { MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import { KIND_MASK_PRESENT, PTE_KIND_BITS, PTE_KIND_DEVICE_EXCLUSIVE, PTE_KIND_DEVICE_PRIVATE, PTE_KIND_PRESENT, PTE_SOFT_DIRTY, isDeviceExclusiveEntry, kindMask, pfnPte, ptePfn } from './pte.ts';
import { HPAGE_PMD_NR } from './compound-frames.ts';
import { exclusiveEntriesUncounted, exclusiveEntryGone } from './device-exclusive-entry.ts';
import { protBits } from './vma-ops.ts';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed, page_freed } from '../notifier/coherence.js';
import { indexOffset, rmapLockOf } from './rmap.ts';
import type { Vma } from './vma.ts';
import { page_pgmap } from './device-private.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** One VMA mapping part of a folio: the addresses of its first and last+1 page there. */
export interface FolioMapping {
  readonly mm: Mm;
  readonly vma: Vma;
  readonly start: number;
  readonly end: number;
}

/**
 * Every VMA (of every live mm) whose range covers some page of the folio at `head`, found from
 * the folio's owner and index as rmap_walk does with the folio's whole page-offset range.
 */
export function folioMappings(sys: MemorySystem, head: number): FolioMapping[] {
  const f = sys.frames;
  const owner = f.owner(head);
  const out: FolioMapping[] = [];
  if (owner < 0) return out;
  const anon = f.testFlags(head, PG_ANON);
  const index = f.index(head);
  const nr = f.folioNrPages(head);
  for (const mm of sys.mms) {
    if (mm.dead) continue;
    for (const vma of mm.vmas) {
      if (anon ? vma.anonVma !== owner : vma.file !== owner) continue;
      // Offset of the folio's first page in the VMA, modulo 2^32 (see indexOffset).
      const d = indexOffset(index, vma.pgoff);
      let lo: number;
      let hi: number;
      if (d < vma.pages) {
        lo = d;
        hi = Math.min(vma.pages, d + nr);
      } else if (2 ** 32 - d < nr) {
        // The folio begins below the VMA and reaches into it.
        lo = 0;
        hi = Math.min(vma.pages, nr - (2 ** 32 - d));
      } else continue;
      out.push({ mm, vma, start: vma.start + lo * PAGE_SIZE, end: vma.start + hi * PAGE_SIZE });
    }
  }
  return out;
}

/**
 * What migrate_vma_collect_pmd does with huge pages in [start, end) before it collects base
 * pages (for the whole range before v6.19; from v6.19 for a PMD the migration does not take whole,
 * see hmm/migrate-huge.ts): the huge zero page's PMD is split; a THP, whether
 * PMD- or PTE-mapped, is split into base pages (split_folio, under its lock; a busy or pinned
 * one stays and is skipped by the collection). Runs inside the caller's MIGRATE invalidation, so
 * the splits' CLEARs nest in it.
 */
export function* split_huge_for_migration(mm: Mm, start: number, end: number, own?: { faultPage: number | null; owner: unknown }): Gen<void> {
  const sys = mm.sys;
  const f = sys.frames;
  const pt = mm.pt;
  if (f.compoundInUse === 0 && sys.hugeZero < 0) return;
  // With `own` (device THP migration, v6.19+: migrate_vma_split_folio), device-private folios of
  // that pagemap owner are split too, the fault page's included (its lock moves to the fault page).
  const devices = own !== undefined;
  const faultPage = own?.faultPage ?? null;
  const faultFolio = faultPage === null ? -1 : f.folioHead(faultPage);
  const ours = (pfn: number): boolean => !f.isDevicePrivate(pfn) || (devices && page_pgmap(mm.world, pfn)?.owner === own.owner);
  for (let a = start - (start % PMD_SIZE); a < end; a += PMD_SIZE) {
    const pmd = pt.getPmd(a);
    const kind = pmd & PTE_KIND_BITS;
    let folio = -1;
    if (pmd !== 0 && kind === PTE_KIND_PRESENT) {
      if (f.testFlags(ptePfn(pmd), PG_ZERO)) {
        yield* __split_huge_pmd(mm, a);
        continue;
      }
      folio = ptePfn(pmd);
    } else if (pmd !== 0 && kind === PTE_KIND_DEVICE_PRIVATE && ours(ptePfn(pmd))) {
      folio = ptePfn(pmd);
    } else if (pmd === 0) {
      // A PTE-mapped THP: find a compound page among the PTEs of this region inside the range.
      const mask = devices ? KIND_MASK_PRESENT | kindMask(PTE_KIND_DEVICE_PRIVATE) : KIND_MASK_PRESENT;
      for (let p = pt.nextEntry(Math.max(a, start), Math.min(end, a + PMD_SIZE), mask); p >= 0; p = pt.nextEntry(p + PAGE_SIZE, Math.min(end, a + PMD_SIZE), mask)) {
        const pfn = ptePfn(pt.get(p));
        if (!f.isZeroPfn(pfn) && ours(pfn) && f.isCompound(pfn)) {
          folio = f.folioHead(pfn);
          break;
        }
      }
    }
    if (folio < 0) continue;
    if (folio === faultFolio) {
      // The fault's reference and lock are the caller's; after the split they move to the fault
      // page's own folio (migrate_vma_split_folio).
      yield* split_folio(sys, folio);
      if (faultPage !== null && faultPage !== folio && !f.isCompound(folio)) {
        f.get(faultPage);
        if (yield* folio_trylock(faultPage)) yield* folio_unlock(folio);
        sys.putPage(folio);
      }
    } else {
      f.get(folio);
      if (yield* folio_trylock(folio)) {
        yield* split_folio(sys, folio);
        yield* folio_unlock(folio);
      }
      sys.putPage(folio);
    }
    a -= PMD_SIZE; // the region may hold more compound pages: look again
    if (f.isCompound(folio)) a += PMD_SIZE; // the split failed: move on
  }
}

/**
 * The v6.15 split's try_to_migrate + remove_migration_ptes for the device-exclusive entries of
 * the folio at `head` in one mapping: each becomes a present PTE, read-only, clean and old.
 */
function* remapExclusiveEntries(m: FolioMapping, head: number): Gen<void> {
  const { mm, vma } = m;
  const f = mm.sys.frames;
  const mask = kindMask(PTE_KIND_DEVICE_EXCLUSIVE);
  for (let a = mm.pt.nextEntry(m.start, m.end, mask); a >= 0; a = mm.pt.nextEntry(a + PAGE_SIZE, m.end, mask)) {
    const ptl = mm.ptl(a);
    yield* spin_lock(ptl);
    const pte = mm.pt.get(a);
    const pfn = ptePfn(pte);
    if (isDeviceExclusiveEntry(pte) && f.folioHead(pfn) === head) {
      exclusiveEntryGone(mm, a, pfn);
      mm.pt.set(a, pfnPte(pfn, protBits(vma) | (pte & PTE_SOFT_DIRTY)));
      cpu_mapping_changed(mm, a);
    }
    yield* spin_unlock(ptl);
  }
}

/**
 * `split_folio`: the folio containing `pfn` (locked, and referenced by the caller) becomes base
 * pages. @returns 0, or -EAGAIN when someone else holds a reference (a pin) and it stays whole.
 */
export function* split_folio(sys: MemorySystem, pfn: number): Gen<number> {
  const f = sys.frames;
  const head = f.folioHead(pfn);
  if (f.folioOrder(head) === 0) return 0;
  if (f.testFlags(head, PG_SWAPCACHE)) return -EAGAIN;
  const lock = rmapLockOf(sys, head);
  if (lock !== null) yield* down_write(lock);
  for (const m of folioMappings(sys, head)) {
    for (let b = m.start - (m.start % PMD_SIZE); b < m.end; b += PMD_SIZE) {
      const pmd = m.mm.pt.getPmd(b);
      const kind = pmd & PTE_KIND_BITS;
      if (pmd !== 0 && (kind === PTE_KIND_PRESENT || kind === PTE_KIND_DEVICE_PRIVATE) && f.folioHead(ptePfn(pmd)) === head) yield* __split_huge_pmd(m.mm, b);
    }
    const range = new MmuNotifierRange();
    mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, m.mm, m.start, m.end);
    yield* mmu_notifier_invalidate_range_start(range);
    // The kernel checks can_split_folio before it unmaps anything: with a reference beyond the
    // mappings and the caller's (a pin), nothing is unmapped and the entries stay.
    const noExtraRefs = f.refcount(head) === f.entireMapcount(head) + f.pteMapcountTotal(head) + 1;
    if (!exclusiveEntriesUncounted(m.mm) && noExtraRefs) yield* remapExclusiveEntries(m, head);
    yield* mmu_notifier_invalidate_range_end(range);
  }
  let ret = 0;
  // can_split_folio: only the mappings and the caller may hold references.
  if (f.entireMapcount(head) !== 0 || f.refcount(head) !== f.pteMapcountTotal(head) + 1) ret = -EAGAIN;
  else {
    const device = f.isDevicePrivate(head);
    const freed = f.splitCompound(head);
    if (freed === null) ret = -EAGAIN;
    else {
      if (device) sys.onDeviceFolioSplit?.(head, HPAGE_PMD_NR);
      for (const p of freed) {
        page_freed(sys.world, p);
        if (device) sys.onDevicePageFree?.(p);
      }
      thpStats(sys).splitPage++;
    }
  }
  if (lock !== null) yield* up_write(lock);
  return ret;
}
