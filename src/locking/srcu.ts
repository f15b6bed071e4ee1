/**
 * Sleepable RCU: `srcu_read_lock`/`srcu_read_unlock` mark read sections (which may sleep);
 * `synchronize_srcu` waits until every read section that began before it has ended. The mmu
 * notifier core uses it so a notifier being removed can still be called until the grace period
 * ends.
 *
 * Each reader records the epoch it started in; a grace period opens a new epoch and waits for the
 * readers of all older ones. Lockdep tracks the read side as a recursive read that is not
 * validated (as rcu_lock_acquire annotates it), so a lock taken inside a read section still
 * depends on whatever was held outside it (the notifier start map); the grace period is a
 * validated write, so synchronize_srcu inside its own read section is reported.
 */
import { LockdepMap } from '../lockdep/map.js';
import { Access, type SimObject } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { kernelOf, type Kernel } from './kernel.js';
import { opLabel } from '../sim/labels.js';

/** An SRCU domain. */
export class SrcuStruct implements SimObject {
  /** Active read sections per epoch. */
  readonly readers = new Map<number, number>();
  epoch = 0;
  readonly dep: LockdepMap;
  readonly queue: WaitQueue;
  readonly k: Kernel;

  constructor(
    world: World,
    readonly name: string,
  ) {
    this.k = kernelOf(world);
    this.dep = new LockdepMap(name, { key: name, wait: 'sleep' });
    this.queue = world.waitQueue(`${name} grace period`, this);
  }

  /** True while a reader from an epoch before `epoch` is still inside. */
  oldReaders(epoch: number): boolean {
    for (const [e, n] of this.readers) if (e < epoch && n > 0) return true;
    return false;
  }
}

/** `srcu_read_lock`: returns the index to pass to srcu_read_unlock. */
export function* srcu_read_lock(s: SrcuStruct): Generator<unknown, number, unknown> {
  const k = s.k;
  yield k.world.point(opLabel('srcu_read_lock', s.name), s, Access.Write);
  if (k.validating) k.lockdep.lockAcquire(k.current.id, s.dep, 0, false, 2, false, null, k.where);
  s.readers.set(s.epoch, (s.readers.get(s.epoch) ?? 0) + 1);
  return s.epoch;
}

/** `srcu_read_unlock`. */
export function* srcu_read_unlock(s: SrcuStruct, idx: number): Generator<unknown, void, unknown> {
  const k = s.k;
  yield k.world.point(opLabel('srcu_read_unlock', s.name), s, Access.Write);
  if (k.validating) k.lockdep.release(k.current.id, s.dep, k.where);
  const n = (s.readers.get(idx) ?? 0) - 1;
  if (n <= 0) s.readers.delete(idx);
  else s.readers.set(idx, n);
  s.queue.wakeAll();
}

/** `synchronize_srcu`: sleeps until every read section that started before the call has ended. */
export function* synchronize_srcu(s: SrcuStruct): Generator<unknown, void, unknown> {
  const k = s.k;
  yield k.world.point(opLabel('synchronize_srcu', s.name), s, Access.Write);
  const t = k.current;
  k.mightSleep(t.id, opLabel('synchronize_srcu', s.name));
  if (k.validating) {
    k.lockdep.lockAcquire(t.id, s.dep, 0, false, 0, true, null, k.where);
    k.lockdep.release(t.id, s.dep, k.where);
  }
  const epoch = ++s.epoch;
  while (s.oldReaders(epoch)) yield s.queue.block();
}
