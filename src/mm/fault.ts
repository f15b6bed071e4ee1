/**
 * Page faults (mm/memory.c's handle_mm_fault and friends), with the mmap lock held for read.
 *
 * Each path reads the PTE without its lock, prepares what it needs (allocating may reclaim and
 * sleep), then takes the split PTL, checks the PTE is still what it read, and commits; if it
 * changed, it backs out and the access simply faults again:
 *
 *     none, anonymous, read    map the shared zero page (read-only, special)
 *     none, anonymous, write   a new zeroed page, writable
 *     none, file               the page-cache page (read-only), or for a private write a copy
 *                              (do_cow_fault), or for a shared write the page itself, writable
 *     swap entry               swap the page in (through the swap cache)
 *     present, write to r/o    shared: make writable; private: reuse if exclusively ours,
 *                              else copy (wp_page_copy, under a one-page CLEAR invalidation)
 *     device-exclusive         restore the original PTE (owner-null invalidation: EXCLUSIVE before
 *                              v6.15, CLEAR since)
 *     migration, device-private: handed to a hook the hmm layer installs
 *
 * Results: 0 (done, or retry the access), -EFAULT (SIGSEGV/SIGBUS), -ENOMEM (out of memory),
 * -EINTR (the task was OOM-killed).
 */
import { GFP_KERNEL, might_alloc } from '../locking/alloc.js';
import { EFAULT, EINTR, ENOMEM } from '../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_EXCLUSIVE } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init, mmu_notifier_range_init_owner } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { PAGE_SIZE } from './constants.ts';
import { FAULT_FLAG_ALLOW_RETRY, FAULT_FLAG_USER, FAULT_FLAG_WRITE } from './fault-flags.ts';
import { folio_lock, folio_trylock, folio_unlock, folio_wait_locked } from './folio-lock.ts';
import { restoreExclusivePte } from './device-exclusive-entry.ts';
import { contractOf } from '../locking/version.js';
import { PG_ANON, PG_ANON_EXCLUSIVE, PG_DIRTY, PG_LOCKED, PG_SWAPCACHE, ZERO_PFN } from './frame-flags.ts';
import type { Mm } from './mm-struct.ts';
import {
  PTE_DIRTY,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_NONE,
  PTE_KIND_PRESENT,
  PTE_KIND_SWAP,
  PTE_SPECIAL,
  PTE_WRITE,
  PTE_YOUNG,
  pfnPte,
  pteMkdirty,
  pteMkwrite,
  pteMkyoung,
  ptePfn,
  type Pte,
} from './pte.ts';
import { HUGE_FALLBACK, huge_pmd_fault } from './huge-memory.ts';
import { hugetlb_fault } from './hugetlb.ts';
import { alloc_user_page } from './reclaim.ts';
import { addNewAnonPage, anonVmaPrepare, deleteFromSwapCache, freeSwapCacheIfOrphan } from './rmap.ts';
import { swapIn } from './swapin.ts';
import { protBits, vmaAllows, vmaIsPrivate } from './vma-ops.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Handles a fault on a migration or device-private entry; installed by the hmm layer. */
export type SpecialFaultHandler = (mm: Mm, vma: Vma, addr: number, pte: Pte, write: boolean, flags: number) => Gen<number>;

const HANDLER_KEY = 'mm.specialFault';

/** Installs the handler for faults on migration and device-private entries (per run). */
export function setSpecialFaultHandler(world: World, h: SpecialFaultHandler): void {
  world.locals.set(HANDLER_KEY, h);
}

/**
 * VM_FAULT_RETRY: the fault dropped the mmap lock to wait (folio_lock_or_retry) and must be
 * retried from the start. Only returned to callers that allowed it (`allowRetry`).
 */
export const VM_FAULT_RETRY = 1;

/**
 * The user fault path: mmap_read_lock, find the VMA, check the access, handle it, unlock. A
 * user fault allows retry (FAULT_FLAG_ALLOW_RETRY): a fault that must wait for a folio lock
 * drops the mmap lock, sleeps, and the access faults again.
 * @returns 0, or -EFAULT for an address with no VMA or an access the VMA forbids (SIGSEGV).
 */
export function* fault_in(mm: Mm, addr: number, write: boolean): Gen<number> {
  if (mm.killed) return -EINTR;
  yield* mmap_read_lock(mm);
  const page = addr - (addr % PAGE_SIZE);
  const vma = mm.vmas.find(page);
  let ret: number;
  if (vma === undefined || !vmaAllows(vma, write)) ret = -EFAULT;
  else ret = yield* handle_mm_fault(mm, vma, page, write, true, FAULT_FLAG_USER);
  if (ret === VM_FAULT_RETRY) return 0; // the lock is already dropped
  yield* mmap_read_unlock(mm);
  return ret;
}

/**
 * `handle_mm_fault` for a page-aligned `addr` in `vma`; the caller holds the mmap lock. With
 * `allowRetry` (FAULT_FLAG_ALLOW_RETRY) a wait drops the mmap lock and returns VM_FAULT_RETRY;
 * without it (GUP, hmm_range_fault, kernel faults) the fault sleeps holding the lock. `flags`
 * adds further FAULT_FLAG_* bits (USER, REMOTE); WRITE and ALLOW_RETRY follow `write` and
 * `allowRetry`. The fault handlers that look at them (migrate_to_ram's vmf) get the union.
 */
export function* handle_mm_fault(mm: Mm, vma: Vma, addr: number, write: boolean, allowRetry = false, flags = 0): Gen<number> {
  const ptl = mm.ptl(addr);
  yield mm.world.point(`fault ${write ? 'write' : 'read'} ${mm.name}:0x${addr.toString(16)}`, ptl, Access.Read);
  if (vma.hpageShift !== 0) return yield* hugetlb_fault(mm, vma, addr, write);
  if (mm.sys.thpMode !== 'never' || mm.pt.hugePmdCount !== 0) {
    const h = yield* huge_pmd_fault(mm, vma, addr, write);
    if (h !== HUGE_FALLBACK) return h;
  }
  const pte = mm.pt.get(addr);
  const kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_NONE) {
    if (vma.isAnon) return yield* do_anonymous_page(mm, vma, addr, write);
    return yield* do_fault(mm, vma, addr, write, pte);
  }
  if (kind === PTE_KIND_SWAP) return yield* swapIn(mm, vma, addr, pte, write);
  if (kind === PTE_KIND_DEVICE_EXCLUSIVE) return yield* remove_device_exclusive_entry(mm, vma, addr, pte, allowRetry);
  if (kind !== PTE_KIND_PRESENT) {
    const h = mm.world.locals.get(HANDLER_KEY) as SpecialFaultHandler | undefined;
    if (h !== undefined) return yield* h(mm, vma, addr, pte, write, flags | (write ? FAULT_FLAG_WRITE : 0) | (allowRetry ? FAULT_FLAG_ALLOW_RETRY : 0));
    return -EFAULT;
  }
  if (write && (pte & PTE_WRITE) === 0) return yield* do_wp_page(mm, vma, addr, pte);
  return 0; // spurious: someone else fixed it up already
}

function* do_anonymous_page(mm: Mm, vma: Vma, addr: number, write: boolean): Gen<number> {
  const ptl = mm.ptl(addr);
  if (!write) {
    yield* spin_lock(ptl);
    if (mm.pt.get(addr) === 0) mm.pt.set(addr, pfnPte(ZERO_PFN, PTE_SPECIAL | protBits(vma)));
    yield* spin_unlock(ptl);
    return 0;
  }
  anonVmaPrepare(mm.sys, vma);
  const pfn = yield* alloc_user_page(mm);
  if (pfn < 0) return mm.killed ? -EINTR : -ENOMEM;
  yield* spin_lock(ptl);
  if (mm.pt.get(addr) === 0) {
    mm.pt.set(addr, pfnPte(pfn, PTE_WRITE | PTE_DIRTY | PTE_YOUNG | protBits(vma)));
    addNewAnonPage(mm.sys, pfn, vma, addr);
  } else {
    mm.sys.putPage(pfn);
  }
  yield* spin_unlock(ptl);
  return 0;
}

/** `do_fault`: a page of a file mapping (shmem included) that has no entry yet. */
function* do_fault(mm: Mm, vma: Vma, addr: number, write: boolean, orig: Pte): Gen<number> {
  const sys = mm.sys;
  const pgoff = vma.pgoffAt(addr);
  if (pgoff >= sys.cache.filePages(vma.file)) return -EFAULT; // SIGBUS: beyond end of file
  let page = -1;
  for (;;) {
    yield sys.world.point(`filemap_fault file#${vma.file}:${pgoff}`, sys.fileObject(vma.file), Access.Write);
    might_alloc(GFP_KERNEL); // a cache miss allocates the page
    page = sys.cacheGrab(vma.file, pgoff);
    if (page >= 0) break;
    const spare = yield* alloc_user_page(mm); // reclaim made room, or we are out of memory
    if (spare < 0) return mm.killed ? -EINTR : -ENOMEM;
    sys.putPage(spare);
  }
  sys.frames.get(page); // the fault's reference, which the new mapping takes over
  const ptl = mm.ptl(addr);
  if (write && vmaIsPrivate(vma)) {
    anonVmaPrepare(sys, vma);
    const copy = yield* alloc_user_page(mm);
    if (copy < 0) {
      sys.putPage(page);
      return mm.killed ? -EINTR : -ENOMEM;
    }
    sys.frames.copyPage(copy, page);
    sys.putPage(page);
    yield* spin_lock(ptl);
    if (mm.pt.get(addr) === orig) {
      mm.pt.set(addr, pfnPte(copy, PTE_WRITE | PTE_DIRTY | PTE_YOUNG | protBits(vma)));
      addNewAnonPage(sys, copy, vma, addr);
    } else {
      sys.putPage(copy);
    }
    yield* spin_unlock(ptl);
    return 0;
  }
  yield* spin_lock(ptl);
  if (mm.pt.get(addr) === orig && !sys.frames.isFree(page)) {
    const bits = write ? PTE_WRITE | PTE_DIRTY | PTE_YOUNG : PTE_YOUNG;
    mm.pt.set(addr, pfnPte(page, bits | protBits(vma)));
    sys.frames.incMapcount(page);
    if (write) sys.frames.setFlags(page, PG_DIRTY);
  } else {
    sys.putPage(page);
  }
  yield* spin_unlock(ptl);
  return 0;
}

/** `do_wp_page`: a write to a present read-only entry of a writable VMA. */
function* do_wp_page(mm: Mm, vma: Vma, addr: number, orig: Pte): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const ptl = mm.ptl(addr);
  const pfn = ptePfn(orig);
  const special = (orig & PTE_SPECIAL) !== 0;
  if (!vmaIsPrivate(vma) && !special) {
    // wp_page_shared: the page is the file's; a write only needs the permission and dirtiness.
    yield* spin_lock(ptl);
    if (mm.pt.get(addr) === orig) {
      mm.pt.set(addr, pteMkyoung(pteMkdirty(pteMkwrite(orig))));
      f.setFlags(pfn, PG_DIRTY);
    }
    yield* spin_unlock(ptl);
    return 0;
  }
  if (!special && f.testFlags(pfn, PG_ANON)) {
    yield* spin_lock(ptl);
    let reused = false;
    if (mm.pt.get(addr) === orig && canReuseAnon(mm, pfn)) {
      mm.pt.set(addr, pteMkyoung(pteMkdirty(pteMkwrite(orig))));
      f.setFlags(pfn, PG_ANON_EXCLUSIVE);
      reused = true;
    }
    yield* spin_unlock(ptl);
    if (reused || mm.pt.get(addr) !== orig) return 0;
  }
  return yield* wp_page_copy(mm, vma, addr, orig);
}

/**
 * `wp_can_reuse_anon_folio`: the page is ours alone, nobody else holds a reference, and no swap
 * entry elsewhere still names its swap-cache copy (dropped from the swap cache here if so).
 */
function canReuseAnon(mm: Mm, pfn: number): boolean {
  const sys = mm.sys;
  const f = sys.frames;
  if (f.testFlags(pfn, PG_ANON_EXCLUSIVE)) return true;
  if (f.mapcount(pfn) !== 1 || f.testFlags(pfn, PG_LOCKED)) return false;
  if (f.testFlags(pfn, PG_SWAPCACHE)) {
    if (sys.swap.count(f.getPrivate(pfn)) > 0 || f.refcount(pfn) !== 2) return false;
    deleteFromSwapCache(sys, pfn);
  }
  return f.refcount(pfn) === 1;
}

/**
 * `wp_page_copy`: break COW. The copy is made before the invalidation; the PTE is replaced
 * under a one-page CLEAR invalidation; the old page's references go after the end.
 */
function* wp_page_copy(mm: Mm, vma: Vma, addr: number, orig: Pte): Gen<number> {
  const sys = mm.sys;
  const f = sys.frames;
  const old = ptePfn(orig);
  const isZero = (orig & PTE_SPECIAL) !== 0 && old === ZERO_PFN;
  if (!isZero) f.get(old);
  anonVmaPrepare(sys, vma);
  const copy = yield* alloc_user_page(mm);
  if (copy < 0) {
    if (!isZero) sys.putPage(old);
    return mm.killed ? -EINTR : -ENOMEM;
  }
  if (!isZero) f.copyPage(copy, old);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + PAGE_SIZE);
  yield* mmu_notifier_invalidate_range_start(range);
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  let replaced = false;
  if (mm.pt.get(addr) === orig) {
    mm.pt.set(addr, pfnPte(copy, PTE_WRITE | PTE_DIRTY | PTE_YOUNG | protBits(vma)));
    addNewAnonPage(sys, copy, vma, addr);
    if (!isZero) f.decMapcount(old);
    cpu_mapping_changed(mm, addr);
    replaced = true;
  }
  yield* spin_unlock(ptl);
  yield* mmu_notifier_invalidate_range_end(range);
  if (!replaced) sys.putPage(copy);
  if (!isZero) {
    if (replaced) freeSwapCacheIfOrphan(sys, old);
    if (replaced) sys.putPage(old); // the old mapping's reference
    sys.putPage(old); // ours
  }
  return 0;
}

/**
 * `remove_device_exclusive_entry` (spec §6.2.1): a CPU access met a device-exclusive entry.
 *
 *     folio_try_get            the folio is already gone: the entry went with it, retry the access
 *     folio_lock_or_retry      held (a driver between make_device_exclusive and its unlock):
 *                              drop the mmap lock, wait for the unlock, VM_FAULT_RETRY; without
 *                              retry allowed, sleep for the lock holding the mmap lock
 *     start(owner null)        every device, the holder included, drops its atomic mapping:
 *                              EXCLUSIVE before v6.15, CLEAR since
 *     PTE lock: unchanged? restore the present PTE (device-exclusive-entry.ts)
 *     folio_unlock, folio_put, then end
 */
function* remove_device_exclusive_entry(mm: Mm, vma: Vma, addr: number, orig: Pte, allowRetry: boolean): Gen<number> {
  const sys = mm.sys;
  const pfn = ptePfn(orig);
  if (!sys.frames.tryGet(pfn)) return 0;
  if (allowRetry) {
    if (!(yield* folio_trylock(pfn))) {
      yield* mmap_read_unlock(mm);
      yield* folio_wait_locked(pfn);
      sys.putPage(pfn);
      return VM_FAULT_RETRY;
    }
  } else {
    yield* folio_lock(pfn);
  }
  // v5.14–v6.14 tell devices with an owner-null EXCLUSIVE; v6.15 keeps EXCLUSIVE for conversions
  // and restores under CLEAR. Either way the owner is null: every device, the holder included, acts.
  const event = contractOf(mm.world).exclusiveRestoreEvent === 'exclusive' ? MMU_NOTIFY_EXCLUSIVE : MMU_NOTIFY_CLEAR;
  const range = new MmuNotifierRange();
  mmu_notifier_range_init_owner(range, event, 0, mm, addr, addr + PAGE_SIZE, null);
  yield* mmu_notifier_invalidate_range_start(range);
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  if (mm.pt.get(addr) === orig) restoreExclusivePte(mm, vma, addr, orig);
  yield* spin_unlock(ptl);
  yield* folio_unlock(pfn);
  sys.putPage(pfn);
  yield* mmu_notifier_invalidate_range_end(range);
  return 0;
}
