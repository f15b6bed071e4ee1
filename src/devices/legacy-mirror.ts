/**
 * The seed's driver for the 2019 HMM mirror API: `mydevice_prefault` from the header comment of
 * "mm/hmm: improve driver API to work and wait over a range" (seed 001), with a device page
 * table, its lock, and the mirror callbacks, plus the variants the seed's comments warn against:
 *
 * - `correct`: register; mmap read lock; again: wait_until_valid; hmm_range_fault; -EAGAIN (the
 *   mmap lock was dropped): relock, again; -EBUSY: again; unlock; take the device lock; if the
 *   range is no longer valid, drop it and go again; program the device; unlock; unregister.
 *   (The pseudo-code jumps back to `again:` without the mmap lock after a failed valid check,
 *   though `again:` expects it held; this model takes it again first.)
 * - `no-valid-check`: programs the device without checking hmm_range_valid under its lock.
 * - `no-wait`: calls hmm_range_fault without waiting for the range to become valid: while an
 *   invalidation is in progress the loop spins on -EAGAIN instead of sleeping.
 * - `no-unregister-on-error`: returns hmm_range_fault's error without unregistering the range.
 * - `snapshot-literal`: the pseudo-code taken literally with hmm_range_snapshot, which the seed says
 *   works the same: on -EAGAIN it takes the mmap lock again, but unlike hmm_range_fault the
 *   snapshot did not drop it (Christoph Hellwig's "always return EBUSY for invalid ranges" later
 *   removed the difference): the second down_read is recursive locking.
 *
 * Even the correct driver is racy by design: a whole invalidation that starts and ends between
 * hmm_range_fault and the valid check leaves `valid` true (S-HMM-RACE-1).
 *
 * The mirror's sync_cpu_device_pagetables takes the device lock (try-lock when the update is
 * not blockable, answering -EAGAIN) and zaps the device mappings of the update's range.
 */
import { EAGAIN, EBUSY } from '../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { Mutex, mutex_lock, mutex_trylock, mutex_unlock } from '../locking/mutex.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../mm/constants.ts';
import type { Mm } from '../mm/mm-struct.ts';
import { device_map, device_shadow_create, device_unmap_range, type DeviceShadow } from '../notifier/coherence.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { HmmMirror, hmm_mirror_register, hmm_mirror_unregister, type HmmMirrorOps } from '../hmm/legacy/mirror.js';
import { HMM_RANGE_DEFAULT_TIMEOUT } from '../hmm/legacy/kinds.js';
import {
  entryFlags,
  HmmRange,
  hmm_device_entry_to_pfn,
  hmm_range_register,
  hmm_range_unregister,
  hmm_range_valid,
  hmm_range_wait_until_valid,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
} from '../hmm/legacy/range.js';
import { hmm_range_fault, hmm_range_snapshot } from '../hmm/legacy/walk.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** Which driver. */
export type LegacyMirrorVariant = 'correct' | 'no-valid-check' | 'no-wait' | 'no-unregister-on-error' | 'snapshot-literal';

const ops: HmmMirrorOps = {
  *sync_cpu_device_pagetables(mirror, update) {
    const dev = (mirror as DeviceMirror).dev;
    if (update.blockable) yield* mutex_lock(dev.lock);
    else if ((yield* mutex_trylock(dev.lock)) === 0) return -EAGAIN;
    if (dev.pt !== null) device_unmap_range(dev.pt, update.start, update.end);
    yield* mutex_unlock(dev.lock);
    return 0;
  },
  *release(mirror) {
    const dev = (mirror as DeviceMirror).dev;
    yield* mutex_lock(dev.lock);
    if (dev.pt !== null) device_unmap_range(dev.pt, 0, Number.MAX_SAFE_INTEGER);
    yield* mutex_unlock(dev.lock);
  },
};

/** The hmm mirror, pointing back at its device. */
export class DeviceMirror extends HmmMirror {
  constructor(
    readonly dev: LegacyMirror,
    name: string,
  ) {
    super(ops, name);
  }
}

/** A device mirroring one mm through the 2019 HMM API. */
export class LegacyMirror {
  /** The device page-table lock (`mydevice_page_table_lock`), also taken by the mirror callback. */
  readonly lock: Mutex;
  /** The device page table; made at registration, when hmm's notifier (its subscriber) exists. */
  pt: DeviceShadow | null = null;
  readonly mirror: DeviceMirror;
  /** How many times the fault path went back to `again:` (for tests and statistics). */
  retries = 0;
  /** How many times wait_until_valid timed out. */
  timeouts = 0;

  constructor(
    readonly world: World,
    readonly mm: Mm,
    readonly variant: LegacyMirrorVariant = 'correct',
    readonly name = 'mydevice',
  ) {
    this.lock = new Mutex(world, `${name}->lock`, 'mydevice->lock');
    this.mirror = new DeviceMirror(this, `${name}->mirror`);
  }

  /** `hmm_mirror_register`; call without the mmap lock. */
  *register(): Gen<number> {
    const ret = yield* hmm_mirror_register(this.mirror, this.mm);
    if (ret === 0 && this.pt === null) this.pt = device_shadow_create(this.mm, this.name, 'mirror', this.mirror.hmm!.mmu_notifier);
    return ret;
  }

  /** `hmm_mirror_unregister`. */
  *unregister(): Gen<void> {
    yield* hmm_mirror_unregister(this.mirror);
  }

  /**
   * `mydevice_prefault(mydevice, mm, start, end)`: mirror [start, end) into the device, faulting
   * pages in (for write when `write`). 0, -EBUSY when waiting for the range timed out, or
   * hmm_range_register's or hmm_range_fault's error.
   */
  *prefault(start: number, end: number, write: boolean): Gen<number> {
    const mm = this.mm;
    const range = new HmmRange(`${this.name}.range`);
    range.pfns = new Array<number>((end - start) / PAGE_SIZE).fill(0);
    range.default_flags = range.flags[HMM_PFN_VALID]! | (write ? range.flags[HMM_PFN_WRITE]! : 0);
    range.pfn_flags_mask = 0;
    let ret = yield* hmm_range_register(range, mm, start, end, PAGE_SHIFT);
    if (ret !== 0) return ret;
    yield* mmap_read_lock(mm);
    for (;;) {
      // again:
      if (this.variant !== 'no-wait' && !(yield* hmm_range_wait_until_valid(range, HMM_RANGE_DEFAULT_TIMEOUT))) {
        yield* mmap_read_unlock(mm);
        yield* hmm_range_unregister(range);
        this.timeouts++;
        return -EBUSY;
      }
      ret = this.variant === 'snapshot-literal' ? yield* hmm_range_snapshot(range) : yield* hmm_range_fault(range, true);
      if (ret === -EAGAIN) {
        this.retries++;
        yield* mmap_read_lock(mm);
        continue;
      }
      if (ret === -EBUSY) {
        this.retries++;
        continue;
      }
      yield* mmap_read_unlock(mm);
      if (ret < 0) {
        if (this.variant !== 'no-unregister-on-error') yield* hmm_range_unregister(range);
        return ret;
      }
      const npages = ret;
      yield* mutex_lock(this.lock);
      if (this.variant !== 'no-valid-check' && !(yield* hmm_range_valid(range))) {
        yield* mutex_unlock(this.lock);
        this.retries++;
        yield* mmap_read_lock(mm);
        continue;
      }
      // Writing the device page table is a step of its own, still under the device lock.
      yield this.world.point(`program ${this.name}`, this.pt ?? this.lock, Access.Write);
      this.populate(range, npages);
      yield* mutex_unlock(this.lock);
      yield* hmm_range_unregister(range);
      return 0;
    }
  }

  /** `mydevice_populate_page_table`: map the first `npages` valid entries (device lock held). */
  private populate(range: HmmRange, npages: number): void {
    const pt = this.pt;
    if (pt === null) return;
    for (let i = 0; i < npages; i++) {
      const entry = range.pfns[i]!;
      const pfn = hmm_device_entry_to_pfn(range, entry);
      if (pfn < 0) continue;
      device_map(pt, range.start + i * PAGE_SIZE, pfn, (entryFlags(range, entry) & range.flags[HMM_PFN_WRITE]!) !== 0);
    }
  }
}
