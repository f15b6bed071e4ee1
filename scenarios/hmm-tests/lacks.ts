/**
 * Why a case cannot run on the model yet: the kernel feature hmmsim lacks, or the part of the
 * port not done, named so a reader knows the SKIP is hmmsim's gap and not the kernel's.
 */

/**
 * THP cases: the model has transparent huge pages (THP modes, MADV_HUGEPAGE), but these cases'
 * port is not done: dmirror does not yet mirror or migrate PMD-sized (device THP) folios.
 */
export const LACKS_THP = 'not ported yet: needs device THP migration and PMD-sized mirroring in dmirror (the model has THP; this case is not ported to it)';

/** Hugetlb cases: the model has hugetlb pools, but these cases' port is not done. */
export const LACKS_HUGETLB = 'not ported yet: needs dmirror to mirror hugetlb-backed buffers (the model has hugetlb pools; this case is not ported to them)';

/** mmap of the device file (vm_insert_page into a VM_MIXEDMAP VMA). */
export const LACKS_DEVICE_MMAP = 'hmmsim lacks mmap of a device file (dmirror_fops_mmap: vm_insert_page into a mixed map)';

/** The kernel's own skip when /sys/kernel/debug/gup_test cannot be opened. */
export const LACKS_GUP_TEST = 'could not find gup_test driver (hmmsim has no gup_test debugfs interface)';

/** The pagemap procfs file. */
export const LACKS_PAGEMAP = 'hmmsim lacks /proc/self/pagemap';
