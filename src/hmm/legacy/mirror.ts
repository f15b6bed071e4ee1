/**
 * `struct hmm_mirror`: a device's registration with the hmm of an address space, and the two
 * callbacks the hmm core calls on it (v5.2/v5.3):
 *
 * - `sync_cpu_device_pagetables(mirror, update)`: the CPU page table is about to change over
 *   [update.start, update.end); tear the device mappings there down before returning. In a
 *   non-blockable update it may return -EAGAIN instead of sleeping; v5.2's hmm then returns 0 to
 *   the core anyway (the bug 5a136b4ae327 fixed in v5.3), so the CPU goes on changing pages the
 *   device still maps.
 * - `release(mirror)`: the address space is going away; stop all device access.
 *
 * Registration takes a reference on the mm's hmm (creating it, and its mmu_notifier, on first
 * use) and links the mirror under `mirrors_sem` held for write.
 */
import { EINVAL, ENOMEM } from '../../locking/errno.js';
import { down_write, up_write } from '../../locking/rwsem.js';
import { Access } from '../../sim/point.js';
import type { Mm } from '../../mm/mm-struct.ts';
import { hmm_get_or_create, hmm_put, type Hmm } from './hmm.js';
import { LEGACY_UNAVAILABLE, requireLegacyHmm } from './kinds.js';

type Gen<T> = Generator<unknown, T, unknown>;

/**
 * `struct hmm_update` (v5.2): what an invalidation covers, as a mirror sees it. (v5.3 passed the
 * mmu_notifier_range itself; the fields a driver reads are the same.)
 */
export interface HmmUpdate {
  readonly start: number;
  readonly end: number;
  /** The MMU_NOTIFY_* event of the invalidation (v5.2 always said HMM_UPDATE_INVALIDATE). */
  readonly event: number;
  /** May the callback sleep? When false it must not, and may return -EAGAIN instead. */
  readonly blockable: boolean;
}

/** `struct hmm_mirror_ops`. */
export interface HmmMirrorOps {
  /** 0, or -EAGAIN when the update is not blockable and the device lock is contended. */
  sync_cpu_device_pagetables(mirror: HmmMirror, update: HmmUpdate): Gen<number>;
  /** The mm is being torn down; may be absent. */
  release?(mirror: HmmMirror): Gen<void>;
}

/** `struct hmm_mirror`. Extend it to carry device state. */
export class HmmMirror {
  /** The hmm it is registered with; null before register and after unregister. */
  hmm: Hmm | null = null;

  constructor(
    readonly ops: HmmMirrorOps,
    readonly name: string = 'hmm_mirror',
  ) {}
}

/**
 * `hmm_mirror_register(mirror, mm)`: 0, -EINVAL without ops, -ENOMEM when the hmm could not be
 * made. Takes the mmap lock for write on first use (registering hmm's notifier): do not hold it.
 */
export function* hmm_mirror_register(mirror: HmmMirror, mm: Mm): Gen<number> {
  if (requireLegacyHmm(mm.world, 'hmm_mirror_register') === null) return LEGACY_UNAVAILABLE;
  if (mirror.ops === undefined || mirror.ops === null) return -EINVAL;
  const hmm = yield* hmm_get_or_create(mm);
  if (hmm === null) return -ENOMEM;
  mirror.hmm = hmm;
  yield* down_write(hmm.mirrors_sem);
  yield mm.world.point(`link ${mirror.name} on ${hmm.name}->mirrors`, hmm.mirrors_sem, Access.Write);
  hmm.mirrors.unshift(mirror);
  yield* up_write(hmm.mirrors_sem);
  return 0;
}

/**
 * `hmm_mirror_unregister(mirror)`: unlinks the mirror (release is not called) and drops its hmm
 * reference. v5.2 ignores a second call (mirror->hmm is already null).
 */
export function* hmm_mirror_unregister(mirror: HmmMirror): Gen<void> {
  const hmm = mirror.hmm;
  if (hmm === null) return;
  if (requireLegacyHmm(hmm.mm.world, 'hmm_mirror_unregister') === null) return;
  yield* down_write(hmm.mirrors_sem);
  yield hmm.mm.world.point(`unlink ${mirror.name} from ${hmm.name}->mirrors`, hmm.mirrors_sem, Access.Write);
  const i = hmm.mirrors.indexOf(mirror);
  if (i >= 0) hmm.mirrors.splice(i, 1);
  mirror.hmm = null;
  yield* up_write(hmm.mirrors_sem);
  yield* hmm_put(hmm);
}
