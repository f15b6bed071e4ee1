/**
 * VMA flag bits, with the kernel's names and values (include/linux/mm.h), and
 * the rules built on them that the VMA set needs.
 *
 * Only bits below 2^31 are defined, so flag words stay non-negative int32 and
 * compare with `===` (the kernel's VM_MERGEABLE at bit 31 is not modelled).
 */

/** No access. */
export const VM_NONE = 0;
/** Readable. */
export const VM_READ = 0x1;
/** Writable. */
export const VM_WRITE = 0x2;
/** Executable. */
export const VM_EXEC = 0x4;
/** Shared mapping (writes go to the object, not to private COW copies). */
export const VM_SHARED = 0x8;
/** May be made readable by mprotect. */
export const VM_MAYREAD = 0x10;
/** May be made writable by mprotect. */
export const VM_MAYWRITE = 0x20;
/** May be made executable by mprotect. */
export const VM_MAYEXEC = 0x40;
/** May be shared (MAP_SHARED, even if opened read-only). */
export const VM_MAYSHARE = 0x80;
/** Stack-like, grows down. */
export const VM_GROWSDOWN = 0x100;
/** Raw PFN map: no struct page behind the entries. */
export const VM_PFNMAP = 0x400;
/** mlock()ed. */
export const VM_LOCKED = 0x2000;
/** Memory-mapped I/O. */
export const VM_IO = 0x4000;
/** Not copied on fork (MADV_DONTFORK). */
export const VM_DONTCOPY = 0x20000;
/** Cannot be expanded by mremap. */
export const VM_DONTEXPAND = 0x40000;
/** Charged to the commit limit. */
export const VM_ACCOUNT = 0x100000;
/** Not charged (MAP_NORESERVE). */
export const VM_NORESERVE = 0x200000;
/** hugetlbfs mapping. */
export const VM_HUGETLB = 0x400000;
/** Zeroed in the child on fork (MADV_WIPEONFORK). */
export const VM_WIPEONFORK = 0x2000000;
/** Left out of core dumps. */
export const VM_DONTDUMP = 0x4000000;
/** Soft-dirty tracking: all pages count as soft-dirty. */
export const VM_SOFTDIRTY = 0x8000000;
/** Mixed PFN/page map. */
export const VM_MIXEDMAP = 0x10000000;
/** MADV_HUGEPAGE. */
export const VM_HUGEPAGE = 0x20000000;
/** MADV_NOHUGEPAGE. */
export const VM_NOHUGEPAGE = 0x40000000;

/** Mappings that never merge (the kernel's VM_SPECIAL). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;
/** Access bits, as mprotect changes them. */
export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;
/** Bits ignored when deciding whether two VMAs may merge (the kernel ignores soft-dirty). */
export const VM_IGNORE_MERGE = VM_SOFTDIRTY;

/** A COW mapping: private and possibly writable (the kernel's is_cow_mapping). */
export function isCowMapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/** /proc/pid/maps style permissions, e.g. `rw-p` or `r--s`. */
export function vmFlagsString(flags: number): string {
  return (
    (flags & VM_READ ? 'r' : '-') +
    (flags & VM_WRITE ? 'w' : '-') +
    (flags & VM_EXEC ? 'x' : '-') +
    (flags & VM_MAYSHARE ? 's' : 'p')
  );
}
