/**
 * INV-H5 / INV-M2 of spec §8 for migrate_vma: a device must not keep a mapping of a page that
 * migrated away. A driver that filters the MIGRATE invalidation carrying its own owner (so its
 * own migration does not bump its sequence) has promised to tear its mappings of the migrating
 * pages down itself before finalize; when finalize returns, any device mapping still naming a
 * source page that was replaced is this finding, whether or not the general coherence oracle
 * also sees it.
 */
import { device_shadows } from '../notifier/coherence.js';
import type { Mm } from '../mm/mm-struct.ts';
import { PAGE_SIZE } from '../mm/constants.ts';
import { MIGRATE_PFN_MIGRATE, migrate_pfn_to_page, type MigratePfnArray } from './migrate-pfn.ts';

/** Finding kind: a device still maps a page that migrate_vma replaced (INV-H5 / INV-M2). */
export const DEVICE_MAPS_MIGRATED_PAGE = 'device-maps-migrated-page';

interface MigrateArgs {
  start: number;
  npages: number;
  src: MigratePfnArray | null;
  dst: MigratePfnArray | null;
}

/** After finalize: each source page that was replaced must be mapped by no device at its address. */
export function checkMigratedMappings(mm: Mm, args: MigrateArgs): void {
  const shadows = device_shadows(mm.world);
  if (shadows.length === 0) return;
  mm.world.touchUndeclared(); // reads every device's shadow
  for (let i = 0; i < args.npages; i++) {
    const w = args.src![i]!;
    if ((w & MIGRATE_PFN_MIGRATE) === 0) continue;
    const page = migrate_pfn_to_page(w);
    if (page === null || migrate_pfn_to_page(args.dst![i]!) === null) continue;
    const addr = args.start + i * PAGE_SIZE;
    for (const d of shadows) {
      if (d.mm !== mm || d.contract === 'pinned') continue;
      const m = d.entries.get(addr);
      if (m === undefined || m.pfn !== page) continue;
      mm.world.report(
        DEVICE_MAPS_MIGRATED_PAGE,
        `${d.name} still maps ${mm.name}:0x${addr.toString(16)} -> pfn ${page} after migrate_vma_finalize moved that page away (INV-H5: a driver that filters its own MIGRATE event must tear its mapping down before finalize)`,
        `${d.name}:migrated`,
      );
    }
  }
}
