/**
 * What the legacy HMM layer reports, and the gate every call of it passes: the 2019 mirror API
 * exists only under the contract versions that declare it (v5.2, v5.3); elsewhere a call is an
 * `api-unavailable` finding that stops the run, as a driver built for v5.2 would not even load.
 */
import { EOPNOTSUPP } from '../../locking/errno.js';
import { contractOf, type LegacyHmmContract } from '../../locking/version.js';
import { API_UNAVAILABLE } from '../../notifier/kinds.js';
import type { World } from '../../sim/world.js';

/** hmm_range_register on a range that is already on the hmm's list (list corruption in the kernel). */
export const HMM_RANGE_DOUBLE_REGISTER = 'hmm-range-double-register';
/**
 * hmm_range_unregister not called exactly once per successful register: a second unregister, an
 * unregister of a range never registered, or a range still registered when the run ends (the hmm
 * struct and its mm stay pinned, and every invalidation keeps walking the stale range).
 */
export const HMM_RANGE_UNBALANCED = 'hmm-range-unbalanced';
/** wait_until_valid, valid, snapshot or fault on a range that is not registered (after unregister, or never). */
export const HMM_RANGE_USE_AFTER_UNREGISTER = 'hmm-range-use-after-unregister';

/**
 * `HMM_RANGE_DEFAULT_TIMEOUT`: how long hmm_range_wait_until_valid waits, in milliseconds. The
 * virtual clock ticks once a millisecond (HZ=1000), as the OOM reaper's 100 ms back-off assumes.
 */
export const HMM_RANGE_DEFAULT_TIMEOUT = 1000;

/** `msecs_to_jiffies` at HZ=1000: the virtual clock's ticks for `ms` milliseconds. */
export function msecs_to_jiffies(ms: number): number {
  return ms;
}

/**
 * The legacy contract of the run, or null after reporting `api-unavailable` for `api` (the run
 * stops). Callers return -EOPNOTSUPP (or false) when it is null.
 */
export function requireLegacyHmm(world: World, api: string): LegacyHmmContract | null {
  const c = contractOf(world);
  if (c.legacyHmm !== undefined) return c.legacyHmm;
  world.report(
    API_UNAVAILABLE,
    `${api} does not exist in kernel contract ${c.name} (the HMM mirror API of seed 001 is modelled for v5.2 and v5.3; v5.5 replaced it with interval notifiers)`,
    api,
    true,
  );
  return null;
}

/** The errno a gated call returns when the API is unavailable. */
export const LEGACY_UNAVAILABLE = -EOPNOTSUPP;
