/**
 * Device-exclusive access with a nouveau-like GPU SVM driver (src/devices/gpu-svm.ts), on the
 * real address space, against what the CPU side does to the page: access it, fork, mprotect,
 * munmap, reclaim, the OOM reaper. Scenarios S-EXCL-FP-1 and S-EXCL-LAZY-1 of scenarios.md, plus
 * one scenario per known-bug variant.
 *
 * Every scenario runs under both API generations: v5.14–v6.14 (make_device_exclusive_range) and
 * v6.15+ (make_device_exclusive); before v5.14 the API does not exist. Where the generations
 * differ the verdict says so (`hmmsim compare gpu-svm-reclaim`).
 */
import { defineScenario, type KernelContract, type World } from '../../src/index.js';
import { GpuSvm, gpu_svm_atomic_fault, LIVELOCK, type GpuSvmVariant } from '../../src/devices/gpu-svm.js';
import { INV_EXCL, INV_EXCL_FORK } from '../../src/hmm/device-exclusive-oracle.js';
import { whatIfForkCopiesExclusive } from '../../src/mm/fork.ts';
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { contractOf } from '../../src/locking/version.js';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  mm_check,
  mm_create,
  out_of_memory,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  read32,
  sys_fork,
  sys_mmap,
  sys_mprotect,
  sys_munmap,
  try_to_free_pages,
  write32,
  type Mm,
} from '../../src/mm/index.ts';
import { isDeviceExclusiveEntry } from '../../src/mm/pte.ts';
import { MM_SCENARIO_RUNS } from '../budget.js';

const V = 0x400000;

interface State {
  mm: Mm;
  g: GpuSvm;
  /** What the GPU fault returned (1 until it has). */
  ret: number;
  /** Set when the CPU-side task has done its part. */
  cpuDone: boolean;
  /** A value read back by the CPU. */
  read: number;
}

/** Before v5.14 the API does not exist: the run stops at the first call. */
function unavailable(v: KernelContract): boolean {
  return v.deviceExclusiveApi === 'none';
}

type CpuSide = (s: State, w: World) => Generator<unknown, void, unknown>;

interface GpuScenario {
  name: string;
  description: string;
  variant: GpuSvmVariant;
  cpu?: CpuSide;
  /** Extra checks after the run. */
  check?: (s: State, fail: (message: string, kind: string) => void, v: KernelContract) => void;
  /** Findings expected from v5.14 on. */
  expect: (v: KernelContract) => readonly string[];
  retryBound?: number;
  /** Two atomic faults on the page in a row. */
  twice?: boolean;
  memoryLimitPages?: number;
  /** Run the deliberately broken core whose fork copies exclusive entries verbatim. */
  brokenCore?: boolean;
  /** Findings that may also show up, depending on the interleaving. */
  allow?: (v: KernelContract) => readonly string[];
}

function gpuScenario(d: GpuScenario) {
  return defineScenario<State>({
    name: d.name,
    description: d.description,
    setup: (w: World) => {
      const mm = mm_create(w, { name: 'proc', swapPages: 8, ...(d.memoryLimitPages === undefined ? {} : { memoryLimitPages: d.memoryLimitPages }) });
      if (d.brokenCore === true) whatIfForkCopiesExclusive(w);
      return { mm, g: new GpuSvm(w, mm, d.variant, 'gpu', d.retryBound ?? 3), ret: 1, cpuDone: false, read: -1 };
    },
    *init(s) {
      yield* sys_mmap(s.mm, V, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(s.mm, V, 42);
      yield* write32(s.mm, V + PAGE_SIZE, 7);
      yield* s.g.register();
    },
    tasks: {
      *gpu(s, w) {
        yield w.point('gpu atomic fault', s.g.gpu);
        s.ret = yield* gpu_svm_atomic_fault(s.g, V);
        if (d.twice && s.ret === 0) s.ret = yield* gpu_svm_atomic_fault(s.g, V);
      },
      ...(d.cpu === undefined
        ? {}
        : {
            *cpu(s: State, w: World) {
              yield w.point('cpu side', s.mm);
              yield* d.cpu!(s, w);
              s.cpuDone = true;
            },
          }),
    },
    check(s, ctx) {
      mm_check(ctx.world);
      const v = contractOf(ctx.world);
      if (!unavailable(v)) d.check?.(s, (m, k) => ctx.fail(m, k, d.name), v);
    },
    expect: (v) => (unavailable(v) ? ['api-unavailable'] : d.expect(v)),
    // Without the API the run stops at the first call, wherever the CPU side stands.
    allow: (v) => (unavailable(v) ? ['lockdep-held-at-exit', 'deadlock', 'kernel-itree-leak', 'quiescence'] : d.allow?.(v) ?? []),
    runs: MM_SCENARIO_RUNS,
  });
}

const clean = (): readonly string[] => [];

/** S-EXCL-LAZY-1 part A: the CPU touches the page; the restore revokes the GPU's atomic access. */
const cpuRead: CpuSide = function* (s) {
  s.read = yield* read32(s.mm, V);
};

export const sExclLazy1Cpu = gpuScenario({
  name: 's-excl-lazy-1-cpu',
  description: 'S-EXCL-LAZY-1 A: a CPU read meets the exclusive entry; its owner-null invalidation (EXCLUSIVE before v6.15, CLEAR since) lets the process-wide notifier revoke the GPU; the data is intact',
  variant: 'correct',
  cpu: cpuRead,
  check(s, fail) {
    if (s.read !== 42) fail(`the CPU read ${s.read}, not 42`, 'check-failed');
  },
  expect: clean,
});

export const sExclLazy1NoProcessNotifier = gpuScenario({
  name: 's-excl-lazy-1-no-process-notifier',
  description: 'S-EXCL-LAZY-1 A, broken driver: no process-wide notifier, so nothing revokes the GPU when the CPU takes the page back: inv-excl',
  variant: 'no-process-notifier',
  cpu: function* (s, w) {
    while (s.ret === 1) yield w.spinPoint('wait for the GPU fault', s.g.gpu);
    s.read = yield* read32(s.mm, V);
  },
  expect: () => [INV_EXCL],
});

export const sExclLazy1Fork = gpuScenario({
  name: 's-excl-lazy-1-fork',
  description: 'S-EXCL-LAZY-1 B: fork meets the exclusive entry: restored in the parent and copied COW, or (folio locked by the GPU) fork fails with -ENOMEM, never sleeping under the PTL; the GPU fault livelocks when fork\'s COW break lands inside it',
  variant: 'correct',
  cpu: function* (s) {
    const child = yield* sys_fork(s.mm);
    if (typeof child !== 'number') s.read = yield* read32(child, V);
  },
  check(s, fail) {
    if (s.read !== -1 && s.read !== 42) fail(`the child read ${s.read}, not 42`, 'check-failed');
  },
  // fork itself is clean (no deadlock, no sleep under the PTL); the GPU fault livelocks when
  // fork's write-protect makes its GUP break COW (a CLEAR) between read_begin and read_retry.
  expect: () => [LIVELOCK],
});

export const sExclLazy1ForkBrokenCore = gpuScenario({
  name: 's-excl-lazy-1-fork-broken-core',
  description: 'S-EXCL-LAZY-1 B with a deliberately broken core whose fork copies the exclusive entry verbatim: inv-excl-fork in the child',
  variant: 'correct',
  brokenCore: true,
  cpu: function* (s, w) {
    while (s.ret === 1) yield w.spinPoint('wait for the GPU fault', s.g.gpu);
    yield* sys_fork(s.mm);
  },
  expect: () => [INV_EXCL_FORK],
});

export const sExclLazy1Idle = gpuScenario({
  name: 's-excl-lazy-1-idle',
  description: 'S-EXCL-LAZY-1 C: with no CPU access to it the entry stays: nothing restores it on its own',
  variant: 'correct',
  cpu: function* (s) {
    yield* write32(s.mm, V + PAGE_SIZE, 8); // the neighbour only
  },
  check(s, fail) {
    if (s.ret === 0 && !isDeviceExclusiveEntry(s.mm.pt.get(V))) fail('the exclusive entry was restored with no CPU access to it', 'check-failed');
  },
  expect: clean,
});

const MPROTECTS = 3;

export const sExclFp1 = gpuScenario({
  name: 's-excl-fp-1',
  description: `S-EXCL-FP-1: ${MPROTECTS} mprotects toggling PROT_EXEC raise PROTECTION_VMA over an unchanged exclusive entry (false positives); one landing inside the GPU fault makes it retry, and every later attempt undoes its own leftover entry: livelock (scenarios.md expects a clean finish)`,
  variant: 'correct',
  retryBound: MPROTECTS + 1,
  cpu: function* (s) {
    for (let i = 0; i < MPROTECTS; i++) yield* sys_mprotect(s.mm, V, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE | (i % 2 === 0 ? PROT_EXEC : 0));
  },
  check(s, fail) {
    if (s.g.protectionVma !== MPROTECTS) fail(`the process-wide notifier saw ${s.g.protectionVma} PROTECTION_VMA invalidations, not ${MPROTECTS}`, 'check-failed');
    if (s.ret === 0 && s.g.maxRetries > MPROTECTS) fail(`the GPU fault retried ${s.g.maxRetries} times for ${MPROTECTS} mprotects`, 'check-failed');
  },
  // scenarios.md expects a clean run with at most k retries. The kernel disagrees: a retry leaves
  // the fault's own exclusive entry behind, and every later attempt undoes it with an owner-null
  // invalidation that bumps the fault's own sequence (see src/devices/gpu-svm.ts).
  expect: () => [LIVELOCK],
});

export const sExclFp1Twice = gpuScenario({
  name: 's-excl-fp-1-twice',
  description: 'S-EXCL-FP-1 sub-test: the same page made exclusive twice in a row; the second GUP undoes the first entry through the fault path (owner-null), which the second fault\'s own notifier must honour: livelock (scenarios.md expects clean)',
  variant: 'correct',
  twice: true,
  // scenarios.md expects clean; the second fault's GUP undoes the first fault's entry with an
  // owner-null invalidation its own notifier must honour: it retries until it gives up.
  expect: () => [LIVELOCK],
});

export const gpuSvmMunmap = gpuScenario({
  name: 'gpu-svm-munmap',
  description: 'GPU SVM atomics against munmap of the page: the UNMAP invalidation revokes or retries the fault',
  variant: 'correct',
  cpu: function* (s) {
    yield* sys_munmap(s.mm, V, PAGE_SIZE);
  },
  expect: clean,
});

export const gpuSvmNoReadRetry = gpuScenario({
  name: 'gpu-svm-no-read-retry',
  description: 'GPU SVM, broken driver: no read_retry, so a munmap that zapped the entry after make_device_exclusive goes unnoticed and the GPU gets atomic access to nothing: inv-excl',
  variant: 'no-read-retry',
  cpu: function* (s) {
    yield* sys_munmap(s.mm, V, PAGE_SIZE);
  },
  expect: () => [INV_EXCL],
});

export const gpuSvmProgramAfterUnlock = gpuScenario({
  name: 'gpu-svm-program-after-unlock',
  description: 'GPU SVM, broken driver: unlocks the folio before programming; a CPU read in between restores the PTE and the GPU gets atomic access to a page the CPU maps: inv-excl',
  variant: 'program-after-unlock',
  cpu: cpuRead,
  expect: () => [INV_EXCL],
});

export const gpuSvmNoOwnerFilter = gpuScenario({
  name: 'gpu-svm-no-owner-filter',
  description: "GPU SVM, broken driver: the fault's interval notifier does not ignore its own EXCLUSIVE event, so read_retry never succeeds: livelock",
  variant: 'no-owner-filter',
  retryBound: 2,
  expect: () => [LIVELOCK],
});

export const gpuSvmReclaim = gpuScenario({
  name: 'gpu-svm-reclaim',
  description: 'GPU SVM atomics against direct reclaim: v6.15 swaps the exclusive page out under CLEAR (the GPU is revoked); v5.14–v6.14 cannot reclaim it (info-exclusive-unreclaimable)',
  variant: 'correct',
  cpu: function* (s, w) {
    while (s.ret === 1) yield w.spinPoint('wait for the GPU fault', s.g.gpu);
    yield* try_to_free_pages(s.mm.sys, GFP_KERNEL);
  },
  check(s, fail, v) {
    if (s.ret === 0 && isDeviceExclusiveEntry(s.mm.pt.get(V)) && v.deviceExclusiveApi === 'range') {
      fail('reclaim left the device-exclusive page resident: the v5.14–v6.14 reverse-map walk does not see the entry, so the folio stays mapped and busy', 'info-exclusive-unreclaimable');
    }
  },
  expect: (v) => (v.deviceExclusiveApi === 'range' ? ['info-exclusive-unreclaimable'] : []),
});

export const gpuSvmOom = gpuScenario({
  name: 'gpu-svm-oom',
  description: "GPU SVM atomics against the OOM killer's reaper: the process-wide notifier refuses the non-blockable start (-EAGAIN) and the reaper skips the VMA",
  variant: 'correct',
  cpu: function* (s) {
    yield* out_of_memory(s.mm.sys);
  },
  // The fault's interval notifier succeeds, the process-wide one returns -EAGAIN: the core's
  // known leak (scenario s-itree-leak) keeps the active count raised, and the GPU's next
  // read_begin may wait for ever. Gone under what-if-itree-fix.
  expect: (v) => (v.itreeLeakOnHlistEagain ? ['kernel-itree-leak'] : []),
  allow: (v) => (v.itreeLeakOnHlistEagain ? ['deadlock', 'quiescence'] : []),
});

/** Every scenario of this file, in catalogue order. */
export default [
  sExclLazy1Cpu,
  sExclLazy1NoProcessNotifier,
  sExclLazy1Fork,
  sExclLazy1ForkBrokenCore,
  sExclLazy1Idle,
  sExclFp1,
  sExclFp1Twice,
  gpuSvmMunmap,
  gpuSvmNoReadRetry,
  gpuSvmProgramAfterUnlock,
  gpuSvmNoOwnerFilter,
  gpuSvmReclaim,
  gpuSvmOom,
];
