/**
 * Page-size and address-space constants shared by the mm data structures.
 *
 * The model is an x86-64-like machine: 4 KiB base pages and four paging levels
 * of 512 entries, so a virtual address has 48 significant bits. Addresses are
 * held in JS numbers (doubles), which are exact for every integer below 2^53,
 * so all 48-bit arithmetic here stays exact; but 32-bit bit operators must not
 * be applied to whole addresses, hence the divisions by powers of two below.
 */

/** log2 of the base page size. */
export const PAGE_SHIFT = 12;
/** Base page size in bytes (4 KiB). */
export const PAGE_SIZE = 4096;
/** Mask of the in-page offset bits (PAGE_SIZE - 1); the kernel's ~PAGE_MASK. */
export const PAGE_OFFSET_MASK = PAGE_SIZE - 1;
/** 32-bit words per page, the unit of lazily allocated page contents. */
export const WORDS_PER_PAGE = PAGE_SIZE / 4;

/** Entries per page-table page at every level. */
export const PTRS_PER_TABLE = 512;
/** Bytes mapped by one leaf (PTE) table: 2 MiB. */
export const PMD_SIZE = 2 ** 21;
/** Bytes mapped by one PMD table: 1 GiB. */
export const PUD_SIZE = 2 ** 30;
/** Bytes mapped by one PUD table: 512 GiB. */
export const PGDIR_SIZE = 2 ** 39;
/** Size of the 48-bit virtual address space the page table covers. */
export const VA_SPACE_SIZE = 2 ** 48;
/**
 * Top of user space (exclusive), as on x86-64 with 4-level paging: the lower
 * half of the 48-bit space minus one guard page.
 */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;
/** Lowest address mmap hands out by default (the kernel's mmap_min_addr default). */
export const MMAP_MIN_ADDR = 0x10000;

/** True if `addr` is a non-negative integer multiple of PAGE_SIZE. */
export function isPageAligned(addr: number): boolean {
  return Number.isSafeInteger(addr) && addr >= 0 && addr % PAGE_SIZE === 0;
}

/** Round down to a page boundary (the kernel's `addr & PAGE_MASK`). */
export function pageAlignDown(addr: number): number {
  return addr - (addr % PAGE_SIZE);
}

/** Round up to a page boundary (the kernel's PAGE_ALIGN). */
export function pageAlignUp(addr: number): number {
  const r = addr % PAGE_SIZE;
  return r === 0 ? addr : addr + (PAGE_SIZE - r);
}

/** Number of whole pages in `bytes` (bytes must be page aligned). */
export function bytesToPages(bytes: number): number {
  return bytes / PAGE_SIZE;
}

/** Hex form of an address for messages, e.g. `0x7f0000001000`. */
export function hexAddr(addr: number): string {
  return `0x${addr.toString(16)}`;
}
