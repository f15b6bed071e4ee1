/**
 * A GPU shared-virtual-memory driver as nouveau has it (drivers/gpu/drm/nouveau/nouveau_svm.c),
 * reduced to what its device atomics need:
 *
 * - one process-wide classic notifier (the svmm's): its start takes the svmm mutex and revokes
 *   every GPU mapping in the range, whatever the event and owner; a non-blockable start returns
 *   -EAGAIN; no end op;
 * - per atomic fault, an interval notifier over the faulting page, inserted for the fault and
 *   removed after it; its callback ignores the EXCLUSIVE event carrying the driver's own owner
 *   (the conversion the fault itself causes), and otherwise bumps the sequence under the mutex;
 * - the atomic fault path:
 *
 *       insert interval notifier
 *       loop (bounded: nouveau gives up after a timeout with -EBUSY):
 *         seq = read_begin
 *         mmap_read_lock; make_device_exclusive (v6.15) / _range (v5.14–v6.14); mmap_read_unlock
 *         svmm mutex; read_retry(seq)? drop mutex, unlock and put the folio, loop
 *       program the GPU's atomic mapping
 *       drop the mutex; unlock and put the folio
 *       remove the interval notifier
 *
 * What the model finds in the correct driver, as the kernel has it: once an attempt retries (an
 * invalidation landed between read_begin and read_retry: an mprotect false positive, fork's COW
 * break), its exclusive entry stays behind; the next attempt's GUP undoes it through the fault
 * path with an owner-null invalidation, which the fault notifier must not ignore, so its own
 * sequence moves and read_retry fails again, attempt after attempt, until the bound (nouveau's
 * timeout) gives up with -EBUSY: a livelock finding.
 *
 * Known-bug variants:
 * - `no-owner-filter`: the interval callback does not ignore its own EXCLUSIVE event: every
 *   conversion bumps the sequence, read_retry is always true, the fault never finishes (livelock);
 * - `program-after-unlock`: the folio is unlocked (and the mutex dropped) before the GPU is
 *   programmed: a CPU access in between restores the PTE, and the GPU then gets atomic access to
 *   a page the CPU maps;
 * - `no-read-retry`: programs without read_retry: an unmap that zapped the entry in between goes
 *   unnoticed;
 * - `no-process-notifier`: no process-wide notifier: once the per-fault interval notifier is
 *   removed, nothing revokes the GPU's atomic mapping when the CPU takes the page back.
 */
import { EAGAIN, EBUSY, EINVAL } from '../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../locking/mutex.js';
import { contractOf } from '../locking/version.js';
import { MmuNotifier, mmu_notifier_register } from '../notifier/classic.js';
import { MMU_NOTIFY_EXCLUSIVE, MMU_NOTIFY_PROTECTION_VMA } from '../notifier/events.js';
import {
  MmuIntervalNotifier,
  mmu_interval_notifier_insert,
  mmu_interval_notifier_remove,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
} from '../notifier/interval.js';
import { mmu_notifier_range_blockable } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { PAGE_SIZE } from '../mm/constants.ts';
import { folio_unlock } from '../mm/folio-lock.ts';
import type { Mm } from '../mm/mm-struct.ts';
import { isDeviceExclusiveEntry } from '../mm/pte.ts';
import { make_device_exclusive, make_device_exclusive_range } from '../hmm/device-exclusive.ts';
import { device_atomic_create, device_atomic_map, device_atomic_unmap_range, type DeviceAtomicMap } from '../hmm/device-exclusive-oracle.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Which driver. */
export type GpuSvmVariant = 'correct' | 'no-owner-filter' | 'program-after-unlock' | 'no-read-retry' | 'no-process-notifier';

/** Finding kind: an atomic fault retried past its bound (INV-X4's livelock detector). */
export const LIVELOCK = 'livelock';

/** The svmm: the process-wide notifier, the mutex, the GPU's atomic mappings of one mm. */
export class GpuSvm extends MmuNotifier {
  readonly mutex: Mutex;
  readonly gpu: DeviceAtomicMap;
  /** The owner token the driver passes to make_device_exclusive (nouveau: its drm device). */
  readonly owner: { readonly name: string };
  /** Retries of the last atomic fault, and the most any fault needed. */
  retries = 0;
  maxRetries = 0;
  /** PROTECTION_VMA invalidations seen by the process-wide notifier (for false-positive counts). */
  protectionVma = 0;

  constructor(
    world: World,
    /** The process whose memory the GPU shares. */
    readonly proc: Mm,
    readonly variant: GpuSvmVariant = 'correct',
    name = 'gpu',
    /** Retries before the fault gives up (nouveau: a one-second timeout). */
    readonly retryBound = 3,
  ) {
    super(
      {
        *invalidate_range_start(sub, range) {
          const g = sub as GpuSvm;
          if (!mmu_notifier_range_blockable(range)) return -EAGAIN;
          yield* mutex_lock(g.mutex);
          if (range.event === MMU_NOTIFY_PROTECTION_VMA) g.protectionVma++;
          device_atomic_unmap_range(g.gpu, range.start, range.end);
          yield* mutex_unlock(g.mutex);
          return 0;
        },
      },
      `${name}->svmm`,
    );
    this.mutex = new Mutex(world, `${name}->svmm->mutex`, 'svmm->mutex');
    this.gpu = device_atomic_create(proc, name);
    this.owner = { name: `${name}-drm` };
  }

  /** Registers the process-wide notifier (skipped by the no-process-notifier variant). */
  *register(): Gen<number> {
    if (this.variant === 'no-process-notifier') return 0;
    return yield* mmu_notifier_register(this, this.proc);
  }
}

/** The per-fault interval notifier (nouveau_svm_range_invalidate). */
class FaultNotifier extends MmuIntervalNotifier {
  constructor(readonly svmm: GpuSvm) {
    super(
      {
        *invalidate(sub, range, curSeq) {
          const g = (sub as FaultNotifier).svmm;
          if (g.variant !== 'no-owner-filter' && range.event === MMU_NOTIFY_EXCLUSIVE && range.owner === g.owner) return true;
          if (mmu_notifier_range_blockable(range)) yield* mutex_lock(g.mutex);
          else if ((yield* mutex_trylock(g.mutex)) === 0) return false;
          mmu_interval_set_seq(sub, curSeq);
          yield* mutex_unlock(g.mutex);
          return true;
        },
      },
      `${svmm.gpu.name}->fault-notifier`,
    );
  }
}

/**
 * One page made exclusive, generation by generation. @returns the locked, referenced folio, or
 * a negative errno.
 */
function* makeExclusive(g: GpuSvm, addr: number): Gen<number> {
  if (contractOf(g.proc.world).deviceExclusiveApi === 'range') {
    const pages: (number | null)[] = [];
    const n = yield* make_device_exclusive_range(g.proc, addr, addr + PAGE_SIZE, pages, g.owner);
    if (n <= 0) return n < 0 ? n : -EINVAL;
    return pages[0] ?? -EINVAL;
  }
  return yield* make_device_exclusive(g.proc, addr, g.owner, { folio: -1 });
}

/**
 * The GPU's atomic fault on `addr` (nouveau_atomic_range_fault). @returns 0 once the GPU has
 * atomic access, -EBUSY after `retryBound` retries (reported as a livelock), or -EINVAL when the
 * page could not be made exclusive.
 */
export function* gpu_svm_atomic_fault(g: GpuSvm, addr: number): Gen<number> {
  const world = g.proc.world;
  const page = addr - (addr % PAGE_SIZE);
  const notifier = new FaultNotifier(g);
  const inserted = yield* mmu_interval_notifier_insert(notifier, g.proc, page, PAGE_SIZE);
  if (inserted < 0) return inserted;
  let ret = 0;
  let folio = -1;
  let leftover = false;
  g.retries = 0;
  for (;;) {
    if (g.retries > g.retryBound) {
      const why =
        g.variant === 'no-owner-filter'
          ? ', because the fault notifier does not ignore its own EXCLUSIVE event'
          : leftover
            ? ': each attempt leaves its exclusive entry behind when it retries, and the next attempt\'s GUP undoes it with an owner-null invalidation that bumps this fault\'s own sequence'
            : '';
      world.report(LIVELOCK, `${g.gpu.name}: the atomic fault on 0x${page.toString(16)} retried ${g.retries} times and gave up (-EBUSY): read_retry never succeeded${why}`, `${g.gpu.name}:livelock`);
      ret = -EBUSY;
      break;
    }
    const seq = yield* mmu_interval_read_begin(notifier);
    world.touchUndeclared(); // a look at the CPU entry, for the report only
    leftover = isDeviceExclusiveEntry(g.proc.pt.get(page));
    yield* mmap_read_lock(g.proc);
    folio = yield* makeExclusive(g, page);
    yield* mmap_read_unlock(g.proc);
    if (folio < 0) {
      ret = -EINVAL;
      break;
    }
    yield* mutex_lock(g.mutex);
    if (g.variant === 'no-read-retry' || !(yield* mmu_interval_read_retry(notifier, seq))) break;
    yield* mutex_unlock(g.mutex);
    yield* folio_unlock(folio);
    g.proc.sys.putPage(folio);
    folio = -1;
    g.retries++;
  }
  if (g.retries > g.maxRetries) g.maxRetries = g.retries;
  if (ret === 0) {
    if (g.variant === 'program-after-unlock') {
      yield* mutex_unlock(g.mutex);
      yield* folio_unlock(folio);
      g.proc.sys.putPage(folio);
      yield* mutex_lock(g.mutex);
    }
    yield world.point(`${g.gpu.name} programs atomic 0x${page.toString(16)}`, g.gpu, Access.Write);
    device_atomic_map(g.gpu, page, folio);
    yield* mutex_unlock(g.mutex);
    if (g.variant !== 'program-after-unlock') {
      yield* folio_unlock(folio);
      g.proc.sys.putPage(folio);
    }
  }
  yield* mmu_interval_notifier_remove(notifier);
  return ret;
}
