/** mmap and munmap: errno returns, placement, and munmap's one UNMAP invalidation. */
import { describe, expect, it } from 'vitest';
import { EBADF, EEXIST, EINVAL, ENOMEM } from '../../src/mm/mm-errno.ts';
import { TASK_SIZE } from '../../src/mm/constants.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { file_create } from '../../src/mm/files.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { kinds, recordInvalidations, rng, run1, starts } from './helpers.ts';
import { setKernelContract } from '../../src/locking/version.js';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('mmap', () => {
  it('returns -errno where the kernel does', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      return [
        yield* sys_mmap(mm, 0, 0, RW, ANON),
        yield* sys_mmap(mm, 0, P, RW, MAP_ANONYMOUS),
        yield* sys_mmap(mm, 0, P, RW, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS),
        yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE, 7),
        yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE, file_create(w, P), 100),
        yield* sys_mmap(mm, 0x1001, P, RW, ANON | MAP_FIXED),
        yield* sys_mmap(mm, TASK_SIZE - P, 2 * P, RW, ANON | MAP_FIXED),
      ];
    });
    expect(value).toEqual([-EINVAL, -EINVAL, -EINVAL, -EBADF, -EINVAL, -EINVAL, -ENOMEM]);
  });

  it('places mappings top-down without overlap, honours a free hint, and rounds lengths up', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 100, RW, ANON);
      const b = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      const c = yield* sys_mmap(mm, 0x500000, P, RW, ANON);
      return { a, b, c, vmas: mm.vmas.toArray().map((v) => [v.start, v.end]) };
    });
    expect(value.a).toBe(TASK_SIZE - P);
    expect(value.b).toBe(TASK_SIZE - 3 * P);
    expect(value.c).toBe(0x500000);
    // a and b are adjacent anonymous mappings with contiguous offsets: one VMA.
    expect(value.vmas).toEqual([
      [0x500000, 0x501000],
      [TASK_SIZE - 3 * P, TASK_SIZE],
    ]);
  });

  it('MAP_FIXED replaces what is there (UNMAP over the new range); MAP_FIXED_NOREPLACE refuses', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0x400000, 4 * P, RW, ANON);
      const seen = yield* recordInvalidations(mm);
      const r1 = yield* sys_mmap(mm, 0x401000, P, PROT_READ, ANON | MAP_FIXED_NOREPLACE);
      const r2 = yield* sys_mmap(mm, 0x401000, P, PROT_READ, ANON | MAP_FIXED);
      return { a, r1, r2, seen: starts(seen), flags: mm.vmas.toArray().map((v) => v.flags & 3) };
    });
    expect(value.r1).toBe(-EEXIST);
    expect(value.r2).toBe(0x401000);
    expect(value.seen).toEqual([rng('UNMAP', 0x401000, 0x402000)]);
    expect(value.flags).toEqual([3, 1, 3]);
  });
});

describe('munmap', () => {
  it('rejects an unaligned address, a zero length and a range beyond user space', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      return [yield* sys_munmap(mm, 0x1001, P), yield* sys_munmap(mm, 0x1000, 0), yield* sys_munmap(mm, TASK_SIZE, P), yield* sys_munmap(mm, 0x1000, P)];
    });
    expect(value).toEqual([-EINVAL, -EINVAL, -EINVAL, 0]);
  });

  it.each([
    ['v4.19', 'write'],
    ['v5.4', 'read'],
    ['current', 'read'],
  ])('%s: raises one UNMAP over the whole requested range (holes included) with the mmap lock held for %s (downgraded since v4.20)', (kernel, mode) => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, kernel);
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, 2 * P, RW, ANON);
      yield* sys_mmap(mm, 0x404000, 2 * P, RW, ANON);
      for (const a of [0x400000, 0x401000, 0x404000]) yield* write32(mm, a, 1);
      const seen = yield* recordInvalidations(mm);
      yield* sys_munmap(mm, 0x401000, 4 * P);
      return { seen, vmas: mm.vmas.toArray().map((v) => [v.start, v.end]), ram: mm.sys.frames.ramInUse };
    });
    expect(starts(value.seen)).toEqual([rng('UNMAP', 0x401000, 0x405000)]);
    expect(value.seen.filter((s) => s.op !== 'release').map((s) => `${s.op}:${s.mmapLock}:${s.blockable}`)).toEqual([`start:${mode}:true`, `end:${mode}:true`]);
    expect(value.vmas).toEqual([
      [0x400000, 0x401000],
      [0x405000, 0x406000],
    ]);
    expect(value.ram).toBe(1);
    expect(kinds(w)).toEqual([]);
  });

  it('raises nothing when nothing is mapped there', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, P, RW, ANON);
      const seen = yield* recordInvalidations(mm);
      yield* sys_munmap(mm, 0x800000, P);
      return starts(seen);
    });
    expect(value).toEqual([]);
  });

  it('frees the pages only after the invalidation ended, and frees the page tables', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0x400000, 3 * P, RW, ANON);
      for (let i = 0; i < 3; i++) yield* write32(mm, a + i * P, 1);
      const inUseAtEnd: number[] = [];
      const seen = yield* recordInvalidations(mm);
      const orig = seen.push.bind(seen);
      seen.push = (...items) => {
        for (const s of items) if (s.op === 'end') inUseAtEnd.push(mm.sys.frames.ramInUse);
        return orig(...items);
      };
      yield* sys_munmap(mm, a, 3 * P);
      return { inUseAtEnd, after: mm.sys.frames.ramInUse, leaves: mm.pt.leafCount };
    });
    expect(value.inUseAtEnd).toEqual([3]);
    expect(value.after).toBe(0);
    expect(value.leaves).toBe(0);
  });
});
