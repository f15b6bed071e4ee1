/**
 * A GPU shared-virtual-memory driver as nouveau has it (drivers/gpu/drm/nouveau/nouveau_svm.c),
 * reduced to what its device atomics need:
 *
 * - one process-wide classic notifier (the svmm's): its start takes the svmm mutex and revokes
 *   every GPU mapping in the range, whatever the event and owner; a non-blockable start returns
 *   -EAGAIN; no end op;
 * - per atomic fault, an interval notifier over the faulting page, inserted for the fault and
 *   removed after it (nouveau_svm_range_invalidate); its callback ignores the EXCLUSIVE event
 *   carrying the driver's own owner (the conversion the fault itself causes), and otherwise bumps
 *   the sequence under the mutex;
 * - the atomic fault path (nouveau_atomic_range_fault):
 *
 *       insert interval notifier
 *       loop until the deadline (HMM_RANGE_DEFAULT_TIMEOUT; here: `retryBound` retries), then -EBUSY:
 *         seq = read_begin
 *         mmap_read_lock; make_device_exclusive (v6.15) / _range (v5.14–v6.14); mmap_read_unlock
 *         svmm mutex; read_retry(seq)? drop mutex, unlock and put the folio, loop
 *       program the GPU's atomic mapping
 *       drop the mutex; unlock and put the folio
 *       remove the interval notifier
 *
 *   The unlock and put on the retry path came with b3fefbb30a16 ("nouveau/svm: fix missing folio
 *   unlock + put after make_device_exclusive_range()", v6.14-rc, backported to stable); `correct`
 *   is the driver with it, `no-unlock-on-retry` the one before it.
 *
 * What the model finds in the correct driver, as the kernel has it (a finding of kind
 * `info-starved-by-self-invalidation`, not a bug of the model): once an attempt retries (any
 * invalidation between read_begin and read_retry: an mprotect false positive, fork's
 * write-protect), its exclusive entry stays behind. The next attempt's make_device_exclusive GUPs
 * the page with FOLL_WRITE, which faults on that entry and restores it through
 * remove_device_exclusive_entry under an owner-null invalidation (EXCLUSIVE in v5.14–v6.14,
 * CLEAR since v6.15: "mm/mmu_notifier: use MMU_NOTIFY_CLEAR in remove_device_exclusive_entry()").
 * The fault's interval notifier filters only EXCLUSIVE with its own owner, so its own sequence
 * moves inside every attempt and read_retry fails until the deadline: -EBUSY. A second atomic
 * fault on a page the GPU already holds exclusively starves the same way from its first attempt.
 *
 * The diagnosis (which invalidation moved the sequence, raised by whom) is the model's, for the
 * report; the driver's logic does not use it, except in the what-if variant below.
 *
 * Variants:
 * - `what-if-filter-own-restore` (a proposed driver fix, in no kernel): the fault notifier also
 *   ignores the invalidations the faulting task raises itself inside its own make_device_exclusive
 *   call (nouveau would note `current` in its svm_notifier around the call). They all precede the
 *   state the call returns (the GUP runs before the conversion, which re-checks the PTE under the
 *   PTL), so nothing is lost; the process-wide notifier still revokes the GPU. With it, a fault
 *   retries once per foreign invalidation, as scenarios.md S-EXCL-FP-1 expects, and starves only
 *   under an endless stream of them (`info-starved-by-noop-invalidations` for mprotect's). The
 *   idea is the one Alistair Popple stated in the review of "mm/mmu_notifier: drop owner from
 *   MMU_NOTIFY_EXCLUSIVE" (January 2025, not merged): the notifier must tell what this thread
 *   did from what other threads did.
 * - `no-unlock-on-retry` (nouveau before b3fefbb30a16): the retry keeps the folio locked, so the
 *   next attempt's GUP sleeps on that lock in the restore path: a hang (deadlock finding).
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
import { MMU_NOTIFY_EXCLUSIVE, MMU_NOTIFY_NAMES, MMU_NOTIFY_PROTECTION_VMA } from '../notifier/events.js';
import {
  MmuIntervalNotifier,
  mmu_interval_notifier_insert,
  mmu_interval_notifier_remove,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
} from '../notifier/interval.js';
import { mmu_notifier_range_blockable, type MmuNotifierRange } from '../notifier/range.js';
import { Access } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import type { World } from '../sim/world.js';
import { PAGE_SIZE } from '../mm/constants.ts';
import { folio_unlock } from '../mm/folio-lock.ts';
import type { Mm } from '../mm/mm-struct.ts';
import { make_device_exclusive, make_device_exclusive_range } from '../hmm/device-exclusive.ts';
import { device_atomic_create, device_atomic_map, device_atomic_unmap_range, type DeviceAtomicMap } from '../hmm/device-exclusive-oracle.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Which driver. */
export type GpuSvmVariant =
  | 'correct'
  | 'what-if-filter-own-restore'
  | 'no-unlock-on-retry'
  | 'no-owner-filter'
  | 'program-after-unlock'
  | 'no-read-retry'
  | 'no-process-notifier';

/** Finding kind: the fault's own conversion event keeps moving its sequence (a driver bug). */
export const LIVELOCK = 'livelock';
/**
 * Finding kind (informational, the kernel as it is): the fault gave up with -EBUSY because its
 * own GUP kept restoring the exclusive entry a failed attempt left behind.
 */
export const STARVED_BY_SELF_INVALIDATION = 'info-starved-by-self-invalidation';
/**
 * Finding kind (informational, scenarios.md S-EXCL-FP-1): the fault gave up with -EBUSY because
 * PROTECTION_VMA invalidations of other tasks (false positives that change no entry of its page)
 * landed inside every attempt.
 */
export const STARVED_BY_NOOP_INVALIDATIONS = 'info-starved-by-noop-invalidations';
/** Finding kind (informational): the fault gave up with -EBUSY under other tasks' invalidations. */
export const STARVED_BY_INVALIDATIONS = 'info-starved-by-invalidations';

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
    /** Retries before the fault gives up (nouveau: HMM_RANGE_DEFAULT_TIMEOUT, one second). */
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

/** The kinds of invalidation that move a fault's sequence, as the diagnosis sorts them. */
const enum Cause {
  /** The fault's own conversion (EXCLUSIVE with its owner), not filtered: the driver's bug. */
  OwnConversion,
  /** Raised by the faulting task inside its own make_device_exclusive (restore, COW break). */
  Self,
  /** PROTECTION_VMA of another task: the false positives of spec §6.4. */
  Noop,
  /** Anything else from another task. */
  Other,
}

/**
 * What moved a fault's sequence since the attempt began (the model's diagnosis, for the report):
 * each bump with the sequence it set, so that one read_begin waited out does not count.
 */
class AttemptCauses {
  readonly seqs: number[] = [];
  readonly kinds: Cause[] = [];
  readonly events: number[] = [];
  readonly ownerNull: boolean[] = [];
  /** The task that raised each (its name; no string is built until a report needs one). */
  readonly who: string[] = [];

  reset(): void {
    this.seqs.length = this.kinds.length = this.events.length = this.ownerNull.length = this.who.length = 0;
  }

  /** How many bumps of kind `k` moved the sequence away from `seq`. */
  count(k: Cause, seq: number): number {
    let n = 0;
    for (let i = 0; i < this.kinds.length; i++) if (this.kinds[i] === k && this.seqs[i] !== seq) n++;
    return n;
  }

  /** The first bump that moved the sequence away from `seq`, described. */
  first(seq: number): string {
    for (let i = 0; i < this.kinds.length; i++) {
      if (this.seqs[i] === seq) continue;
      const k = this.kinds[i];
      const by = k === Cause.OwnConversion ? "its own conversion's" : k === Cause.Self ? "its own GUP's" : `${this.who[i]}'s`;
      return `${by} ${MMU_NOTIFY_NAMES[this.events[i]!] ?? String(this.events[i])}${this.ownerNull[i] ? ' (owner null)' : ''}`;
    }
    return 'nothing recorded';
  }
}

/** The per-fault interval notifier (nouveau_svm_range_invalidate). */
class FaultNotifier extends MmuIntervalNotifier {
  /** The task running the fault, and whether it is inside its make_device_exclusive call. */
  faultTask: Task | null = null;
  inOwnCall = false;
  readonly causes = new AttemptCauses();

  constructor(readonly svmm: GpuSvm) {
    super(
      {
        *invalidate(sub, range, curSeq) {
          const n = sub as FaultNotifier;
          const g = n.svmm;
          if (g.variant !== 'no-owner-filter' && range.event === MMU_NOTIFY_EXCLUSIVE && range.owner === g.owner) return true;
          const fromOwnCall = n.inOwnCall && g.proc.world.current === n.faultTask;
          if (g.variant === 'what-if-filter-own-restore' && fromOwnCall) return true;
          if (mmu_notifier_range_blockable(range)) yield* mutex_lock(g.mutex);
          else if ((yield* mutex_trylock(g.mutex)) === 0) return false;
          mmu_interval_set_seq(sub, curSeq);
          n.noteCause(range, curSeq, fromOwnCall);
          yield* mutex_unlock(g.mutex);
          return true;
        },
      },
      `${svmm.gpu.name}->fault-notifier`,
    );
  }

  /** Records why the sequence moved (to `curSeq`). */
  noteCause(range: MmuNotifierRange, curSeq: number, fromOwnCall: boolean): void {
    const c = this.causes;
    c.seqs.push(curSeq);
    if (fromOwnCall && range.owner === this.svmm.owner) c.kinds.push(Cause.OwnConversion);
    else if (fromOwnCall) c.kinds.push(Cause.Self);
    else if (range.event === MMU_NOTIFY_PROTECTION_VMA) c.kinds.push(Cause.Noop);
    else c.kinds.push(Cause.Other);
    c.events.push(range.event);
    c.ownerNull.push(range.owner === null);
    c.who.push(this.svmm.proc.world.current?.name ?? 'nobody');
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

/** Why the failed attempts of one fault failed, summed over the attempts. */
interface FaultHistory {
  attempts: number;
  withOwnConversion: number;
  noopOnly: number;
  lastHadSelf: boolean;
  firstCause: string;
}

/** Reports why a fault gave up with -EBUSY at its deadline. */
function reportGaveUp(g: GpuSvm, page: number, h: FaultHistory): void {
  const world = g.proc.world;
  const at = `${g.gpu.name}: the atomic fault on 0x${page.toString(16)} gave up after ${h.attempts} attempts (-EBUSY, nouveau's HMM_RANGE_DEFAULT_TIMEOUT)`;
  if (h.withOwnConversion > 0) {
    world.report(LIVELOCK, `${at}: read_retry never succeeded, because the fault notifier does not ignore its own EXCLUSIVE event (owner ${g.owner.name})`, `${g.gpu.name}:livelock`);
  } else if (h.lastHadSelf) {
    const restore = contractOf(world).deviceExclusiveApi === 'range' ? 'EXCLUSIVE' : 'CLEAR';
    world.report(
      STARVED_BY_SELF_INVALIDATION,
      `${at}: it starved itself. Attempt 1 retried after ${h.firstCause}; its exclusive entry stayed behind, and every later attempt's make_device_exclusive (GUP with FOLL_WRITE) faulted on that entry and restored it under an owner-null ${restore} invalidation (remove_device_exclusive_entry), which the fault's interval notifier does not filter (it ignores only EXCLUSIVE with its own owner), so read_retry failed each time. This is the kernel as it is (nouveau_atomic_range_fault); no CPU access was lost`,
      `${g.gpu.name}:starved`,
    );
  } else if (h.noopOnly === h.attempts) {
    world.report(
      STARVED_BY_NOOP_INVALIDATIONS,
      `${at}: PROTECTION_VMA invalidations of another task (mprotect's, false positives whenever they change no entry of the page; the first was ${h.firstCause}) landed inside every attempt, so read_retry failed each time. Not a bug: a notifier must tolerate false positives, and the deadline bounds what they cost`,
      `${g.gpu.name}:starved`,
    );
  } else {
    world.report(STARVED_BY_INVALIDATIONS, `${at}: other tasks' invalidations (the first: ${h.firstCause}) landed inside every attempt`, `${g.gpu.name}:starved`);
  }
}

/**
 * The GPU's atomic fault on `addr` (nouveau_atomic_range_fault). @returns 0 once the GPU has
 * atomic access, -EBUSY after `retryBound` retries (reported with the reason), or -EINVAL when
 * the page could not be made exclusive.
 */
export function* gpu_svm_atomic_fault(g: GpuSvm, addr: number): Gen<number> {
  const world = g.proc.world;
  const page = addr - (addr % PAGE_SIZE);
  const notifier = new FaultNotifier(g);
  notifier.faultTask = world.current;
  const inserted = yield* mmu_interval_notifier_insert(notifier, g.proc, page, PAGE_SIZE);
  if (inserted < 0) return inserted;
  let ret = 0;
  let folio = -1;
  const h: FaultHistory = { attempts: 0, withOwnConversion: 0, noopOnly: 0, lastHadSelf: false, firstCause: '' };
  g.retries = 0;
  for (;;) {
    if (g.retries > g.retryBound) {
      reportGaveUp(g, page, h);
      ret = -EBUSY;
      break;
    }
    notifier.causes.reset();
    const seq = yield* mmu_interval_read_begin(notifier);
    h.attempts++;
    yield* mmap_read_lock(g.proc);
    notifier.inOwnCall = true;
    folio = yield* makeExclusive(g, page);
    notifier.inOwnCall = false;
    yield* mmap_read_unlock(g.proc);
    if (folio < 0) {
      ret = -EINVAL;
      break;
    }
    yield* mutex_lock(g.mutex);
    if (g.variant === 'no-read-retry' || !(yield* mmu_interval_read_retry(notifier, seq))) break;
    yield* mutex_unlock(g.mutex);
    const c = notifier.causes;
    const self = c.count(Cause.Self, seq);
    const own = c.count(Cause.OwnConversion, seq);
    if (own > 0) h.withOwnConversion++;
    if (c.count(Cause.Noop, seq) > 0 && self + own + c.count(Cause.Other, seq) === 0) h.noopOnly++;
    h.lastHadSelf = self > 0;
    if (h.firstCause === '') h.firstCause = c.first(seq);
    if (g.variant !== 'no-unlock-on-retry') {
      yield* folio_unlock(folio);
      g.proc.sys.putPage(folio);
    }
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
