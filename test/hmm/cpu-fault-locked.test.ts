/**
 * A CPU fault on a device-private page someone else holds locked (do_swap_page), by kernel
 * version: v6.1 to the 2026 fix retries the fault (a spin), later kernels sleep on the page,
 * queued while the PTE lock is still held.
 */
import { describe, expect, it } from 'vitest';
import { setKernelContract } from '../../src/locking/version.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { folio_lock, folio_unlock } from '../../src/mm/folio-lock.ts';
import { isDevicePrivateEntry, ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { Trace } from '../../src/sim/trace.js';
import type { WaitQueue } from '../../src/sim/waitqueue.js';
import type { World } from '../../src/sim/world.js';
import { kinds, run } from '../mm/helpers.ts';

const P = 4096;

interface S {
  mm: Mm;
  a: number;
  q: WaitQueue;
  ready: boolean;
  value: number;
}

/**
 * `holder` migrates a page to the device, locks the device page and sleeps; `cpu` wakes it and
 * reads the page, which faults on the locked device page.
 */
function scenario(version: string, seed?: number): { s: S; w: World } {
  return run(
    (w): S => {
      setKernelContract(w, version);
      w.trace = new Trace();
      w.maxSteps = 5000; // a spin shows soon enough
      return { mm: mm_create(w), a: 0, q: w.waitQueue('q'), ready: false, value: -1 };
    },
    {
      *holder(s, w) {
        const dev = new HmmMirror(w, s.mm, 'correct', 'dmirror', 4);
        s.a = yield* sys_mmap(s.mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        yield* write32(s.mm, s.a, 42);
        yield* dev.migrateToDevice(s.a, s.a + P);
        const pte = s.mm.pt.get(s.a);
        if (!isDevicePrivateEntry(pte)) throw new Error('not migrated');
        yield* folio_lock(ptePfn(pte));
        s.ready = true;
        yield s.q.block();
        yield* folio_unlock(ptePfn(pte));
      },
      *cpu(s, w) {
        while (!s.ready) yield w.point('wait for the holder');
        s.q.wakeOne();
        s.value = yield* read32(s.mm, s.a);
      },
    },
    seed,
  );
}

function labels(w: World): string[] {
  return w.trace!.rows().flatMap((r) => ('label' in r ? [r.label] : []));
}

describe('CPU fault on a locked device-private page', () => {
  it("'wait' (current): the fault sleeps on the page and completes once it is unlocked, even without preemption", () => {
    const { s, w } = scenario('current');
    expect(kinds(w)).toEqual([]);
    expect(s.value).toBe(42);
    expect(labels(w).some((l) => l.startsWith('folio_wait_locked'))).toBe(true);
    expect(labels(w)).not.toContain('do_swap_page: device page locked, retry the fault');
  });

  it("'retry' (v6.1 to the 2026 fix): the fault spins; without preemption the holder never runs again (livelock)", () => {
    const { w } = scenario('v5.9');
    expect(kinds(w)).toContain('step-budget-exceeded');
    expect(labels(w)).toContain('do_swap_page: device page locked, retry the fault');
  });

  it("'retry': with preemption the holder gets to unlock and the fault completes", () => {
    for (const seed of [1, 2, 3]) {
      const { s, w } = scenario('v5.9', seed);
      expect(kinds(w)).toEqual([]);
      expect(s.value).toBe(42);
    }
  });
});
