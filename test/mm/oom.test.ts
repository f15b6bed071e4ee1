/** The OOM killer and reaper: victim choice, non-blocking UNMAP per VMA, skipping, giving up. */
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL, kmalloc } from '../../src/locking/alloc.js';
import { EINTR } from '../../src/mm/mm-errno.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAX_OOM_REAP_RETRIES, OOM_REAP_RETRY_TICKS } from '../../src/mm/oom.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { recordInvalidations, rng, run, starts, type Seen } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

interface S {
  small: Mm;
  big: Mm;
  seen: Seen[];
  got: unknown[];
}

/** Fills memory (no swap) with `big` (2 pages in two private VMAs, plus a shared one) and `small` (1 page). */
function oomWorld(fail: boolean) {
  return run<S>(
    (w) => ({ small: mm_create(w, { name: 'small', swapPages: 0 }), big: mm_create(w, { name: 'big' }), seen: [], got: [] }),
    {
      *main(s) {
        const a = yield* sys_mmap(s.small, 0, P, RW, ANON);
        yield* write32(s.small, a, 1);
        const b = yield* sys_mmap(s.big, 0x400000, P, RW, ANON | 0x10);
        const c = yield* sys_mmap(s.big, 0x500000, P, RW, ANON | 0x10);
        const shm = yield* sys_mmap(s.big, 0x600000, P, RW, MAP_SHARED | MAP_ANONYMOUS | 0x10);
        yield* write32(s.big, b, 2);
        yield* write32(s.big, c, 3);
        void shm; // present but never touched: a shmem page would be reclaimable, not an OOM
        s.seen = yield* recordInvalidations(s.big, fail);
        s.small.sys.configure({ memoryLimitPages: s.small.sys.frames.ramInUse });
        const t0 = s.small.world.now;
        s.got.push((yield* kmalloc(64, GFP_KERNEL)) !== null, s.small.world.now - t0);
        s.got.push(yield* read32(s.big, b), yield* write32(s.small, a, 5));
      },
    },
  );
}

describe('OOM', () => {
  it('kills the biggest mm; the reaper unmaps each private VMA with a non-blocking UNMAP; the killed task sees -EINTR', () => {
    const { s } = oomWorld(false);
    expect(s.big.killed).toBe(true);
    expect(s.small.killed).toBe(false);
    // The shared (shmem) VMA is not reaped; each private one is, non-blockably, without the mmap lock for write.
    expect(starts(s.seen)).toEqual([rng('UNMAP', 0x400000, 0x401000), rng('UNMAP', 0x500000, 0x501000)]);
    expect(s.seen.filter((x) => x.op === 'start').map((x) => `${x.blockable}/${x.mmapLock}/${x.task}`)).toEqual(['false/read/oom_reaper', 'false/read/oom_reaper']);
    expect(s.big.oomSkip && s.big.unstable).toBe(true);
    expect(s.got).toEqual([true, 0, -EINTR, 0]);
  });

  it('skips a VMA whose non-blocking start fails (no zap, no end), retries, gives up, and the next OOM kills the next victim', () => {
    const { s, w } = oomWorld(true);
    const startsSeen = s.seen.filter((x) => x.op === 'start');
    expect(startsSeen.length).toBe(2 * MAX_OOM_REAP_RETRIES);
    expect(s.seen.some((x) => x.op === 'end')).toBe(false);
    expect(s.big.oomSkip).toBe(true);
    // Nothing of big was freed; after the reaper's retries the allocation OOM-kills small instead.
    expect(s.big.pt.presentCount).toBe(2);
    expect(s.small.killed).toBe(true);
    expect(s.got).toEqual([true, MAX_OOM_REAP_RETRIES * OOM_REAP_RETRY_TICKS, -EINTR, -EINTR]);
    expect(w.findings).toEqual([]);
  });
});
