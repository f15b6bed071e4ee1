/**
 * What the mm core does with a device-exclusive entry it meets (mm/memory.c's
 * restore_exclusive_pte, used by the CPU fault and by fork). Creating such entries is the hmm
 * layer's business (src/hmm/device-exclusive*.ts); restoring them is the core's, because every
 * CPU access and every fork may meet one.
 *
 * The restored PTE, per generation (the contract's `deviceExclusiveApi`):
 *
 *     range (v5.14–v6.14)   old; a writable entry comes back dirty and, if the VMA is writable,
 *                           writable; the mapping is added back to the mapcount (the entry was
 *                           not counted in it)
 *     single (v6.15+)       old; dirty only if the folio is dirty; writable only if the VMA is
 *                           writable and the PTE may be made writable (can_change_pte_writable:
 *                           for a private anonymous page, only while it is exclusive to this mm);
 *                           the mapcount is unchanged (the entry was counted)
 *
 * The caller holds the PTE lock and the folio lock, and has an invalidation open over the page.
 */
import { contractOf } from '../locking/version.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { PG_ANON_EXCLUSIVE, PG_DIRTY } from './frame-flags.ts';
import type { Mm } from './mm-struct.ts';
import { PTE_DIRTY, PTE_WRITE, pfnPte, ptePfn, type Pte } from './pte.ts';
import { protBits } from './vma-ops.ts';
import { VM_WRITE } from './vma-flags.ts';
import type { Vma } from './vma.ts';
import type { World } from '../sim/world.js';

/** Told when a device-exclusive entry of `mm` at `addr` for `pfn` goes away; installed by the hmm layer. */
export type ExclusiveEntryHook = (mm: Mm, addr: number, pfn: number) => void;

const HOOK_KEY = 'mm.exclusiveEntryGone';

/** Installs the hook told of every device-exclusive entry that is restored, zapped or unmapped (per run). */
export function setExclusiveEntryHook(world: World, h: ExclusiveEntryHook): void {
  world.locals.set(HOOK_KEY, h);
}

/** A device-exclusive entry went away (restored, zapped, unmapped by reclaim or migration). */
export function exclusiveEntryGone(mm: Mm, addr: number, pfn: number): void {
  const h = mm.world.locals.get(HOOK_KEY) as ExclusiveEntryHook | undefined;
  if (h !== undefined) h(mm, addr, pfn);
}

/** True while exclusive entries are left out of the folio's mapcount (v5.14–v6.14). */
export function exclusiveEntriesUncounted(mm: Mm): boolean {
  return contractOf(mm.world).deviceExclusiveApi === 'range';
}

/**
 * Replaces the device-exclusive entry `entry` at `addr` with the present PTE it stands for.
 * @returns the new PTE.
 */
export function restoreExclusivePte(mm: Mm, vma: Vma, addr: number, entry: Pte): Pte {
  const f = mm.sys.frames;
  const pfn = ptePfn(entry);
  const vmaWritable = (vma.flags & VM_WRITE) !== 0;
  let bits = protBits(vma);
  if (exclusiveEntriesUncounted(mm)) {
    if ((entry & PTE_WRITE) !== 0) {
      bits |= PTE_DIRTY;
      if (vmaWritable) bits |= PTE_WRITE;
    }
    f.incMapcount(pfn);
  } else {
    if (f.testFlags(pfn, PG_DIRTY)) bits |= PTE_DIRTY;
    if (vmaWritable && f.testFlags(pfn, PG_ANON_EXCLUSIVE)) bits |= PTE_WRITE;
  }
  exclusiveEntryGone(mm, addr, pfn);
  const pte = pfnPte(pfn, bits);
  mm.pt.set(addr, pte);
  cpu_mapping_changed(mm, addr);
  return pte;
}
