/**
 * `struct hmm`: the per-address-space state of the 2019 HMM mirror API (mm/hmm.c of v5.2/v5.3).
 *
 * One hmm exists per mm while anything uses it (a mirror or a range holds a reference). It is a
 * classic mmu_notifier subscriber of that mm, and it turns every invalidation into two things:
 *
 *     invalidate_range_start            hmm->notifiers++; every overlapping range: valid = false
 *                                       each mirror's sync_cpu_device_pagetables(update)
 *     invalidate_range_end              hmm->notifiers--; at 0: every range valid = true, wake wq
 *
 * A driver samples `range->valid` (hmm_range_valid) under its own lock, the lock its
 * sync_cpu_device_pagetables takes. The flag is a boolean, not a sequence count: a whole
 * start...end that falls between two looks at it leaves it true, and the driver cannot tell
 * (S-HMM-RACE-1; the reason v5.5 replaced all of this with mmu_interval_notifier).
 *
 * Locks: `lock` (a mutex in v5.2, taken with trylock by a non-blockable start) protects the range
 * list, `notifiers` and every range's `valid`; v5.3 made it the `ranges_lock` spinlock so the
 * error unwind can always take it. `mirrors_sem` protects the mirror list; a non-blockable start
 * only try-locks it.
 *
 * The kernel hangs the hmm off `mm->hmm`; the model keeps that pointer in a per-run table, since
 * the mm layer knows nothing of hmm.
 *
 * This is the kernel's own design, not an adapter over the interval-notifier sequence machinery
 * (which the contract notes suggest as a shortcut): the boolean and its blind spot are the point.
 * v5.3 here is v5.2 plus the unwinding fix; its other changes (mirror registration under the
 * caller's mmap write lock, ranges holding an mmget, the WARN in release) are not modelled.
 */
import { GFP_KERNEL, kfree, kmalloc, type Allocation } from '../../locking/alloc.js';
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../../locking/mutex.js';
import { RwSemaphore } from '../../locking/rwsem.js';
import { Spinlock, spin_lock, spin_unlock } from '../../locking/spinlock.js';
import { contractOf } from '../../locking/version.js';
import { MmuNotifier, mmu_notifier_register, mmu_notifier_unregister } from '../../notifier/classic.js';
import { QUIESCENCE } from '../../notifier/kinds.js';
import { Access, type SimObject } from '../../sim/point.js';
import type { WaitQueue } from '../../sim/waitqueue.js';
import type { World } from '../../sim/world.js';
import type { Mm } from '../../mm/mm-struct.ts';
import type { HmmMirror } from './mirror.js';
import { hmm_mmu_notifier_ops } from './notifier-ops.js';
import type { HmmRange } from './range.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** The classic subscription hmm registers on its mm, pointing back at its hmm. */
export class HmmNotifier extends MmuNotifier {
  constructor(readonly hmm: Hmm) {
    super(hmm_mmu_notifier_ops, `hmm(${hmm.mm.name})`);
  }
}

/** `struct hmm`. */
export class Hmm implements SimObject {
  readonly name: string;
  /** kref: mirrors and ranges each hold one; the last put unregisters the notifier. */
  kref = 1;
  /** v5.2's `lock` (a mutex): the range list, `notifiers` and every range's `valid`. */
  readonly lock: Mutex;
  /** v5.3's `ranges_lock` (a spinlock), replacing `lock`. */
  readonly ranges_lock: Spinlock;
  /** Registered ranges, newest first (list_add). */
  readonly ranges: HmmRange[] = [];
  /** Registered mirrors, newest first. */
  readonly mirrors: HmmMirror[] = [];
  readonly mmu_notifier: HmmNotifier;
  readonly mirrors_sem: RwSemaphore;
  /** Waiters of hmm_range_wait_until_valid; woken when `notifiers` drops to 0 and at release. */
  readonly wq: WaitQueue;
  /** Invalidations started and not yet ended (as hmm counts them). */
  notifiers = 0;
  /** Set by release: the address space is going away. */
  dead = false;
  /** The kmalloc behind the struct, freed with the last reference. */
  allocation: Allocation | null = null;

  constructor(
    world: World,
    readonly mm: Mm,
  ) {
    this.name = `hmm(${mm.name})`;
    this.lock = new Mutex(world, `${this.name}->lock`, 'hmm->lock');
    this.ranges_lock = new Spinlock(world, `${this.name}->ranges_lock`, 'hmm->ranges_lock');
    this.mirrors_sem = new RwSemaphore(world, `${this.name}->mirrors_sem`, 'hmm->mirrors_sem');
    // The wait condition reads ranges' `valid` and `dead`; every writer of those names this hmm.
    this.wq = world.waitQueue(`${this.name}->wq`, this);
    this.mmu_notifier = new HmmNotifier(this);
  }
}

/** v5.3 guards the ranges with the `ranges_lock` spinlock (and unwinds failed starts); v5.2 with the mutex. */
export function usesRangesSpinlock(hmm: Hmm): boolean {
  return contractOf(hmm.mm.world).legacyHmm?.unwindsFailedStart ?? true;
}

/**
 * Takes the lock over the range list, `notifiers` and `valid`: v5.2's mutex (try-locked when the
 * caller may not block; false when that failed), v5.3's spinlock (always taken).
 */
export function* lockRanges(hmm: Hmm, blockable = true): Gen<boolean> {
  if (usesRangesSpinlock(hmm)) {
    yield* spin_lock(hmm.ranges_lock);
    return true;
  }
  if (blockable) {
    yield* mutex_lock(hmm.lock);
    return true;
  }
  return (yield* mutex_trylock(hmm.lock)) !== 0;
}

/** Drops what {@link lockRanges} took. */
export function* unlockRanges(hmm: Hmm): Gen<void> {
  if (usesRangesSpinlock(hmm)) yield* spin_unlock(hmm.ranges_lock);
  else yield* mutex_unlock(hmm.lock);
}

const TABLE_KEY = 'hmm.legacy.byMm';

function table(world: World): Map<Mm, Hmm> {
  let t = world.locals.get(TABLE_KEY) as Map<Mm, Hmm> | undefined;
  if (t === undefined) {
    t = new Map();
    world.locals.set(TABLE_KEY, t);
  }
  return t;
}

/** `mm->hmm`: the hmm of `mm`, or null. */
export function mm_get_hmm(mm: Mm): Hmm | null {
  return table(mm.world).get(mm) ?? null;
}

/**
 * `hmm_get_or_create(mm)`: a new reference on mm's hmm, making and registering it on first use.
 * Registering takes the mmap lock for write, so callers must not hold it. Null when the
 * allocation or the notifier registration failed.
 */
export function* hmm_get_or_create(mm: Mm): Gen<Hmm | null> {
  const world = mm.world;
  const t = table(world);
  yield world.point('hmm_get_or_create: mm->hmm', mm, Access.Read);
  world.touchUndeclared(); // reads the hmm's kref too, which hmm_put writes in a step named after the hmm
  const existing = t.get(mm);
  if (existing !== undefined && existing.kref > 0) {
    existing.kref++;
    return existing;
  }
  const a = yield* kmalloc(256, GFP_KERNEL);
  if (a === null) return null;
  const hmm = new Hmm(world, mm);
  hmm.allocation = a;
  if ((yield* mmu_notifier_register(hmm.mmu_notifier, mm)) !== 0) {
    kfree(a);
    return null;
  }
  yield world.point('hmm_get_or_create: publish mm->hmm', mm, Access.Write);
  const raced = t.get(mm);
  if (raced !== undefined && raced.kref > 0) {
    // Another task made one meanwhile: use it and drop ours, as the kernel's cleanup path does.
    raced.kref++;
    hmm.kref = 0;
    yield* mmu_notifier_unregister(hmm.mmu_notifier, mm);
    kfree(a);
    return raced;
  }
  t.set(mm, hmm);
  watchQuiescence(world, hmm);
  return hmm;
}

/**
 * `hmm_put(hmm)`: drops a reference; the last one unpublishes the hmm and unregisters its
 * notifier (which waits for running callbacks; hmm's release sees a zero kref and does nothing).
 */
export function* hmm_put(hmm: Hmm): Gen<void> {
  const world = hmm.mm.world;
  yield world.point('hmm_put', hmm, Access.Write);
  world.touchUndeclared(); // the last put also unpublishes mm->hmm, which hmm_get_or_create reads
  if (hmm.kref <= 0) return;
  hmm.kref--;
  if (hmm.kref > 0) return;
  const t = table(world);
  if (t.get(hmm.mm) === hmm) t.delete(hmm.mm);
  yield* mmu_notifier_unregister(hmm.mmu_notifier, hmm.mm);
  kfree(hmm.allocation);
  hmm.allocation = null;
}

/** At the end of a run the hmm must count no invalidation in progress, or every range stays invalid. */
function watchQuiescence(world: World, hmm: Hmm): void {
  world.endOfRunChecks.push(() => {
    if (hmm.notifiers === 0 || hmm.kref === 0) return;
    world.report(
      QUIESCENCE,
      `${hmm.name}->notifiers is ${hmm.notifiers} at the end of the run: no invalidation is in progress, yet no range of this mm can become valid again, and hmm_range_wait_until_valid times out for ever`,
      `${hmm.name}:notifiers`,
    );
  });
}
