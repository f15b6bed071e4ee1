/**
 * hugetlb (mm/hugetlb.c): MAP_HUGETLB mappings of 2 MiB and 1 GiB pages from a per-run pool with
 * reservations. Anonymous hugetlb only (a hugetlbfs file is not modelled); a shared anonymous
 * hugetlb mapping shares its pages with fork children, a private one is copy-on-write.
 *
 * The pool (nr_hugepages per size, set by the run's memory options) is allocated when the run's
 * memory is made and counts against its RAM limit. The pool holds one reference on each of its
 * folios; a folio is free when only that reference is left. Reservations:
 *
 *     mmap          reserve one page per huge page of the mapping (unless MAP_NORESERVE);
 *                   -ENOMEM if free pages minus reserved ones are too few
 *     fault         consume the page's reservation, or take an unreserved free page; none: SIGBUS
 *                   (-EFAULT here)
 *     munmap/exit   give back the reservations of pages never faulted in
 *
 * Faults map a whole huge page by a PMD (2 MiB) or PUD (1 GiB) leaf: writable for a write fault,
 * or any fault on a shared writable mapping. A write to a private page shared with a fork child
 * copies the whole huge page from the pool under a CLEAR invalidation of the huge page
 * (hugetlb_wp). Huge pages are never split.
 *
 * Unmapping (munmap, exit) zaps each leaf under an UNMAP invalidation of its own, nested in the
 * caller's, whose range is widened to 1 GiB alignment where PMD sharing is possible (a shared
 * mapping spanning an aligned 1 GiB), as __unmap_hugepage_range does (v4.20 to v6.6).
 * mprotect raises PROTECTION_VMA over the range, widened the same way (hugetlb_change_protection).
 * MADV_DONTNEED (v5.18+) zaps whole huge pages the same way, inside its CLEAR of the range
 * (huge-page aligned start, end rounded down). Splitting a hugetlb VMA off a huge page boundary
 * (munmap, mprotect) fails with -EINVAL; MADV_FREE, MADV_COLLAPSE and mremap reject hugetlb
 * mappings with -EINVAL.
 */
import { spin_lock, spin_lock_nested, spin_unlock } from '../locking/spinlock.js';
import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_PROTECTION_VMA, MMU_NOTIFY_UNMAP } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import { EFAULT } from '../locking/errno.js';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE } from './constants.ts';
import { FOLIO_HUGETLB } from './compound-frames.ts';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_UPTODATE } from './frame-flags.ts';
import { cpuRangeChanged } from './huge-memory.ts';
import type { MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import { PTE_DIRTY, PTE_KIND_BITS, PTE_KIND_PRESENT, PTE_PROTNONE, PTE_SPECIAL, PTE_WRITE, PTE_YOUNG, pfnPte, ptePfn, type Pte } from './pte.ts';
import { anonVmaPrepare } from './rmap.ts';
import { VM_MAYSHARE, VM_SHARED, VM_WRITE } from './vma-flags.ts';
import { protBits, vmaNoAccess } from './vma-ops.ts';
import type { Vma } from './vma.ts';
import type { TlbGather } from './zap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** mmap flag: back the mapping with huge pages from the hugetlb pool. */
export const MAP_HUGETLB = 0x40000;
/** mmap flag: reserve nothing (faults may fail when the pool is empty). */
export const MAP_NORESERVE = 0x4000;
/** Shift of the log2 page size field in mmap flags. */
export const MAP_HUGE_SHIFT = 26;
/** Mask of the page size field (after shifting). */
export const MAP_HUGE_MASK = 0x3f;
/** 2 MiB huge pages. */
export const MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT;
/** 1 GiB huge pages. */
export const MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT;

/** One pool: the folios of one huge page size. */
export class HugetlbPool {
  /** Every folio of the pool (head pfns). */
  readonly folios: number[] = [];
  /** Reserved pages not yet faulted in. */
  resv = 0;

  constructor(
    readonly sys: MemorySystem,
    /** log2 of the page size in bytes (21 or 30). */
    readonly shift: number,
  ) {}

  /** Bytes per page. */
  get size(): number {
    return 2 ** this.shift;
  }

  /** Grows the pool to `n` pages (nr_hugepages; it never shrinks here). @returns the pages it has. */
  grow(n: number): number {
    const f = this.sys.frames;
    const order = this.shift - 12;
    while (this.folios.length < n) {
      const pfn = f.allocCompound(order, FOLIO_HUGETLB);
      if (pfn < 0) break;
      this.folios.push(pfn);
    }
    return this.folios.length;
  }

  /** Pages with no user (free_huge_pages). */
  get free(): number {
    const f = this.sys.frames;
    let n = 0;
    for (const p of this.folios) if (f.refcount(p) === 1) n++;
    return n;
  }

  /** A free folio, now referenced by the caller, contents cleared; -1 if none. */
  take(): number {
    const f = this.sys.frames;
    for (const p of this.folios) {
      if (f.refcount(p) !== 1) continue;
      f.get(p);
      f.clearFolioContents(p);
      return p;
    }
    return -1;
  }
}

/** The pools of a run, by page shift, with the per-mapping reservations. */
export class HugetlbPools {
  readonly pools = new Map<number, HugetlbPool>();
  /** Reserved huge page indices by owner key (mm id and anon object of the mapping). */
  private readonly resvMaps = new Map<string, Set<number>>();

  constructor(readonly sys: MemorySystem) {}

  /** The pool of pages of 2^shift bytes. */
  pool(shift: number): HugetlbPool {
    let p = this.pools.get(shift);
    if (p === undefined) {
      p = new HugetlbPool(this.sys, shift);
      this.pools.set(shift, p);
    }
    return p;
  }

  /** RAM pages the pools hold (free or not). */
  get pages(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.folios.length * (p.size / PAGE_SIZE);
    return n;
  }

  /** Reservation set of a mapping (created on demand). */
  resvOf(key: string): Set<number> {
    let s = this.resvMaps.get(key);
    if (s === undefined) {
      s = new Set();
      this.resvMaps.set(key, s);
    }
    return s;
  }

  /** The reservation set of a mapping, if it has one. */
  peekResv(key: string): Set<number> | undefined {
    return this.resvMaps.get(key);
  }
}

/** The reservation key of a hugetlb VMA: reservations belong to the mm that mapped it. */
export function resvKey(mm: Mm, vma: Vma): string {
  return `${mm.id}:${vma.anonVma}`;
}

/** Bytes per huge page of a hugetlb VMA. */
export function vmaHugeSize(vma: Vma): number {
  return 2 ** vma.hpageShift;
}

/** Index of the huge page at `addr` in the mapping's object. */
function hugeIndex(vma: Vma, addr: number): number {
  return Math.floor(vma.pgoffAt(addr) / (vmaHugeSize(vma) / PAGE_SIZE));
}

/**
 * The page shift a MAP_HUGETLB mmap asks for: 21 (default) or 30. @returns -1 for a size the
 * model does not have.
 */
export function mmapHugeShift(flags: number): number {
  const s = (flags / 2 ** MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
  if (s === 0) return 21;
  return s === 21 || s === 30 ? s : -1;
}

/**
 * `hugetlb_reserve_pages` for a new mapping [start, end) of `vma` (mmap lock held for write).
 * @returns false if the pool cannot cover it (mmap fails with -ENOMEM).
 */
export function hugetlb_reserve_pages(mm: Mm, vma: Vma, noreserve: boolean): boolean {
  anonVmaPrepare(mm.sys, vma);
  if (noreserve) return true;
  const pool = mm.sys.hugetlb.pool(vma.hpageShift);
  const n = (vma.end - vma.start) / pool.size;
  if (pool.free - pool.resv < n) return false;
  const set = mm.sys.hugetlb.resvOf(resvKey(mm, vma));
  for (let a = vma.start; a < vma.end; a += pool.size) set.add(hugeIndex(vma, a));
  pool.resv += n;
  return true;
}

/** Gives back the reservations of [start, end) of `vma` (hugetlb_vm_op_close / region_del). */
function unreserve(mm: Mm, vma: Vma, start: number, end: number): void {
  const set = mm.sys.hugetlb.peekResv(resvKey(mm, vma));
  if (set === undefined) return;
  const pool = mm.sys.hugetlb.pool(vma.hpageShift);
  for (let a = start; a < end; a += pool.size) {
    if (set.delete(hugeIndex(vma, a))) pool.resv--;
  }
}

/** True if splitting hugetlb VMAs at `start` and `end` would cut a huge page (-EINVAL). */
export function hugetlbBadSplit(mm: Mm, start: number, end: number): boolean {
  for (const a of [start, end]) {
    const v = mm.vmas.find(a);
    if (v !== undefined && v.hpageShift !== 0 && a > v.start && a % vmaHugeSize(v) !== 0) return true;
  }
  return false;
}

function leafOf(mm: Mm, base: number, size: number): Pte {
  return size === PMD_SIZE ? mm.pt.getPmd(base) : mm.pt.getPud(base);
}

function setLeaf(mm: Mm, base: number, size: number, val: Pte): void {
  if (size === PMD_SIZE) mm.pt.setPmd(base, val);
  else mm.pt.setPud(base, val);
}

/** `hugetlb_fault` for `addr` in hugetlb VMA `vma`. @returns 0, or -EFAULT (SIGBUS: the pool is empty). */
export function* hugetlb_fault(mm: Mm, vma: Vma, addr: number, write: boolean): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const size = vmaHugeSize(vma);
  const base = addr - (addr % size);
  const ptl = mm.ptl(base);
  mm.world.touchUndeclared(); // a huge leaf covers regions whose own locks accesses name
  const cur = leafOf(mm, base, size);
  if (cur === 0) {
    // hugetlb_no_page: a page from the pool, the reservation consumed if there is one.
    const pool = sys.hugetlb.pool(vma.hpageShift);
    const set = sys.hugetlb.peekResv(resvKey(mm, vma));
    const idx = hugeIndex(vma, base);
    const reserved = set?.has(idx) ?? false;
    yield sys.world.point('alloc_hugetlb_folio', sys.allocator, Access.Write);
    if (!reserved && pool.free - pool.resv <= 0) return -EFAULT;
    const folio = pool.take();
    if (folio < 0) return -EFAULT;
    yield* spin_lock(ptl);
    if (leafOf(mm, base, size) === 0) {
      if (reserved) {
        set!.delete(idx);
        pool.resv--;
      }
      const writable = (vma.flags & VM_WRITE) !== 0 && (write || (vma.flags & VM_SHARED) !== 0);
      setLeaf(mm, base, size, pfnPte(folio, PTE_YOUNG | (writable ? PTE_WRITE | PTE_DIRTY : 0) | protBits(vma)));
      f.setFlags(folio, PG_ANON | PG_ANON_EXCLUSIVE | PG_UPTODATE);
      f.setOwner(folio, vma.anonVma, vma.pgoffAt(base));
      f.incEntireMapcount(folio);
    } else {
      sys.putPage(folio);
    }
    yield* spin_unlock(ptl);
    return 0;
  }
  if ((cur & PTE_KIND_BITS) !== PTE_KIND_PRESENT || !write || (cur & PTE_WRITE) !== 0) return 0;
  return yield* hugetlb_wp(mm, vma, base, size, cur);
}

/** `hugetlb_wp`: a write to a read-only huge page: reuse it if exclusive, else copy it whole. */
function* hugetlb_wp(mm: Mm, vma: Vma, base: number, size: number, orig: Pte): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const ptl = mm.ptl(base);
  const old = ptePfn(orig);
  yield* spin_lock(ptl);
  if (leafOf(mm, base, size) !== orig) {
    yield* spin_unlock(ptl);
    return 0;
  }
  // The pool's reference and this mapping's: nobody else has it.
  if ((vma.flags & VM_SHARED) !== 0 || f.testFlags(old, PG_ANON_EXCLUSIVE) || f.refcount(old) === 2) {
    if ((vma.flags & VM_SHARED) === 0) f.setFlags(old, PG_ANON_EXCLUSIVE);
    setLeaf(mm, base, size, orig | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
    yield* spin_unlock(ptl);
    return 0;
  }
  yield* spin_unlock(ptl);
  const pool = sys.hugetlb.pool(vma.hpageShift);
  yield sys.world.point('alloc_hugetlb_folio (COW)', sys.allocator, Access.Write);
  // A COW copy has no reservation (the child is not the reservation's owner).
  if (pool.free - pool.resv <= 0) return -EFAULT;
  const copy = pool.take();
  if (copy < 0) return -EFAULT;
  f.get(old);
  f.copyFolioContents(copy, old);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, base, base + size);
  yield* mmu_notifier_invalidate_range_start(range);
  yield* spin_lock(ptl);
  let replaced = false;
  if (leafOf(mm, base, size) === orig) {
    setLeaf(mm, base, size, pfnPte(copy, PTE_WRITE | PTE_DIRTY | PTE_YOUNG | protBits(vma)));
    f.setFlags(copy, PG_ANON | PG_ANON_EXCLUSIVE | PG_UPTODATE);
    f.setOwner(copy, vma.anonVma, vma.pgoffAt(base));
    f.incEntireMapcount(copy);
    f.decEntireMapcount(old);
    cpuRangeChanged(mm, base, size);
    replaced = true;
  }
  yield* spin_unlock(ptl);
  yield* mmu_notifier_invalidate_range_end(range);
  if (!replaced) sys.putPage(copy);
  if (replaced) sys.putPage(old); // the old mapping's reference
  sys.putPage(old); // ours
  return 0;
}

/** `adjust_range_if_pmd_sharing_possible`: widen [start, end) to 1 GiB alignment where sharing could be. */
export function adjustRangeIfPmdSharingPossible(vma: Vma, start: number, end: number): [number, number] {
  const vStart = Math.ceil(vma.start / PUD_SIZE) * PUD_SIZE;
  const vEnd = Math.floor(vma.end / PUD_SIZE) * PUD_SIZE;
  if ((vma.flags & VM_MAYSHARE) === 0 || vma.hpageShift !== 21 || !(vEnd > vStart) || end <= vStart || start >= vEnd) return [start, end];
  return [start > vStart ? Math.floor(start / PUD_SIZE) * PUD_SIZE : start, end < vEnd ? Math.ceil(end / PUD_SIZE) * PUD_SIZE : end];
}

/**
 * `__unmap_hugepage_range` of [start, end) of `vma` (detached or not), inside the caller's
 * invalidation: its own UNMAP over the widened range, each leaf zapped, then (when the range is
 * going away: munmap, exit) the reservations of pages never faulted in given back.
 */
export function* unmap_hugepage_range(mm: Mm, vma: Vma, start: number, end: number, tlb: TlbGather, closing = true): Gen<void> {
  const size = vmaHugeSize(vma);
  const [rs, re] = adjustRangeIfPmdSharingPossible(vma, start, end);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, rs, re);
  yield* mmu_notifier_invalidate_range_start(range);
  for (let b = start - (start % size); b < end; b += size) {
    if (leafOf(mm, b, size) === 0) continue;
    if (size === PUD_SIZE) yield* zap_huge_pud(mm, b, tlb);
    else yield* zapHugetlbPmd(mm, b, tlb);
  }
  yield* mmu_notifier_invalidate_range_end(range);
  if (closing) unreserve(mm, vma, start, end);
}

function* zapHugetlbPmd(mm: Mm, base: number, tlb: TlbGather): Gen<void> {
  mm.world.touchUndeclared();
  const ptl = mm.ptl(base);
  yield* spin_lock(ptl);
  const pmd = mm.pt.clearPmd(base);
  if (pmd !== 0) {
    cpuRangeChanged(mm, base, PMD_SIZE);
    if ((pmd & PTE_KIND_BITS) === PTE_KIND_PRESENT) {
      mm.sys.frames.decEntireMapcount(ptePfn(pmd));
      tlb.add(ptePfn(pmd));
    }
  }
  yield* spin_unlock(ptl);
}

/** Zaps the PUD leaf at `base` (a 1 GiB page): entire mapping and reference dropped. */
export function* zap_huge_pud(mm: Mm, base: number, tlb: TlbGather): Gen<void> {
  mm.world.touchUndeclared(); // a PUD leaf covers 512 regions whose locks accesses name
  const ptl = mm.ptl(base);
  yield* spin_lock(ptl);
  const pud = mm.pt.clearPud(base);
  if (pud !== 0) {
    cpuRangeChanged(mm, base, PUD_SIZE);
    if ((pud & PTE_KIND_BITS) === PTE_KIND_PRESENT && (pud & PTE_SPECIAL) === 0) {
      mm.sys.frames.decEntireMapcount(ptePfn(pud));
      tlb.add(ptePfn(pud));
    }
  }
  yield* spin_unlock(ptl);
}

/** `hugetlb_change_protection` of [start, end) of `vma` to its flags: PROTECTION_VMA over the widened range. */
export function* hugetlb_change_protection(mm: Mm, vma: Vma, start: number, end: number): Gen<void> {
  const size = vmaHugeSize(vma);
  const [rs, re] = adjustRangeIfPmdSharingPossible(vma, start, end);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_PROTECTION_VMA, 0, mm, rs, re);
  yield* mmu_notifier_invalidate_range_start(range);
  const writable = (vma.flags & VM_WRITE) !== 0;
  const noAccess = vmaNoAccess(vma);
  for (let b = start - (start % size); b < end; b += size) {
    const old = leafOf(mm, b, size);
    if ((old & PTE_KIND_BITS) !== PTE_KIND_PRESENT) continue;
    mm.world.touchUndeclared();
    const ptl = mm.ptl(b);
    yield* spin_lock(ptl);
    let p = leafOf(mm, b, size);
    if (!writable && (p & PTE_WRITE) !== 0) p -= PTE_WRITE;
    if (noAccess && (p & PTE_PROTNONE) === 0) p += PTE_PROTNONE;
    if (!noAccess && (p & PTE_PROTNONE) !== 0) p -= PTE_PROTNONE;
    if (p !== leafOf(mm, b, size)) {
      setLeaf(mm, b, size, p);
      cpuRangeChanged(mm, b, size);
    }
    yield* spin_unlock(ptl);
  }
  yield* mmu_notifier_invalidate_range_end(range);
}

/**
 * `copy_hugetlb_page_range` for fork: every leaf shared with the child. A private mapping is
 * copy-on-write: both sides write-protected under one CLEAR invalidation of the parent's VMA.
 */
export function* copy_hugetlb_page_range(dst: Mm, src: Mm, vma: Vma): Gen<void> {
  const f = src.sys.frames;
  const size = vmaHugeSize(vma);
  const cow = (vma.flags & VM_SHARED) === 0 && (vma.flags & 0x20) !== 0; // is_cow_mapping (VM_MAYWRITE)
  let range: MmuNotifierRange | null = null;
  if (cow) {
    range = new MmuNotifierRange();
    mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, src, vma.start, vma.end);
    yield* mmu_notifier_invalidate_range_start(range);
  }
  for (let b = vma.start; b < vma.end; b += size) {
    if (leafOf(src, b, size) === 0) continue;
    src.world.touchUndeclared();
    const dstPtl = dst.ptl(b);
    const srcPtl = src.ptl(b);
    yield* spin_lock(dstPtl);
    yield* spin_lock_nested(srcPtl, 1);
    let e = leafOf(src, b, size);
    if ((e & PTE_KIND_BITS) === PTE_KIND_PRESENT && leafOf(dst, b, size) === 0) {
      const folio = ptePfn(e);
      f.get(folio);
      f.incEntireMapcount(folio);
      if (cow) {
        f.clearFlags(folio, PG_ANON_EXCLUSIVE);
        if ((e & PTE_WRITE) !== 0) {
          e -= PTE_WRITE;
          setLeaf(src, b, size, e);
          cpuRangeChanged(src, b, size);
        }
      }
      setLeaf(dst, b, size, e - (e & PTE_YOUNG));
    }
    yield* spin_unlock(srcPtl);
    yield* spin_unlock(dstPtl);
  }
  if (range !== null) yield* mmu_notifier_invalidate_range_end(range);
}
