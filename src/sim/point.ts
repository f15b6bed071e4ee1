/**
 * Scheduling points: what a task announces when it yields.
 *
 * A task yields *before* the step it is about to take; the point names that step (a label), the
 * shared object it will touch and whether it reads or writes it. Everything a task does between
 * two yields runs atomically, so the point is a promise about the whole block that follows it:
 *
 *     yield w.point('load counter', counter, Access.Read);   // block below touches only `counter`
 *     const v = counter.value;
 *
 * A point that names no object is dependent on every other step; that is always safe, only
 * slower to explore.
 */

/** How a step touches the object its point names. */
export const enum Access {
  /** The step touches no shared object the explorer needs to know about; treated as a conflict. */
  None = 0,
  Read = 1,
  Write = 2,
}

/** Anything a point can name: a lock, a counter, a page table, a wait queue. */
export interface SimObject {
  /** Shown in traces and findings; keep it stable across runs so traces compare byte for byte. */
  readonly name: string;
}

/** One-letter access codes used in traces. */
export function accessCode(a: Access): string {
  return a === Access.Read ? 'R' : a === Access.Write ? 'W' : '-';
}

/**
 * True when two steps commute: both name an object, and they touch different objects or only
 * read the same one. The explorer's partial-order reduction is exactly as good as this relation.
 */
export function independent(
  objA: SimObject | null,
  accA: Access,
  objB: SimObject | null,
  accB: Access,
): boolean {
  if (objA === null || objB === null) return false;
  if (objA !== objB) return true;
  return accA === Access.Read && accB === Access.Read;
}
