/**
 * mm_take_all_locks, as the notifier layer needs it: registration excludes every invalidation.
 *
 * Every invalidation site holds the mmap lock or an rmap lock, and registration takes all of
 * them, so a registration never lands between an invalidation's start and its end (INV-C6). The
 * model keeps that promise with one record per mm, which exists whether or not the mm has
 * notifier state yet: invalidations count themselves in and out, registration waits for the
 * count to drop to zero and holds new starts off while it publishes.
 *
 * Every step that reads or writes the record, or `mm.notifier_subscriptions`, names the record,
 * so the explorer sees registration and invalidation conflict.
 */
import { nameLabel } from '../sim/labels.js';
import { Access, type SimObject } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { MmStruct } from './mm.js';

/** The exclusion between registration and invalidations of one mm. */
export class MmExclusion implements SimObject {
  /** Invalidations between start and end (or failure), with or without notifier state. */
  open = 0;
  /** A registration holds all the mm's locks. */
  registering = false;
  readonly wq: WaitQueue;
  readonly name: string;

  constructor(readonly mm: MmStruct) {
    this.name = nameLabel('', mm.name, ' invalidation/registration exclusion');
    this.wq = mm.world.waitQueue(nameLabel('', mm.name, ' mm_take_all_locks'), this);
  }
}

const KEY = 'notifier.exclusion';

/** The exclusion record of `mm` for this run. */
export function exclusionOf(mm: MmStruct): MmExclusion {
  let map = mm.world.locals.get(KEY) as Map<MmStruct, MmExclusion> | undefined;
  if (map === undefined) {
    map = new Map();
    mm.world.locals.set(KEY, map);
  }
  let ex = map.get(mm);
  if (ex === undefined) {
    ex = new MmExclusion(mm);
    map.set(mm, ex);
  }
  return ex;
}

/** An invalidation enters: waits while a registration holds all locks. The caller yielded a point naming `ex`. */
export function* enterInvalidation(ex: MmExclusion): Generator<unknown, void, unknown> {
  while (ex.registering) yield ex.wq.block();
  ex.open++;
}

/** An invalidation leaves (end, or a failed non-blocking start). */
export function leaveInvalidation(ex: MmExclusion): void {
  ex.open--;
  if (ex.open === 0) ex.wq.wakeAll();
}

/** mm_take_all_locks: waits for every invalidation in flight and keeps new ones out. */
export function* takeAllLocks(mm: MmStruct): Generator<unknown, MmExclusion, unknown> {
  const ex = exclusionOf(mm);
  yield mm.world.point('mm_take_all_locks', ex, Access.Write);
  while (ex.registering || ex.open > 0) yield ex.wq.block();
  ex.registering = true;
  return ex;
}

/** mm_drop_all_locks. */
export function dropAllLocks(ex: MmExclusion): void {
  ex.registering = false;
  ex.wq.wakeAll();
}
