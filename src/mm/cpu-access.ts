/**
 * CPU accesses: a task's loads and stores through its address space, as user code (or the
 * kernel's copy_from_user / copy_to_user) makes them.
 *
 * An access first does what the MMU does: one step that reads the PTE and, if it allows the
 * access, touches the page's contents (and marks the entry dirty on a store). That step's
 * scheduling point names the split PTL of the address, so the explorer orders it against every
 * PTE change in that region. If the entry does not allow the access, the access faults
 * (fault.ts) and is retried:
 *
 *     read32(mm, a):  [PTE present, accessible] -> value
 *                     otherwise fault_in(read) -> retry; -EFAULT (SIGSEGV) if the fault fails
 *
 * Both announce might_fault first, as the kernel's user-copy helpers do: lockdep learns "may sleep,
 * may take the mmap lock for read" on every access, not only on the ones that happen to fault.
 *
 * Values are unsigned 32-bit words; errors are negative errnos, so the two never collide.
 * (Accesses to one frame through two different mms name different locks: the explorer treats
 * them as independent, which is exact for private memory and an approximation for shared.)
 */
import { EFAULT, EINTR } from '../locking/errno.js';
import { might_fault } from '../locking/mmap-lock.js';
import { Access } from '../sim/point.js';
import { PAGE_SIZE } from './constants.ts';
import { fault_in } from './fault.ts';
import type { Mm } from './mm-struct.ts';
import { LEAF_IS_HUGE } from './page-table.ts';
import { PTE_DIRTY, PTE_KIND_BITS, PTE_KIND_PRESENT, PTE_PROTNONE, PTE_WRITE, ptePfn } from './pte.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The MMU's dirty-bit update, on the PTE or on the huge PMD/PUD that maps the page. */
function markDirty(mm: Mm, page: number, pte: number): void {
  const pt = mm.pt;
  if (pt.leafAt(page) !== LEAF_IS_HUGE) pt.set(page, pte + PTE_DIRTY);
  else if (pt.getPmd(page) !== 0) pt.setPmd(page, pt.getPmd(page) | PTE_DIRTY);
  else pt.setPud(page, pt.getPud(page) | PTE_DIRTY);
}

/** Checked address arithmetic: word-aligned, inside the 48-bit space. */
function badAddress(addr: number): boolean {
  return !Number.isSafeInteger(addr) || addr < 0 || addr % 4 !== 0 || addr >= 2 ** 48;
}

/** Loads the 32-bit word at `addr` (4-aligned). @returns the value, or -EFAULT / -EINTR. */
export function* read32(mm: Mm, addr: number): Gen<number> {
  if (badAddress(addr)) return -EFAULT;
  might_fault(mm);
  const page = addr - (addr % PAGE_SIZE);
  const label = `read32 ${mm.name}:0x${addr.toString(16)}`;
  for (;;) {
    if (mm.killed) return -EINTR;
    if (mm.dead) return -EFAULT;
    yield mm.world.point(label, mm.ptl(page), Access.Read);
    const pte = mm.pt.get(page);
    if ((pte & PTE_KIND_BITS) === PTE_KIND_PRESENT && (pte & PTE_PROTNONE) === 0) {
      return mm.sys.frames.read32(ptePfn(pte), addr - page);
    }
    const r = yield* fault_in(mm, page, false);
    if (r < 0) return r;
  }
}

/** Stores `value` (as unsigned 32-bit) at `addr` (4-aligned). @returns 0, or -EFAULT / -EINTR. */
export function* write32(mm: Mm, addr: number, value: number): Gen<number> {
  if (badAddress(addr)) return -EFAULT;
  might_fault(mm);
  const page = addr - (addr % PAGE_SIZE);
  const label = `write32 ${mm.name}:0x${addr.toString(16)}`;
  for (;;) {
    if (mm.killed) return -EINTR;
    if (mm.dead) return -EFAULT;
    yield mm.world.point(label, mm.ptl(page), Access.Write);
    const pte = mm.pt.get(page);
    if ((pte & PTE_KIND_BITS) === PTE_KIND_PRESENT && (pte & (PTE_PROTNONE | PTE_WRITE)) === PTE_WRITE) {
      // The MMU sets the dirty bit on the first store; reclaim and MADV_FREE read it back.
      if ((pte & PTE_DIRTY) === 0) markDirty(mm, page, pte);
      mm.sys.frames.write32(ptePfn(pte), addr - page, value >>> 0);
      return 0;
    }
    const r = yield* fault_in(mm, page, true);
    if (r < 0) return r;
  }
}
