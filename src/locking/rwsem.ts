/**
 * Read-write semaphores: `down_read`, `down_write`, the trylocks, `up_read`, `up_write`,
 * `downgrade_write`. The mm's mmap_lock is one (see mmap-lock.ts).
 *
 * Fair, like the kernel's: a reader queues behind a waiting writer instead of joining the
 * readers already inside, which is what turns a recursive down_read into a deadlock when a writer
 * arrives between the two (and why lockdep treats rwsem reads as non-recursive). Waiters are
 * served in FIFO order and the lock is handed to them before they are woken.
 */
import { LockdepMap } from '../lockdep/map.js';
import { opLabel } from '../sim/labels.js';
import { Access, type SimObject } from '../sim/point.js';
import type { Task } from '../sim/task.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import { FindingKind } from '../sim/finding.js';
import type { World } from '../sim/world.js';
import { kernelOf, type Kernel } from './kernel.js';

/** A read-write semaphore. */
export class RwSemaphore implements SimObject {
  writer: Task | null = null;
  /** Tasks holding it for read (a task may appear once per read hold). */
  readonly readers: Task[] = [];
  readonly dep: LockdepMap;
  readonly queue: WaitQueue;
  /** Parallel to queue.waiters: true for a writer. */
  readonly waitingWriter: boolean[] = [];
  readonly k: Kernel;
  readonly readLabel: string;
  readonly writeLabel: string;
  readonly upReadLabel: string;
  readonly upWriteLabel: string;

  constructor(
    world: World,
    readonly name: string,
    key: string = name,
  ) {
    this.k = kernelOf(world);
    this.dep = new LockdepMap(name, { key, wait: 'sleep' });
    this.queue = world.waitQueue(name, this);
    this.readLabel = opLabel('down_read', name);
    this.writeLabel = opLabel('down_write', name);
    this.upReadLabel = opLabel('up_read', name);
    this.upWriteLabel = opLabel('up_write', name);
  }

  /** Who holds it (the writer, or the readers), for deadlock reports. */
  holderName(): string | null {
    return this.writer !== null ? this.writer.name : this.readers.length > 0 ? this.readers.map((t) => t.name).join(', ') : null;
  }
}

/** `init_rwsem` on an existing semaphore: lockdep reports it if it is held. */
export function init_rwsem(s: RwSemaphore): void {
  if (s.k.validating) s.k.lockdep.initMap(s.k.current.id, s.dep, s.k.where);
  s.writer = null;
  s.readers.length = 0;
}

function canRead(s: RwSemaphore): boolean {
  return s.writer === null && s.waitingWriter.length === 0;
}

function canWrite(s: RwSemaphore): boolean {
  return s.writer === null && s.readers.length === 0;
}

/** `down_read`. May sleep. */
export function down_read(s: RwSemaphore): Generator<unknown, void, unknown> {
  return down_read_nested(s, 0);
}

/** `down_read_nested`. */
export function* down_read_nested(s: RwSemaphore, subclass: number): Generator<unknown, void, unknown> {
  const k = s.k;
  yield k.world.point(s.readLabel, s, Access.Write);
  k.world.trace?.showAccess(Access.Read); // a shared hold: shown R, ordered as a write
  const t = k.current;
  k.mightSleep(t.id, s.readLabel);
  if (k.validating) k.lockdep.lockAcquire(t.id, s.dep, subclass, false, 1, true, null, k.where);
  if (canRead(s)) {
    s.readers.push(t);
    return;
  }
  s.waitingWriter.push(false);
  yield s.queue.block();
}

/** `down_write`. May sleep. */
export function down_write(s: RwSemaphore): Generator<unknown, void, unknown> {
  return down_write_nested(s, 0);
}

/** `down_write_nested`. */
export function* down_write_nested(s: RwSemaphore, subclass: number): Generator<unknown, void, unknown> {
  const k = s.k;
  yield k.world.point(s.writeLabel, s, Access.Write);
  const t = k.current;
  k.mightSleep(t.id, s.writeLabel);
  if (k.validating) k.lockdep.lockAcquire(t.id, s.dep, subclass, false, 0, true, null, k.where);
  if (canWrite(s) && s.waitingWriter.length === 0) {
    s.writer = t;
    return;
  }
  s.waitingWriter.push(true);
  yield s.queue.block();
}

/** `down_read_trylock`: 1 if taken. */
export function* down_read_trylock(s: RwSemaphore): Generator<unknown, number, unknown> {
  const k = s.k;
  yield k.world.point(s.readLabel, s, Access.Write);
  k.world.trace?.showAccess(Access.Read); // a shared hold: shown R, ordered as a write
  if (!canRead(s)) return 0;
  const t = k.current;
  s.readers.push(t);
  if (k.validating) k.lockdep.lockAcquire(t.id, s.dep, 0, true, 1, true, null, k.where);
  return 1;
}

/** `down_write_trylock`: 1 if taken. */
export function* down_write_trylock(s: RwSemaphore): Generator<unknown, number, unknown> {
  const k = s.k;
  yield k.world.point(s.writeLabel, s, Access.Write);
  if (!canWrite(s)) return 0;
  const t = k.current;
  s.writer = t;
  if (k.validating) k.lockdep.lockAcquire(t.id, s.dep, 0, true, 0, true, null, k.where);
  return 1;
}

/** `up_read`. */
export function* up_read(s: RwSemaphore): Generator<unknown, void, unknown> {
  const k = s.k;
  yield k.world.point(s.upReadLabel, s, Access.Write);
  k.world.trace?.showAccess(Access.Read); // a shared hold: shown R, ordered as a write
  const t = k.current;
  if (k.validating) k.lockdep.release(t.id, s.dep, k.where);
  const i = s.readers.indexOf(t);
  if (i < 0) return;
  s.readers.splice(i, 1);
  grant(s);
}

/** `up_write`. */
export function* up_write(s: RwSemaphore): Generator<unknown, void, unknown> {
  const k = s.k;
  yield k.world.point(s.upWriteLabel, s, Access.Write);
  const t = k.current;
  if (k.validating) k.lockdep.release(t.id, s.dep, k.where);
  if (s.writer !== t) return;
  s.writer = null;
  grant(s);
}

/** `downgrade_write`: the writer becomes a reader without letting another writer in. */
export function* downgrade_write(s: RwSemaphore): Generator<unknown, void, unknown> {
  const k = s.k;
  yield k.world.point(opLabel('downgrade_write', s.name), s, Access.Write);
  const t = k.current;
  if (s.writer !== t) {
    k.world.report(FindingKind.Warn, `downgrade_write(${s.name}) by ${t.name}, which does not hold it for write`, `downgrade_write:${s.name}`);
    return;
  }
  if (k.validating) k.lockdep.downgrade(t.id, s.dep, k.where);
  s.writer = null;
  s.readers.push(t);
  grant(s);
}

/** Hands the semaphore to the waiters at the head of the queue that can have it now. */
function grant(s: RwSemaphore): void {
  const q = s.queue;
  while (q.waiters.length > 0) {
    const writer = s.waitingWriter[0]!;
    const next = q.waiters[0]!;
    if (writer) {
      if (!canWrite(s)) return;
      s.writer = next;
      s.waitingWriter.shift();
      q.wakeOne();
      return;
    }
    if (s.writer !== null) return;
    s.readers.push(next);
    s.waitingWriter.shift();
    q.wakeOne();
  }
}

/** True when the running task holds `s` for read or write (for assertions). */
export function rwsem_is_held(s: RwSemaphore, forWrite = false): boolean {
  const t = s.k.world.current;
  return s.writer === t || (!forWrite && t !== null && s.readers.includes(t));
}
