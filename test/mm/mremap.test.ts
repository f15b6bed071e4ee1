/** mremap: move (UNMAP over the old range), grow in place, shrink, and errors. */
import { describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, ENOMEM } from '../../src/mm/mm-errno.ts';
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { sys_mremap, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../src/mm/mremap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { isSwapEntry } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, recordInvalidations, rng, run1, starts } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('mremap', () => {
  it('moves pages with their contents under UNMAP of the old range, then unmaps the old range', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, 2 * P, RW, ANON | MAP_FIXED);
      yield* sys_mmap(mm, 0x402000, P, PROT_READ, ANON | MAP_FIXED); // blocks growing in place
      yield* write32(mm, 0x400000, 1);
      yield* write32(mm, 0x401004, 2);
      const seen = yield* recordInvalidations(mm);
      const to = yield* sys_mremap(mm, 0x400000, 2 * P, 3 * P, MREMAP_MAYMOVE);
      return {
        to,
        seen: starts(seen),
        lock: seen.find((s) => s.op === 'start')!.mmapLock,
        values: [yield* read32(mm, to), yield* read32(mm, to + P + 4), yield* read32(mm, to + 2 * P), yield* read32(mm, 0x400000)],
      };
    });
    expect(value.to).not.toBe(0x400000);
    expect(value.seen).toEqual([rng('UNMAP', 0x400000, 0x402000), rng('UNMAP', 0x400000, 0x402000)]);
    expect(value.lock).toBe('write');
    expect(value.values).toEqual([1, 2, 0, -EFAULT]);
    expect(consistency(w)).toEqual([]);
  });

  it('MREMAP_DONTUNMAP moves the pages and leaves the old range mapped, empty, with pages of its own after', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, 2 * P, RW, ANON | MAP_FIXED);
      yield* write32(mm, 0x400004, 5);
      const bad = [
        yield* sys_mremap(mm, 0x400000, 2 * P, 2 * P, MREMAP_DONTUNMAP),
        yield* sys_mremap(mm, 0x400000, 2 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
      ];
      const seen = yield* recordInvalidations(mm);
      const to = yield* sys_mremap(mm, 0x400000, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, 0x900000);
      const events = starts(seen);
      const moved = yield* read32(mm, 0x900004);
      const oldValue = yield* read32(mm, 0x400004); // still mapped: a fresh zero page
      yield* write32(mm, 0x400004, 9);
      return { bad, to, events, moved, oldValue, both: [yield* read32(mm, 0x400004), yield* read32(mm, 0x900004)], oldMapped: mm.vmas.find(0x400000) !== undefined };
    });
    expect(value.bad).toEqual([-EINVAL, -EINVAL]);
    expect(value.to).toBe(0x900000);
    expect(value.events).toEqual([rng('UNMAP', 0x400000, 0x402000)]);
    expect([value.moved, value.oldValue, value.oldMapped]).toEqual([5, 0, true]);
    expect(value.both).toEqual([9, 5]);
    expect(consistency(w)).toEqual([]);
  });

  it('keeps moved anonymous pages findable by reclaim (swap out and back in)', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, P, RW, ANON | MAP_FIXED);
      yield* write32(mm, 0x400000, 33);
      const to = yield* sys_mremap(mm, 0x400000, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x900000);
      yield* try_to_free_pages(mm.sys, GFP_KERNEL);
      return [to, isSwapEntry(mm.pt.get(0x900000)) ? 1 : 0, yield* read32(mm, 0x900000)];
    });
    expect(value).toEqual([0x900000, 1, 33]);
  });

  it('grows in place when it can and shrinks by unmapping the tail', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, P, RW, ANON | MAP_FIXED);
      yield* write32(mm, 0x400000, 4);
      const seen = yield* recordInvalidations(mm);
      const grown = yield* sys_mremap(mm, 0x400000, P, 3 * P, 0);
      const quiet = starts(seen).length;
      const shrunk = yield* sys_mremap(mm, 0x400000, 3 * P, P, 0);
      return { grown, quiet, shrunk, seen: starts(seen), vmas: mm.vmas.toArray().map((v) => [v.start, v.end]), v: yield* read32(mm, 0x400000) };
    });
    expect(value.grown).toBe(0x400000);
    expect(value.quiet).toBe(0);
    expect(value.shrunk).toBe(0x400000);
    expect(value.seen).toEqual([rng('UNMAP', 0x401000, 0x403000)]);
    expect(value.vmas).toEqual([[0x400000, 0x401000]]);
    expect(value.v).toBe(4);
  });

  it('returns -EFAULT, -ENOMEM and -EINVAL where the kernel does', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, P, RW, ANON | MAP_FIXED);
      yield* sys_mmap(mm, 0x401000, P, PROT_READ, ANON | MAP_FIXED);
      return [
        yield* sys_mremap(mm, 0x400000, 2 * P, 2 * P, MREMAP_MAYMOVE), // spans two mappings
        yield* sys_mremap(mm, 0x800000, P, P, MREMAP_MAYMOVE), // nothing there
        yield* sys_mremap(mm, 0x400000, P, 2 * P, 0), // cannot grow, may not move
        yield* sys_mremap(mm, 0x400000, P, P, MREMAP_FIXED, 0x900000), // FIXED without MAYMOVE
        yield* sys_mremap(mm, 0x400000, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x400000), // overlapping
      ];
    });
    expect(value).toEqual([-EFAULT, -EFAULT, -ENOMEM, -EINVAL, -EINVAL]);
  });
});
