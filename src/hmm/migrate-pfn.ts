/**
 * migrate_vma's src/dst words (include/linux/migrate.h): the pfn shifted left by
 * MIGRATE_PFN_SHIFT, with flag bits below. Plain numbers: the model's pfns keep every word far
 * below 2^53, and `&` on a JS number keeps its low 32 bits exactly, so `src[i] & MIGRATE_PFN_MIGRATE`
 * reads as in C.
 */

/** The word names a page (its pfn is valid). */
export const MIGRATE_PFN_VALID = 1 << 0;
/** The page is (still) being migrated. */
export const MIGRATE_PFN_MIGRATE = 1 << 1;
/** The source was mapped writable. */
export const MIGRATE_PFN_WRITE = 1 << 3;
/**
 * v6.19+: the entry stands for a whole PMD-sized folio (or an empty PMD range); the next
 * HPAGE_PMD_NR - 1 entries are 0 and belong to it, so it can still be split page by page.
 */
export const MIGRATE_PFN_COMPOUND = 1 << 4;
/** Where the pfn starts. */
export const MIGRATE_PFN_SHIFT = 6;

/** Select system memory (including the zero page and empty entries). */
export const MIGRATE_VMA_SELECT_SYSTEM = 1 << 0;
/** Select device-private pages of the caller's pgmap_owner. */
export const MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1;
/** Select device-coherent pages (present PTEs) of the caller's pgmap_owner (v6.0+). */
export const MIGRATE_VMA_SELECT_DEVICE_COHERENT = 1 << 2;

/**
 * v6.19+: collect a PMD-mapped THP, a device-private PMD or an empty PMD range as one compound
 * entry when the range covers the whole PMD (older kernels ignore it and split).
 */
export const MIGRATE_VMA_SELECT_COMPOUND = 1 << 3;

const SCALE = 2 ** MIGRATE_PFN_SHIFT;

/** `migrate_pfn(pfn)`: the word naming `pfn`, with MIGRATE_PFN_VALID. */
export function migrate_pfn(pfn: number): number {
  return pfn * SCALE + MIGRATE_PFN_VALID;
}

/** `migrate_pfn_to_page(mpfn)`: the page (pfn) a word names, or null when it names none. */
export function migrate_pfn_to_page(mpfn: number): number | null {
  if ((mpfn & MIGRATE_PFN_VALID) === 0) return null;
  return Math.floor(mpfn / SCALE);
}

/** The array type of `src` and `dst` (the C `unsigned long *`). */
export type MigratePfnArray = { length: number; [i: number]: number };
