/** Zapping and the TLB gather: pages are freed after the invalidation ends, or mid-zap once a batch fills. */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { GATHER_BATCH } from '../../src/mm/zap.ts';
import { MmuNotifier, mmu_notifier_register } from '../../src/notifier/classic.js';
import { MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { run1 } from './helpers.ts';

const P = 4096;

/** Pages in use when munmap's invalidate_range_end runs, and after munmap returns. */
function inUseAtEnd(pages: number): { atEnd: number; after: number } {
  return run1(function* (w) {
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
    let atEnd = -1;
    yield* mmu_notifier_register(
      new MmuNotifier({
        *invalidate_range_end() {
          atEnd = mm.sys.frames.ramInUse;
        },
      }),
      mm,
    );
    yield* sys_munmap(mm, a, pages * P);
    return { atEnd, after: mm.sys.frames.ramInUse };
  }).value;
}

describe('zap and the TLB gather', () => {
  it('frees the pages of a small unmap only after invalidate_range_end', () => {
    expect(inUseAtEnd(GATHER_BATCH - 1)).toEqual({ atEnd: GATHER_BATCH - 1, after: 0 });
  });

  it('frees full batches during a large unmap, and the rest after the end', () => {
    const pages = 3 * GATHER_BATCH + 10;
    expect(inUseAtEnd(pages)).toEqual({ atEnd: 10, after: 0 });
  });
});
