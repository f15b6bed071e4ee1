/**
 * The smallest driver model with a lock in its notifier: a classic notifier whose start takes
 * the driver's mutex and drops it again (no end op), the way a driver serialises invalidation
 * against its own ioctl paths. `sleeps` takes the mutex with a plain lock even on a
 * non-blockable range (the S-NONBLOCK-1 bug); `trylock` only try-locks there and returns -EAGAIN
 * on contention (the fix).
 */
import { EAGAIN } from '../locking/errno.js';
import { mutex_lock, mutex_trylock, mutex_unlock, type Mutex } from '../locking/mutex.js';
import { MmuNotifier, type MmuNotifierOps } from '../notifier/classic.js';
import { mmu_notifier_range_blockable } from '../notifier/range.js';

/** How the start takes the mutex on a non-blockable range. */
export type NonblockLocking = 'sleeps' | 'trylock';

/** The start op, shared by every instance: a generator function made per notifier would be made per run. */
const ops: MmuNotifierOps = {
  *invalidate_range_start(sub, range) {
    const n = sub as LockTakingNotifier;
    const m = n.lock;
    if (n.nonblock === 'sleeps' || mmu_notifier_range_blockable(range)) yield* mutex_lock(m);
    else if ((yield* mutex_trylock(m)) === 0) return -EAGAIN;
    yield* mutex_unlock(m);
    return 0;
  },
};

/** A classic notifier whose start takes `lock`. */
export class LockTakingNotifier extends MmuNotifier {
  constructor(
    readonly lock: Mutex,
    readonly nonblock: NonblockLocking,
    name = 'driver',
  ) {
    super(ops, name);
  }
}
