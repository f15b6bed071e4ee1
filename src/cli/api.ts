/**
 * hmmsim from your own tests, in the style of loom's `model` and fast-check's `assert`:
 *
 *     import { check, assertScenario } from 'hmmsim';
 *     const result = check(myScenario, { runs: 5000 });   // what `hmmsim check --json` prints for it
 *     assertScenario(myScenario);                         // throws with the report and the replay line
 *
 * Both explore in the calling thread with the command's strategies and defaults (the portfolio's
 * legs, one after the other). Unlike the command, a task that loops without a scheduling point
 * hangs the call (the watchdog is the command's); run `npx hmmsim check file.ts` to find it.
 */
import { unreportableExpectations, unreportableLine } from '../check/known-kinds.js';
import { checkScenario } from '../check/run.js';
import { ScenarioError, type Scenario } from '../check/scenario.js';
import { portfolioLegs, type StrategySpec } from '../check/strategies.js';
import { scenarioJson, type ScenarioJson } from '../report/json.js';
import { formatScenario } from '../report/text.js';
import { guardNondeterminism } from '../sim/nondeterminism.js';
import { DEFAULT_RUNS, DEFAULT_SEED, DEFAULT_TIME_SECONDS } from './defaults.js';

/** The options of `hmmsim check`, by the same names. */
export interface CheckApiOptions {
  /** `random`, `pct`, `dfs` or `portfolio` (default: portfolio, its legs run one after the other). */
  readonly strategy?: 'random' | 'pct' | 'dfs' | 'portfolio';
  /** Total runs (default: the scenario's own budget, its `runs`, else 20,000). */
  readonly runs?: number;
  /** Time limit in seconds per strategy leg (default 10). */
  readonly time?: number;
  readonly seed?: number;
  /** PCT bug depth (default 3). */
  readonly depth?: number;
  /** DFS preemption bound (default 2). */
  readonly preemptions?: number;
  /** Kernel contract version: v4.19, v5.4, v5.5, v5.9, current (default), what-if-itree-fix. */
  readonly kernel?: string;
  /** Shrink reported schedules (default true). */
  readonly shrink?: boolean;
  /** How replay lines name the scenario (default: `file#name` of the file that defined it). */
  readonly replayAs?: string;
}

/** What `check` returns: the scenario's entry of `hmmsim check --json`, field for field. */
export type CheckResult = ScenarioJson;

function legsFor(o: CheckApiOptions): StrategySpec[] {
  const depth = o.depth ?? 3;
  const preemptions = o.preemptions ?? 2;
  switch (o.strategy ?? 'portfolio') {
    case 'random':
      return [{ name: 'random' }];
    case 'pct':
      return [{ name: 'pct', depth }];
    case 'dfs':
      return [{ name: 'dfs', preemptionBound: preemptions }];
    case 'portfolio':
      return portfolioLegs(3, depth, preemptions);
    default:
      throw new TypeError(`hmmsim check: strategy must be random, pct, dfs or portfolio, not '${String(o.strategy)}'`);
  }
}

function explored(scenario: Scenario, o: CheckApiOptions) {
  const bad = unreportableExpectations(scenario);
  if (bad.length > 0) throw new ScenarioError(unreportableLine('check', scenario.name, bad));
  guardNondeterminism();
  const report = checkScenario(scenario, {
    legs: legsFor(o),
    seed: o.seed ?? DEFAULT_SEED,
    runs: o.runs ?? scenario.defaultRuns ?? DEFAULT_RUNS,
    timeLimitMs: (o.time ?? DEFAULT_TIME_SECONDS) * 1000,
    shrink: o.shrink !== false,
    ...(o.kernel === undefined ? {} : { kernel: o.kernel }),
  });
  return report;
}

function replayWord(scenario: Scenario, o: CheckApiOptions): string {
  return o.replayAs ?? (scenario.definedIn === null ? scenario.name : `${scenario.definedIn}#${scenario.name}`);
}

/**
 * Explores `scenario` like `hmmsim check` and returns its JSON entry (verdict, runs, findings, ...).
 * Throws a ScenarioError, before exploring, when its `expect` names a kind nothing can report
 * (the command's exit 2).
 */
export function check(scenario: Scenario, options: CheckApiOptions = {}): CheckResult {
  return scenarioJson(explored(scenario, options), replayWord(scenario, options));
}

/** The error `assertScenario` throws: its message is the command's report, with replay lines. */
export class ScenarioAssertionError extends Error {
  override readonly name = 'ScenarioAssertionError';
  constructor(
    message: string,
    /** The scenario's JSON entry. */
    readonly result: CheckResult,
  ) {
    super(message);
  }
}

/**
 * Explores `scenario` and throws a ScenarioAssertionError, whose message is the report `hmmsim
 * check` prints (each finding with its replay line), unless the verdict is as expected (clean,
 * or exactly the kinds the scenario's `expect` names). Works in vitest, node:test, or any runner.
 */
export function assertScenario(scenario: Scenario, options: CheckApiOptions = {}): CheckResult {
  const report = explored(scenario, options);
  const word = replayWord(scenario, options);
  const result = scenarioJson(report, word);
  if (report.verdict !== 'pass') throw new ScenarioAssertionError(formatScenario(report, word, 'npx hmmsim'), result);
  return result;
}
