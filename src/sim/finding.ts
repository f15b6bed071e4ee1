/**
 * Findings: what a run reports. The engine itself produces three kinds (deadlock, exception,
 * step budget); checkers, lockdep and the mm oracles add theirs through `World.report`.
 */

/** The engine's own finding kinds. Other layers add kinds of their own as plain strings. */
export const FindingKind = {
  Deadlock: 'deadlock',
  Exception: 'exception',
  StepBudget: 'step-budget-exceeded',
  Check: 'check-failed',
  /** A kernel WARN_ON equivalent: a contract the core checks was broken. */
  Warn: 'warn',
  /** A kernel BUG_ON equivalent: the run cannot sensibly continue. */
  Bug: 'bug',
} as const;

/** One problem found in one run. */
export interface Finding {
  /** A stable machine-readable kind, e.g. `deadlock`, `lockdep-circular`, `stale-device-mapping`. */
  readonly kind: string;
  /** A kernel-style human-readable report; may span lines. */
  readonly message: string;
  /**
   * Where the problem is, for de-duplication across runs: two findings with the same kind and
   * place are the same bug hit twice. Keep it free of step numbers and other per-run detail.
   */
  readonly place: string;
  /** The task that was running when it was found, if any. */
  readonly task: string | null;
  /** The step at which it was found. */
  readonly step: number;
}
