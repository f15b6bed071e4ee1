/**
 * S-LOCKDEP-MAP-1 (seed 004): finding a reclaim deadlock without ever reaching reclaim. The
 * driver's notifier start takes L; its ioctl takes L and then allocates with GFP_KERNEL; the test
 * runs the ioctl once and munmap once, one after the other, and reclaim never happens.
 *
 * v4.19 cannot see it. v5.4 (priming at registration: fs_reclaim -> start map) and v5.9+
 * (every reclaim-capable allocation takes the start map) report the cycle
 * L -> fs_reclaim -> start map -> L. The fixed driver allocates before taking L.
 */
import {
  defineScenario,
  GFP_KERNEL,
  kmalloc,
  LockTakingNotifier,
  mm_alloc,
  mmu_notifier_register,
  Mutex,
  mutex_lock,
  mutex_unlock,
  type MmStruct,
  type World,
} from '../../src/index.js';
import { cpu_stub_attach, cpu_stub_munmap, type CpuStub } from '../../src/testing.js';

const START = 0x400000;
const END = 0x401000;

interface State {
  mm: MmStruct;
  cpu: CpuStub;
  drv: LockTakingNotifier;
}

function map1(name: string, description: string, fixed: boolean) {
  return defineScenario<State>({
    name,
    description,
    setup(w: World) {
      const mm = mm_alloc(w, 'mm');
      const cpu = cpu_stub_attach(mm);
      cpu.populate(START, END);
      return { mm, cpu, drv: new LockTakingNotifier(new Mutex(w, 'L'), 'sleeps') };
    },
    *init(s) {
      yield* mmu_notifier_register(s.drv, s.mm);
    },
    tasks: {
      *test(s) {
        // The ioctl, once.
        if (fixed) {
          yield* kmalloc(256, GFP_KERNEL);
          yield* mutex_lock(s.drv.lock);
        } else {
          yield* mutex_lock(s.drv.lock);
          yield* kmalloc(256, GFP_KERNEL);
        }
        yield* mutex_unlock(s.drv.lock);
        // Then munmap, once.
        yield* cpu_stub_munmap(s.cpu, START, END);
      },
    },
    expect: (v) => (fixed || !v.notifierAnnotations ? [] : ['lockdep-circular']),
  });
}

export const sLockdepMap1 = map1('s-lockdep-map-1', 'S-LOCKDEP-MAP-1: an allocation under the lock the notifier takes; found without reaching reclaim (v5.4+)', false);
export const sLockdepMap1Fixed = map1('s-lockdep-map-1-fixed', 'S-LOCKDEP-MAP-1 fixed: allocate before taking the lock: clean on every version', true);

export default [sLockdepMap1, sLockdepMap1Fixed];
