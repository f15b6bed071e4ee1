/**
 * Call-site context for lockdep reports.
 *
 * The locking layer passes a `where` on every acquire/release. Most of them are
 * never looked at: only a newly recorded dependency or a report needs one. So a
 * caller may pass a reusable mutable object or a thunk, and we copy it (a
 * {@link WhereSnapshot}) only at those rare moments.
 */

/** Where an operation happens, as the simulator sees it. */
export interface Where {
  /** Display name of the task performing the operation. */
  readonly taskName: string;
  /** Step number (position in the run's trace) of the operation. */
  readonly step: number;
  /** Schedule string or run number; falls back to the label given to `beginRun`. */
  readonly runLabel?: string | undefined;
  /** Labels of the points on the simulated call stack, outermost first. */
  readonly stack: readonly string[];
}

/** A `Where`, or a function producing one (called only when a snapshot is needed). */
export type WhereArg = Where | (() => Where);

/** The allocation context active when a dependency was recorded (spec §16.3). */
export interface AllocNote {
  /** GFP mask as passed by the caller, rendered (e.g. "GFP_KERNEL"). */
  readonly gfp: string;
  /** Active memalloc scopes of the task, e.g. ["memalloc_nofs"]. */
  readonly scopes: readonly string[];
}

/** An immutable copy of a `Where`, kept with dependencies and reports. */
export interface WhereSnapshot {
  /** Task id the validator was told. */
  readonly taskId: number;
  /** Display name of the task. */
  readonly taskName: string;
  /** Step number in the run. */
  readonly step: number;
  /** Run label of the run in which this happened ("" if none was given). */
  readonly runLabel: string;
  /** Stack labels, outermost first. */
  readonly stack: readonly string[];
  /** Present when the acquisition was made on behalf of an allocation. */
  readonly alloc?: AllocNote | undefined;
}

/** Materialises a `WhereArg` (calls the thunk if it is one). */
export function resolveWhere(w: WhereArg): Where {
  return typeof w === 'function' ? w() : w;
}

/** Copies a `WhereArg` into an immutable snapshot. */
export function snapshotWhere(
  w: WhereArg,
  taskId: number,
  defaultRunLabel: string,
  alloc?: AllocNote,
): WhereSnapshot {
  const r = resolveWhere(w);
  return {
    taskId,
    taskName: r.taskName,
    step: r.step,
    runLabel: r.runLabel ?? defaultRunLabel,
    stack: r.stack.slice(),
    alloc,
  };
}

/** Innermost stack label, used as the "call site" for de-duplication. */
export function siteOf(s: WhereSnapshot): string {
  return s.stack.length > 0 ? s.stack[s.stack.length - 1]! : `${s.taskName}@${s.step}`;
}
