/**
 * Typed-array storage that lives for one run and is recycled at the next reset.
 *
 * The explorer re-runs a scenario millions of times, and every run of a scenario on the
 * simulated address space builds page tables and frame metadata afresh. Typed arrays of more
 * than a few dozen bytes keep their bytes outside the JavaScript heap: allocating them is slow,
 * and the external memory they add forces full (mark-compact) collections. The world hands out
 * zeroed ArrayBuffers from this pool instead; at reset every buffer lent during the run comes
 * back, since nothing made for an earlier run may be used again (World.reset's contract).
 *
 *     run 1: take(3072) -> new buffer B      reset: B back to the free list for 3072 bytes
 *     run 2: take(3072) -> B, zeroed         (no allocation, no external memory growth)
 */

/** Zeroed ArrayBuffers by size, reclaimed all at once. */
export class BufferPool {
  /** Free buffers by byte length. */
  private readonly free = new Map<number, ArrayBuffer[]>();
  /**
   * Buffers lent during this run: the buffers themselves, not views of them, so a model with a
   * million mapped pages pays one array slot per buffer and nothing more on the heap.
   */
  private readonly lent: ArrayBuffer[] = [];

  /** A zeroed buffer of `bytes` bytes, valid until the world's next reset. */
  take(bytes: number): ArrayBuffer {
    const reused = this.free.get(bytes)?.pop();
    const buf = reused ?? new ArrayBuffer(bytes);
    // A short-lived view to clear a recycled buffer: young garbage, unlike a view kept per buffer.
    if (reused !== undefined) new Uint8Array(buf).fill(0);
    this.lent.push(buf);
    return buf;
  }

  /** Takes back every buffer lent since the last call (the world calls this at reset). */
  reclaim(): void {
    const lent = this.lent;
    for (let i = 0; i < lent.length; i++) {
      const b = lent[i]!;
      let list = this.free.get(b.byteLength);
      if (list === undefined) {
        list = [];
        this.free.set(b.byteLength, list);
      }
      list.push(b);
    }
    lent.length = 0;
  }
}

/** Allocates the storage of a typed structure: a pool's `take`, or plain `new ArrayBuffer`. */
export type BufferAllocator = (bytes: number) => ArrayBuffer;

/** The allocator for structures that live outside any world (tests, benchmarks). */
export const freshBuffer: BufferAllocator = (bytes) => new ArrayBuffer(bytes);
