/**
 * The CPU side of device memory and migration (do_swap_page's non-swap branches), installed as
 * the mm layer's special-fault hook the first time the hmm layer makes such an entry:
 *
 *     migration entry       sleep until the migrating page is unlocked, then retry the access
 *     device-private entry  (a PMD one, v6.19+: the folio's head page, the whole folio)
 *                           lock the PTE; unchanged?  try-lock the page:
 *                             taken   get a reference, unlock the PTE, call the pagemap's
 *                                     migrate_to_ram(vmf) with the page locked, unlock, put
 *                             busy    by kernel version (contract devicePrivateLockedFault):
 *                                     retry  unlock the PTE and retry the fault (v6.1-v6.19: a spin)
 *                                     wait   queue on the page under the PTE lock, unlock it,
 *                                            sleep until the page is unlocked, retry
 *
 * migrate_to_ram returns 0 (the access retries and finds system memory, INV-M4) or
 * VM_FAULT_SIGBUS (the access fails with -EFAULT). The fault keeps the mmap lock throughout.
 */
import { EFAULT } from '../locking/errno.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { contractOf } from '../locking/version.js';
import { FindingKind } from '../sim/finding.js';
import type { World } from '../sim/world.js';
import { VM_FAULT_SIGBUS, page_pgmap, type VmFault } from '../mm/device-private.ts';
import { setSpecialFaultHandler } from '../mm/fault.ts';
import { folio_trylock, folio_unlock, waitOnLockedUnderPtl } from '../mm/folio-lock.ts';
import type { Mm } from '../mm/mm-struct.ts';
import { PTE_KIND_BITS, PTE_KIND_DEVICE_PRIVATE, PTE_KIND_MIGRATION, ptePfn, type Pte } from '../mm/pte.ts';
import type { Vma } from '../mm/vma.ts';
import { migration_entry_wait } from './hmm-range-fault.ts';

type Gen<T> = Generator<unknown, T, unknown>;

const INSTALLED = 'hmm.cpuFault';

/** Installs the hook for this run (idempotent). */
export function installCpuFault(world: World): void {
  if (world.locals.has(INSTALLED)) return;
  world.locals.set(INSTALLED, true);
  setSpecialFaultHandler(world, specialFault);
}

function* specialFault(mm: Mm, vma: Vma, addr: number, pte: Pte, _write: boolean, flags: number): Gen<number> {
  const kind = pte & PTE_KIND_BITS;
  if (kind === PTE_KIND_MIGRATION) {
    yield* migration_entry_wait(mm, addr);
    return 0;
  }
  if (kind !== PTE_KIND_DEVICE_PRIVATE) return -EFAULT;
  return yield* deviceFault(mm, vma, addr, pte, flags);
}

/** The point of one retry of a fault on a locked device page (a constant: the retry loop allocates nothing). */
const RETRY_LABEL = 'do_swap_page: device page locked, retry the fault';

/** do_swap_page on a device-private entry (spec §5.4). */
function* deviceFault(mm: Mm, vma: Vma, addr: number, orig: Pte, flags: number): Gen<number> {
  const sys = mm.sys;
  // A device-private PMD (v6.19+, do_huge_pmd_device_private): the fault names the folio's head
  // page, and migrate_to_ram brings the whole folio back.
  const huge = mm.pt.getPmd(addr) !== 0;
  const entry = (): Pte => (huge ? mm.pt.getPmd(addr) : mm.pt.get(addr));
  if (huge) orig = mm.pt.getPmd(addr);
  const page = ptePfn(orig);
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  if (entry() !== orig) {
    yield* spin_unlock(ptl);
    return 0;
  }
  if (!(yield* folio_trylock(page))) {
    if (contractOf(mm.world).devicePrivateLockedFault === 'wait') {
      yield* waitOnLockedUnderPtl(page, ptl);
    } else {
      yield* spin_unlock(ptl);
      // The fault returns and is taken again: every round passes here, never a silent loop.
      yield mm.world.point(RETRY_LABEL);
    }
    return 0;
  }
  sys.frames.get(page);
  yield* spin_unlock(ptl);
  const pgmap = page_pgmap(mm.world, page);
  let ret = VM_FAULT_SIGBUS;
  if (pgmap === null || pgmap.ops.migrate_to_ram === undefined) {
    mm.world.report(FindingKind.Bug, `BUG: CPU fault on device-private pfn ${page} whose pagemap has no migrate_to_ram`, 'hmm:no-migrate_to_ram');
  } else {
    const vmf: VmFault = { vma, address: addr, page, flags, mm };
    ret = yield* pgmap.ops.migrate_to_ram(vmf);
  }
  yield* folio_unlock(page);
  sys.putPage(page);
  return ret === 0 ? 0 : -EFAULT;
}
