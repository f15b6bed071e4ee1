/**
 * S-NONBLOCK-1 (seed 003): notifier X's start does a plain mutex_lock, even for the OOM
 * reaper's non-blockable range, while another task holds X's mutex across a GFP_KERNEL
 * allocation that, out of memory, waits until reaping frees memory.
 *
 * From v5.4, sleeping inside the non-blockable start is reported in every run where the reaper
 * reaches X (no contention needed), and the allocation under X's mutex closes a lockdep cycle
 * through fs_reclaim and the start map. Before v5.4 only the real deadlock is found, and only
 * when the reaper arrives while the mutex is held. The fixed driver trylocks and has no end op.
 */
import {
  complete_all,
  Completion,
  defineScenario,
  GFP_KERNEL,
  kmalloc,
  LockTakingNotifier,
  mm_alloc,
  mmu_notifier_register,
  Mutex,
  mutex_lock,
  mutex_unlock,
  wait_for_completion,
  type MmStruct,
  type World,
} from '../../src/index.js';
import { cpu_stub_attach, cpu_stub_oom_reap, type CpuStub } from '../../src/testing.js';

const START = 0x300000;
const END = 0x304000;

interface State {
  mm: MmStruct;
  cpu: CpuStub;
  x: LockTakingNotifier;
  memoryFreed: Completion;
}

function nonblock(name: string, description: string, fixed: boolean) {
  return defineScenario<State>({
    name,
    description,
    setup(w: World) {
      const mm = mm_alloc(w, 'victim_mm');
      const cpu = cpu_stub_attach(mm);
      cpu.populate(START, END);
      return { mm, cpu, x: new LockTakingNotifier(new Mutex(w, 'X->m'), fixed ? 'trylock' : 'sleeps', 'X'), memoryFreed: new Completion(w, 'memory freed by the reaper') };
    },
    *init(s) {
      yield* mmu_notifier_register(s.x, s.mm);
    },
    tasks: {
      *allocator(s) {
        yield* mutex_lock(s.x.lock);
        yield* kmalloc(4096, GFP_KERNEL);
        // Out of memory: the allocation cannot finish until the reaper frees the victim's memory.
        yield* wait_for_completion(s.memoryFreed);
        yield* mutex_unlock(s.x.lock);
      },
      *oom_reaper(s) {
        yield* cpu_stub_oom_reap(s.cpu, START, END);
        yield* complete_all(s.memoryFreed);
      },
    },
    expect: (v) => (fixed ? [] : v.notifierAnnotations ? ['deadlock', 'lockdep-circular', 'sleep-in-atomic'] : ['deadlock']),
  });
}

export const sNonblock1 = nonblock('s-nonblock-1', "S-NONBLOCK-1: a non-blockable start that sleeps on a mutex held across an allocation waiting for the reaper", false);
export const sNonblock1Fixed = nonblock('s-nonblock-1-fixed', 'S-NONBLOCK-1 fixed: trylock in non-blockable mode, -EAGAIN, no end op: clean', true);

export default [sNonblock1, sNonblock1Fixed];
