/**
 * The folio lock (PG_locked) as a sleeping lock: `folio_trylock`, `folio_lock`, `folio_unlock`,
 * `folio_wait_locked`, `folio_test_locked`.
 *
 * Protocol, as in the kernel's mm/filemap.c:
 *
 *     folio_trylock      take the bit if it is clear; never sleeps
 *     folio_lock         may sleep: if the bit is set, queue as an exclusive waiter; the unlocker
 *                        hands the lock to the first exclusive waiter (the kernel does this since
 *                        the 2020 rework of the page-bit waits, so a woken locker never competes)
 *     folio_wait_locked  may sleep: if the bit is set, queue as a shared waiter and return after
 *                        the next unlock, without taking the lock (do_swap_page's failure path on
 *                        a device-private page, and migration-entry waits, do this)
 *     folio_unlock       clear the bit (or hand it over) and wake every shared waiter
 *
 * The bit itself stays in the frame's flags (PG_LOCKED in frames.ts), so every reader of frame
 * state sees it; this file adds the waiting, the scheduling points and lockdep. A folio's wait
 * queues and its point object are made the first time it is locked and kept for the run, so two
 * steps on the same folio always name the same object.
 *
 * What lockdep sees. The kernel's folio lock is a bit lock without a lockdep map: lockdep never
 * hears of it. It has no owner (I/O completion unlocks folios another task locked), and one task
 * may hold thousands at once (migrate_vma locks every page it collects; lockdep's held stack is 48
 * deep). hmmsim gives it one class, "folio_lock", and shows lockdep a task's folio locks as ONE
 * held lock:
 *   - the task's first folio lock acquires the class (a trylock as a trylock, so it adds no
 *     dependency into the class, as lockdep treats every trylock);
 *   - further folio locks taken while the task holds one are counted, not shown: several folios
 *     locked at once are how migration and reclaim batches work (trylocks, or freshly allocated
 *     pages nobody else can see), and a class-level lockdep cannot tell those from a real ABBA
 *     between two folios, so showing them would only give false "recursive locking" reports;
 *   - the task's last folio unlock releases the class, in the lockdep stack of the task that
 *     took it (an unlock from another task is legal for a bit lock and is not a bad unlock);
 *   - a task that ends holding folio locks is not "held at exit" (another context may unlock
 *     them); lockdep forgets them then, and the folios stay locked;
 *   - folio_wait_locked, when the task holds no folio lock, is a might_lock of the class: it
 *     sleeps until some lock holder lets go, so whatever the waiter holds is ordered before it.
 * What this catches is real: a folio lock taken under a lock that folio-lock holders take (the
 * mmap lock in a fault under the folio lock, a driver lock its invalidate callback takes while
 * reclaim holds the folio lock), and sleeping on a folio while atomic. What it cannot see is
 * an ABBA between two folios of the same task pair; neither can the kernel's lockdep.
 */
import { LockdepMap } from '../lockdep/map.js';
import { kernelOf } from '../locking/kernel.js';
import { spin_unlock, type Spinlock } from '../locking/spinlock.js';
import { Access, type SimObject } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import { WaitQueue } from '../sim/waitqueue.js';
import { currentWorld, type World } from '../sim/world.js';
import { PG_LOCKED } from './frame-flags.ts';
import { memoryOf, type MemorySystem } from './memory.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The one lockdep class of every folio lock (see the file comment). */
export const FOLIO_LOCK_MAP = new LockdepMap('&folio->flags:PG_locked', { key: 'folio_lock', wait: 'sleep' });

/** Per-folio waiting state, made on the folio's first lock and kept for the run. */
class FolioSlot implements SimObject {
  readonly name: string;
  /** Exclusive waiters (folio_lock), handed the lock in FIFO order. */
  readonly lockers: WaitQueue;
  /** Shared waiters (folio_wait_locked), all woken by each unlock. */
  readonly watchers: WaitQueue;
  /** Task that holds the lock (for lockdep's bookkeeping), or null. */
  owner: Task | null = null;
  /** Unlocks so far: a waiter that counted them before it slept can tell it missed a wake-up. */
  unlocks = 0;
  readonly lockLabel: string;
  readonly trylockLabel: string;
  readonly unlockLabel: string;
  readonly waitLabel: string;

  constructor(world: World, readonly pfn: number) {
    this.name = `folio pfn ${pfn}`;
    this.lockers = world.waitQueue(`folio_lock(pfn ${pfn})`, this);
    this.watchers = world.waitQueue(`folio_wait_locked(pfn ${pfn})`, this);
    const holder = (): string | null => this.owner?.name ?? null;
    this.lockers.holder = holder;
    this.watchers.holder = holder;
    this.lockLabel = `folio_lock(pfn ${pfn})`;
    this.trylockLabel = `folio_trylock(pfn ${pfn})`;
    this.unlockLabel = `folio_unlock(pfn ${pfn})`;
    this.waitLabel = `folio_wait_locked(pfn ${pfn})`;
  }
}

/** The folio locks of one run: slots and, per task, how many folio locks it holds. */
class FolioLocks {
  private readonly slots = new Map<number, FolioSlot>();
  /** Folio locks held, by task id. */
  readonly held: number[] = [];

  constructor(
    readonly world: World,
    readonly sys: MemorySystem,
  ) {}

  slot(page: number): FolioSlot {
    // A page of a compound folio locks the folio: its head names the lock.
    const pfn = this.sys.frames.folioHead(page);
    let s = this.slots.get(pfn);
    if (s === undefined) {
      s = new FolioSlot(this.world, pfn);
      this.slots.set(pfn, s);
    }
    return s;
  }

  /** Records that `t` now holds the lock of `s` (lockdep sees only its first). */
  take(s: FolioSlot, t: Task, trylock: boolean): void {
    s.owner = t;
    const n = this.held[t.id] ?? 0;
    this.held[t.id] = n + 1;
    if (n !== 0) return;
    const k = kernelOf(this.world);
    if (k.validating) k.lockdep.lockAcquire(t.id, FOLIO_LOCK_MAP, 0, trylock, 0, true, null, k.where);
  }

  /**
   * A task ended holding folio locks: legal for a bit lock (another context may unlock them), so
   * lockdep forgets them here instead of reporting them held at exit; the folios stay locked, and
   * whoever unlocks them later is their owner's stand-in.
   */
  orphan(t: Task): void {
    if ((this.held[t.id] ?? 0) === 0) return;
    this.held[t.id] = 0;
    for (const s of this.slots.values()) if (s.owner === t) s.owner = null;
    const k = kernelOf(this.world);
    if (k.validating) k.lockdep.release(t.id, FOLIO_LOCK_MAP, k.where);
  }

  /** Undoes `take` for the lock's owner, whoever unlocks. */
  drop(s: FolioSlot): void {
    const t = s.owner;
    s.owner = null;
    if (t === null) return;
    const n = (this.held[t.id] ?? 1) - 1;
    this.held[t.id] = n;
    if (n !== 0) return;
    const k = kernelOf(this.world);
    if (k.validating) k.lockdep.release(t.id, FOLIO_LOCK_MAP, k.where);
  }
}

const KEY = 'mm.folioLocks';

function locksOf(world: World): FolioLocks {
  let l = world.locals.get(KEY) as FolioLocks | undefined;
  if (l === undefined) {
    const sys = memoryOf(world);
    if (sys === undefined) throw new Error('folio locks need the run\'s memory: make an mm (mm_create) first');
    kernelOf(world); // lockdep's own exit hook first, so ours can run before it
    const locks = new FolioLocks(world, sys);
    world.locals.set(KEY, locks);
    world.exitHooks.unshift((t) => locks.orphan(t));
    l = locks;
  }
  return l;
}

/** `folio_test_locked`: whether the lock bit is set. Reads without a point (for use under a lock that orders it, or in assertions). */
export function folio_test_locked(folio: number): boolean {
  const sys = memoryOf(currentWorld());
  return sys !== undefined && sys.frames.testFlags(folio, PG_LOCKED);
}

/** `folio_trylock`: true if the lock was free and is now ours. Never sleeps. */
export function* folio_trylock(folio: number): Gen<boolean> {
  const l = locksOf(currentWorld());
  const s = l.slot(folio);
  yield l.world.point(s.trylockLabel, s, Access.Write);
  if (!l.sys.frames.trylock(folio)) return false;
  l.take(s, kernelOf(l.world).current, true);
  return true;
}

/** `folio_lock`: take the lock, sleeping until it is handed to us if it is held. May sleep. */
export function* folio_lock(folio: number): Gen<void> {
  const l = locksOf(currentWorld());
  const s = l.slot(folio);
  const k = kernelOf(l.world);
  yield l.world.point(s.lockLabel, s, Access.Write);
  const t = k.current;
  k.mightSleep(t.id, s.lockLabel);
  if (l.sys.frames.trylock(folio)) {
    l.take(s, t, false);
    return;
  }
  if (k.validating && (l.held[t.id] ?? 0) === 0) {
    // Ordered after what we hold even though the lock is handed over later (as mutex_lock tells
    // lockdep before it sleeps).
    k.lockdep.lockAcquire(t.id, FOLIO_LOCK_MAP, 0, false, 0, true, null, k.where);
    k.lockdep.release(t.id, FOLIO_LOCK_MAP, k.where);
  }
  yield s.lockers.block(); // the unlocker sets the bit for us and records us as owner
}

/** `folio_unlock`: release the lock, handing it to the first sleeping locker, and wake every watcher. */
export function* folio_unlock(folio: number): Gen<void> {
  const l = locksOf(currentWorld());
  const s = l.slot(folio);
  yield l.world.point(s.unlockLabel, s, Access.Write);
  const f = l.sys.frames;
  if (!f.testFlags(folio, PG_LOCKED)) {
    l.world.report('bug', `BUG: folio_unlock of pfn ${folio}, which is not locked`, `folio-unlock-unlocked`);
    return;
  }
  l.drop(s);
  s.unlocks++;
  if (s.watchers.waiters.length > 0) s.watchers.wakeAll();
  const next = s.lockers.waiters[0];
  if (next === undefined) {
    f.unlock(folio);
    return;
  }
  l.take(s, next, false); // the bit stays set: ownership passes straight to the waiter
  s.lockers.wakeOne();
}

/**
 * `folio_wait_locked`: if the folio is locked, sleep until its next unlock, without taking the
 * lock. May sleep.
 */
export function* folio_wait_locked(folio: number): Gen<void> {
  const l = locksOf(currentWorld());
  const s = l.slot(folio);
  const k = kernelOf(l.world);
  yield l.world.point(s.waitLabel, s, Access.Write);
  const t = k.current;
  k.mightSleep(t.id, s.waitLabel);
  if (!l.sys.frames.testFlags(folio, PG_LOCKED)) return;
  if (k.validating && (l.held[t.id] ?? 0) === 0) k.lockdep.mightLock(t.id, FOLIO_LOCK_MAP, k.where);
  yield s.watchers.block();
}

/**
 * `migration_entry_wait_on_locked(entry, ptl)`: the caller holds `ptl`, which maps `folio` and so
 * keeps it from being freed; if the folio is locked, queue on it as a watcher, THEN drop the PTL
 * and sleep until its next unlock; otherwise just drop the PTL. Queuing before the PTL goes is
 * the point: a folio unlocked, freed and handed out again (locked) in between is never waited on
 * as if it were the same. May sleep.
 *
 * The engine can only queue a task by blocking it, so the queuing is a count: the first step
 * (on the folio, under the PTL) notes the folio's unlocks so far, and after the PTL's release an
 * unlock since then counts as the wake-up the queued waiter would have had.
 */
export function* waitOnLockedUnderPtl(folio: number, ptl: Spinlock): Gen<void> {
  const l = locksOf(currentWorld());
  const s = l.slot(folio);
  const k = kernelOf(l.world);
  yield l.world.point(s.waitLabel, s, Access.Write);
  const locked = l.sys.frames.testFlags(folio, PG_LOCKED);
  const seen = s.unlocks;
  yield* spin_unlock(ptl);
  if (!locked || s.unlocks !== seen) return;
  const t = k.current;
  k.mightSleep(t.id, s.waitLabel);
  if (k.validating && (l.held[t.id] ?? 0) === 0) k.lockdep.mightLock(t.id, FOLIO_LOCK_MAP, k.where);
  yield s.watchers.block();
}

/** Folio locks the running task holds (for assertions and tests). */
export function folio_locks_held(world: World, task: Task): number {
  const l = world.locals.get(KEY) as FolioLocks | undefined;
  return l === undefined ? 0 : (l.held[task.id] ?? 0);
}
