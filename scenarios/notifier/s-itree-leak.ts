/**
 * The kernel-side leak of notifier-semantics.md §2.3, as reachable in-tree with nouveau: an mm
 * with an interval notifier (a mirror over the range) and a classic notifier that refuses every
 * non-blockable range with -EAGAIN (no end op). The OOM reaper's non-blocking start enters the
 * interval step (active count up, sequence odd), then fails in the classic walk; the core returns
 * -EAGAIN without closing the interval step, and the caller may not call end. The count stays
 * raised and the sequence odd, so the mirror's next read_begin would wait for ever.
 *
 * Under `what-if-itree-fix` (the fix the spec proposes) the core closes the interval step first:
 * clean.
 */
import { defineScenario, EAGAIN, IntervalMirror, mm_alloc, mmu_notifier_range_blockable, mmu_notifier_register, MmuNotifier, type MmuNotifierOps, type MmStruct, type World } from '../../src/index.js';
import { cpu_stub_attach, cpu_stub_oom_reap, type CpuStub } from '../../src/testing.js';

const START = 0x500000;
const END = 0x502000;

const refuseNonblockOps: MmuNotifierOps = {
  *invalidate_range_start(_sub, range) {
    return mmu_notifier_range_blockable(range) ? 0 : -EAGAIN;
  },
};

/** Refuses every non-blockable range, as nouveau's process-wide SVM notifier does. */
class RefusesNonblock extends MmuNotifier {
  constructor() {
    super(refuseNonblockOps, 'svmm');
  }
}

interface State {
  mm: MmStruct;
  cpu: CpuStub;
  mirror: IntervalMirror;
  svmm: RefusesNonblock;
}

export default defineScenario<State>({
  name: 's-itree-leak',
  description: "kernel-side: a classic -EAGAIN after the interval step leaves the mm's sequence odd for good (clean under what-if-itree-fix)",
  setup(w: World) {
    const mm = mm_alloc(w, 'mm');
    const cpu = cpu_stub_attach(mm);
    cpu.populate(START, END);
    return { mm, cpu, mirror: new IntervalMirror(w, mm, 'correct', 'mirror'), svmm: new RefusesNonblock() };
  },
  *init(s) {
    yield* s.mirror.insert(START, END - START);
    yield* mmu_notifier_register(s.svmm, s.mm);
  },
  tasks: {
    *oom_reaper(s) {
      yield* cpu_stub_oom_reap(s.cpu, START, END);
    },
  },
  expect: (v) => (!v.intervalNotifiers ? ['api-unavailable'] : v.itreeLeakOnHlistEagain ? ['kernel-itree-leak', 'quiescence'] : []),
});
