/**
 * hmm_range_snapshot and hmm_range_fault(range, block) of v5.2/v5.3: walk the CPU page table of a
 * registered range VMA by VMA, page-table chunk by chunk, and fill `range->pfns`.
 *
 *     do {                                         (one VMA at a time)
 *       range not valid?  snapshot: -EAGAIN;  fault: up_read(mmap_sem), -EAGAIN
 *       find_vma; none, or an I/O / PFN-map VMA: -EFAULT; no VM_READ: -EPERM (pfns cleared)
 *       walk [start, min(range end, VMA end)):
 *         per 2 MiB chunk: no page table -> a hole; else each PTE:
 *           none / present / device-private: report it, or (fault only) fault the rest of the
 *             chunk from here and answer -EBUSY, so the walk resumes from `last`
 *           swap and migration entries: reported as none (v5.2 never faults them)
 *           anything else: ERROR and -EFAULT; a special entry (the zero page too): SPECIAL, -EFAULT
 *       fault only: while the walk says -EBUSY and the range is still valid, walk again from `last`;
 *         an -EBUSY with the range invalidated meanwhile is returned (the mmap lock still held)
 *     } while more VMAs
 *     return the number of pages from range->start up to `last`
 *
 * The caller holds the mmap lock for read. The model's fault handler never asks for a retry
 * (VM_FAULT_RETRY), so the only -EAGAIN is the invalid-range one and `block` changes nothing.
 * A write request on a VMA without VM_WRITE gives -EPERM, as the v5.2 documentation promises.
 */
import { EAGAIN, EBUSY, EFAULT, EINVAL, EPERM } from '../../locking/errno.js';
import { mmap_assert_locked, mmap_read_unlock } from '../../locking/mmap-lock.js';
import { PAGE_SHIFT, PAGE_SIZE, PMD_SIZE } from '../../mm/constants.ts';
import { handle_mm_fault } from '../../mm/fault.ts';
import type { Mm } from '../../mm/mm-struct.ts';
import {
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_NONE,
  PTE_KIND_PRESENT,
  PTE_KIND_SWAP,
  PTE_PROTNONE,
  PTE_SPECIAL,
  PTE_WRITE,
  ptePfn,
} from '../../mm/pte.ts';
import { VM_HUGETLB, VM_IO, VM_MIXEDMAP, VM_PFNMAP, VM_READ, VM_WRITE } from '../../mm/vma-flags.ts';
import type { Vma } from '../../mm/vma.ts';
import { FindingKind } from '../../sim/finding.js';
import { Access } from '../../sim/point.js';
import { currentWorld } from '../../sim/world.js';
import { LEGACY_UNAVAILABLE, requireLegacyHmm } from './kinds.js';
import {
  checkRegistered,
  entryFlags,
  HMM_PFN_DEVICE_PRIVATE,
  HMM_PFN_ERROR,
  HMM_PFN_NONE,
  HMM_PFN_SPECIAL,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  type HmmRange,
} from './range.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** VMAs hmm refuses to walk (the kernel's device_vma). */
const DEVICE_VMA = VM_IO | VM_PFNMAP | VM_MIXEDMAP;

/** `struct hmm_vma_walk`. */
interface VmaWalk {
  readonly range: HmmRange;
  readonly mm: Mm;
  vma: Vma;
  /** Where the walk got to: output below it, input at and above it. */
  last: number;
  /** hmm_range_fault (true) or hmm_range_snapshot (false). */
  fault: boolean;
  block: boolean;
}

/** What the walk decided a page (or a run of pages) needs. */
interface NeedFault {
  fault: boolean;
  write: boolean;
}

function indexOf(range: HmmRange, addr: number): number {
  return (addr - range.start) / PAGE_SIZE;
}

/** `hmm_pfns_clear`: every entry of [addr, end) becomes NONE. */
function pfnsClear(range: HmmRange, addr: number, end: number): void {
  const none = range.values[HMM_PFN_NONE]!;
  for (let i = indexOf(range, addr); addr < end; addr += PAGE_SIZE, i++) range.pfns[i] = none;
}

/** `hmm_pte_need_fault`: what page `request` (an input entry) needs given the CPU's `cpu` flags. */
function pteNeedFault(w: VmaWalk, request: number, cpu: number, out: NeedFault): void {
  if (!w.fault) return;
  const r = w.range;
  const mask = r.pfn_flags_mask === -1 ? -1 : r.pfn_flags_mask;
  const want = (entryFlags(r, request) & mask) | r.default_flags;
  if ((want & r.flags[HMM_PFN_VALID]!) === 0) return;
  if ((cpu & r.flags[HMM_PFN_DEVICE_PRIVATE]!) !== 0) {
    if ((want & r.flags[HMM_PFN_DEVICE_PRIVATE]!) !== 0) {
      out.write = (want & r.flags[HMM_PFN_WRITE]!) !== 0;
      out.fault = true;
    }
    return;
  }
  out.fault = (cpu & r.flags[HMM_PFN_VALID]!) === 0;
  if ((want & r.flags[HMM_PFN_WRITE]!) !== 0 && (cpu & r.flags[HMM_PFN_WRITE]!) === 0) {
    out.write = true;
    out.fault = true;
  }
}

/** `hmm_range_need_fault` over the pages of [addr, end) with the same CPU flags. */
function rangeNeedFault(w: VmaWalk, addr: number, end: number, cpu: number): NeedFault {
  const out = { fault: false, write: false };
  if (!w.fault) return out;
  for (let i = indexOf(w.range, addr); addr < end; addr += PAGE_SIZE, i++) {
    pteNeedFault(w, w.range.pfns[i]!, cpu, out);
    if (out.write) break;
  }
  return out;
}

/** `hmm_vma_do_fault`: -EBUSY after a successful fault (walk again), -EFAULT (entry ERROR), -EPERM. */
function* doFault(w: VmaWalk, addr: number, write: boolean, i: number): Gen<number> {
  if (write && (w.vma.flags & VM_WRITE) === 0) return -EPERM;
  const ret = yield* handle_mm_fault(w.mm, w.vma, addr, write);
  if (ret < 0) {
    w.range.pfns[i] = w.range.values[HMM_PFN_ERROR]!;
    return -EFAULT;
  }
  return -EBUSY;
}

/** `hmm_vma_walk_hole_`: [addr, end) reads as NONE; with a fault needed, fault each page of it. */
function* hole_(w: VmaWalk, addr: number, end: number, need: NeedFault): Gen<number> {
  const r = w.range;
  w.last = addr;
  for (let i = indexOf(r, addr); addr < end; addr += PAGE_SIZE, i++) {
    r.pfns[i] = r.values[HMM_PFN_NONE]!;
    if (need.fault || need.write) {
      const ret = yield* doFault(w, addr, need.write, i);
      if (ret !== -EBUSY) return ret;
    }
  }
  return need.fault || need.write ? -EBUSY : 0;
}

/** `hmm_vma_handle_pte` for the page at `addr` (entry `i`); `end` bounds the chunk a fault covers. */
function* handlePte(w: VmaWalk, addr: number, end: number, i: number): Gen<number> {
  const r = w.range;
  const mm = w.mm;
  // The walk reads PTEs without the page-table lock, one at a time.
  yield mm.world.point(`hmm walk ${mm.name}:0x${addr.toString(16)}`, mm.ptl(addr), Access.Read);
  const pte = mm.pt.get(addr);
  const request = r.pfns[i]!;
  r.pfns[i] = r.values[HMM_PFN_NONE]!;
  const need: NeedFault = { fault: false, write: false };
  const kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_NONE) {
    pteNeedFault(w, request, 0, need);
    return need.fault || need.write ? yield* hole_(w, addr, end, need) : 0;
  }
  if (kind === PTE_KIND_SWAP || kind === PTE_KIND_MIGRATION) {
    // v5.2 tests its fault flags before computing them for these: never faulted, read as none.
    return 0;
  }
  if (kind === PTE_KIND_DEVICE_PRIVATE) {
    let cpu = r.flags[HMM_PFN_VALID]! | r.flags[HMM_PFN_DEVICE_PRIVATE]!;
    if ((pte & PTE_WRITE) !== 0) cpu |= r.flags[HMM_PFN_WRITE]!;
    pteNeedFault(w, request, cpu, need);
    if (need.fault || need.write) return yield* hole_(w, addr, end, need);
    r.pfns[i] = entryWithFlags(r, ptePfn(pte), cpu);
    return 0;
  }
  if (kind !== PTE_KIND_PRESENT) {
    r.pfns[i] = r.values[HMM_PFN_ERROR]!;
    return -EFAULT;
  }
  let cpu = 0;
  if ((pte & PTE_PROTNONE) === 0) cpu = (pte & PTE_WRITE) !== 0 ? r.flags[HMM_PFN_VALID]! | r.flags[HMM_PFN_WRITE]! : r.flags[HMM_PFN_VALID]!;
  pteNeedFault(w, request, cpu, need);
  if (need.fault || need.write) return yield* hole_(w, addr, end, need);
  if ((pte & PTE_SPECIAL) !== 0) {
    // v5.2 has no zero-page exception: the shared zero page reads as SPECIAL too.
    r.pfns[i] = r.values[HMM_PFN_SPECIAL]!;
    return -EFAULT;
  }
  r.pfns[i] = entryWithFlags(r, ptePfn(pte), cpu);
  return 0;
}

/** `hmm_device_entry_from_pfn(range, pfn) | cpu`, with the shift done in arithmetic. */
function entryWithFlags(r: HmmRange, pfn: number, cpu: number): number {
  return pfn * 2 ** r.pfn_shift + (cpu | r.flags[HMM_PFN_VALID]!);
}

/** `hmm_vma_walk_pmd` over one chunk that has a page table: every PTE, `last` follows. */
function* walkChunk(w: VmaWalk, addr: number, end: number): Gen<number> {
  for (let i = indexOf(w.range, addr); addr < end; addr += PAGE_SIZE, i++) {
    const r = yield* handlePte(w, addr, end, i);
    if (r !== 0) {
      w.last = addr;
      return r;
    }
  }
  w.last = addr;
  return 0;
}

/** `walk_page_range(start, end)` inside `w.vma` (and the hole before it): the first non-zero answer. */
function* walkPageRange(w: VmaWalk, start: number, end: number): Gen<number> {
  let addr = start;
  if (addr < w.vma.start) {
    // No VMA there: a hole. The kernel would fault with no VMA; the model says -EFAULT instead.
    const holeEnd = Math.min(end, w.vma.start);
    const need = rangeNeedFault(w, addr, holeEnd, 0);
    if (need.fault || need.write) {
      w.last = addr;
      w.range.pfns[indexOf(w.range, addr)] = w.range.values[HMM_PFN_ERROR]!;
      return -EFAULT;
    }
    const r = yield* hole_(w, addr, holeEnd, need);
    if (r !== 0) return r;
    addr = holeEnd;
  }
  while (addr < end) {
    const next = Math.min(end, (Math.floor(addr / PMD_SIZE) + 1) * PMD_SIZE);
    let r: number;
    if (w.mm.pt.leafAt(addr) < 0) r = yield* hole_(w, addr, next, rangeNeedFault(w, addr, next, 0));
    else r = yield* walkChunk(w, addr, next);
    if (r !== 0) return r;
    addr = next;
  }
  return 0;
}

/** The checks both entry points make per VMA; 0 to walk it, else the error to return. */
function checkVma(range: HmmRange, vma: Vma | undefined): number {
  if (vma === undefined || (vma.flags & DEVICE_VMA) !== 0) return -EFAULT;
  // hugetlbfs is not modelled: only base pages, so only a base page shift walks.
  if ((vma.flags & VM_HUGETLB) !== 0 || range.page_shift !== PAGE_SHIFT) return -EINVAL;
  if ((vma.flags & VM_READ) === 0) {
    // No read means no write either: hmm does not support write-only mappings.
    pfnsClear(range, range.start, range.end);
    return -EPERM;
  }
  return 0;
}

/**
 * `hmm_range_snapshot(range)`: the CPU page table of a registered range, without faulting.
 * Returns the number of pages filled in from range->start (possibly 0), or -EAGAIN when the
 * range is not valid (the mmap lock is still held), -EFAULT, -EPERM, -EINVAL.
 */
export function* hmm_range_snapshot(range: HmmRange): Gen<number> {
  return yield* walkRange(range, false, true, 'hmm_range_snapshot');
}

/**
 * `hmm_range_fault(range, block)`: fault in what `pfns`, `default_flags` and `pfn_flags_mask`
 * ask for, and report the range. Returns the number of pages filled in from range->start, or:
 * -EAGAIN when the range is not valid, having dropped the mmap lock (take it again before
 * retrying); -EBUSY when an invalidation hit the range during the walk (lock still held);
 * -EFAULT, -EPERM, -EINVAL. On an error, entries from the failing page on read NONE.
 */
export function* hmm_range_fault(range: HmmRange, block: boolean): Gen<number> {
  return yield* walkRange(range, true, block, 'hmm_range_fault');
}

function* walkRange(range: HmmRange, fault: boolean, block: boolean, api: string): Gen<number> {
  const world = currentWorld();
  if (requireLegacyHmm(world, api) === null) return LEGACY_UNAVAILABLE;
  if (!checkRegistered(world, range, api)) return -EFAULT;
  const hmm = range.hmm!;
  const mm = hmm.mm;
  const npages = (range.end - range.start) / PAGE_SIZE;
  if (range.pfns.length < npages) {
    // The kernel would write past the driver's array.
    world.report(FindingKind.Bug, `BUG: ${api}(${range.name}): range->pfns has ${range.pfns.length} entries for ${npages} pages`, `${range.name}:pfns`, true);
    return -EINVAL;
  }
  mmap_assert_locked(mm);
  if (hmm.dead) return -EFAULT;
  let start = range.start;
  const w: VmaWalk = { range, mm, vma: null as unknown as Vma, last: start, fault, block };
  do {
    yield world.point(`${api}(${range.name}): valid?`, hmm, Access.Read);
    if (!range.valid) {
      if (fault) yield* mmap_read_unlock(mm);
      return -EAGAIN;
    }
    const vma = mm.vmas.findNext(start);
    const bad = checkVma(range, vma);
    if (bad !== 0) return bad;
    range.vma = vma!;
    w.vma = vma!;
    w.last = start;
    const end = Math.min(range.end, vma!.end);
    if (!fault) {
      yield* walkPageRange(w, start, end); // a snapshot ignores what the walk says
    } else {
      let ret: number;
      for (;;) {
        ret = yield* walkPageRange(w, start, end);
        start = w.last;
        if (ret !== -EBUSY) break;
        yield world.point(`hmm_range_fault(${range.name}): still valid?`, hmm, Access.Read);
        if (!range.valid) break;
      }
      if (ret !== 0) {
        pfnsClear(range, w.last, range.end);
        return ret;
      }
    }
    start = end;
  } while (start < range.end);
  return (w.last - range.start) / PAGE_SIZE;
}
