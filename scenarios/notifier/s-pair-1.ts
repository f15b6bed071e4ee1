/**
 * S-PAIR-1 (seed 000): two classic notifiers, A (KVM-like: counts invalidations in start/end)
 * and B (ODP-like: trylocks its mutex in a non-blockable start, -EAGAIN on contention, no end
 * op), and the OOM reaper. While another path holds B's mutex, the reaper's non-blockable start
 * fails at B. Before v5.12 nobody then gets end, so A's count stays raised for good; from v5.12
 * every subscription with an end op gets one.
 *
 * Variants: `s-pair-1-interval` (A and B as interval notifiers: the core unwinds itself) and
 * `s-pair-1-b-has-end` (B keeps an end op, which the current contract WARNs about).
 */
import {
  defineScenario,
  IntervalMirror,
  KvmLike,
  mm_alloc,
  mmu_notifier_register,
  mutex_lock,
  mutex_unlock,
  OdpLike,
  type KernelContract,
  type MmStruct,
  type Mutex,
  type World,
} from '../../src/index.js';
import { cpu_stub_attach, cpu_stub_oom_reap, type CpuStub } from '../../src/testing.js';

const VMA_START = 0x100000;
const VMA_END = 0x104000;

interface ClassicState {
  mm: MmStruct;
  cpu: CpuStub;
  a: KvmLike;
  b: OdpLike;
}

function classic(name: string, description: string, bVariant: 'start-only' | 'with-end', expect: (v: KernelContract) => string[]) {
  return defineScenario<ClassicState>({
    name,
    description,
    setup(w: World) {
      const mm = mm_alloc(w, 'mm');
      const cpu = cpu_stub_attach(mm);
      cpu.populate(VMA_START, VMA_END);
      return { mm, cpu, a: new KvmLike(w, mm, 'A'), b: new OdpLike(w, mm, bVariant, 'B') };
    },
    *init(s) {
      yield* mmu_notifier_register(s.a, s.mm);
      yield* mmu_notifier_register(s.b, s.mm);
    },
    tasks: {
      *holder(s) {
        // Any B path that holds its mutex for a while.
        yield* mutex_lock(s.b.umem_mutex);
        yield* mutex_unlock(s.b.umem_mutex);
      },
      *oom_reaper(s) {
        yield* cpu_stub_oom_reap(s.cpu, VMA_START, VMA_END);
      },
    },
    expect: (v) => expect(v),
  });
}

/** A + B' (B without an end op). */
export const sPair1 = classic(
  's-pair-1',
  "S-PAIR-1: the OOM reaper's non-blockable start fails at B; before v5.12 A never gets its end (unpaired start, A's count stuck)",
  'start-only',
  (v) => (v.eagainEndPairing === 'none' ? ['quiescence', 'unpaired-invalidate'] : []),
);

/** A + B with an end op: under the current contract B gets an end without a successful start. */
export const sPair1BHasEnd = classic(
  's-pair-1-b-has-end',
  'S-PAIR-1 with B keeping an end op: unpaired A before v5.12; from v5.12 the core WARNs that a failing start has an end op',
  'with-end',
  // B's end sleeps on its mutex inside the non-blockable end: a bug of its own (v5.4+ sees it in
  // the end after a successful start; the compensating end of the current contract has no
  // non_block section, but the contract still forbids it).
  (v) =>
    [
      ...(v.eagainEndPairing === 'none' ? ['quiescence', 'unpaired-invalidate'] : ['nonblock-contract', 'quiescence', 'warn']),
      ...(v.notifierAnnotations ? ['sleep-in-atomic'] : []),
    ].sort(),
);

interface IntervalState {
  mm: MmStruct;
  cpu: CpuStub;
  a: IntervalMirror;
  b: IntervalMirror;
  bLock: Mutex;
}

/** A and B as interval notifiers: B's invalidate returns false on a failed trylock and the core unwinds. */
export const sPair1Interval = defineScenario<IntervalState>({
  name: 's-pair-1-interval',
  description: 'S-PAIR-1 with A and B as interval notifiers: B returns false, the core closes its own interval step; clean (v5.5+)',
  setup(w: World) {
    const mm = mm_alloc(w, 'mm');
    const cpu = cpu_stub_attach(mm);
    cpu.populate(VMA_START, VMA_END);
    const a = new IntervalMirror(w, mm, 'correct', 'A');
    const b = new IntervalMirror(w, mm, 'correct', 'B');
    return { mm, cpu, a, b, bLock: b.lock };
  },
  *init(s) {
    yield* s.a.insert(VMA_START, VMA_END - VMA_START);
    yield* s.b.insert(VMA_START, VMA_END - VMA_START);
  },
  tasks: {
    *holder(s) {
      yield* mutex_lock(s.bLock);
      yield* mutex_unlock(s.bLock);
    },
    *oom_reaper(s) {
      yield* cpu_stub_oom_reap(s.cpu, VMA_START, VMA_END);
    },
  },
  expect: (v) => (v.intervalNotifiers ? [] : ['api-unavailable']),
});

export default [sPair1, sPair1BHasEnd, sPair1Interval];
