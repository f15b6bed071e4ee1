/**
 * The documented interval-notifier driver (Documentation/mm/hmm.rst's loop), with a small
 * device page table, and the known-bug variants:
 * - `no-read-retry`: programs the device without checking read_retry (a stale snapshot wins);
 * - `read-begin-under-lock`: calls read_begin while holding the driver lock (deadlocks against
 *   an invalidation waiting for that lock; lockdep sees it through the start map);
 * - `set-seq-unlocked`: the callback updates the sequence and zaps without the driver lock.
 */
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../locking/mutex.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { EFAULT } from '../locking/errno.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { device_map, device_shadow_create, device_unmap_range, type DeviceShadow } from '../notifier/coherence.js';
import {
  MmuIntervalNotifier,
  mmu_interval_notifier_insert,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
  type MmuIntervalNotifierOps,
} from '../notifier/interval.js';
import type { MmStruct } from '../notifier/mm.js';
import { mmu_notifier_range_blockable } from '../notifier/range.js';

/** Which interval driver. */
export type IntervalMirrorVariant = 'correct' | 'no-read-retry' | 'read-begin-under-lock' | 'set-seq-unlocked';

const ops: MmuIntervalNotifierOps = {
  *invalidate(sub, range, curSeq) {
    const dev = (sub as MirrorNotifier).dev;
    const start = Math.max(range.start, sub.start);
    const end = Math.min(range.end, sub.last + 1);
    if (dev.variant === 'set-seq-unlocked') {
      yield sub.mm!.world.point(`${sub.name} zap without the lock`, dev.pt, Access.Write);
      mmu_interval_set_seq(sub, curSeq);
      device_unmap_range(dev.pt, start, end);
      return true;
    }
    if (mmu_notifier_range_blockable(range)) yield* mutex_lock(dev.lock);
    else if ((yield* mutex_trylock(dev.lock)) === 0) return false;
    mmu_interval_set_seq(sub, curSeq);
    device_unmap_range(dev.pt, start, end);
    yield* mutex_unlock(dev.lock);
    return true;
  },
};

/** The interval subscription, pointing back at its device. */
export class MirrorNotifier extends MmuIntervalNotifier {
  constructor(
    readonly dev: IntervalMirror,
    name: string,
  ) {
    super(ops, name);
  }
}

/** A mirroring device over one interval of one mm. */
export class IntervalMirror {
  readonly lock: Mutex;
  readonly pt: DeviceShadow;
  readonly notifier: MirrorNotifier;
  /** How many times the fault loop retried (for tests and statistics). */
  retries = 0;

  constructor(
    world: World,
    readonly mm: MmStruct,
    readonly variant: IntervalMirrorVariant = 'correct',
    readonly name = 'mirror',
    /** A driver lock shared with other mirrors of the same device; default: its own. */
    lock?: Mutex,
  ) {
    this.lock = lock ?? new Mutex(world, `${name}->lock`, 'mirror->lock');
    this.pt = device_shadow_create(mm, name);
    this.notifier = new MirrorNotifier(this, `${name}->notifier`);
  }

  /** Inserts the interval notifier over [start, start + length). */
  *insert(start: number, length: number): Generator<unknown, number, unknown> {
    return yield* mmu_interval_notifier_insert(this.notifier, this.mm, start, length);
  }

  /**
   * The device fault path for `addr`: read_begin; snapshot the CPU page table under the mmap
   * read lock; take the driver lock; retry if the sequence moved; program the device. Returns
   * 0, or -EFAULT when the CPU has nothing (or nothing writable) there.
   */
  *fault(addr: number, write: boolean): Generator<unknown, number, unknown> {
    for (;;) {
      let seq: number;
      if (this.variant === 'read-begin-under-lock') {
        yield* mutex_lock(this.lock);
        seq = yield* mmu_interval_read_begin(this.notifier);
        yield* mutex_unlock(this.lock);
      } else {
        seq = yield* mmu_interval_read_begin(this.notifier);
      }
      yield* mmap_read_lock(this.mm);
      const snap = this.mm.cpuView?.lookup(addr) ?? null;
      yield* mmap_read_unlock(this.mm);
      if (snap === null || (write && !snap.write)) return -EFAULT;
      yield* mutex_lock(this.lock);
      if (this.variant !== 'no-read-retry' && (yield* mmu_interval_read_retry(this.notifier, seq))) {
        yield* mutex_unlock(this.lock);
        this.retries++;
        continue;
      }
      // Writing the device page table is a step of its own, still under the driver lock.
      yield this.mm.world.point(`program ${this.name} 0x${addr.toString(16)}`, this.pt, Access.Write);
      device_map(this.pt, addr, snap.pfn, write);
      yield* mutex_unlock(this.lock);
      return 0;
    }
  }
}
