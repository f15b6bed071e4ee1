/**
 * The result of checking one scenario: merged exploration results and the verdict. Plain data,
 * so it crosses worker threads and turns into JSON as it is.
 */
import type { ExploreResult, FoundProblem } from '../sim/explore.js';
import { crossLegCycles, type SharedDependency } from './lockdep-merge.js';
import { verdictOf } from './scenario.js';

/** What one strategy leg returns: its exploration and the lock dependencies it learned. */
export interface LegResult extends ExploreResult {
  /** Lockdep's dependencies at the end of the leg, for the merged graph (absent: none shared). */
  readonly dependencies?: readonly SharedDependency[];
}

/** What `hmmsim check` reports for one scenario. */
export interface ScenarioReport {
  readonly name: string;
  /** `pass` when the findings are exactly the expected kinds; `skip` when it did not run. */
  readonly verdict: 'pass' | 'fail' | 'skip';
  /** Why it was skipped (verdict `skip`). */
  readonly skipReason?: string;
  /** The kernel contract it ran under, when one was chosen with --kernel (replay lines carry it). */
  readonly kernel?: string;
  readonly expected: readonly string[];
  /** Expected kinds not found. */
  readonly missing: readonly string[];
  /** Kinds found but not expected. */
  readonly unexpected: readonly string[];
  readonly runs: number;
  readonly runsPerSecond: number;
  readonly elapsedMs: number;
  /** One line per strategy leg, with its parameters and statistics. */
  readonly strategies: readonly string[];
  /** True when an exhaustive strategy covered its whole space (within its preemption bound). */
  readonly exhausted: boolean;
  /**
   * True when DFS explored every schedule whatever the bound: the verdict is complete, and the
   * portfolio stopped its other legs early.
   */
  readonly complete: boolean;
  /** The highest preemption bound DFS explored in full (Infinity when complete), or null. */
  readonly completedBound: number | null;
  readonly problems: readonly FoundProblem[];
  /** Remarks on the verdict (an expected kind that nothing reports, say). */
  readonly notes?: readonly string[];
}

/** Orders problems so reports are stable: by kind, then place. */
function byKindAndPlace(a: FoundProblem, b: FoundProblem): number {
  return a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.place < b.place ? -1 : a.place > b.place ? 1 : 0;
}

/** Merges the results of several legs (in leg order) into one scenario report. */
export function mergeResults(name: string, expect: readonly string[], legs: readonly LegResult[], wallMs: number, allow: readonly string[] = []): ScenarioReport {
  const byKey = new Map<string, FoundProblem>();
  let runs = 0;
  let exhausted = false;
  let complete = false;
  let completedBound: number | null = null;
  for (const leg of legs) {
    runs += leg.runs;
    exhausted ||= leg.exhausted;
    complete ||= leg.complete;
    if (leg.completedBound !== null && (completedBound === null || leg.completedBound > completedBound)) completedBound = leg.completedBound;
    for (const p of leg.problems) {
      const key = `${p.kind}\u0000${p.place}`;
      const seen = byKey.get(key);
      if (seen === undefined) {
        byKey.set(key, { ...p, firstHits: p.firstHits.slice() });
        continue;
      }
      const hits = seen.hits + p.hits;
      const firstHits = [...seen.firstHits, ...p.firstHits];
      const better = p.preemptions < seen.preemptions || (p.preemptions === seen.preemptions && p.steps < seen.steps);
      byKey.set(key, better ? { ...p, hits, firstHits } : { ...seen, hits, firstHits });
    }
  }
  // One lockdep graph across the legs: cycles whose halves different legs learned.
  const reported = new Set([...byKey.values()].filter((p) => p.kind === 'lockdep-circular').map((p) => p.place));
  for (const p of crossLegCycles(legs.map((l) => l.dependencies ?? []), reported)) byKey.set(`${p.kind}\u0000${p.place}`, p);
  const problems = [...byKey.values()].sort(byKindAndPlace);
  const v = verdictOf(expect, problems.map((p) => p.kind), allow);
  return {
    name,
    verdict: v.pass ? 'pass' : 'fail',
    expected: expect,
    missing: v.missing,
    unexpected: v.unexpected,
    runs,
    runsPerSecond: wallMs > 0 ? Math.round((runs * 1000) / wallMs) : 0,
    elapsedMs: Math.round(wallMs),
    strategies: legs.map((l) => l.strategy),
    exhausted,
    complete,
    completedBound,
    problems,
  };
}

/** The report of a scenario that was not run: `reason` says why (a feature or a port not done yet). */
export function skippedReport(name: string, reason: string): ScenarioReport {
  return {
    name,
    verdict: 'skip',
    skipReason: reason,
    expected: [],
    missing: [],
    unexpected: [],
    runs: 0,
    runsPerSecond: 0,
    elapsedMs: 0,
    strategies: [],
    exhausted: false,
    complete: false,
    completedBound: null,
    problems: [],
  };
}
