/**
 * Why a case cannot run on the model yet: the kernel feature hmmsim lacks, or the part of the
 * port not done, named so a reader knows the SKIP is hmmsim's gap and not the kernel's.
 */

/**
 * THP cases: the model has transparent huge pages (THP modes, MADV_HUGEPAGE), but these cases'
 * port is not done: dmirror does not yet mirror or migrate PMD-sized (device THP) folios.
 */
export const LACKS_THP = 'not ported yet: needs device THP migration and PMD-sized mirroring in dmirror (the model has THP; this case is not ported to it)';

/** The pagemap procfs file. */
export const LACKS_PAGEMAP = 'hmmsim lacks /proc/self/pagemap';
