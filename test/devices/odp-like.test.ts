/**
 * The ODP-like device (src/devices/odp-like.ts): a classic notifier whose non-blockable start
 * only trylocks the umem mutex (-EAGAIN on contention). `start-only` does all its work in start
 * (allowed to fail); `with-end` also counts in an end op, which the current contract forbids for a
 * start that can fail.
 */
import { describe, expect, it } from 'vitest';
import { OdpLike, type OdpVariant } from '../../src/devices/odp-like.js';
import { mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { mmu_notifier_register } from '../../src/notifier/classic.js';
import { device_map } from '../../src/notifier/coherence.js';
import { cpu_stub_attach, cpu_stub_munmap, cpu_stub_oom_reap, type CpuStub } from '../../src/notifier/cpu-stub.js';
import { QUIESCENCE } from '../../src/notifier/kinds.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import { KERNELS, kinds, ofKind, places, run, summary, type Kernel } from '../notifier/helpers.js';

const P = 0x1000;
const A = 0x700000;

interface St {
  mm: MmStruct;
  cpu: CpuStub;
  odp: OdpLike;
}

function setup(variant: OdpVariant) {
  return (w: import('../../src/sim/world.js').World): St => {
    const mm = mm_alloc(w);
    const cpu = cpu_stub_attach(mm);
    cpu.populate(A, A + 2 * P);
    return { mm, cpu, odp: new OdpLike(w, mm, variant, 'odp') };
  };
}

function* init(s: St) {
  yield* mmu_notifier_register(s.odp, s.mm);
  device_map(s.odp.pt, A, s.cpu.lookup(A)!.pfn, true);
  device_map(s.odp.pt, A + P, s.cpu.lookup(A + P)!.pfn, true);
}

describe('OdpLike', () => {
  it('start-only has no end op; with-end has one', () => {
    run<St>({
      setup: (w) => {
        const a = setup('start-only')(w);
        const b = setup('with-end')(w);
        expect(a.odp.ops.invalidate_range_end).toBeUndefined();
        expect(b.odp.ops.invalidate_range_end).toBeDefined();
        expect(a.odp.ops.invalidate_range_start).toBeDefined();
        return a;
      },
      tasks: {
        *t(_s, w) {
          yield w.point('go');
        },
      },
    });
  });

  it.each(['start-only', 'with-end'] as const)('%s: a blocking munmap zaps the device range in start; clean, the counter (with-end) back to 0', (variant) => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup: setup(variant),
      init,
      tasks: {
        *t(s) {
          yield* cpu_stub_munmap(s.cpu, A, A + P);
          out = { mapped: [...s.odp.pt.entries.keys()], invalidations: s.odp.invalidations };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ mapped: [A + P], invalidations: 0 });
  });

  it.each(KERNELS)('%s: start-only, umem mutex contended: the non-blockable start returns -EAGAIN, nothing is zapped and the reaper skips the range; clean', (kernel) => {
    let out: Record<string, unknown> = {};
    const r = run<St>(
      {
        setup: setup('start-only'),
        init,
        tasks: {
          *t(s) {
            yield* mutex_lock(s.odp.umem_mutex);
            const reaped = yield* cpu_stub_oom_reap(s.cpu, A, A + 2 * P);
            yield* mutex_unlock(s.odp.umem_mutex);
            out = { reaped, mapped: s.odp.pt.entries.size, cpu: s.cpu.ptes.size };
          },
        },
      },
      { kernel },
    );
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ reaped: false, mapped: 2, cpu: 2 });
  });

  it.each(KERNELS)('%s: start-only, uncontended: the reaper\'s start succeeds, zaps the device first, then the CPU; clean', (kernel) => {
    let out: Record<string, unknown> = {};
    const r = run<St>(
      {
        setup: setup('start-only'),
        init,
        tasks: {
          *t(s) {
            const reaped = yield* cpu_stub_oom_reap(s.cpu, A, A + 2 * P);
            out = { reaped, mapped: s.odp.pt.entries.size, cpu: s.cpu.ptes.size };
          },
        },
      },
      { kernel },
    );
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ reaped: true, mapped: 0, cpu: 0 });
  });

  const withEndExpect: Record<Kernel, string[]> = {
    // No annotations, no compensating end: a failed start is simply skipped.
    'v4.19': [],
    // The reaper's end (after a successful start) sleeps on the umem mutex inside a non_block section.
    'v5.4': ['sleep-in-atomic'],
    'v5.5': ['sleep-in-atomic'],
    'v5.9': ['sleep-in-atomic'],
    // Plus: a failed start WARNs (it has an end op) and still gets the compensating end, which
    // drops the counter below zero, and sleeps on the mutex outside any non_block section, which
    // the non-blocking contract forbids all the same.
    current: ['nonblock-contract', QUIESCENCE, 'sleep-in-atomic', 'warn'],
  };

  it.each(KERNELS)('%s: with-end against the OOM reaper and a mutex holder: exactly its documented findings', (kernel) => {
    const r = run<St>(
      {
        setup: setup('with-end'),
        init,
        tasks: {
          *holder(s) {
            yield* mutex_lock(s.odp.umem_mutex);
            yield* mutex_unlock(s.odp.umem_mutex);
          },
          *reaper(s) {
            yield* cpu_stub_oom_reap(s.cpu, A, A + 2 * P);
          },
        },
      },
      { kernel },
    );
    expect(kinds(r)).toEqual(withEndExpect[kernel]);
    if (kernel === 'current') {
      expect(places(r, 'warn')).toEqual(['fail-with-end-op:odp']);
      expect(ofKind(r, QUIESCENCE)[0]!.message).toMatch(/odp->invalidations: is -1 at the end of the run/);
    }
  });
});
