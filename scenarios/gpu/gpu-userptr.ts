/**
 * GPU userptr buffer objects (amdgpu/xe style) on the real address space: a command submission
 * locks its BOs with dma_resv (ww_mutex back-off), checks the userptr sequence under the
 * notifier lock and publishes its job's fence; the GPU's interrupt signals it; munmap (or the
 * OOM reaper) invalidates the userptr range, and the invalidate waits for the fence.
 *
 * - gpu-userptr: the correct driver, two submissions locking the same two BOs in opposite
 *   orders, against munmap: clean under every version.
 * - gpu-userptr-alloc-in-signalling: a GFP_KERNEL allocation inside the fence signalling
 *   section. Lockdep (v5.9+, where the dma-fence annotations exist) proves the cycle
 *   dma_fence_map -> fs_reclaim -> mmu notifier map -> dma_fence_map from one run; before v5.9
 *   nothing sees it.
 * - gpu-userptr-notifier-lock-in-signalling: the notifier lock taken after the fence is
 *   published. A real deadlock (munmap's invalidate holds the lock and waits for the fence, the
 *   submission waits for the lock, the fence waits for the submission), and on v5.9+ a lockdep
 *   cycle dma_fence_map -> notifier_lock -> dma_fence_map.
 * - gpu-userptr-oom / -wait-in-nonblock: the OOM reaper invalidates the userptr range with a
 *   non-blockable range while a job may be in flight. The correct driver returns false; the
 *   buggy one takes the notifier lock and waits for the fence there.
 */
import { defineScenario, type World } from '../../src/index.js';
import { dma_resv_lockdep } from '../../src/locking/dma-resv.js';
import { GpuUserptrDevice, type GpuBo, type GpuUserptrVariant } from '../../src/devices/gpu-userptr.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, mm_check, mm_create, out_of_memory, PAGE_SIZE, PROT_READ, PROT_WRITE, sys_mmap, sys_munmap, write32, type Mm } from '../../src/mm/index.ts';
import { MM_SCENARIO_RUNS } from '../budget.js';

interface State {
  mm: Mm;
  dev: GpuUserptrDevice;
  ubo: GpuBo;
  vbo: GpuBo;
  addr: number;
}

const PAGES = 2;

function setup(w: World, variant: GpuUserptrVariant, oom: boolean): State {
  const mm = mm_create(w, { name: oom ? 'victim' : 'proc', ...(oom ? { swapPages: 0 } : {}) });
  const dev = new GpuUserptrDevice(w, mm, variant);
  return { mm, dev, ubo: dev.bo('ubo', true), vbo: dev.bo('vram_bo', false), addr: 0 };
}

function* init(s: State): Generator<unknown, void, unknown> {
  yield* dma_resv_lockdep();
  s.addr = yield* sys_mmap(s.mm, 0, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (let i = 0; i < PAGES; i++) yield* write32(s.mm, s.addr + i * PAGE_SIZE, i + 1);
  yield* s.dev.userptr(s.ubo, s.addr, PAGES * PAGE_SIZE);
}

function munmapScenario(name: string, description: string, variant: GpuUserptrVariant, twoSubmits: boolean, expectAnnotated: string[], expectBefore: string[]) {
  return defineScenario<State>({
    name,
    description,
    setup: (w) => setup(w, variant, false),
    *init(s) {
      yield* init(s);
    },
    tasks: {
      *cs0(s) {
        yield* s.dev.submit([s.ubo, s.vbo]);
      },
      ...(twoSubmits
        ? {
            *cs1(s: State) {
              yield* s.dev.submit([s.vbo, s.ubo]);
            },
          }
        : {}),
      *gpu(s) {
        yield* s.dev.hardware(twoSubmits ? 2 : 1);
      },
      *cpu_munmap(s) {
        yield* sys_munmap(s.mm, s.addr, PAGES * PAGE_SIZE);
      },
    },
    check(_s, ctx) {
      mm_check(ctx.world);
    },
    expect: (v) => (!v.intervalNotifiers ? ['api-unavailable'] : v.dmaFenceAnnotations ? expectAnnotated : expectBefore),
    runs: MM_SCENARIO_RUNS,
  });
}

function oomScenario(name: string, description: string, variant: GpuUserptrVariant, expectBug: string[], allow: string[]) {
  return defineScenario<State>({
    name,
    description,
    setup: (w) => setup(w, variant, true),
    *init(s) {
      yield* init(s);
    },
    tasks: {
      *cs0(s) {
        yield* s.dev.submit([s.ubo]);
      },
      *gpu(s) {
        yield* s.dev.hardware(1);
      },
      *oom(s) {
        // Memory ran out somewhere: the OOM killer picks this process and wakes the reaper.
        yield* out_of_memory(s.mm.sys);
      },
    },
    check(_s, ctx) {
      mm_check(ctx.world);
    },
    expect: (v) => (v.intervalNotifiers ? expectBug : ['api-unavailable']),
    allow: allow,
    runs: MM_SCENARIO_RUNS,
  });
}

export const gpuUserptr = munmapScenario(
  'gpu-userptr',
  'GPU userptr (amdgpu/xe style): dma_resv locking with -EDEADLK back-off, sequence check under the notifier lock, fence published and signalled from the interrupt, munmap waits for it: clean',
  'correct',
  true,
  [],
  [],
);
export const gpuUserptrAllocInSignalling = munmapScenario(
  'gpu-userptr-alloc-in-signalling',
  'GPU userptr allocating with GFP_KERNEL inside the fence signalling section: lockdep cycle through fs_reclaim and the notifier map (v5.9+)',
  'alloc-in-signalling',
  false,
  ['lockdep-circular'],
  [],
);
export const gpuUserptrNotifierLockInSignalling = munmapScenario(
  'gpu-userptr-notifier-lock-in-signalling',
  'GPU userptr taking the notifier lock after publishing the fence: the invalidate waits for a fence that needs the lock it holds (deadlock; lockdep cycle v5.9+)',
  'notifier-lock-in-signalling',
  false,
  ['deadlock', 'lockdep-circular'],
  ['deadlock'],
);
export const gpuUserptrOom = oomScenario(
  'gpu-userptr-oom',
  'GPU userptr under the OOM reaper: the invalidate refuses a non-blockable range, the reaper skips the range: clean',
  'correct',
  [],
  [],
);
export const gpuUserptrWaitInNonblock = oomScenario(
  'gpu-userptr-wait-in-nonblock',
  'GPU userptr whose invalidate waits for fences on the OOM reaper\'s non-blockable range',
  'wait-in-nonblock',
  ['nonblock-contract'],
  ['deadlock'],
);

export default [gpuUserptr, gpuUserptrAllocInSignalling, gpuUserptrNotifierLockInSignalling, gpuUserptrOom, gpuUserptrWaitInNonblock];
