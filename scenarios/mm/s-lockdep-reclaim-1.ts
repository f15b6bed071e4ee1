/**
 * S-LOCKDEP-RECLAIM-1 (seed 003): ABBA through fs_reclaim, with real reclaim.
 *
 *     T_a (driver ioctl)                T_b (direct reclaim, e.g. another allocation)
 *     mutex_lock(M)                     try_to_free_pages: fs_reclaim held, PF_MEMALLOC
 *     kmalloc(GFP_KERNEL)                 try_to_unmap a page of mm: CLEAR invalidation
 *       might enter reclaim: M -> fs_reclaim  notifier start -> mutex_lock(M): fs_reclaim -> M
 *     mutex_unlock(M)
 *
 * Memory is not short for T_a, so its allocation never reclaims: the two paths need not overlap,
 * and lockdep reports the cycle anyway, which is the point of lockdep. The fixed driver allocates
 * before taking M: clean.
 *
 * The pressure variant makes the consequence real: memory is full, T_b is a process whose write
 * fault reclaims, and in the interleavings where T_a's own allocation must reclaim while it holds
 * M, its reclaim calls the notifier, which waits for M: a deadlock.
 *
 * The NOFS variant is the spec's control for the scope flags: T_a allocates inside
 * memalloc_nofs_save while holding M, so no fs_reclaim is acquired. Before v5.9 that makes it
 * clean. From v5.9 every reclaim-capable allocation, NOFS included, still records "may wait for
 * MMU notifiers" (the notifier map), and reclaim from a NOFS allocation still unmaps pages and
 * calls notifiers: the cycle M -> notifier map -> M is real, and reported.
 */
import {
  defineScenario,
  GFP_KERNEL,
  kmalloc,
  memalloc_nofs_restore,
  memalloc_nofs_save,
  mmu_notifier_register,
  LockTakingNotifier,
  Mutex,
  mutex_lock,
  mutex_unlock,
  type World,
} from '../../src/index.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, mm_check, mm_create, PAGE_SIZE, PROT_READ, PROT_WRITE, sys_mmap, try_to_free_pages, write32, type Mm } from '../../src/mm/index.ts';
import { MM_SCENARIO_RUNS } from '../budget.js';

interface State {
  mm: Mm;
  drv: LockTakingNotifier;
  base: number;
}

type Variant = 'bug' | 'fixed' | 'nofs' | 'pressure';

function reclaim1(name: string, description: string, variant: Variant) {
  const pressure = variant === 'pressure';
  return defineScenario<State>({
    name,
    description,
    // Under pressure, three frames: init fills two, T_b's first write takes the third, its second
    // must reclaim (and so must any allocation made while all three are in use).
    setup: (w: World) => ({ mm: mm_create(w, { name: 'proc', ...(pressure ? { memoryLimitPages: 3 } : {}) }), drv: new LockTakingNotifier(new Mutex(w, 'M'), 'sleeps'), base: 0 }),
    *init(s) {
      s.base = yield* sys_mmap(s.mm, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(s.mm, s.base, 1);
      yield* write32(s.mm, s.base + PAGE_SIZE, 2);
      yield* mmu_notifier_register(s.drv, s.mm);
    },
    tasks: {
      *T_a(s) {
        if (variant === 'fixed') {
          const a = yield* kmalloc(64, GFP_KERNEL);
          yield* mutex_lock(s.drv.lock);
          void a;
        } else if (variant === 'nofs') {
          yield* mutex_lock(s.drv.lock);
          const flags = memalloc_nofs_save();
          yield* kmalloc(64, GFP_KERNEL);
          memalloc_nofs_restore(flags);
        } else {
          yield* mutex_lock(s.drv.lock);
          yield* kmalloc(64, GFP_KERNEL);
        }
        yield* mutex_unlock(s.drv.lock);
      },
      *T_b(s) {
        if (!pressure) {
          yield* try_to_free_pages(s.mm.sys, GFP_KERNEL);
          return;
        }
        yield* write32(s.mm, s.base + 2 * PAGE_SIZE, 3);
        yield* write32(s.mm, s.base + 3 * PAGE_SIZE, 4);
      },
    },
    check(_s, ctx) {
      mm_check(ctx.world);
    },
    expect: (v) => {
      if (variant === 'fixed' || (variant === 'nofs' && !v.reclaimTracksNotifier)) return [];
      return pressure ? ['deadlock', 'lockdep-circular'] : ['lockdep-circular'];
    },
    // Which lockdep report comes first in a deadlocking run depends on the interleaving.
    allow: pressure ? ['lockdep-recursive'] : [],
    // The other variants' DFS covers their whole space in about 1,000 runs: no budget needed.
    ...(pressure ? { runs: MM_SCENARIO_RUNS } : {}),
  });
}

export const sLockdepReclaim1 = reclaim1(
  's-lockdep-reclaim-1',
  'S-LOCKDEP-RECLAIM-1: a mutex held across GFP_KERNEL and taken by a notifier that real reclaim calls: ABBA through fs_reclaim',
  'bug',
);
export const sLockdepReclaim1Fixed = reclaim1('s-lockdep-reclaim-1-fixed', 'S-LOCKDEP-RECLAIM-1 fixed: allocate before taking the mutex: clean', 'fixed');
export const sLockdepReclaim1Nofs = reclaim1(
  's-lockdep-reclaim-1-nofs',
  'S-LOCKDEP-RECLAIM-1 NOFS control: no fs_reclaim under the mutex; clean before v5.9, a real cycle through the notifier map after',
  'nofs',
);

export const sLockdepReclaim1Pressure = reclaim1(
  's-lockdep-reclaim-1-pressure',
  'S-LOCKDEP-RECLAIM-1 under memory pressure: the allocation under the mutex reclaims itself and deadlocks on the notifier',
  'pressure',
);

export default [sLockdepReclaim1, sLockdepReclaim1Fixed, sLockdepReclaim1Nofs, sLockdepReclaim1Pressure];
