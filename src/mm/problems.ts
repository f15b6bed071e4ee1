/**
 * Problem records: how the mm data structures report kernel-level misuse.
 *
 * A put on a free page, a page freed while still mapped, a write to the shared
 * zero page, a swap count underflow: in the kernel these are BUG/WARN/"Bad page
 * state" reports, not crashes of the tool. The structures therefore never throw
 * for them; they append a record to a caller-owned sink and carry on (doing
 * what the kernel would do where that is well defined), and the mm layer turns
 * records into findings with its own place and task information. Plain
 * programming errors of the tool's user (an unaligned address, a length that
 * is not a page multiple) still throw `Error`, because no kernel state is
 * involved.
 */

/** The misuse kinds the mm data structures can detect. */
export type MmProblemKind =
  /** get/put/map/unmap on a frame that is free. */
  | 'frame-use-after-free'
  /** put dropped the refcount of a free frame. */
  | 'frame-put-on-free'
  /** The refcount reached 0 while the mapcount was still positive. */
  | 'frame-freed-while-mapped'
  /** The refcount reached 0 while the frame was locked. */
  | 'frame-freed-while-locked'
  /** Mapcount decremented below 0. */
  | 'frame-mapcount-underflow'
  /** unpin_user_page of a frame that holds no pin. */
  | 'frame-unpin-unpinned'
  /** A compound folio split while still mapped by a PMD, free, or in the swap cache. */
  | 'frame-split-refused'
  /** Something tried to write the shared zero page. */
  | 'zero-page-write'
  /** A swap slot was duplicated, freed or accessed while free. */
  | 'swap-slot-free'
  /** Swap count decremented below 0. */
  | 'swap-count-underflow';

/** One detected misuse. */
export interface MmProblem {
  /** What went wrong. */
  readonly kind: MmProblemKind;
  /** Kernel-style one-line description, e.g. `BUG: Bad page state: pfn 12 ...`. */
  readonly message: string;
  /** The frame concerned, or -1. */
  readonly pfn: number;
  /** The frame's generation at the time, or -1 (tells a reused frame apart). */
  readonly generation: number;
  /** The swap slot concerned, or -1. */
  readonly slot: number;
}

/** Where problems go. A plain array: records are rare, so pushing is cheap enough. */
export type MmProblemSink = MmProblem[];

/** Build a problem record (keeps every field present, so records compare with toEqual). */
export function mmProblem(
  kind: MmProblemKind,
  message: string,
  pfn = -1,
  generation = -1,
  slot = -1,
): MmProblem {
  return { kind, message, pfn, generation, slot };
}
