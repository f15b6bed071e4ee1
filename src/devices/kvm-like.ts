/**
 * A KVM-like secondary MMU: a classic notifier that counts invalidations in progress under a
 * spinlock (start increments, end decrements) and a fault path that retries while the count is
 * raised or the sequence moved. If an end never comes, the count stays raised and every later
 * fault retries for ever: the S-PAIR-1 symptom ("KVM exits with an elevated notifier count").
 */
import { Spinlock, spin_lock, spin_unlock } from '../locking/spinlock.js';
import type { World } from '../sim/world.js';
import { MmuNotifier, type MmuNotifierOps } from '../notifier/classic.js';
import { device_map, device_shadow_create, device_unmap_range, type DeviceShadow } from '../notifier/coherence.js';
import type { MmStruct } from '../notifier/mm.js';
import { expectQuiescent } from '../notifier/quiescence.js';

/** The finding kind of a fault path that retried more than its bound. */
export const NO_PROGRESS = 'no-progress';

const kvmOps: MmuNotifierOps = {
  *invalidate_range_start(sub, range) {
    const kvm = sub as KvmLike;
    yield* spin_lock(kvm.mmu_lock);
    kvm.mmu_invalidate_in_progress++;
    kvm.mmu_invalidate_seq++;
    device_unmap_range(kvm.spte, range.start, range.end);
    yield* spin_unlock(kvm.mmu_lock);
    return 0;
  },
  *invalidate_range_end(sub) {
    const kvm = sub as KvmLike;
    yield* spin_lock(kvm.mmu_lock);
    kvm.mmu_invalidate_in_progress--;
    yield* spin_unlock(kvm.mmu_lock);
  },
  *release(sub) {
    const kvm = sub as KvmLike;
    yield* spin_lock(kvm.mmu_lock);
    device_unmap_range(kvm.spte, 0, Number.MAX_SAFE_INTEGER);
    yield* spin_unlock(kvm.mmu_lock);
  },
};

/** The KVM-like device: its notifier, its lock, its counter and its shadow page table. */
export class KvmLike extends MmuNotifier {
  readonly mmu_lock: Spinlock;
  mmu_invalidate_in_progress = 0;
  mmu_invalidate_seq = 0;
  readonly spte: DeviceShadow;

  constructor(world: World, mm: MmStruct, name = 'kvm') {
    super(kvmOps, name);
    this.mmu_lock = new Spinlock(world, `${name}->mmu_lock`, 'kvm->mmu_lock');
    this.spte = device_shadow_create(mm, name, 'mirror', this);
    expectQuiescent(world, `${name}->mmu_invalidate_in_progress`, () =>
      this.mmu_invalidate_in_progress === 0 ? null : `is ${this.mmu_invalidate_in_progress} at the end of the run: an invalidate_range_end never came`,
    );
  }
}

/**
 * A vCPU fault on `addr`: snapshot the sequence, look the page up, then map it under mmu_lock
 * unless an invalidation is in progress or happened meanwhile. Gives up after `maxRetries`
 * retries with a `no-progress` finding; returns 0 on success, -1 when it gave up.
 */
export function* kvm_like_fault(kvm: KvmLike, mm: MmStruct, addr: number, write: boolean, maxRetries = 8): Generator<unknown, number, unknown> {
  const world = mm.world;
  for (let retry = 0; retry <= maxRetries; retry++) {
    yield* spin_lock(kvm.mmu_lock);
    const seq = kvm.mmu_invalidate_seq;
    const busy = kvm.mmu_invalidate_in_progress > 0;
    yield* spin_unlock(kvm.mmu_lock);
    if (busy) continue;
    const cpu = mm.cpuView?.lookup(addr) ?? null;
    if (cpu === null || (write && !cpu.write)) return -1;
    yield* spin_lock(kvm.mmu_lock);
    if (kvm.mmu_invalidate_in_progress > 0 || kvm.mmu_invalidate_seq !== seq) {
      yield* spin_unlock(kvm.mmu_lock);
      continue;
    }
    device_map(kvm.spte, addr, cpu.pfn, write);
    yield* spin_unlock(kvm.mmu_lock);
    return 0;
  }
  world.report(
    NO_PROGRESS,
    `${kvm.name}: fault on 0x${addr.toString(16)} retried ${maxRetries} times; mmu_invalidate_in_progress is ${kvm.mmu_invalidate_in_progress}`,
    `${kvm.name}:fault`,
  );
  return -1;
}
