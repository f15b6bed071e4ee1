import { describe, expect, it } from 'vitest';
import { CHUNK, CHUNK_BYTES, FrameStore } from '../../src/mm/frame-store.ts';

/** Exposes the protected growth step. */
class Store extends FrameStore {
  take(n: number): number {
    return this.takeUnused(n);
  }
  check(pfn: number): void {
    this.checkPfn(pfn);
  }
}

describe('FrameStore', () => {
  it('grows by whole chunks, never more than one chunk beyond need', () => {
    const s = new Store();
    expect(s.metadataBytes()).toBe(0);
    expect(s.take(1)).toBe(0);
    expect(s.metadataBytes()).toBe(CHUNK_BYTES);
    expect(s.take(CHUNK)).toBe(1);
    expect(s.capacity).toBe(CHUNK + 1);
    expect(s.metadataBytes()).toBe(2 * CHUNK_BYTES);
    expect(CHUNK_BYTES / CHUNK).toBe(22);
  });

  it('checkPfn rejects pfns outside the table', () => {
    const s = new Store();
    s.take(3);
    s.check(2);
    expect(() => s.check(3)).toThrow(RangeError);
    expect(() => s.check(1.5)).toThrow(RangeError);
    expect(s.describe(9)).toBe('pfn:9 (invalid)');
    expect(s.describe(1)).toBe('pfn:1 gen:0 refcount:0 mapcount:0 flags:0 owner:0 index:0');
  });
});
