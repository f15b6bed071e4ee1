/**
 * The `hmm_pfns` word (include/linux/hmm.h): one unsigned 64-bit value per page, request bits in
 * and results out, laid out exactly as on a 64-bit kernel:
 *
 *     63 VALID / REQ_FAULT   62 WRITE / REQ_WRITE   61 ERROR
 *     60 DMA_MAPPED   59 P2PDMA   58 P2PDMA_BUS   (sticky: carried from input to output)
 *     57..53 map order   52..0 pfn
 *
 * This is the layout of kernels with the HMM DMA helpers' sticky bits (2025; the review dates it
 * v6.16, not re-verified). Before them the order field started at BITS_PER_LONG - 8 = 56 (map order:
 * v5.10+) and there were no sticky bits; no version switch selects that older layout, so a driver
 * that hard-codes bit positions instead of these names is only right for the newer kernels.
 *
 * Drivers hold the words in a `BigUint64Array` and test them with the bigint constants below,
 * as C code does (`if (range.hmm_pfns[i] & HMM_PFN_VALID)`). The walker writes them through a
 * 32-bit view of the same buffer (the low word is the pfn, the high word the flags and order), so
 * a snapshot of a million pages allocates nothing. The model's pfns fit in 32 bits, so the high
 * bits of the pfn field are always 0.
 */

/** Output: the pfn is valid and at least readable. Same bit as HMM_PFN_REQ_FAULT. */
export const HMM_PFN_VALID = 1n << 63n;
/** Output: writable. Same bit as HMM_PFN_REQ_WRITE. */
export const HMM_PFN_WRITE = 1n << 62n;
/** Output: the device must fail the access (no VMA, an I/O or PFN map, no read permission). */
export const HMM_PFN_ERROR = 1n << 61n;
/** Sticky: the page is DMA-mapped (the HMM DMA helpers' bookkeeping; carried unchanged). */
export const HMM_PFN_DMA_MAPPED = 1n << 60n;
/** Sticky: peer-to-peer DMA. */
export const HMM_PFN_P2PDMA = 1n << 59n;
/** Sticky: peer-to-peer DMA through the bus address. */
export const HMM_PFN_P2PDMA_BUS = 1n << 58n;
/** Lowest bit of the 5-bit map order field. */
export const HMM_PFN_ORDER_SHIFT = 53n;
/**
 * The bits hmm_range_fault carries unchanged from a word's input to its output: the sticky set
 * (DMA_MAPPED, P2PDMA, P2PDMA_BUS). The kernel keeps this name private to mm/hmm.c, with this
 * meaning; it is exported here so a reviewer porting by name reads the same set.
 */
export const HMM_PFN_INOUT_FLAGS = HMM_PFN_DMA_MAPPED | HMM_PFN_P2PDMA | HMM_PFN_P2PDMA_BUS;
/** The sticky bits (the model's own name for HMM_PFN_INOUT_FLAGS). */
export const HMM_PFN_STICKY = HMM_PFN_INOUT_FLAGS;
/** Every flag bit, from the order field up (the complement is the pfn field), as include/linux/hmm.h. */
export const HMM_PFN_FLAGS = ((1n << 64n) - 1n) & ~((1n << HMM_PFN_ORDER_SHIFT) - 1n);
/** Input: the page must end up valid, faulting it in if needed. */
export const HMM_PFN_REQ_FAULT = HMM_PFN_VALID;
/** Input: the page must end up writable (only together with HMM_PFN_REQ_FAULT). */
export const HMM_PFN_REQ_WRITE = HMM_PFN_WRITE;

/** The same bits in the high 32-bit word, for the walker. @internal */
export const HI_VALID = 0x80000000;
/** @internal */
export const HI_WRITE = 0x40000000;
/** @internal */
export const HI_ERROR = 0x20000000;
/** @internal */
export const HI_STICKY = 0x1c000000;
/** @internal */
export const HI_ORDER_SHIFT = 21;

const PFN_MASK = (1n << 53n) - 1n;

/** `hmm_pfn_to_page`: the page (pfn) an output word names. Only meaningful when VALID is set. */
export function hmm_pfn_to_page(hmm_pfn: bigint): number {
  return Number(hmm_pfn & PFN_MASK);
}

/** The pfn field (the kernel reads it as `hmm_pfn & ~HMM_PFN_FLAGS`). */
export function hmm_pfn_to_pfn(hmm_pfn: bigint): number {
  return Number(hmm_pfn & ~HMM_PFN_FLAGS & ((1n << 64n) - 1n));
}

/** `hmm_pfn_to_map_order`: log2 of the CPU mapping size in pages (0 for a base page). */
export function hmm_pfn_to_map_order(hmm_pfn: bigint): number {
  return Number((hmm_pfn >> HMM_PFN_ORDER_SHIFT) & 0x1fn);
}

/** A decoded word (for tests, traces and drivers that prefer records). */
export interface HmmPfnFields {
  pfn: number;
  valid: boolean;
  write: boolean;
  error: boolean;
  order: number;
  /** The sticky bits, as their bigint value. */
  sticky: bigint;
}

/** Lossless decode of one word. */
export function hmm_pfn_decode(w: bigint): HmmPfnFields {
  return {
    pfn: hmm_pfn_to_pfn(w),
    valid: (w & HMM_PFN_VALID) !== 0n,
    write: (w & HMM_PFN_WRITE) !== 0n,
    error: (w & HMM_PFN_ERROR) !== 0n,
    order: hmm_pfn_to_map_order(w),
    sticky: w & HMM_PFN_STICKY,
  };
}

/**
 * Lossless encode (the inverse of `hmm_pfn_decode`).
 * @throws RangeError for a pfn outside [0, 2^53) or an order outside [0, 31].
 */
export function hmm_pfn_encode(f: HmmPfnFields): bigint {
  if (!Number.isSafeInteger(f.pfn) || f.pfn < 0) throw new RangeError(`hmm_pfn_encode: pfn ${String(f.pfn)} is not in [0, 2^53)`);
  if (!Number.isInteger(f.order) || f.order < 0 || f.order > 31) throw new RangeError(`hmm_pfn_encode: order ${String(f.order)} is not in [0, 31]`);
  let w = BigInt(f.pfn) | (BigInt(f.order) << HMM_PFN_ORDER_SHIFT) | (f.sticky & HMM_PFN_STICKY);
  if (f.valid) w |= HMM_PFN_VALID;
  if (f.write) w |= HMM_PFN_WRITE;
  if (f.error) w |= HMM_PFN_ERROR;
  return w;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The 32-bit view the walker writes through: word i is [2i] (pfn) and [2i + 1] (flags). @internal */
export function hmmPfnWords(pfns: BigUint64Array): Uint32Array {
  if (!LITTLE_ENDIAN) throw new Error('hmm_range_fault: hmmsim assumes a little-endian host');
  return new Uint32Array(pfns.buffer, pfns.byteOffset, pfns.length * 2);
}
