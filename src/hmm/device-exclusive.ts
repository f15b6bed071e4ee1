/**
 * Device-exclusive access (spec §6.1): a device gets atomic access to an anonymous page by
 * replacing the CPU's PTE with a non-present device-exclusive entry holding the pfn. Any CPU
 * access restores the PTE (mm/fault.ts), fork restores or fails (mm/fork.ts), zap drops the
 * entry, and since v6.15 reclaim unmaps it (mm/reclaim.ts). Both API generations are here,
 * chosen by the run's contract (`deviceExclusiveApi`):
 *
 * v6.15+ `make_device_exclusive(mm, addr, owner, foliop)`, one page, the caller holds the mmap lock:
 *
 *     retry: GUP(addr, write): fault the page in writable; an exclusive entry found here is
 *            restored through the fault path (EXCLUSIVE, owner null: the old holder is told)
 *     not anonymous -> put, -EOPNOTSUPP
 *     folio_lock (killable: -EINTR once the task is OOM-killed)
 *     start(EXCLUSIVE [addr, addr+PAGE), owner)   the caller's own notifier must ignore it
 *     PTE lock: still the same page, present and writable? else end, unlock, put, goto retry
 *       clear it, folio dirty if the PTE was; install the exclusive entry (always writable);
 *       the mapping's reference and mapcount stay with the entry
 *     end; return the page, folio locked and referenced by the caller
 *
 * v5.14–v6.14 `make_device_exclusive_range(mm, start, end, pages, owner)`:
 *
 *     GUP every page of the range for write (get_user_pages_remote)
 *     per page: trylock the folio (busy: put it, pages[i] = null)
 *       rmap walk under the anon_vma lock: for every mapping of the folio, in every mm,
 *         start(EXCLUSIVE over that VMA's span of the folio, owner) ──
 *         present PTE -> exclusive entry, writable iff the PTE was (readable otherwise),
 *         folio dirty if the PTE was; the mapcount drops (the entry is not counted in it:
 *         the known deviation this generation has) ── end
 *       success only if the caller's own mapping was converted and no mapping is left:
 *         else unlock, put, pages[i] = null
 *     return the number of pages GUP returned; converted pages stay locked and referenced
 *
 * Exclusivity lasts only while the caller holds the folio lock: after its unlock any CPU access
 * may revoke it, and the driver learns of it through its notifier (an owner-null EXCLUSIVE).
 */
import { EFAULT, EINTR, ENOMEM, EOPNOTSUPP } from '../locking/errno.js';
import { mmap_assert_locked } from '../locking/mmap-lock.js';
import { down_read, up_read } from '../locking/rwsem.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { contractOf } from '../locking/version.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_EXCLUSIVE } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { API_UNAVAILABLE } from '../notifier/kinds.js';
import { MmuNotifierRange, mmu_notifier_range_init_owner } from '../notifier/range.js';
import { PAGE_SIZE } from '../mm/constants.ts';
import { handle_mm_fault } from '../mm/fault.ts';
import { __split_huge_pmd } from '../mm/huge-memory.ts';
import { folio_lock, folio_trylock, folio_unlock } from '../mm/folio-lock.ts';
import { PG_ANON, PG_DIRTY } from '../mm/frame-flags.ts';
import type { Mm } from '../mm/mm-struct.ts';
import {
  PTE_DIRTY,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_PRESENT,
  PTE_PROTNONE,
  PTE_SOFT_DIRTY,
  PTE_SPECIAL,
  PTE_WRITE,
  mkPte,
  ptePfn,
  type Pte,
} from '../mm/pte.ts';
import { rmapLockOf, rmapTargets } from '../mm/rmap.ts';
import { vmaAllows } from '../mm/vma-ops.ts';
import { exclusiveOracle } from './device-exclusive-oracle.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Where `make_device_exclusive` returns the locked folio (the kernel's `struct folio **foliop`). */
export interface FolioOut {
  folio: number;
}

/** Reports a call the run's kernel does not have; returns the errno the caller gets. */
function unavailable(mm: Mm, api: string, has: string): number {
  const c = contractOf(mm.world);
  mm.world.report(API_UNAVAILABLE, `${api} does not exist in kernel contract ${c.name} (${has})`, api, true);
  return -EOPNOTSUPP;
}

/**
 * GUP of one page for write with a reference (FOLL_GET | FOLL_WRITE), the mmap lock held: faults
 * the page in writable (breaking COW; restoring a device-exclusive entry) without dropping the
 * lock. @returns the pfn (one more reference), or -EFAULT / -ENOMEM / -EINTR, or -EOPNOTSUPP for
 * a hugetlb VMA.
 */
function* gupWrite(mm: Mm, addr: number): Gen<number> {
  const vma = mm.vmas.find(addr);
  if (vma === undefined || !vmaAllows(vma, true)) return -EFAULT;
  // FOLL_SPLIT_PMD: refused for hugetlb (check_vma_flags), a PMD-mapped THP is split to PTEs.
  if (vma.hpageShift !== 0) return -EOPNOTSUPP;
  const ptl = mm.ptl(addr);
  for (;;) {
    if (mm.killed) return -EINTR;
    if (mm.pt.getPmd(addr) !== 0) {
      yield* __split_huge_pmd(mm, addr);
      continue;
    }
    yield* spin_lock(ptl);
    const pte = mm.pt.get(addr);
    const ok = (pte & PTE_KIND_BITS) === PTE_KIND_PRESENT && (pte & (PTE_PROTNONE | PTE_WRITE | PTE_SPECIAL)) === PTE_WRITE;
    if (ok) mm.sys.frames.get(ptePfn(pte));
    yield* spin_unlock(ptl);
    if (ok) return ptePfn(pte);
    const r = yield* handle_mm_fault(mm, vma, addr, true);
    if (r < 0) return r === -EINTR ? r : r === -ENOMEM ? r : -EFAULT;
  }
}

/**
 * Turns the present PTE at `addr` into a device-exclusive entry for `pfn` (the PTE lock held).
 * @returns false if the PTE no longer maps `pfn` present (and, when `needWrite`, writable).
 */
function convertLocked(mm: Mm, addr: number, pfn: number, needWrite: boolean, counted: boolean): boolean {
  const pte: Pte = mm.pt.get(addr);
  if ((pte & PTE_KIND_BITS) !== PTE_KIND_PRESENT || ptePfn(pte) !== pfn || (pte & (PTE_SPECIAL | PTE_PROTNONE)) !== 0) return false;
  if (needWrite && (pte & PTE_WRITE) === 0) return false;
  const f = mm.sys.frames;
  if ((pte & PTE_DIRTY) !== 0) f.setFlags(pfn, PG_DIRTY);
  // v6.15 has one (writable) entry type; before, a read-only PTE made a readable entry.
  const write = needWrite || (pte & PTE_WRITE) !== 0 ? PTE_WRITE : 0;
  mm.pt.set(addr, mkPte(PTE_KIND_DEVICE_EXCLUSIVE, pfn, write | (pte & PTE_SOFT_DIRTY)));
  if (!counted) f.decMapcount(pfn);
  cpu_mapping_changed(mm, addr);
  return true;
}

/**
 * `make_device_exclusive(mm, addr, owner, foliop)` (v6.15+): makes the page at `addr` exclusive
 * to the device `owner` names. The caller holds `mm`'s mmap lock for read.
 * @returns the page (pfn), with `foliop.folio` set to it, locked and referenced: the caller
 *   unlocks it and drops the reference when its atomic mapping is programmed; or a negative
 *   errno (-EFAULT, -ENOMEM, -EINTR from the fault; -EOPNOTSUPP for a page that is not anonymous).
 */
export function* make_device_exclusive(mm: Mm, addr: number, owner: unknown, foliop: FolioOut): Gen<number> {
  if (contractOf(mm.world).deviceExclusiveApi !== 'single') {
    return unavailable(mm, 'make_device_exclusive', 'single-page make_device_exclusive arrived in v6.15; v5.14–v6.14 have make_device_exclusive_range');
  }
  exclusiveOracle(mm.world).targets.add(mm);
  mmap_assert_locked(mm);
  const page = addr - (addr % PAGE_SIZE);
  const f = mm.sys.frames;
  for (;;) {
    const pfn = yield* gupWrite(mm, page);
    if (pfn < 0) return pfn;
    if (!f.testFlags(pfn, PG_ANON)) {
      mm.sys.putPage(pfn);
      return -EOPNOTSUPP;
    }
    if (mm.killed) {
      mm.sys.putPage(pfn);
      return -EINTR;
    }
    yield* folio_lock(pfn);
    const range = new MmuNotifierRange();
    mmu_notifier_range_init_owner(range, MMU_NOTIFY_EXCLUSIVE, 0, mm, page, page + PAGE_SIZE, owner);
    yield* mmu_notifier_invalidate_range_start(range);
    const ptl = mm.ptl(page);
    yield* spin_lock(ptl);
    const done = convertLocked(mm, page, pfn, true, true);
    yield* spin_unlock(ptl);
    yield* mmu_notifier_invalidate_range_end(range);
    if (done) {
      foliop.folio = pfn;
      return pfn;
    }
    // The PTE changed under us (a fault, a zap, a COW): try again from the GUP.
    yield* folio_unlock(pfn);
    mm.sys.putPage(pfn);
  }
}

/**
 * `make_device_exclusive_range(mm, start, end, pages, owner)` (v5.14–v6.14): makes each page of
 * [start, end) exclusive to the device `owner` names, through every mapping of its folio. The
 * caller holds `mm`'s mmap lock for read. `pages[i]` gets the page of the i-th address, locked
 * and referenced (the caller unlocks and puts it), or null where it could not be converted.
 * @returns the number of pages GUP returned, or a negative errno if it returned none.
 */
export function* make_device_exclusive_range(mm: Mm, start: number, end: number, pages: (number | null)[], owner: unknown): Gen<number> {
  if (contractOf(mm.world).deviceExclusiveApi !== 'range') {
    const c = contractOf(mm.world);
    return unavailable(mm, 'make_device_exclusive_range', c.deviceExclusiveApi === 'single' ? 'it was replaced by make_device_exclusive in v6.15' : 'it arrived in v5.14');
  }
  exclusiveOracle(mm.world).targets.add(mm);
  mmap_assert_locked(mm);
  const f = mm.sys.frames;
  let n = 0;
  for (let a = start - (start % PAGE_SIZE); a < end; a += PAGE_SIZE) {
    const pfn = yield* gupWrite(mm, a);
    if (pfn < 0) {
      if (n === 0) return pfn;
      break;
    }
    pages[n++] = pfn;
  }
  for (let i = 0; i < n; i++) {
    const pfn = pages[i]!;
    const addr = start - (start % PAGE_SIZE) + i * PAGE_SIZE;
    if (!(yield* folio_trylock(pfn))) {
      mm.sys.putPage(pfn);
      pages[i] = null;
      continue;
    }
    if (!(yield* folioMakeDeviceExclusive(mm, addr, pfn, owner)) || !f.testFlags(pfn, PG_ANON)) {
      yield* folio_unlock(pfn);
      mm.sys.putPage(pfn);
      pages[i] = null;
    }
  }
  return n;
}

/**
 * `folio_make_device_exclusive` (v5.14–v6.14): the rmap walk converting every mapping of the
 * locked folio. @returns true if the caller's mapping (`mm`, `addr`) was converted and no
 * mapping is left.
 */
function* folioMakeDeviceExclusive(mm: Mm, addr: number, pfn: number, owner: unknown): Gen<boolean> {
  const sys = mm.sys;
  if (!sys.frames.testFlags(pfn, PG_ANON)) return false;
  const lock = rmapLockOf(sys, pfn);
  if (lock === null) return false;
  let valid = false;
  yield* down_read(lock);
  for (const t of rmapTargets(sys, pfn)) {
    const range = new MmuNotifierRange();
    mmu_notifier_range_init_owner(range, MMU_NOTIFY_EXCLUSIVE, 0, t.mm, t.addr, Math.min(t.vma.end, t.addr + PAGE_SIZE), owner);
    yield* mmu_notifier_invalidate_range_start(range);
    const ptl = t.mm.ptl(t.addr);
    yield* spin_lock(ptl);
    // Only a present PTE naming the folio is converted (the folio lock keeps migration away; a
    // swap entry names a slot, not this folio).
    if (convertLocked(t.mm, t.addr, pfn, false, false) && t.mm === mm && t.addr === addr) valid = true;
    yield* spin_unlock(ptl);
    yield* mmu_notifier_invalidate_range_end(range);
  }
  yield* up_read(lock);
  return valid && sys.frames.mapcount(pfn) === 0;
}
