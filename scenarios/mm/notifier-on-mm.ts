/**
 * The notifier scenarios again, on the real address space instead of the CPU stand-in: the CPU
 * side is munmap and the OOM killer's reaper, with the kernel's locks and events. The verdicts
 * are the same as on the stand-in, under every kernel contract version.
 *
 * - s-pair-1-mm: A (KVM-like) and B' (ODP-like, start only) on a process the OOM killer picks;
 *   while another path holds B's mutex the reaper's non-blockable start fails at B. Before v5.12
 *   A never gets its end; the reaper retries later and succeeds, but A's count stays raised.
 * - s-seq-1-mm / -no-retry: the interval-mirror driver against munmap of the page it mirrors.
 * - s-seq-2-mm: read_begin under the driver lock, two intervals, one munmap.
 * - s-lockdep-map-1-mm: an allocation under the lock the notifier start takes, then munmap.
 */
import {
  defineScenario,
  GFP_KERNEL,
  IntervalMirror,
  kmalloc,
  LockTakingNotifier,
  KvmLike,
  mmu_notifier_register,
  Mutex,
  mutex_lock,
  mutex_unlock,
  OdpLike,
  type IntervalMirrorVariant,
  type World,
} from '../../src/index.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, mm_create, out_of_memory, PAGE_SIZE, PROT_READ, PROT_WRITE, sys_mmap, sys_munmap, write32, type Mm } from '../../src/mm/index.ts';
import { MM_SCENARIO_RUNS } from '../budget.js';

/** Maps `pages` anonymous pages and writes each, so the CPU maps real frames. */
function* populated(mm: Mm, pages: number): Generator<unknown, number, unknown> {
  const addr = yield* sys_mmap(mm, 0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (addr < 0) throw new Error(`mmap failed: ${addr}`);
  for (let i = 0; i < pages; i++) yield* write32(mm, addr + i * PAGE_SIZE, i + 1);
  return addr;
}

interface PairState {
  victim: Mm;
  a: KvmLike;
  b: OdpLike;
}

export const sPair1Mm = defineScenario<PairState>({
  name: 's-pair-1-mm',
  description: "S-PAIR-1 on the real mm: the OOM reaper's non-blockable start fails at B; before v5.12 A never gets its end",
  setup(w: World) {
    const victim = mm_create(w, { name: 'victim' });
    return { victim, a: new KvmLike(w, victim, 'A'), b: new OdpLike(w, victim, 'start-only', 'B') };
  },
  *init(s) {
    yield* populated(s.victim, 4);
    yield* mmu_notifier_register(s.a, s.victim);
    yield* mmu_notifier_register(s.b, s.victim);
  },
  tasks: {
    *holder(s) {
      yield* mutex_lock(s.b.umem_mutex);
      yield* mutex_unlock(s.b.umem_mutex);
    },
    *oom(s) {
      // Memory ran out somewhere: the OOM killer picks the victim and wakes the reaper.
      yield* out_of_memory(s.victim.sys);
    },
  },
  expect: (v) => (v.eagainEndPairing === 'none' ? ['quiescence', 'unpaired-invalidate'] : []),
});

interface SeqState {
  mm: Mm;
  addr: number;
  first: IntervalMirror;
  second: IntervalMirror | null;
}

function seq(name: string, description: string, variant: IntervalMirrorVariant, twoIntervals: boolean, expectBug: string[], allowBug: string[] = []) {
  return defineScenario<SeqState>({
    name,
    description,
    setup(w: World) {
      const mm = mm_create(w, { name: 'mm' });
      const lock = new Mutex(w, 'driver_lock', 'mirror->lock');
      return {
        mm,
        addr: 0,
        first: new IntervalMirror(w, mm, variant, 'mirror0', lock),
        second: twoIntervals ? new IntervalMirror(w, mm, variant, 'mirror1', lock) : null,
      };
    },
    *init(s) {
      s.addr = yield* populated(s.mm, 2);
      yield* s.first.insert(s.addr, PAGE_SIZE);
      if (s.second !== null) yield* s.second.insert(s.addr + PAGE_SIZE, PAGE_SIZE);
    },
    tasks: {
      *device_fault(s) {
        yield* s.first.fault(s.addr, true);
      },
      *cpu_munmap(s) {
        yield* sys_munmap(s.mm, s.addr, 2 * PAGE_SIZE);
      },
    },
    expect: (v) => (v.intervalNotifiers ? expectBug : ['api-unavailable']),
    allow: allowBug,
    runs: MM_SCENARIO_RUNS,
  });
}

export const sSeq1Mm = seq('s-seq-1-mm', 'S-SEQ-1 on the real mm: the documented driver loop against munmap: clean', 'correct', false, []);
export const sSeq1MmNoRetry = seq(
  's-seq-1-mm-no-retry',
  'S-SEQ-1 on the real mm without read_retry: the device keeps a page munmap freed',
  'no-read-retry',
  false,
  ['stale-device-mapping'],
  ['device-maps-freed-page'],
);
export const sSeq2Mm = seq(
  's-seq-2-mm',
  'S-SEQ-2 on the real mm: read_begin under the driver lock deadlocks against munmap; lockdep sees the cycle',
  'read-begin-under-lock',
  true,
  ['deadlock', 'lockdep-circular'],
);

interface MapState {
  mm: Mm;
  addr: number;
  drv: LockTakingNotifier;
}

export const sLockdepMap1Mm = defineScenario<MapState>({
  name: 's-lockdep-map-1-mm',
  description: 'S-LOCKDEP-MAP-1 on the real mm: the ioctl allocates under L, munmap runs the start that takes L; no reclaim needed (v5.4+)',
  setup: (w: World) => ({ mm: mm_create(w, { name: 'mm' }), addr: 0, drv: new LockTakingNotifier(new Mutex(w, 'L'), 'sleeps') }),
  *init(s) {
    s.addr = yield* populated(s.mm, 1);
    yield* mmu_notifier_register(s.drv, s.mm);
  },
  tasks: {
    *test(s) {
      yield* mutex_lock(s.drv.lock);
      yield* kmalloc(256, GFP_KERNEL);
      yield* mutex_unlock(s.drv.lock);
      yield* sys_munmap(s.mm, s.addr, PAGE_SIZE);
    },
  },
  expect: (v) => (v.notifierAnnotations ? ['lockdep-circular'] : []),
});

export default [sPair1Mm, sSeq1Mm, sSeq1MmNoRetry, sSeq2Mm, sLockdepMap1Mm];
