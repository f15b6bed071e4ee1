/**
 * mprotect (mm/mprotect.c), with the mmap lock held for write.
 *
 * Per VMA part of the range: compute the new flags; if they equal the old ones nothing happens
 * at all (mprotect_fixup returns early, no invalidation); otherwise the VMA is split or merged to
 * the range and change_protection runs over it. change_protection raises PROTECTION_VMA lazily:
 * once per 512 GiB top-level region, starting at the first 1 GiB slot that has page tables, and
 * whether or not any PTE then actually changes (a driver must tolerate such false positives,
 * e.g. PROT_READ <-> PROT_READ|PROT_EXEC, which changes no PTE bit here):
 *
 *     for each 512 GiB region of [start, end):
 *       first populated 1 GiB slot s?  none: no invalidation
 *       start(PROTECTION_VMA [max(start, s), min(end, region end)))
 *       per 2 MiB region under its PTL: write-protect (no VM_WRITE), PROT_NONE (no access),
 *         or make accessible again; writable migration/device-private entries become readable
 *       end
 *
 * Permissions are only ever lowered on PTEs here: raising VM_WRITE leaves entries read-only and
 * the next write fault upgrades them (the kernel may upgrade some at once; either is allowed).
 */
import { EACCES, EINTR, EINVAL, ENOMEM } from './mm-errno.ts';
import { mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { MMU_NOTIFY_PROTECTION_VMA } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { PAGE_SIZE, PGDIR_SIZE, PMD_SIZE, PUD_SIZE, TASK_SIZE, pageAlignUp } from './constants.ts';
import { vma_adjust_trans_huge } from './huge-memory.ts';
import { change_huge_range } from './huge-pmd-ops.ts';
import { hugetlbBadSplit, hugetlb_change_protection } from './hugetlb.ts';
import type { Mm } from './mm-struct.ts';
import { exclusiveEntriesUncounted } from './device-exclusive-entry.ts';
import {
  KIND_MASK_ANY,
  PTE_EXCLUSIVE,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_PRESENT,
  PTE_PROTNONE,
  PTE_WRITE,
  type Pte,
} from './pte.ts';
import { PROT_EXEC, PROT_READ, PROT_WRITE, protToVmFlags, vmaAllocAnnotation, vmaNoAccess } from './vma-ops.ts';
import { VM_ACCESS_FLAGS, VM_WRITE } from './vma-flags.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * `mprotect(start, len, prot)`. @returns 0; -EINVAL (unaligned start, unknown prot bits);
 * -ENOMEM (part of the range unmapped: the parts before the hole are changed, as in the kernel);
 * -EACCES (a protection the mapping may not have).
 */
export function* sys_mprotect(mm: Mm, start: number, len: number, prot: number): Gen<number> {
  if (mm.killed) return -EINTR;
  if (!Number.isSafeInteger(start) || start % PAGE_SIZE !== 0 || start < 0) return -EINVAL;
  if ((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return -EINVAL;
  if (!Number.isSafeInteger(len) || len < 0) return -EINVAL;
  if (len === 0) return 0;
  const end = start + pageAlignUp(len);
  if (end > TASK_SIZE) return -ENOMEM;
  yield* mmap_write_lock(mm);
  // A hugetlb VMA cannot be split inside a huge page (hugetlb_vm_op_split).
  const ret = hugetlbBadSplit(mm, start, end) ? -EINVAL : yield* mprotectLocked(mm, start, end, protToVmFlags(prot));
  yield* mmap_write_unlock(mm);
  return ret;
}

function* mprotectLocked(mm: Mm, start: number, end: number, access: number): Gen<number> {
  let vma = mm.vmas.findIntersection(start, end);
  if (vma === undefined || vma.start > start) return -ENOMEM;
  let nstart = start;
  while (nstart < end) {
    if (vma === undefined || vma.start > nstart) return -ENOMEM;
    const newFlags = (vma.flags & ~VM_ACCESS_FLAGS) | access;
    // VM_MAY* sit four bits above the bits they allow.
    if ((newFlags & ~(newFlags >> 4) & VM_ACCESS_FLAGS) !== 0) return -EACCES;
    const tmp = Math.min(vma.end, end);
    if (newFlags !== vma.flags) {
      if (nstart > vma.start || tmp < vma.end) vmaAllocAnnotation(); // the split's new VMA
      yield* vma_adjust_trans_huge(mm, vma, nstart, tmp);
      const v = mm.vmas.modifyFlags(vma, nstart, tmp, newFlags);
      if (v.hpageShift !== 0) yield* hugetlb_change_protection(mm, v, nstart, tmp);
      else yield* change_protection(mm, v, nstart, tmp);
    }
    nstart = tmp;
    vma = nstart < end ? mm.vmas.findNext(nstart) : undefined;
  }
  return 0;
}

/** True if any leaf table covers part of [from, to) (the 1 GiB slot's PUD entry is populated). */
function hasTables(mm: Mm, from: number, to: number): boolean {
  for (let a = from - (from % PMD_SIZE); a < to; a += PMD_SIZE) if (mm.pt.leafAt(a) !== -1) return true;
  return false;
}

/**
 * `change_protection` of [start, end) in `vma` to the VMA's current flags; the caller holds the
 * mmap lock for write.
 */
export function* change_protection(mm: Mm, vma: Vma, start: number, end: number): Gen<void> {
  for (let region = start; region < end; ) {
    const regionEnd = Math.min(end, Math.floor(region / PGDIR_SIZE) * PGDIR_SIZE + PGDIR_SIZE);
    let first = -1;
    for (let slot = region; slot < regionEnd; slot = Math.floor(slot / PUD_SIZE) * PUD_SIZE + PUD_SIZE) {
      if (hasTables(mm, slot, Math.min(regionEnd, Math.floor(slot / PUD_SIZE) * PUD_SIZE + PUD_SIZE))) {
        first = slot;
        break;
      }
    }
    if (first >= 0) {
      const range = new MmuNotifierRange();
      mmu_notifier_range_init(range, MMU_NOTIFY_PROTECTION_VMA, 0, mm, first, regionEnd);
      yield* mmu_notifier_invalidate_range_start(range);
      const changed = yield* changePtes(mm, vma, first, regionEnd);
      // Drivers must tolerate this (spec §6.4): say so in the trace when nothing changed.
      if (changed === 0) mm.world.trace?.note(`PROTECTION_VMA ${range}: no PTE changed (a false positive)`);
      yield* mmu_notifier_invalidate_range_end(range);
    }
    region = regionEnd;
  }
}

/** @returns how many entries changed. */
function* changePtes(mm: Mm, vma: Vma, start: number, end: number): Gen<number> {
  let changed = 0;
  const pt = mm.pt;
  const writable = (vma.flags & VM_WRITE) !== 0;
  const noAccess = vmaNoAccess(vma);
  const readableExclusive = exclusiveEntriesUncounted(mm);
  if (pt.hugePmdCount !== 0) yield* change_huge_range(mm, start, end, writable, noAccess);
  let addr = pt.nextEntry(start, end, KIND_MASK_ANY);
  while (addr >= 0) {
    const base = addr - (addr % PMD_SIZE);
    const stop = Math.min(end, base + PMD_SIZE);
    const ptl = mm.ptl(addr);
    yield* spin_lock(ptl);
    for (let a = pt.nextEntry(Math.max(start, base), stop, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, stop, KIND_MASK_ANY)) {
      const old = pt.get(a);
      const next = newPte(old, writable, noAccess, readableExclusive);
      if (next === old) continue;
      changed++;
      pt.set(a, next);
      const kind = old & PTE_KIND_BITS;
      if (kind === PTE_KIND_PRESENT && ((old & PTE_WRITE) !== 0 || (next & PTE_PROTNONE) !== 0)) cpu_mapping_changed(mm, a);
    }
    yield* spin_unlock(ptl);
    addr = stop < end ? pt.nextEntry(stop, end, KIND_MASK_ANY) : -1;
  }
  return changed;
}

function newPte(pte: Pte, writable: boolean, noAccess: boolean, readableExclusive: boolean): Pte {
  const kind = pte & PTE_KIND_BITS;
  let p = pte;
  if (kind === PTE_KIND_PRESENT) {
    if (!writable && (p & PTE_WRITE) !== 0) p -= PTE_WRITE;
    if (noAccess && (p & PTE_PROTNONE) === 0) p += PTE_PROTNONE;
    if (!noAccess && (p & PTE_PROTNONE) !== 0) p -= PTE_PROTNONE;
  } else if (kind === PTE_KIND_MIGRATION && !writable && (p & PTE_WRITE) !== 0) {
    // A writable migration entry is exclusive; read-only it stays so (readable-exclusive), which
    // only an anonymous page's restore acts on, as the kernel's choice by folio_test_anon does.
    p = p - PTE_WRITE + (p & PTE_EXCLUSIVE ? 0 : PTE_EXCLUSIVE);
  } else if ((kind === PTE_KIND_DEVICE_PRIVATE || (kind === PTE_KIND_DEVICE_EXCLUSIVE && readableExclusive)) && !writable && (p & PTE_WRITE) !== 0) {
    // v5.14–v6.14 had readable and writable exclusive entries; v6.15's one type stays as it is
    // (its restore asks the VMA whether the PTE may be writable).
    p -= PTE_WRITE;
  }
  return p;
}
