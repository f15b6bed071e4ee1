/**
 * The two "temporary helpers" v5.2's include/linux/hmm.h kept so drivers written for the older
 * API (hmm_vma_fault / hmm_vma_range_done) built across trees, with the return-value mapping of
 * the seed's patch ("mm/hmm: improve driver API to work and wait over a range"):
 *
 *     hmm_vma_fault(range, block)       the caller holds the mmap lock for read; range->vma,
 *                                       start, end, pfns (requests) are set
 *       register fails                  that error; mmap lock still held
 *       wait_until_valid times out      -EAGAIN; mmap lock dropped here
 *       hmm_range_fault says 0 or -EBUSY   -EBUSY; mmap lock dropped here; range unregistered
 *       hmm_range_fault says -EAGAIN    -EBUSY; mmap lock already dropped; range unregistered
 *       hmm_range_fault says another error   that error; mmap lock held; range unregistered
 *       pages were filled in            0; range still registered: call hmm_vma_range_done
 *
 *     hmm_vma_range_done(range)         the range's validity, then unregisters it
 *
 * Before walking, hmm_vma_fault sets default_flags to 0 and pfn_flags_mask to all ones, so each
 * page's own request is what counts (the released v5.2 header does this).
 */
import { EAGAIN, EBUSY, EINVAL } from '../../locking/errno.js';
import { mmap_read_unlock } from '../../locking/mmap-lock.js';
import { memoryOf } from '../../mm/memory.ts';
import type { Mm } from '../../mm/mm-struct.ts';
import { PAGE_SHIFT } from '../../mm/constants.ts';
import type { Vma } from '../../mm/vma.ts';
import { currentWorld, type World } from '../../sim/world.js';
import { HMM_RANGE_DEFAULT_TIMEOUT, LEGACY_UNAVAILABLE, requireLegacyHmm } from './kinds.js';
import { hmm_range_register, hmm_range_unregister, hmm_range_valid, hmm_range_wait_until_valid, type HmmRange } from './range.js';
import { hmm_range_fault } from './walk.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** `vma->vm_mm`: the model's VMAs do not point back at their mm, so find the mm that holds it. */
function vmMm(world: World, vma: Vma): Mm | null {
  const sys = memoryOf(world);
  if (sys === undefined) return null;
  for (const mm of sys.mms) if (mm.vmas.find(vma.start) === vma) return mm;
  return null;
}

/** `hmm_vma_fault(range, block)`: see the table at the top of this file. */
export function* hmm_vma_fault(range: HmmRange, block: boolean): Gen<number> {
  const world = currentWorld();
  if (requireLegacyHmm(world, 'hmm_vma_fault') === null) return LEGACY_UNAVAILABLE;
  const mm = range.vma === null ? null : vmMm(world, range.vma);
  if (mm === null) return -EINVAL;
  range.default_flags = 0;
  range.pfn_flags_mask = -1;
  let ret = yield* hmm_range_register(range, mm, range.start, range.end, PAGE_SHIFT);
  if (ret !== 0) return ret;
  if (!(yield* hmm_range_wait_until_valid(range, HMM_RANGE_DEFAULT_TIMEOUT))) {
    // The old API said -EAGAIN when it had dropped the mmap lock; so does this. (The range stays
    // registered, as in the seed's patch: the caller cannot know it must unregister it.)
    yield* mmap_read_unlock(mm);
    return -EAGAIN;
  }
  ret = yield* hmm_range_fault(range, block);
  if (ret <= 0) {
    if (ret === -EBUSY || ret === 0) {
      yield* mmap_read_unlock(mm);
      ret = -EBUSY;
    } else if (ret === -EAGAIN) {
      ret = -EBUSY;
    }
    yield* hmm_range_unregister(range);
    return ret;
  }
  return 0;
}

/** `hmm_vma_range_done(range)`: was the range still valid? Unregisters it either way. */
export function* hmm_vma_range_done(range: HmmRange): Gen<boolean> {
  const world = currentWorld();
  if (requireLegacyHmm(world, 'hmm_vma_range_done') === null) return false;
  const ret = yield* hmm_range_valid(range);
  yield* hmm_range_unregister(range);
  return ret;
}
