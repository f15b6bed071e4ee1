/**
 * The KVM-like secondary MMU (src/devices/kvm-like.ts): a classic notifier counting invalidations
 * in progress under its spinlock, and a fault path that retries while the count is raised or the
 * sequence moved, giving up with `no-progress` after its bound.
 */
import { describe, expect, it } from 'vitest';
import { KvmLike, kvm_like_fault, NO_PROGRESS } from '../../src/devices/kvm-like.js';
import { OdpLike } from '../../src/devices/odp-like.js';
import { mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { mmu_notifier_register, MmuNotifier } from '../../src/notifier/classic.js';
import { DEVICE_MAPS_FREED_PAGE, device_map, device_shadow_create, device_unmap_range, MAP_IN_INVALIDATION_WINDOW, STALE_DEVICE_MAPPING, type DeviceShadow } from '../../src/notifier/coherence.js';
import { cpu_stub_attach, cpu_stub_migrate, cpu_stub_oom_reap, type CpuStub } from '../../src/notifier/cpu-stub.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../src/notifier/invalidate.js';
import { QUIESCENCE, UNPAIRED_INVALIDATE } from '../../src/notifier/kinds.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import { mmu_notifier_release } from '../../src/notifier/teardown.js';
import { KERNELS, kinds, ofKind, rangeOf, run, summary } from '../notifier/helpers.js';

const P = 0x1000;
const A = 0x600000;

interface St {
  mm: MmStruct;
  cpu: CpuStub;
  kvm: KvmLike;
  ret: number;
}

function setup(w: import('../../src/sim/world.js').World): St {
  const mm = mm_alloc(w);
  const cpu = cpu_stub_attach(mm);
  cpu.populate(A, A + 2 * P, true);
  cpu.populate(A + 2 * P, A + 3 * P, false);
  return { mm, cpu, kvm: new KvmLike(w, mm, 'kvm'), ret: 99 };
}

function* register(s: St) {
  yield* mmu_notifier_register(s.kvm, s.mm);
}

describe('KvmLike notifier', () => {
  it('start raises the in-progress count and the sequence and zaps the range; end lowers the count; release zaps everything', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup,
      init: register,
      tasks: {
        *t(s) {
          const f = [yield* kvm_like_fault(s.kvm, s.mm, A, true), yield* kvm_like_fault(s.kvm, s.mm, A + P, false)];
          const mapped = [...s.kvm.spte.entries.keys()].sort();
          const rg = rangeOf(s.mm, A, A + P);
          yield* mmu_notifier_invalidate_range_start(rg);
          const during = { inProgress: s.kvm.mmu_invalidate_in_progress, seq: s.kvm.mmu_invalidate_seq, mapped: [...s.kvm.spte.entries.keys()] };
          yield* mmu_notifier_invalidate_range_end(rg);
          const after = { inProgress: s.kvm.mmu_invalidate_in_progress, seq: s.kvm.mmu_invalidate_seq };
          yield* mmu_notifier_release(s.mm);
          out = { f, mapped, during, after, released: s.kvm.spte.entries.size };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({
      f: [0, 0],
      mapped: [A, A + P],
      during: { inProgress: 1, seq: 1, mapped: [A + P] },
      after: { inProgress: 0, seq: 1 },
      released: 0,
    });
  });

  it('the fault maps what the CPU maps, and fails (-1) where the CPU maps nothing or a write meets a read-only page', () => {
    let out: unknown[] = [];
    const r = run<St>({
      setup,
      init: register,
      tasks: {
        *t(s) {
          out = [
            yield* kvm_like_fault(s.kvm, s.mm, A, true),
            s.kvm.spte.entries.get(A),
            yield* kvm_like_fault(s.kvm, s.mm, A + 8 * P, false),
            yield* kvm_like_fault(s.kvm, s.mm, A + 2 * P, true),
            yield* kvm_like_fault(s.kvm, s.mm, A + 2 * P, false),
          ];
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual([0, { pfn: 100, write: true }, -1, -1, 0]);
  });

  it('a fault racing a migration retries while the invalidation is in progress and maps the new page after it, never a stale one (every interleaving with up to three preemptions)', () => {
    const outcomes = new Set<string>();
    const r = run<St & { busySeen: number }>(
      {
        setup: (w) => {
          const s = { ...setup(w), busySeen: 0 };
          let v = 0;
          // Count the fault path's reads of a raised count: each one is a retry.
          Object.defineProperty(s.kvm, 'mmu_invalidate_in_progress', {
            get() {
              if (v > 0 && w.current?.name === 'vcpu') s.busySeen++;
              return v;
            },
            set(n: number) {
              v = n;
            },
          });
          return s;
        },
        *init(s) {
          yield* register(s);
          yield* kvm_like_fault(s.kvm, s.mm, A, true);
        },
        tasks: {
          *migrate(s) {
            yield* cpu_stub_migrate(s.cpu, A);
          },
          *vcpu(s) {
            s.ret = yield* kvm_like_fault(s.kvm, s.mm, A, true, 3);
          },
        },
        check: (s) => {
          const m = s.kvm.spte.entries.get(A);
          outcomes.add(`ret=${s.ret}${s.busySeen > 0 ? ' after retrying' : ''}`);
          if (s.ret === 0 && m !== undefined && m.pfn !== s.cpu.lookup(A)!.pfn) return `device maps pfn ${m.pfn}, CPU ${s.cpu.lookup(A)!.pfn}`;
          return null;
        },
      },
      // The fault spins (bounded retries), so the unbounded space is large: exhaust it within three preemptions.
      { random: 300, legs: [{ name: 'dfs', preemptionBound: 3 }] },
    );
    // Only the fault's own give-up bound can trigger; never a stale or freed mapping.
    expect(kinds(r).filter((k) => k !== NO_PROGRESS)).toEqual([]);
    expect(r.exhausted).toBe(true);
    expect(outcomes.has('ret=0 after retrying')).toBe(true);
    expect(outcomes.has('ret=0')).toBe(true);
    expect(ofKind(r, STALE_DEVICE_MAPPING)).toEqual([]);
    expect(ofKind(r, DEVICE_MAPS_FREED_PAGE)).toEqual([]);
  });

  it('a count that stays raised (a start never ended) makes the fault give up: no-progress, and the quiescence checks name the count', () => {
    let ret = 0;
    const r = run<St>({
      setup,
      init: register,
      tasks: {
        *t(s) {
          yield* mmu_notifier_invalidate_range_start(rangeOf(s.mm, A, A + P));
          ret = yield* kvm_like_fault(s.kvm, s.mm, A, true, 2);
        },
      },
    });
    expect(ret).toBe(-1);
    expect(kinds(r)).toEqual([NO_PROGRESS, QUIESCENCE, UNPAIRED_INVALIDATE]);
    expect(ofKind(r, NO_PROGRESS)[0]!.message).toMatch(/kvm: fault on 0x600000 retried 2 times; mmu_invalidate_in_progress is 1/);
    expect(ofKind(r, QUIESCENCE)[0]!.message).toMatch(/kvm->mmu_invalidate_in_progress: is 1 at the end of the run/);
  });

  it.each(KERNELS)('%s: S-PAIR-1 shape: another notifier fails the OOM reaper\'s start; before v5.12 the count is stuck (no-progress), under current the fault maps', (kernel) => {
    let out: Record<string, unknown> = {};
    const r = run<St & { odp: OdpLike }>(
      {
        setup: (w) => {
          const s = setup(w);
          return { ...s, odp: new OdpLike(w, s.mm, 'start-only', 'odp') };
        },
        *init(s) {
          yield* register(s);
          yield* mmu_notifier_register(s.odp, s.mm);
        },
        tasks: {
          *t(s) {
            yield* mutex_lock(s.odp.umem_mutex); // contended: odp's trylock fails
            const reaped = yield* cpu_stub_oom_reap(s.cpu, A, A + P);
            yield* mutex_unlock(s.odp.umem_mutex);
            const ret = yield* kvm_like_fault(s.kvm, s.mm, A + P, false, 2);
            out = { reaped, ret, inProgress: s.kvm.mmu_invalidate_in_progress };
          },
        },
      },
      { kernel },
    );
    if (kernel === 'current') {
      expect(summary(r)).toEqual([]);
      expect(out).toEqual({ reaped: false, ret: 0, inProgress: 0 });
    } else {
      expect(kinds(r)).toEqual([NO_PROGRESS, QUIESCENCE, UNPAIRED_INVALIDATE]);
      expect(out).toEqual({ reaped: false, ret: -1, inProgress: 1 });
    }
  });
});

describe('INV-C5: no new device mapping inside the subscriber\'s own invalidation window', () => {
  it('mapping between start and end is map-in-invalidation-window; after the end it is fine', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* register(s);
      },
      tasks: {
        *t(s) {
          const rg = rangeOf(s.mm, A, A + P);
          yield* mmu_notifier_invalidate_range_start(rg);
          // A buggy fault path that ignores mmu_invalidate_in_progress:
          device_map(s.kvm.spte, A, s.cpu.lookup(A)!.pfn, false);
          yield* mmu_notifier_invalidate_range_end(rg);
          device_map(s.kvm.spte, A + P, s.cpu.lookup(A + P)!.pfn, false);
        },
      },
    });
    expect(kinds(r)).toEqual([MAP_IN_INVALIDATION_WINDOW]);
    expect(ofKind(r, MAP_IN_INVALIDATION_WINDOW)[0]!.message).toMatch(/kvm maps .*0x600000 after its invalidate_range_start/);
  });

  it('the real fault path, which waits for the count to drop, never maps inside the window', () => {
    const r = run<St>({
      setup,
      *init(s) {
        yield* register(s);
      },
      tasks: {
        *cpu(s) {
          yield* cpu_stub_migrate(s.cpu, A);
        },
        *vcpu(s) {
          s.ret = yield* kvm_like_fault(s.kvm, s.mm, A, false, 3);
        },
      },
    }, { legs: [{ name: 'dfs', preemptionBound: 2 }] });
    expect(kinds(r).filter((k) => k !== NO_PROGRESS)).toEqual([]);
  });
});

describe('INV-C5: the window closes when end is called', () => {
  it('a subscriber may map from inside its own end callback (the CPU tables are final by then), as KVM allows', () => {
    const r = run<St & { sub: MmuNotifier; shadow: DeviceShadow }>({
      setup(w) {
        const s = setup(w);
        let shadow: DeviceShadow | null = null;
        const sub = new MmuNotifier(
          {
            *invalidate_range_start(_sub, range) {
              device_unmap_range(shadow!, range.start, range.end);
              return 0;
            },
            *invalidate_range_end(_sub, range) {
              yield w.point('map again');
              device_map(shadow!, range.start, s.cpu.lookup(range.start)!.pfn, false);
            },
          },
          'remapper',
        );
        shadow = device_shadow_create(s.mm, 'remapper', 'mirror', sub);
        return { ...s, sub, shadow };
      },
      *init(s) {
        yield* mmu_notifier_register(s.sub, s.mm);
      },
      tasks: {
        *t(s) {
          const rg = rangeOf(s.mm, A, A + P);
          yield* mmu_notifier_invalidate_range_start(rg);
          yield* mmu_notifier_invalidate_range_end(rg);
        },
      },
    });
    expect(kinds(r)).toEqual([]);
  });
});
