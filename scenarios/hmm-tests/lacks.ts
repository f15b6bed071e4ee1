/**
 * Why a case cannot run on the model yet: the kernel feature hmmsim lacks, or the part of the
 * port not done, named so a reader knows the SKIP is hmmsim's gap and not the kernel's.
 */

/** The pagemap procfs file. */
export const LACKS_PAGEMAP = 'hmmsim lacks /proc/self/pagemap';
