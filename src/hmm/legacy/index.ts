/**
 * The 2019 HMM mirror API (v5.2/v5.3, seed 001) as a legacy layer: the hmm struct and mirror
 * registration, ranges with a boolean `valid`, hmm_range_wait_until_valid, hmm_range_snapshot,
 * hmm_range_fault(range, block), and the temporary helpers hmm_vma_fault / hmm_vma_range_done.
 * Under any other contract version every call is an `api-unavailable` finding.
 */
export { Hmm, HmmNotifier, mm_get_hmm } from './hmm.js';
export { HmmMirror, hmm_mirror_register, hmm_mirror_unregister, type HmmMirrorOps, type HmmUpdate } from './mirror.js';
export {
  HmmRange,
  type HmmRangeState,
  hmm_range_register,
  hmm_range_unregister,
  hmm_range_wait_until_valid,
  hmm_range_valid,
  hmm_device_entry_from_pfn,
  hmm_device_entry_to_pfn,
  hmm_pfn_from_pfn,
  hmm_pfn_to_pfn,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  HMM_PFN_DEVICE_PRIVATE,
  HMM_PFN_ERROR,
  HMM_PFN_NONE,
  HMM_PFN_SPECIAL,
  HMM_DEFAULT_FLAGS,
  HMM_DEFAULT_VALUES,
  HMM_DEFAULT_PFN_SHIFT,
} from './range.js';
export { hmm_range_snapshot, hmm_range_fault } from './walk.js';
export { hmm_vma_fault, hmm_vma_range_done } from './vma-helpers.js';
export {
  HMM_RANGE_DEFAULT_TIMEOUT,
  HMM_RANGE_DOUBLE_REGISTER,
  HMM_RANGE_UNBALANCED,
  HMM_RANGE_USE_AFTER_UNREGISTER,
  msecs_to_jiffies,
} from './kinds.js';
