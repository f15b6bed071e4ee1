/**
 * `hmm_range_fault(range)` (mm/hmm.c): snapshot the CPU page table over [start, end) into
 * `range.hmm_pfns`, faulting in the pages whose request asks for it, without ever dropping the
 * mmap lock the caller holds.
 *
 *     last := start
 *     loop: check_retry(notifier, notifier_seq)?  -> -EBUSY (the caller restarts at read_begin)
 *           walk [last, end):
 *             no VMA                          ERROR, or -EFAULT if a fault is required
 *             VM_IO / VM_PFNMAP / !VM_READ    ERROR, or -EFAULT if a fault is required (before
 *                                             v5.16, VM_MIXEDMAP too; since, its inserted pages
 *                                             are reported as any present page)
 *             per page (none, or no table)    0, or fault
 *                      device-private, owner == dev_private_owner   pfn|VALID(|WRITE), never faulted
 *                      other non-present      0 if no fault required; else swap, device-private
 *                                             of another owner, device-exclusive: fault;
 *                                             migration: wait for it, internal BUSY; else -EFAULT
 *                      present                pfn|VALID(|WRITE); fault if the request needs more;
 *                                             a special PTE (not the zero page): ERROR or -EFAULT
 *           a fault (hmm_vma_fault) sets last, returns -EPERM for a write to a VMA without
 *           VM_WRITE, runs handle_mm_fault per page (any error is -EFAULT), then internal BUSY:
 *           the loop re-checks the sequence and walks again from last.
 *
 * The request of page i is (hmm_pfns[i] & pfn_flags_mask) | default_flags; REQ_WRITE counts only
 * with REQ_FAULT. Entries below `last` hold outputs, the rest still their inputs; on any non-zero
 * return no entry may be used, and on 0 only after read_retry under the driver lock.
 *
 * The walk reads PTEs without the page-table lock, as the kernel's does; it announces one read
 * point per 2 MiB page-table region (named after that region's PTL), so a writer of the region
 * conflicts with it. A page under a huge PMD or PUD leaf carries its map order (9 or 18) since
 * v5.10; before, every order is 0.
 */
import { EBUSY, EFAULT, EINVAL, EPERM } from '../locking/errno.js';
import { mmap_assert_locked } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { mmu_interval_check_retry, requireIntervalNotifiers } from '../notifier/interval.js';
import { Access } from '../sim/point.js';
import { PAGE_SIZE, PMD_SIZE } from '../mm/constants.ts';
import { page_pgmap } from '../mm/device-private.ts';
import { handle_mm_fault } from '../mm/fault.ts';
import { FAULT_FLAG_REMOTE } from '../mm/fault-flags.ts';
import { waitOnLockedUnderPtl } from '../mm/folio-lock.ts';
import type { Mm } from '../mm/mm-struct.ts';
import {
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_NONE,
  PTE_KIND_PRESENT,
  PTE_KIND_SWAP,
  PTE_PROTNONE,
  PTE_SPECIAL,
  PTE_WRITE,
  ptePfn,
} from '../mm/pte.ts';
import { VM_IO, VM_MIXEDMAP, VM_PFNMAP, VM_READ, VM_WRITE } from '../mm/vma-flags.ts';
import { contractOf } from '../locking/version.js';
import type { Vma } from '../mm/vma.ts';
import { HI_ERROR, HI_ORDER_SHIFT, HI_STICKY, HI_VALID, HI_WRITE, HMM_PFN_REQ_FAULT, hmmPfnWords } from './hmm-pfn.ts';
import { leafOrder } from '../mm/huge-memory.ts';
import { LEAF_IS_HUGE } from '../mm/page-table.ts';
import type { HmmRange } from './range.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The walk asks for a fault (hmm_pte_need_fault's result bits). */
const NEED_FAULT = 1;
const NEED_WRITE_FAULT = 2;
/** Internal result: a fault or a migration wait happened; re-check the sequence, walk again. */
const WALK_BUSY = 1;

/** One call's walk state (`struct hmm_vma_walk`). */
interface Walk {
  readonly range: HmmRange;
  readonly mm: Mm;
  readonly words: Uint32Array;
  /** Request bits of `default_flags` and `pfn_flags_mask`, as high words. */
  readonly defHi: number;
  readonly maskHi: number;
  /** False when no page can need a fault (the fast path). */
  readonly mayFault: boolean;
  /** VMA flags refused like VM_IO (VM_MIXEDMAP too before v5.16). */
  readonly refused: number;
  /** The kernel reports map orders (v5.10+). */
  readonly mapOrder: boolean;
  last: number;
}

function hiWord(b: bigint): number {
  return Number((b >> 32n) & 0xffffffffn);
}

/**
 * `hmm_range_fault(range)`. The caller holds the mmap lock of `range.notifier`'s mm (read or
 * write). @returns 0, -EBUSY (the sequence moved: restart from read_begin), -EFAULT, -EPERM,
 * -ENOMEM or -EINVAL.
 */
export function* hmm_range_fault(range: HmmRange): Gen<number> {
  const sub = range.notifier;
  if (sub === null || sub.mm === null) return -EINVAL;
  const mm = sub.mm as Mm;
  const world = mm.world;
  if (!requireIntervalNotifiers(world, 'hmm_range_fault')) return -EINVAL;
  mmap_assert_locked(mm);
  const npages = (range.end - range.start) / PAGE_SIZE;
  if (range.start % PAGE_SIZE !== 0 || range.end % PAGE_SIZE !== 0 || range.end <= range.start) return -EINVAL;
  if (range.hmm_pfns.length < npages) {
    world.report('warn', `hmm_range_fault: hmm_pfns has ${range.hmm_pfns.length} entries for a range of ${npages} pages`, 'hmm_range_fault:short-pfns');
    return -EINVAL;
  }
  const contract = contractOf(world);
  const defHi = hiWord(range.default_flags);
  const maskHi = hiWord(range.pfn_flags_mask);
  const w: Walk = {
    range,
    mm,
    words: hmmPfnWords(range.hmm_pfns),
    defHi,
    maskHi,
    mayFault: ((range.default_flags | range.pfn_flags_mask) & HMM_PFN_REQ_FAULT) !== 0n,
    refused: VM_IO | VM_PFNMAP | (contract.hmmMixedMap ? 0 : VM_MIXEDMAP),
    mapOrder: contract.hmmPfnMapOrder,
    last: range.start,
  };
  for (;;) {
    yield world.point(`hmm_range_fault check_retry ${sub.name}`, sub, Access.Read);
    if (mmu_interval_check_retry(sub, range.notifier_seq)) return -EBUSY;
    const r = yield* walk(w, w.last, range.end);
    if (r !== WALK_BUSY) return r;
  }
}

/** walk_page_range over [start, end): VMAs and the holes between them. */
function* walk(w: Walk, start: number, end: number): Gen<number> {
  const mm = w.mm;
  let addr = start;
  while (addr < end) {
    const vma = mm.vmas.find(addr) ?? null;
    if (vma === null) {
      const next = nextVmaStart(mm, addr, end);
      // A hole with no VMA: ERROR, or -EFAULT if any page of it must be faulted.
      if (needFaultRange(w, addr, next) !== 0) return -EFAULT;
      fill(w, addr, next, HI_ERROR, 0);
      addr = next;
      continue;
    }
    const stop = Math.min(end, vma.end);
    if ((vma.flags & w.refused) !== 0 || (vma.flags & VM_READ) === 0) {
      if (needFaultRange(w, addr, stop) !== 0) return -EFAULT;
      fill(w, addr, stop, HI_ERROR, 0);
      addr = stop;
      continue;
    }
    const r = yield* walkVma(w, vma, addr, stop);
    if (r !== 0) return r;
    addr = stop;
  }
  return 0;
}

function nextVmaStart(mm: Mm, addr: number, end: number): number {
  for (const v of mm.vmas) if (v.start > addr) return Math.min(v.start, end);
  return end;
}

/** The pages of one VMA, one page-table region (one lockless read point) at a time. */
function* walkVma(w: Walk, vma: Vma, start: number, end: number): Gen<number> {
  const mm = w.mm;
  const pt = mm.pt;
  const words = w.words;
  const base0 = w.range.start;
  let addr = start;
  while (addr < end) {
    const stop = Math.min(end, addr - (addr % PMD_SIZE) + PMD_SIZE);
    yield mm.world.point(`hmm walk ${mm.name}:0x${addr.toString(16)}`, mm.ptl(addr), Access.Read);
    const leaf = pt.leafAt(addr);
    if (leaf === LEAF_IS_HUGE) {
      // hmm_vma_handle_pmd / the PUD walk: every page of a huge mapping, with its map order.
      const r = yield* walkHuge(w, vma, addr, stop);
      if (r !== 0) return r;
      addr = stop;
      continue;
    }
    if (leaf < 0) {
      // No page table: a hole inside the VMA (hmm_vma_walk_hole).
      const need = needFaultRange(w, addr, stop);
      if (need !== 0) return yield* fault(w, vma, addr, stop, need);
      fill(w, addr, stop, 0, 0);
      addr = stop;
      continue;
    }
    let i = (addr - base0) / PAGE_SIZE;
    let idx = (addr % PMD_SIZE) / PAGE_SIZE;
    for (; addr < stop; addr += PAGE_SIZE, i++, idx++) {
      const pte = pt.getAt(leaf, idx);
      const hi = words[2 * i + 1]!;
      const req = ((hi & w.maskHi) | w.defHi) >>> 0;
      const sticky = hi & HI_STICKY;
      const kind = pte & PTE_KIND_BITS;
      if (kind === PTE_KIND_NONE) {
        const need = needFault(req, 0);
        if (need !== 0) return yield* fault(w, vma, addr, addr + PAGE_SIZE, need);
        words[2 * i] = 0;
        words[2 * i + 1] = sticky;
        continue;
      }
      if (kind !== PTE_KIND_PRESENT) {
        if (kind === PTE_KIND_DEVICE_PRIVATE) {
          const pfn = ptePfn(pte);
          const pg = page_pgmap(mm.world, pfn);
          if (pg !== null && pg.owner === w.range.dev_private_owner) {
            words[2 * i] = pfn;
            words[2 * i + 1] = (sticky | HI_VALID | ((pte & PTE_WRITE) !== 0 ? HI_WRITE : 0)) >>> 0;
            continue;
          }
        }
        const need = needFault(req, 0);
        if (need === 0) {
          words[2 * i] = 0;
          words[2 * i + 1] = sticky;
          continue;
        }
        if (kind === PTE_KIND_SWAP || kind === PTE_KIND_DEVICE_PRIVATE || kind === PTE_KIND_DEVICE_EXCLUSIVE) {
          return yield* fault(w, vma, addr, addr + PAGE_SIZE, need);
        }
        if (kind === PTE_KIND_MIGRATION) {
          w.last = addr;
          yield* migration_entry_wait(mm, addr);
          return WALK_BUSY;
        }
        return -EFAULT; // hwpoison and other entries the model does not make
      }
      const cpu = (pte & PTE_PROTNONE) !== 0 ? 0 : HI_VALID | ((pte & PTE_WRITE) !== 0 ? HI_WRITE : 0);
      const need = needFault(req, cpu);
      if (need !== 0) return yield* fault(w, vma, addr, addr + PAGE_SIZE, need);
      const pfn = ptePfn(pte);
      if ((pte & PTE_SPECIAL) !== 0 && !mm.sys.frames.isZeroPfn(pfn)) {
        if (needFault(req, 0) !== 0) return -EFAULT;
        words[2 * i] = 0;
        words[2 * i + 1] = (sticky | HI_ERROR) >>> 0;
        continue;
      }
      words[2 * i] = pfn;
      words[2 * i + 1] = (sticky | cpu) >>> 0;
    }
  }
  return 0;
}

/**
 * The pages of [addr, stop) under one huge PMD or PUD leaf (present: THP, the huge zero page,
 * hugetlb): VALID, WRITE as the leaf allows, and the order (9 or 18) on every page (spec
 * §4.2/§4.3). A fault where the request needs more (a write to a read-only huge page).
 */
function* walkHuge(w: Walk, vma: Vma, addr: number, stop: number): Gen<number> {
  const mm = w.mm;
  const words = w.words;
  const order = w.mapOrder ? leafOrder(mm, addr) : 0;
  let i = (addr - w.range.start) / PAGE_SIZE;
  for (; addr < stop; addr += PAGE_SIZE, i++) {
    const pte = mm.pt.get(addr);
    const hi = words[2 * i + 1]!;
    const req = ((hi & w.maskHi) | w.defHi) >>> 0;
    const sticky = hi & HI_STICKY;
    const kind = pte & PTE_KIND_BITS;
    if (kind === PTE_KIND_DEVICE_PRIVATE) {
      // A device-private PMD (v6.19+): the owner's pages are reported with the PMD order;
      // anyone else faults the folio back (or sees nothing without a fault).
      const pfn = ptePfn(pte);
      const pg = page_pgmap(mm.world, pfn);
      if (pg !== null && pg.owner === w.range.dev_private_owner) {
        words[2 * i] = pfn;
        words[2 * i + 1] = (sticky | HI_VALID | ((pte & PTE_WRITE) !== 0 ? HI_WRITE : 0) | (order << HI_ORDER_SHIFT)) >>> 0;
        continue;
      }
      const need = needFault(req, 0);
      if (need !== 0) return yield* fault(w, vma, addr, addr + PAGE_SIZE, need);
      words[2 * i] = 0;
      words[2 * i + 1] = sticky;
      continue;
    }
    if (kind === PTE_KIND_MIGRATION) {
      w.last = addr;
      yield* migration_entry_wait(mm, addr);
      return WALK_BUSY;
    }
    if (kind !== PTE_KIND_PRESENT) return -EFAULT;
    const cpu = (pte & PTE_PROTNONE) !== 0 ? 0 : HI_VALID | ((pte & PTE_WRITE) !== 0 ? HI_WRITE : 0);
    const need = needFault(req, cpu);
    if (need !== 0) return yield* fault(w, vma, addr, addr + PAGE_SIZE, need);
    words[2 * i] = cpu === 0 ? 0 : ptePfn(pte);
    words[2 * i + 1] = (sticky | cpu | (cpu === 0 ? 0 : order << HI_ORDER_SHIFT)) >>> 0;
  }
  return 0;
}

/** `hmm_pte_need_fault` on high words. */
function needFault(req: number, cpu: number): number {
  if ((req & HI_VALID) === 0) return 0;
  if ((req & HI_WRITE) !== 0 && (cpu & HI_WRITE) === 0) return NEED_FAULT | NEED_WRITE_FAULT;
  if ((cpu & HI_VALID) === 0) return NEED_FAULT;
  return 0;
}

/** `hmm_range_need_fault` over [start, end) with no CPU mapping. */
function needFaultRange(w: Walk, start: number, end: number): number {
  if (!w.mayFault) return 0;
  const words = w.words;
  let need = 0;
  const first = (start - w.range.start) / PAGE_SIZE;
  const n = (end - start) / PAGE_SIZE;
  for (let i = first; i < first + n; i++) {
    need |= needFault(((words[2 * i + 1]! & w.maskHi) | w.defHi) >>> 0, 0);
    if (need === (NEED_FAULT | NEED_WRITE_FAULT)) break;
  }
  return need;
}

/** `hmm_pfns_fill`: every word of [start, end) becomes `hi`:`lo`, sticky bits kept. */
function fill(w: Walk, start: number, end: number, hi: number, lo: number): void {
  const words = w.words;
  const first = (start - w.range.start) / PAGE_SIZE;
  const last = first + (end - start) / PAGE_SIZE;
  for (let i = first; i < last; i++) {
    words[2 * i] = lo;
    words[2 * i + 1] = ((words[2 * i + 1]! & HI_STICKY) | hi) >>> 0;
  }
}

/** `hmm_vma_fault`: fault [addr, end) in, then tell the loop to walk again from `addr`. */
function* fault(w: Walk, vma: Vma, addr: number, end: number, need: number): Gen<number> {
  w.last = addr;
  const write = (need & NEED_WRITE_FAULT) !== 0;
  if (write && (vma.flags & VM_WRITE) === 0) return -EPERM;
  for (let a = addr; a < end; a += PAGE_SIZE) {
    // REMOTE: the device's fault is not the current task's access (migrate_to_ram sees it).
    const r = yield* handle_mm_fault(w.mm, vma, a, write, false, FAULT_FLAG_REMOTE);
    if (r < 0) return -EFAULT;
  }
  return WALK_BUSY;
}

/**
 * `migration_entry_wait`: if `addr` holds a migration entry (any: the one the caller saw may
 * have been replaced by another), sleep until its page is unlocked (the migration finished or
 * was undone), queued before the PTL drops (waitOnLockedUnderPtl). The caller retries.
 */
export function* migration_entry_wait(mm: Mm, addr: number): Gen<void> {
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  const pte = mm.pt.get(addr);
  if ((pte & PTE_KIND_BITS) === PTE_KIND_MIGRATION) yield* waitOnLockedUnderPtl(ptePfn(pte), ptl);
  else yield* spin_unlock(ptl);
}
