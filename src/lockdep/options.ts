/**
 * Options and small public types of the validator (see `core.ts`).
 */
import type { LockdepMap } from './map.ts';
import type { LockdepReport } from './reports.ts';

/**
 * What a lockdep report does to validation (spec §13 "first problem, then off"):
 * - `run` (default): off for the rest of the current run, back on at the next
 *   `beginRun`. The kernel's rule applied per run, so an exploration keeps
 *   finding problems across runs while a single run never cascades.
 * - `scope`: off until `reset()` (or, with `scope: 'run'`, until the next run):
 *   exactly the kernel's behaviour.
 * - `never`: keep validating; the same (kind, place) is reported once per run.
 * Sleep-context reports never switch validation off.
 */
export type OffAfterReport = 'run' | 'scope' | 'never';

/** Lifetime of the graph: across runs (`persistent`) or fresh per run (`run`). */
export type GraphScope = 'persistent' | 'run';

/** Construction options. */
export interface LockdepOptions {
  /** Default `persistent`. */
  scope?: GraphScope;
  /** Default `run`. */
  offAfterReport?: OffAfterReport;
  /** Default true. Turning it off only costs time; verdicts are identical. */
  chainCache?: boolean;
  /** Called synchronously for every report (after de-duplication). */
  onReport?: (report: LockdepReport) => void;
}

/** Per-acquisition options of {@link Lockdep.acquire}. */
export interface AcquireOptions {
  /** 0 exclusive (default), 1 shared, 2 shared recursive. */
  read?: 0 | 1 | 2;
  /** A successful trylock: records no dependency on what is held, but is a predecessor of later locks. */
  trylock?: boolean;
  /** Validate (default true); false = tracked on the held stack only. */
  check?: boolean;
  /** Lock that serialises nesting of this lock's class (spec §5). */
  nestLock?: LockdepMap | null;
  /** 0 (default) = the map's own subclass; 1..7 = that subclass (`*_nested`). */
  subclass?: number;
}

/** Counters for benchmarks and tests. */
export interface LockdepStats {
  /** Registered lock classes. */
  readonly classes: number;
  /** Distinct dependencies (class pairs). */
  readonly edges: number;
  /** Validated chains in the cache. */
  readonly chains: number;
  /** Acquisitions whose chain was already validated (nothing else done). */
  readonly chainHits: number;
  /** Acquisitions that ran full validation. */
  readonly chainMisses: number;
  /** Strong-path searches run (one per dependency checked). */
  readonly searches: number;
}
