/**
 * hugetlb (mm/hugetlb.c): MAP_HUGETLB mappings of 2 MiB and 1 GiB pages from a per-run pool.
 *
 * Only the zap of a PUD leaf exists so far; the pool, reservations and faults are not built yet
 * (mmap with MAP_HUGETLB returns -EINVAL with a message saying so).
 */
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { PUD_SIZE } from './constants.ts';
import { cpuRangeChanged } from './huge-memory.ts';
import type { Mm } from './mm-struct.ts';
import { PTE_KIND_BITS, PTE_KIND_PRESENT, PTE_SPECIAL, ptePfn } from './pte.ts';
import type { TlbGather } from './zap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Zaps the PUD leaf at `base` (a 1 GiB hugetlb page): entire mapping and reference dropped. */
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
