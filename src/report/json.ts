/**
 * The JSON document of `hmmsim check --json`: stable field names for scripts and CI.
 * Top level: `scenarios`, each with `name`, `verdict`, `runs`, `runsPerSecond`, `findings`
 * (each with `kind`, `message`, `hits`, `schedule`, `seed`, and `firstHits`: per strategy leg that
 * hit it, the run and milliseconds into that leg of the first hit), `exhausted`, `complete` (DFS
 * explored every schedule: the verdict is complete) and `completedBound` (the highest preemption
 * bound explored in full, `unbounded` when complete), plus supporting detail.
 */
import type { ScenarioReport } from '../check/report-model.js';

/** Builds the JSON document (as a value; the caller stringifies). */
export function jsonDocument(reports: readonly ScenarioReport[], replayWords: readonly string[]): unknown {
  return {
    tool: 'hmmsim',
    scenarios: reports.map((r, i) => ({
      name: r.name,
      verdict: r.verdict,
      expected: r.expected,
      missing: r.missing,
      unexpected: r.unexpected,
      runs: r.runs,
      runsPerSecond: r.runsPerSecond,
      elapsedMs: r.elapsedMs,
      strategies: r.strategies,
      exhausted: r.exhausted,
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
        replay: `hmmsim replay ${replayWords[i]} ${p.schedule} --seed ${p.seed}`,
      })),
    })),
    pass: reports.every((r) => r.verdict === 'pass'),
  };
}
