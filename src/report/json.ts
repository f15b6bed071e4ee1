/**
 * The JSON document of `hmmsim check --json`: stable field names for scripts and CI.
 * Top level: `scenarios`, each with `name`, `verdict`, `runs`, `runsPerSecond`, `findings`
 * (each with `kind`, `message`, `hits`, `schedule`, `seed`, and `firstHits`: per strategy leg that
 * hit it, the run and milliseconds into that leg of the first hit), `exhausted`, `complete` (DFS
 * explored every schedule: the verdict is complete) and `completedBound` (the highest preemption
 * bound explored in full, `unbounded` when complete), plus supporting detail.
 */
import type { ScenarioReport } from '../check/report-model.js';
import { replayArgs } from './text.js';

/** A scenario the command could not check (its file does not load, its setup throws). */
export interface ScenarioFailure {
  /** The scenario's name, or the command-line word that named it. */
  readonly name: string;
  /** One line saying what is wrong and how to fix it. */
  readonly error: string;
}

/** One scenario's entry in the document: what the programmatic `check` returns too. */
export type ScenarioJson = ReturnType<typeof scenarioJson>;

/** The JSON entry of one checked scenario; `replayWord` names it on its replay lines. */
export function scenarioJson(r: ScenarioReport, replayWord: string) {
  return {
    name: r.name,
    verdict: r.verdict,
    ...(r.skipReason === undefined ? {} : { skipReason: r.skipReason }),
    expected: r.expected,
    missing: r.missing,
    unexpected: r.unexpected,
    runs: r.runs,
    runsPerSecond: r.runsPerSecond,
    elapsedMs: r.elapsedMs,
    strategies: r.strategies,
    exhausted: r.exhausted,
    notes: r.notes ?? [],
    complete: r.complete,
    // JSON has no Infinity: a complete search completed every bound.
    completedBound: r.completedBound === Infinity ? 'unbounded' : r.completedBound,
    findings: r.problems.map((p) => ({
      kind: p.kind,
      message: p.message,
      place: p.place,
      hits: p.hits,
      schedule: p.schedule,
      seed: p.seed,
      preemptions: p.preemptions,
      steps: p.steps,
      strategy: p.strategy,
      firstHits: p.firstHits,
      reproducible: p.reproducible,
      replay: `hmmsim replay ${replayWord} ${replayArgs(r, p)}`,
    })),
  };
}

/**
 * Builds the JSON document (as a value; the caller stringifies). A scenario that could not be
 * checked is an entry with verdict `error` and an `error` line, so the document is always whole.
 */
export function jsonDocument(reports: readonly ScenarioReport[], replayWords: readonly string[], failures: readonly ScenarioFailure[] = []): unknown {
  return {
    tool: 'hmmsim',
    scenarios: [
      ...reports.map((r, i) => scenarioJson(r, replayWords[i]!)),
      ...failures.map((f) => ({ name: f.name, verdict: 'error' as const, error: f.error, findings: [] })),
    ],
    pass: failures.length === 0 && reports.every((r) => r.verdict !== 'fail'),
  };
}
