/**
 * S-NONBLOCK-1 (seed 003) on the real mm layer: the OOM reaper meets a notifier that sleeps.
 *
 * Memory is full and swap is off, so reclaim frees nothing. T_h holds the driver's mutex across
 * a GFP_KERNEL allocation; the allocation OOM-kills the process that owns the memory and waits
 * for the reaper. The reaper invalidates the victim's VMA with the non-blocking start:
 *
 *     buggy driver: start does a plain mutex_lock even on a non-blockable range: sleeping in a
 *       non-blocking section (v5.4+), and a real deadlock, since T_h holds the mutex while
 *       waiting for the memory only the reaper can free; lockdep sees the cycle too.
 *     fixed driver: trylock on non-blockable ranges, -EAGAIN on contention, no end op. The
 *       reaper skips the VMA (no zap, no end), retries 10 times 100 ticks apart, gives up and
 *       flags the mm OOM-skip; T_h's allocation then finds nobody left to kill and fails (NULL),
 *       and T_h carries on: clean.
 */
import {
  defineScenario,
  GFP_KERNEL,
  kmalloc,
  LockTakingNotifier,
  mmu_notifier_register,
  Mutex,
  mutex_lock,
  mutex_unlock,
  type World,
} from '../../src/index.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, mm_check, mm_create, PAGE_SIZE, PROT_READ, PROT_WRITE, sys_mmap, write32, type Mm } from '../../src/mm/index.ts';

interface State {
  victim: Mm;
  x: LockTakingNotifier;
  /** What T_h's allocation returned (null: it failed after the reaper gave up). */
  allocated: boolean | null;
}

function nonblockMm(name: string, description: string, fixed: boolean) {
  return defineScenario<State>({
    name,
    description,
    setup: (w: World) => ({
      victim: mm_create(w, { name: 'victim', swapPages: 0 }),
      x: new LockTakingNotifier(new Mutex(w, 'X->m'), fixed ? 'trylock' : 'sleeps', 'X'),
      allocated: null,
    }),
    *init(s) {
      const a = yield* sys_mmap(s.victim, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(s.victim, a, 1);
      yield* write32(s.victim, a + PAGE_SIZE, 2);
      yield* mmu_notifier_register(s.x, s.victim);
      // Now memory is full: the two pages are all there is.
      s.victim.sys.configure({ memoryLimitPages: 2 });
    },
    tasks: {
      *T_h(s) {
        yield* mutex_lock(s.x.lock);
        s.allocated = (yield* kmalloc(4096, GFP_KERNEL)) !== null;
        yield* mutex_unlock(s.x.lock);
      },
    },
    check(s, ctx) {
      if (fixed && s.allocated !== false) ctx.fail(`the allocation should fail once the reaper gave up, got ${String(s.allocated)}`);
      if (fixed && !s.victim.oomSkip) ctx.fail('the reaper did not flag the victim OOM-skip');
      mm_check(ctx.world);
    },
    expect: (v) => (fixed ? [] : v.notifierAnnotations ? ['deadlock', 'lockdep-circular', 'sleep-in-atomic'] : ['deadlock']),
  });
}

export const sNonblock1Mm = nonblockMm(
  's-nonblock-1-mm',
  'S-NONBLOCK-1 with real OOM: the reaper\'s non-blockable start sleeps on a mutex held across the allocation that waits for it',
  false,
);
export const sNonblock1MmFixed = nonblockMm(
  's-nonblock-1-mm-fixed',
  'S-NONBLOCK-1 with real OOM, fixed: trylock and -EAGAIN; the reaper skips the VMA, retries, gives up; the allocation fails cleanly',
  true,
);

export default [sNonblock1Mm, sNonblock1MmFixed];
