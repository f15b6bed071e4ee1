/**
 * Test helpers: we play the scheduler, calling the validator directly.
 */
import { Lockdep, type LockdepOptions, LockdepMap, type WaitType, type Where } from '../../src/lockdep/index.ts';

/** A selftest column: how LOCK() of this type reaches lockdep. */
export interface LockType {
  readonly name: string;
  readonly wait: WaitType;
  /** Read mode of LOCK() for this type. */
  readonly read: 0 | 1 | 2;
}

/** The kernel selftest's lock types (rlock = read_lock forced recursive). */
export const LOCK_TYPES: readonly LockType[] = [
  { name: 'spin', wait: 'spin', read: 0 },
  { name: 'wlock', wait: 'spin', read: 0 },
  { name: 'rlock', wait: 'spin', read: 2 },
  { name: 'mutex', wait: 'sleep', read: 0 },
  { name: 'wsem', wait: 'sleep', read: 0 },
  { name: 'rsem', wait: 'sleep', read: 1 },
  { name: 'rtmutex', wait: 'sleep', read: 0 },
];

/** A tiny driver: named locks, a step counter, a task per id. */
export class Driver {
  readonly ld: Lockdep;
  step = 0;
  stack: string[] = [];
  private readonly locks = new Map<string, LockdepMap>();

  constructor(opts: LockdepOptions = { offAfterReport: 'scope' }, label = 'run-1') {
    this.ld = new Lockdep(opts);
    this.ld.beginRun(label);
  }

  /** Defines (or returns) a lock; `cls` defaults to the name (X1/X2 share class X when cls = 'X'). */
  lock(name: string, wait: WaitType = 'spin', cls?: string): LockdepMap {
    let m = this.locks.get(name);
    if (m === undefined) {
      // Wait types unchecked (0): these tests are about other rules; wait-context tests make their own maps.
      m = new LockdepMap(name, { key: cls ?? name, wait, waitInner: 0 });
      this.locks.set(name, m);
    }
    return m;
  }

  /** A fresh `where` for task `task`. */
  w(task = 0, ...labels: string[]): Where {
    return { taskName: `T${task}`, step: ++this.step, stack: labels.length > 0 ? labels : [...this.stack] };
  }

  acq(task: number, name: string, read: 0 | 1 | 2 = 0, opts: { trylock?: boolean; nest?: string; subclass?: number } = {}): void {
    const nest = opts.nest !== undefined ? this.lock(opts.nest) : null;
    this.ld.acquire(task, this.lock(name), { read, trylock: opts.trylock ?? false, nestLock: nest, subclass: opts.subclass ?? 0 }, this.w(task, `lock ${name}`));
  }

  rel(task: number, name: string): void {
    this.ld.release(task, this.lock(name), this.w(task, `unlock ${name}`));
  }

  /** Kinds of this run's reports. */
  kinds(): string[] {
    return this.ld.reports.map((r) => r.kind);
  }
}
