/**
 * An RDMA ODP-like device: a classic notifier whose non-blockable start only trylocks the umem
 * mutex and gives up with -EAGAIN on contention (a blockable start sleeps on it). The `with-end`
 * variant also counts invalidations in an end op, which the current contract forbids for a start
 * that can fail; the `start-only` variant does all its work in start (the fixed B' of S-PAIR-1).
 */
import { EAGAIN } from '../locking/errno.js';
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../locking/mutex.js';
import type { World } from '../sim/world.js';
import { MmuNotifier, type MmuNotifierOps } from '../notifier/classic.js';
import { device_shadow_create, device_unmap_range, type DeviceShadow } from '../notifier/coherence.js';
import type { MmStruct } from '../notifier/mm.js';
import { expectQuiescent } from '../notifier/quiescence.js';
import { mmu_notifier_range_blockable } from '../notifier/range.js';

/** Which ODP-like driver. */
export type OdpVariant = 'with-end' | 'start-only';

function* lockUmem(odp: OdpLike, blockable: boolean): Generator<unknown, boolean, unknown> {
  if (blockable) {
    yield* mutex_lock(odp.umem_mutex);
    return true;
  }
  return (yield* mutex_trylock(odp.umem_mutex)) === 1;
}

const withEnd: MmuNotifierOps = {
  *invalidate_range_start(sub, range) {
    const odp = sub as OdpLike;
    if (!(yield* lockUmem(odp, mmu_notifier_range_blockable(range)))) return -EAGAIN;
    odp.invalidations++;
    device_unmap_range(odp.pt, range.start, range.end);
    yield* mutex_unlock(odp.umem_mutex);
    return 0;
  },
  *invalidate_range_end(sub) {
    const odp = sub as OdpLike;
    yield* mutex_lock(odp.umem_mutex);
    odp.invalidations--;
    yield* mutex_unlock(odp.umem_mutex);
  },
};

const startOnly: MmuNotifierOps = {
  *invalidate_range_start(sub, range) {
    const odp = sub as OdpLike;
    if (!(yield* lockUmem(odp, mmu_notifier_range_blockable(range)))) return -EAGAIN;
    device_unmap_range(odp.pt, range.start, range.end);
    yield* mutex_unlock(odp.umem_mutex);
    return 0;
  },
};

/** The ODP-like device. */
export class OdpLike extends MmuNotifier {
  readonly umem_mutex: Mutex;
  /** Invalidations between start and end (with-end variant only). */
  invalidations = 0;
  readonly pt: DeviceShadow;

  constructor(world: World, mm: MmStruct, variant: OdpVariant, name = 'odp') {
    super(variant === 'with-end' ? withEnd : startOnly, name);
    this.umem_mutex = new Mutex(world, `${name}->umem_mutex`, 'umem_odp->umem_mutex');
    this.pt = device_shadow_create(mm, name, 'mirror', this);
    if (variant === 'with-end') {
      expectQuiescent(world, `${name}->invalidations`, () =>
        this.invalidations === 0 ? null : `is ${this.invalidations} at the end of the run: starts and ends did not pair up`,
      );
    }
  }
}
