/**
 * What mutexes and spinlocks share: one owner, a FIFO of waiters, a lockdep map, and handing the
 * lock to the first waiter on release (so a woken task never competes again). The two differ
 * only in what they tell lockdep: a mutex may sleep, a spinlock disables preemption.
 */
import { LockdepMap, type WaitType } from '../lockdep/map.js';
import { opLabel } from '../sim/labels.js';
import { Access, type SimObject } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { kernelOf, type Kernel } from './kernel.js';

/** A lock with a single owner. */
export class ExclusiveLock implements SimObject {
  owner: Task | null = null;
  /** A spinlock (disables preemption) rather than a sleeping lock (may sleep). */
  readonly spins: boolean;
  readonly dep: LockdepMap;
  readonly queue: WaitQueue;
  readonly k: Kernel;
  /** Labels made once, so lock operations allocate nothing. */
  readonly lockLabel: string;
  readonly unlockLabel: string;

  constructor(world: World, readonly name: string, key: string, wait: WaitType, opName: string, waitInner?: number) {
    this.k = kernelOf(world);
    this.spins = wait === 'spin';
    this.dep = new LockdepMap(name, { key, wait, ...(waitInner === undefined ? {} : { waitInner }) });
    this.queue = world.waitQueue(name, this);
    this.lockLabel = opLabel(`${opName}_lock`, name);
    this.unlockLabel = opLabel(`${opName}_unlock`, name);
  }

  /** Who holds it, for deadlock reports. */
  holderName(): string | null {
    return this.owner?.name ?? null;
  }

  /**
   * The lock operation: a point, lockdep, then take the lock or wait to be handed it. `nest` is
   * lockdep's nest lock (`*_lock_nest_lock`): the held lock that serialises this class's nesting.
   */
  *acquire(subclass: number, nest: LockdepMap | null = null): Generator<unknown, void, unknown> {
    const k = this.k;
    yield k.world.point(this.lockLabel, this, Access.Write);
    const t = k.current;
    if (k.validating) {
      // A flag rather than a virtual call: this is the hottest path of every locking scenario.
      if (this.spins) k.lockdep.preemptDisable(t.id);
      else k.mightSleep(t.id, this.lockLabel);
      k.lockdep.lockAcquire(t.id, this.dep, subclass, false, 0, true, nest, k.where);
    }
    if (this.owner === null) {
      this.owner = t;
      return;
    }
    yield this.queue.block(); // the releasing task hands the lock over before waking us
  }

  /** The trylock operation: 1 if taken, 0 if not; never waits. */
  *tryAcquire(): Generator<unknown, number, unknown> {
    const k = this.k;
    yield k.world.point(this.lockLabel, this, Access.Write);
    if (this.owner !== null) return 0;
    const t = k.current;
    this.owner = t;
    if (k.validating) {
      if (this.spins) k.lockdep.preemptDisable(t.id);
      k.lockdep.lockAcquire(t.id, this.dep, 0, true, 0, true, null, k.where);
    }
    return 1;
  }

  /** The unlock operation. Releasing a lock the task does not hold is lockdep's "bad unlock balance". */
  *release(): Generator<unknown, void, unknown> {
    const k = this.k;
    yield k.world.point(this.unlockLabel, this, Access.Write);
    const t = k.current;
    if (k.validating) k.lockdep.release(t.id, this.dep, k.where);
    if (this.owner !== t) return; // leave the real owner in place
    if (k.validating && this.spins) k.lockdep.preemptEnable(t.id);
    const next = this.queue.waiters[0];
    this.owner = next ?? null;
    if (next !== undefined) this.queue.wakeOne();
  }

  /** Re-initialisation (`mutex_init` / `spin_lock_init` on a live lock): lockdep checks it is not held. */
  reinit(): void {
    if (this.k.validating) this.k.lockdep.initMap(this.k.current.id, this.dep, this.k.where);
    this.owner = null;
  }
}
