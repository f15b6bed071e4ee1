/** Files: pread/pwrite through the page cache, errors, reclaim of cache pages, drop_caches. */
import { describe, expect, it } from 'vitest';
import { EBADF, EFAULT } from '../../src/mm/mm-errno.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { drop_caches, file_create, sys_pread32, sys_pwrite32 } from '../../src/mm/files.ts';
import { memoryOf } from '../../src/mm/memory.ts';
import type { World } from '../../src/sim/world.js';
import { run1 } from './helpers.ts';

describe('files', () => {
  it('pwrite grows the file, pread reads back, and reads past the end are zero', () => {
    const { value } = run1(function* (w) {
      const f = file_create(w);
      return [yield* sys_pwrite32(w, f, 8196, 7), yield* sys_pread32(w, f, 8196), yield* sys_pread32(w, f, 20000), memSize(w, f), yield* sys_pread32(w, 5, 0), yield* sys_pwrite32(w, f, 3, 1)];
    });
    expect(value).toEqual([0, 7, 0, 8200, -EBADF, -EFAULT]);
  });

  it('reclaims cache pages when memory is short, writing dirty ones back first', () => {
    const { value } = run1(function* (w) {
      mm_create(w, { memoryLimitPages: 2 });
      const f = file_create(w);
      for (let p = 0; p < 4; p++) yield* sys_pwrite32(w, f, p * 4096, p + 1);
      const cached = mm(w).cache.cachedCount(f);
      const back = [];
      for (let p = 0; p < 4; p++) back.push(yield* sys_pread32(w, f, p * 4096));
      return { cached, back, ram: mm(w).frames.ramInUse };
    });
    expect(value).toEqual({ cached: 2, back: [1, 2, 3, 4], ram: 2 });
  });

  it('drop_caches writes back and drops every unmapped cached page', () => {
    const { value } = run1(function* (w) {
      const f = file_create(w);
      yield* sys_pwrite32(w, f, 0, 5);
      const dropped = drop_caches(w);
      return { dropped, ram: mm(w).frames.ramInUse, v: yield* sys_pread32(w, f, 0) };
    });
    expect(value).toEqual({ dropped: 1, ram: 0, v: 5 });
  });
});

function mm(w: World) {
  return memoryOf(w)!;
}
function memSize(w: World, f: number): number {
  return mm(w).cache.fileSize(f);
}
