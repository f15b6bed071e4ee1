/**
 * Why a case cannot run on the model yet: the kernel feature hmmsim lacks, named so a reader
 * knows the SKIP is the model's gap and not the kernel's.
 */

/** Transparent huge pages (issue 10, the huge-pages layer, not merged yet). */
export const LACKS_THP = 'hmmsim lacks transparent huge pages (MADV_HUGEPAGE, MADV_COLLAPSE, PMD-mapped and device THP folios): the huge-pages layer is not merged yet';

/** Hugetlb: the kernel's case skips with "Not enough huge pages" when none is free. */
export const LACKS_HUGETLB = 'Not enough huge pages (hmmsim has no hugetlb pool: the huge-pages layer is not merged yet)';

/** mmap of the device file (vm_insert_page into a VM_MIXEDMAP VMA). */
export const LACKS_DEVICE_MMAP = 'hmmsim lacks mmap of a device file (dmirror_fops_mmap: vm_insert_page into a mixed map)';

/** The kernel's own skip when /sys/kernel/debug/gup_test cannot be opened. */
export const LACKS_GUP_TEST = 'could not find gup_test driver (hmmsim has no gup_test debugfs interface)';

/** The pagemap procfs file. */
export const LACKS_PAGEMAP = 'hmmsim lacks /proc/self/pagemap';
