/** hugetlb: the pool and reservations, PMD and PUD leaves, COW on fork, unmap widening, and what rejects hugetlb. */
import { describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, ENOMEM } from '../../src/mm/mm-errno.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { sys_madvise, MADV_COLLAPSE, MADV_DONTNEED, MADV_FREE } from '../../src/mm/madvise.ts';
import { sys_mremap, MREMAP_MAYMOVE } from '../../src/mm/mremap.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_HUGETLB, MAP_HUGE_1GB, MAP_NORESERVE } from '../../src/mm/hugetlb.ts';
import { leafOrder } from '../../src/mm/huge-memory.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, kinds, recordInvalidations, rng, run1, starts, type Seen } from './helpers.ts';

function nesting(seen: readonly Seen[]): string[] {
  const names = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE'];
  const out: string[] = [];
  let depth = 0;
  for (const s of seen) {
    if (s.op === 'start') out.push(`${'  '.repeat(depth++)}${names[s.event]} [0x${s.start.toString(16)}, 0x${s.end.toString(16)})`);
    else if (s.op === 'end') depth--;
  }
  return out;
}

const H = 2 * 1024 * 1024;
const G = 1024 * 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const A = 0x40000000;
const HUGE = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED;

describe('hugetlb', () => {
  it('reserves at mmap, maps a PMD leaf per 2 MiB page on fault, and gives everything back at munmap', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { hugetlbPages: 3 });
      const pool = mm.sys.hugetlb.pool(21);
      const tooBig = yield* sys_mmap(mm, A, 4 * H, RW, HUGE);
      const r = yield* sys_mmap(mm, A, 2 * H, RW, HUGE);
      const afterMmap = [pool.free, pool.resv];
      yield* write32(mm, A + H + 8, 5);
      const afterFault = [pool.free, pool.resv, mm.pt.hugePmdCount, yield* read32(mm, A + H + 8), yield* read32(mm, A)];
      const c = consistency(w);
      const seen = yield* recordInvalidations(mm);
      yield* sys_munmap(mm, A, 2 * H);
      return { tooBig, r, afterMmap, afterFault, c, seen: starts(seen), end: [pool.free, pool.resv, mm.pt.hugePmdCount] };
    });
    expect(value.tooBig).toBe(-ENOMEM);
    expect(value.r).toBe(A);
    expect(value.afterMmap).toEqual([3, 2]);
    // read of the other page faulted it in too: both pages are used, both reservations consumed
    expect(value.afterFault).toEqual([2, 1, 1, 5, 0]); // the read of the first page comes last
    expect(value.c).toEqual([]);
    // munmap's UNMAP, and __unmap_hugepage_range's own nested one (private: not widened)
    expect(value.seen).toEqual([rng('UNMAP', A, A + 2 * H), rng('UNMAP', A, A + 2 * H)]);
    expect(value.end).toEqual([3, 0, 0]);
    expect(consistency(w)).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });

  it('a 1 GiB page is one PUD leaf; a fault with the pool empty and no reservation is SIGBUS', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { hugetlbGiganticPages: 1 });
      const r = yield* sys_mmap(mm, G, G, RW, HUGE | MAP_HUGE_1GB);
      yield* write32(mm, G + 12345 * 4, 9);
      const r2 = yield* sys_mmap(mm, 4 * G, G, RW, HUGE | MAP_HUGE_1GB | MAP_NORESERVE);
      const sigbus = yield* write32(mm, 4 * G, 1);
      const orders = [leafOrder(mm, G + 5 * H), leafOrder(mm, 4 * G)];
      return { r, r2, sigbus, orders, puds: mm.pt.hugePudCount, v: yield* read32(mm, G + 12345 * 4), ram: mm.sys.frames.ramInUse };
    });
    expect(value).toEqual({ r: G, r2: 4 * G, sigbus: -EFAULT, orders: [18, 0], puds: 1, v: 9, ram: 262144 });
    expect(consistency(w)).toEqual([]);
  });

  it('fork shares private pages copy-on-write (CLEAR over the parent VMA); a write copies the whole huge page under a CLEAR of it', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { hugetlbPages: 3 });
      yield* sys_mmap(mm, A, H, RW, HUGE);
      yield* write32(mm, A + 4, 1);
      const seenParent = yield* recordInvalidations(mm);
      const child = (yield* sys_fork(mm)) as Mm;
      const seenChild = yield* recordInvalidations(child);
      yield* write32(child, A + 4, 2);
      return {
        parent: starts(seenParent),
        child: starts(seenChild),
        vals: [yield* read32(mm, A + 4), yield* read32(child, A + 4)],
        free: mm.sys.hugetlb.pool(21).free,
      };
    });
    expect(value.parent).toEqual([rng('CLEAR', A, A + H)]);
    expect(value.child).toEqual([rng('CLEAR', A, A + H)]);
    expect(value.vals).toEqual([1, 2]);
    expect(value.free).toBe(1);
    expect(consistency(w)).toEqual([]);
  });

  it('a shared mapping spanning an aligned 1 GiB widens the nested UNMAP and the PROTECTION_VMA to 1 GiB', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { hugetlbPages: 2 });
      const r = yield* sys_mmap(mm, G, G, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED | MAP_NORESERVE);
      yield* write32(mm, G + 4 * H, 1);
      const seen = yield* recordInvalidations(mm);
      const d = yield* sys_madvise(mm, G + 4 * H, H, MADV_DONTNEED);
      const p = yield* sys_mprotect(mm, G, G, PROT_READ);
      const u = yield* sys_munmap(mm, G + 4 * H, H);
      return { r, d, p, u, seen: nesting(seen), v: yield* read32(mm, G + 4 * H - 4) };
    });
    expect([value.r, value.d, value.p, value.u, value.v]).toEqual([G, 0, 0, 0, 0]);
    expect(value.seen).toEqual([
      rng('CLEAR', G + 4 * H, G + 5 * H),
      '  ' + rng('UNMAP', G, 2 * G), // widened: PMD sharing is possible over the aligned 1 GiB
      rng('PROTECTION_VMA', G, 2 * G),
      rng('UNMAP', G + 4 * H, G + 5 * H),
      '  ' + rng('UNMAP', G + 4 * H, G + 5 * H), // the munmap split the VMA first: nothing to widen to
    ]);
    expect(consistency(w)).toEqual([]);
  });

  it('rejects splits inside a huge page, an unaligned MADV_DONTNEED, MADV_FREE/COLLAPSE and mremap', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { hugetlbPages: 2 });
      yield* sys_mmap(mm, A, 2 * H, RW, HUGE);
      yield* write32(mm, A, 1);
      const out = [
        yield* sys_munmap(mm, A + 4096, 4096),
        yield* sys_mprotect(mm, A, 4096, PROT_READ),
        yield* sys_madvise(mm, A + 4096, H, MADV_DONTNEED),
        yield* sys_madvise(mm, A, H, MADV_FREE),
        yield* sys_madvise(mm, A, H, MADV_COLLAPSE),
        yield* sys_mremap(mm, A, H, 2 * H, MREMAP_MAYMOVE),
        yield* read32(mm, A),
      ];
      yield* sys_exit(mm);
      return { out, free: mm.sys.hugetlb.pool(21).free, resv: mm.sys.hugetlb.pool(21).resv };
    });
    expect(value.out).toEqual([-EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 1]);
    expect([value.free, value.resv]).toEqual([2, 0]);
    expect(kinds(w)).toEqual([]);
  });
});
