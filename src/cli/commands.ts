/**
 * The `hmmsim` subcommands: check, replay, compare, merge, list. Each returns its exit status; output goes to
 * the streams it is given so tests can capture it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { selfReportedKinds, unreportableExpectations, unreportableLine } from '../check/known-kinds.js';
import { mergeResults, skippedReport, type LegResult, type ScenarioReport } from '../check/report-model.js';
import { mergeShards, parseShard, shardFromJson, shardName, shardToJson, type ShardDocument, type ShardScenario } from '../check/shards.js';
import { configureKernel } from '../check/run.js';
import { portfolioLegs, STRATEGY_NAMES, type StrategySpec } from '../check/strategies.js';
import { KERNEL_VERSIONS } from '../locking/version.js';
import { traceToHtml } from '../report/html.js';
import { jsonDocument } from '../report/json.js';
import { formatTap } from '../report/tap.js';
import { formatComparison, formatScenario, formatSummary } from '../report/text.js';
import { decodeSchedule, ScheduleError } from '../sim/schedule.js';
import { replayInWorker } from './replay-worker.js';
import { stallResult } from './watchdog.js';
import { parseArgs, UsageError } from './args.js';
import { checkWithPortfolio, exploreWithPortfolio, WorkerPool } from './portfolio.js';
import { ProgressLine } from './progress.js';
import { exploreInThread, runsInThisThread } from './in-thread.js';
import { ThreadWatchdog } from './thread-watchdog.js';
import type { Progress } from '../sim/explore.js';
import { builtinScenarios, resolveScenarios, sourceWord } from './source.js';
import { isUserError } from './user-error.js';

/** Where a command writes. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

import { DEFAULT_RUNS, DEFAULT_SEED, DEFAULT_TIME_SECONDS } from './defaults.js';

export { DEFAULT_RUNS, DEFAULT_SEED, DEFAULT_TIME_SECONDS };

const CHECK_OPTIONS = {
  strategy: { kind: 'string', choices: STRATEGY_NAMES },
  runs: { kind: 'int', min: 1, max: 1_000_000_000 },
  time: { kind: 'number', min: 0.01, max: 86_400 },
  seed: { kind: 'int', min: 0, max: 0x7fffffff },
  workers: { kind: 'int', min: 1, max: 256 },
  depth: { kind: 'int', min: 1, max: 10 },
  preemptions: { kind: 'int', min: 0, max: 1000 },
  kernel: { kind: 'string', choices: KERNEL_VERSIONS.map((k) => k.name) },
  'no-shrink': { kind: 'flag' },
  'no-typecheck': { kind: 'flag' },
  json: { kind: 'flag' },
  tap: { kind: 'flag' },
  quiet: { kind: 'flag' },
  debug: { kind: 'flag' },
  shard: { kind: 'string' },
  out: { kind: 'string' },
} as const;

/** `hmmsim check [names or files…]`. */
export async function checkCommand(argv: readonly string[], io: Io): Promise<number> {
  const { words, options } = parseArgs('check', argv, CHECK_OPTIONS);
  const strategy = (options.get('strategy') as string | undefined) ?? 'portfolio';
  const runs = (options.get('runs') as number | undefined) ?? DEFAULT_RUNS;
  const time = (options.get('time') as number | undefined) ?? DEFAULT_TIME_SECONDS;
  const seed = (options.get('seed') as number | undefined) ?? DEFAULT_SEED;
  const depth = (options.get('depth') as number | undefined) ?? 3;
  const preemptions = (options.get('preemptions') as number | undefined) ?? 2;
  const workers = (options.get('workers') as number | undefined) ?? availableParallelism();
  const json = options.get('json') === true;
  const tap = options.get('tap') === true;
  if (json && tap) throw new UsageError(`hmmsim check: --json and --tap both choose the output format; pick one`);
  const quiet = options.get('quiet') === true || json || tap;
  if (strategy !== 'portfolio' && options.has('workers')) {
    throw new UsageError(`hmmsim check: --workers goes with --strategy portfolio (a single strategy runs in one thread)`);
  }
  const legs: StrategySpec[] =
    strategy === 'portfolio'
      ? portfolioLegs(workers, depth, preemptions)
      : [strategy === 'pct' ? { name: 'pct', depth } : strategy === 'dfs' ? { name: 'dfs', preemptionBound: preemptions } : { name: 'random' }];
  const shardText = options.get('shard') as string | undefined;
  const shard = shardText === undefined ? undefined : parseShard(shardText);
  if (shard === null) throw new UsageError(`hmmsim check: --shard must be K/N with 1 <= K <= N (this machine's share of N), not '${shardText}'`);
  const out = options.get('out') as string | undefined;
  if (shard !== undefined && out === undefined) {
    throw new UsageError(`hmmsim check: --shard ${shardText} explores only part of the work: name the result file with --out FILE, then combine the shards with 'hmmsim merge FILES...'`);
  }
  const resolved = await resolveScenarios(words, { typecheck: options.get('no-typecheck') !== true, keepGoing: json });
  const errors = resolved.failures.map((f) => ({ name: f.word, error: f.message }));
  // An expect that can only fail is bad input: one line, exit 2 (with --json, the scenario's error entry).
  const targets = resolved.targets.filter(({ scenario, source }) => {
    const bad = unreportableExpectations(scenario, source.kind === 'file' ? source.path : null);
    if (bad.length === 0) return true;
    const line = unreportableLine('check', scenario.name, bad);
    if (!json) throw new UsageError(line);
    errors.push({ name: scenario.name, error: line });
    return false;
  });
  const kernel = options.get('kernel') as string | undefined;
  const runsOption = options.get('runs') as number | undefined;
  const progress = new ProgressLine(quiet);
  const reports: ScenarioReport[] = [];
  const replayWords: string[] = [];
  const shardParts: ShardScenario[] = [];
  // One strategy explores in this thread, under the thread watchdog (no worker to start: the
  // command's start-up); a portfolio spreads its legs, and the scenarios, over worker threads.
  // Either way a task that loops without a scheduling point is stopped and reported.
  const inThread = strategy !== 'portfolio' && targets.every((t) => runsInThisThread(t.source));
  const threadWatchdog = inThread && targets.length > 0 ? new ThreadWatchdog() : null;
  let threadIsClean = true;
  let poolStarted: Promise<WorkerPool> | null = null;
  let pool: WorkerPool | null = null;
  const getPool = (): Promise<WorkerPool> => {
    poolStarted ??= (async () => {
      pool = new WorkerPool(strategy === 'portfolio' ? workers : 1);
      await pool.ready();
      return pool;
    })();
    return poolStarted;
  };

  type Outcome =
    | { readonly report: ScenarioReport; readonly part?: ShardScenario }
    | { readonly error: string }
    | { readonly failure: unknown };
  const exploreTarget = async ({ scenario, source }: (typeof targets)[number], onProgress?: (p: Progress) => void): Promise<Outcome> => {
    const skip = scenario.skipFor(kernel);
    if (skip !== null) return { report: skippedReport(scenario.name, skip) };
    const runs = Math.min(runsOption ?? scenario.defaultRuns ?? DEFAULT_RUNS, scenario.maxRuns);
    const portfolioOptions = {
      // A scenario whose every interleaving fits in fewer runs than there are legs needs no more legs.
      legs: legs.length > scenario.maxRuns ? legs.slice(0, scenario.maxRuns) : legs,
      seed,
      runs,
      timeLimitMs: time * 1000,
      shrink: options.get('no-shrink') !== true,
      kernel,
      onProgress,
      shard,
    };
    try {
      let explored: { legs: LegResult[]; wallMs: number };
      if (threadWatchdog !== null && threadIsClean) {
        const r = await exploreInThread(scenario, source, threadWatchdog, portfolioOptions);
        if (r.stalled) threadIsClean = false;
        explored = r;
      } else explored = await exploreWithPortfolio(scenario, source, await getPool(), portfolioOptions);
      const expected = scenario.expectFor(kernel);
      const allow = scenario.allowFor(kernel);
      let report = mergeResults(scenario.name, expected, explored.legs, explored.wallMs, allow);
      if (kernel !== undefined) report = { ...report, kernel };
      const part = out === undefined ? undefined : { name: scenario.name, source: sourceWord(source), expected, allow, selfReported: selfReportedKinds(scenario, source.kind === 'file' ? source.path : null), wallMs: explored.wallMs, legs: explored.legs };
      return part === undefined ? { report } : { report, part };
    } catch (e) {
      // With --json, one scenario that cannot run (its setup throws) is an entry, not a lost document.
      if (json && isUserError(e)) return { error: e.message };
      return { failure: e };
    }
  };

  const record = (target: (typeof targets)[number], outcome: Outcome): void => {
    const { scenario, source } = target;
    if ('failure' in outcome) throw outcome.failure;
    if ('error' in outcome) {
      errors.push({ name: scenario.name, error: outcome.error });
      return;
    }
    const report = outcome.report;
    reports.push(report);
    replayWords.push(sourceWord(source));
    if (outcome.part !== undefined) shardParts.push(outcome.part);
    // A shard's findings are partial (the rest may be in other shards): a line, not a verdict.
    if (json || tap) return;
    if (shard !== undefined && shard.count > 1 && report.verdict !== 'skip') io.out(`${scenario.name}: ${report.runs} runs, ${report.problems.length === 0 ? 'no findings' : `findings: ${[...new Set(report.problems.map((p) => p.kind))].join(', ')}`} (shard ${shardName(shard)} of the work)\n`);
    else io.out(`${formatScenario(report, sourceWord(source))}\n`);
  };

  try {
    if (inThread) {
      for (const target of targets) {
        const t0 = performance.now();
        const outcome = await exploreTarget(target, (p) => progress.update(target.scenario.name, p.runs, performance.now() - t0, p.findings, time * 1000 - (performance.now() - t0)));
        progress.clear();
        record(target, outcome);
      }
    } else {
      // Every scenario's legs go to the pool at once: a worker that finishes a leg takes the next
      // one, of this scenario or the next, so no core waits for the slowest leg of a scenario.
      // Reports are printed in the order of the scenarios, each as soon as those before it are.
      const outcomes = targets.map((t) => exploreTarget(t));
      const t0 = performance.now();
      let current = 0;
      const timer = setInterval(() => {
        const t = targets[current];
        if (t === undefined || pool === null) return;
        const p = pool.totals(t.scenario.name);
        progress.update(`${t.scenario.name}${targets.length > 1 ? ` (${current + 1}/${targets.length})` : ''}`, p.runs, performance.now() - t0, p.findings, null);
      }, 250);
      try {
        for (; current < targets.length; current++) {
          const outcome = await outcomes[current]!;
          progress.clear();
          record(targets[current]!, outcome);
        }
      } finally {
        clearInterval(timer);
        progress.clear();
      }
    }
  } finally {
    threadWatchdog?.close();
    // (Assigned in getPool: the compiler does not follow that.)
    const started = poolStarted as Promise<WorkerPool> | null;
    if (started !== null) await (await started).close();
  }
  if (out !== undefined) {
    const part = shard ?? { index: 0, count: 1 };
    const doc: ShardDocument = {
      tool: 'hmmsim',
      format: 'shard-result',
      version: 1,
      shard: part,
      settings: { seed, runs, timeSeconds: time, legs, kernel: (options.get('kernel') as string | undefined) ?? null },
      scenarios: shardParts,
    };
    try {
      writeFileSync(out, shardToJson(doc));
    } catch (e) {
      throw new UsageError(`hmmsim check: cannot write --out file ${out}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (shard !== undefined && shard.count > 1) {
    // A shard cannot judge: what it did not find may be in another shard's part.
    if (json) io.out(`${JSON.stringify(jsonDocument(reports, replayWords, errors), null, 2)}\n`);
    else io.out(`shard ${shardName(shard)}: partial results written to ${out}; combine all ${shard.count} with 'hmmsim merge'\n`);
    return errors.length > 0 ? 2 : 0;
  }
  if (json) io.out(`${JSON.stringify(jsonDocument(reports, replayWords, errors), null, 2)}\n`);
  else if (tap) io.out(formatTap(reports, replayWords));
  else io.out(`${formatSummary(reports)}\n`);
  if (errors.length > 0) return 2;
  // A skipped case (the model cannot run it yet) is no failure, as in kselftest.
  return reports.every((r) => r.verdict !== 'fail') ? 0 : 1;
}

const MERGE_OPTIONS = {
  json: { kind: 'flag' },
  debug: { kind: 'flag' },
} as const;

/** `hmmsim merge FILES...`: one report from the results of `hmmsim check --shard K/N --out FILE`. */
export function mergeCommand(argv: readonly string[], io: Io): number {
  const { words, options } = parseArgs('merge', argv, MERGE_OPTIONS);
  if (words.length === 0) throw new UsageError(`hmmsim merge: name the shard results to combine, e.g. 'hmmsim merge results/*.json'`);
  const docs = words.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`hmmsim merge: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { doc: shardFromJson(text, file), file };
  });
  const reports = mergeShards(docs);
  const words0 = docs[0]!.doc.scenarios.map((s) => s.source);
  if (options.get('json') === true) io.out(`${JSON.stringify(jsonDocument(reports, words0), null, 2)}\n`);
  else {
    for (let i = 0; i < reports.length; i++) io.out(`${formatScenario(reports[i]!, words0[i]!)}\n`);
    io.out(`${formatSummary(reports)}\n`);
  }
  return reports.every((r) => r.verdict === 'pass') ? 0 : 1;
}

const REPLAY_OPTIONS = {
  seed: { kind: 'int', min: 0, max: 0x7fffffff },
  finding: { kind: 'string' },
  'no-typecheck': { kind: 'flag' },
  html: { kind: 'string' },
  kernel: { kind: 'string', choices: KERNEL_VERSIONS.map((k) => k.name) },
  debug: { kind: 'flag' },
} as const;

/**
 * Exit statuses of `hmmsim replay`: what the run showed, against the finding the replay line
 * names with `--finding` (without it, any finding counts as reproduced).
 */
export const REPLAY_EXIT = {
  /** The run shows the recorded finding. */
  Reproduced: 0,
  /** The run shows findings, but not the recorded one. */
  DifferentFinding: 1,
  /** The run shows no finding at all. */
  Clean: 4,
  /** The schedule no longer fits the code (it diverged) and the recorded finding did not show. */
  NoLongerFits: 5,
} as const;

/** `hmmsim replay <scenario> <schedule> [--seed S] [--finding KIND]`. */
export async function replayCommand(argv: readonly string[], io: Io): Promise<number> {
  const { words, options } = parseArgs('replay', argv, REPLAY_OPTIONS);
  if (words.length !== 2) {
    throw new UsageError(`hmmsim replay: expected a scenario and a schedule, e.g. 'hmmsim replay lost-update 1:avbv2 --seed 42' (copy the line from a check report)`);
  }
  const [word, schedule] = words as [string, string];
  const { targets } = await resolveScenarios([word], { typecheck: options.get('no-typecheck') !== true });
  if (targets.length !== 1) throw new UsageError(`hmmsim replay: '${word}' names ${targets.length} scenarios; pick one with file.ts#name`);
  const { scenario, source } = targets[0]!;
  const seed = (options.get('seed') as number | undefined) ?? DEFAULT_SEED;
  const kernel = options.get('kernel') as string | undefined;
  const recorded = options.get('finding') as string | undefined;
  configureKernel(kernel);
  try {
    decodeSchedule(schedule); // a malformed schedule is a usage error before any thread starts
  } catch (e) {
    if (e instanceof ScheduleError) throw new ScheduleError(`hmmsim replay: invalid schedule '${schedule}': ${e.message}`);
    throw e;
  }
  let outcome;
  try {
    outcome = await replayInWorker({ source, replay: schedule, seed, kernel });
  } catch (e) {
    if (e instanceof ScheduleError) throw new ScheduleError(`hmmsim replay: invalid schedule '${schedule}': ${e.message}`);
    throw e;
  }
  if ('stall' in outcome) {
    const found = stallResult(outcome.stall, 'replay', 0, outcome.limitMs).problems[0]!;
    io.out(`replay of ${scenario.name}, schedule ${schedule}, seed ${seed}: stopped by the watchdog\n`);
    io.out(`[${found.kind}]${outcome.stall.state?.task ? ` in ${outcome.stall.state.task}` : ''}\n${found.message}\n`);
    return recorded === undefined || recorded === found.kind ? REPLAY_EXIT.Reproduced : REPLAY_EXIT.DifferentFinding;
  }
  const r = outcome.result;
  io.out(`replay of ${scenario.name}, schedule ${schedule}, seed ${seed}: ${r.steps} steps\n`);
  for (const n of r.notes) io.out(`note: ${n}\n`);
  io.out(r.trace);
  if (r.findings.length === 0) io.out('no finding in this run\n');
  for (const f of r.findings) io.out(`[${f.kind}] at step ${f.step}${f.task === null ? '' : ` in ${f.task}`}\n${f.message}\n`);
  const html = options.get('html') as string | undefined;
  if (html !== undefined) {
    const page = traceToHtml({
      title: `${scenario.name}: replay`,
      subtitle: `hmmsim replay ${word} ${schedule} --seed ${seed}`,
      taskNames: r.taskNames,
      rows: r.rows,
      findings: r.findings,
      notes: r.notes,
    });
    try {
      writeFileSync(html, page);
    } catch (e) {
      throw new UsageError(`hmmsim replay: cannot write --html file ${html}: ${e instanceof Error ? e.message : String(e)}`);
    }
    io.out(`wrote ${html}\n`);
  }
  const reproduced = recorded === undefined ? r.findings.length > 0 : r.findings.some((f) => f.kind === recorded);
  let status: number;
  if (reproduced) status = REPLAY_EXIT.Reproduced;
  // A schedule that merely ran out (the run went on past the recorded finding) still fit.
  else if (r.notes.some((n) => !n.startsWith('the recorded schedule ran out'))) status = REPLAY_EXIT.NoLongerFits;
  else if (r.findings.length > 0) status = REPLAY_EXIT.DifferentFinding;
  else status = REPLAY_EXIT.Clean;
  const what = ['reproduced the recorded finding', 'found a different finding', '', '', 'ran clean: no finding', 'the schedule no longer fits this code'][status];
  io.out(`replay: ${what}${recorded === undefined ? '' : ` (${recorded})`}; exit status ${status}\n`);
  return status;
}

const COMPARE_OPTIONS = {
  runs: CHECK_OPTIONS.runs,
  time: CHECK_OPTIONS.time,
  seed: CHECK_OPTIONS.seed,
  workers: CHECK_OPTIONS.workers,
  'no-typecheck': CHECK_OPTIONS['no-typecheck'],
  json: CHECK_OPTIONS.json,
  quiet: CHECK_OPTIONS.quiet,
  debug: CHECK_OPTIONS.debug,
} as const;

/** `hmmsim compare <scenario>`: the same scenario under every kernel contract version, side by side. */
export async function compareCommand(argv: readonly string[], io: Io): Promise<number> {
  const { words, options } = parseArgs('compare', argv, COMPARE_OPTIONS);
  if (words.length === 0) throw new UsageError(`hmmsim compare: name the scenarios to compare, e.g. 'hmmsim compare s-pair-1'`);
  const runsOption = options.get('runs') as number | undefined;
  const time = (options.get('time') as number | undefined) ?? DEFAULT_TIME_SECONDS;
  const seed = (options.get('seed') as number | undefined) ?? DEFAULT_SEED;
  const workers = (options.get('workers') as number | undefined) ?? availableParallelism();
  const json = options.get('json') === true;
  const { targets } = await resolveScenarios(words, { typecheck: options.get('no-typecheck') !== true });
  for (const { scenario, source } of targets) {
    const bad = unreportableExpectations(scenario, source.kind === 'file' ? source.path : null);
    if (bad.length > 0) throw new UsageError(unreportableLine('compare', scenario.name, bad));
  }
  const pool = new WorkerPool(workers);
  await pool.ready();
  const rows: { scenario: string; kernel: string; report: ScenarioReport }[] = [];
  try {
    for (const { scenario, source } of targets) {
      for (const v of KERNEL_VERSIONS) {
        const report = await checkWithPortfolio(scenario, source, pool, {
          legs: portfolioLegs(workers, 3, 2),
          seed,
          runs: runsOption ?? scenario.defaultRuns ?? DEFAULT_RUNS,
          timeLimitMs: time * 1000,
          shrink: false,
          kernel: v.name,
        });
        rows.push({ scenario: scenario.name, kernel: v.name, report });
      }
    }
  } finally {
    await pool.close();
  }
  const allAsExpected = rows.every((r) => r.report.verdict === 'pass');
  if (json) {
    const comparisons = rows.map((r) => ({
      scenario: r.scenario,
      kernel: r.kernel,
      verdict: r.report.verdict,
      expected: r.report.expected,
      runs: r.report.runs,
      findings: r.report.problems.map((p) => ({ kind: p.kind, hits: p.hits, message: p.message, schedule: p.schedule, seed: p.seed })),
    }));
    io.out(`${JSON.stringify({ comparisons, pass: allAsExpected }, null, 2)}\n`);
  } else {
    io.out(
      formatComparison(
        rows.map((r) => ({ scenario: r.scenario, kernel: r.kernel, kinds: [...new Set(r.report.problems.map((p) => p.kind))].sort(), runs: r.report.runs, asExpected: r.report.verdict === 'pass' })),
      ),
    );
  }
  return allAsExpected ? 0 : 1;
}

/** `hmmsim list`. */
export function listCommand(argv: readonly string[], io: Io): number {
  const { words } = parseArgs('list', argv, {});
  if (words.length > 0) throw new UsageError(`hmmsim list: takes no arguments ('${words[0]}'); to check a scenario: hmmsim check ${words[0]}`);
  const all = builtinScenarios();
  const width = Math.max(...all.map((s) => s.name.length));
  const describe = (kinds: readonly string[]): string => (kinds.length === 0 ? 'clean' : `expects ${kinds.join(', ')}`);
  for (const s of all) {
    const byVersion = KERNEL_VERSIONS.map((v) => describe(s.expectFor(v.name)));
    const exp = byVersion.every((e) => e === byVersion[0])
      ? byVersion[0]!
      : `${describe(s.expect)} under current; differs by kernel version, see 'hmmsim compare ${s.name}'`;
    io.out(`${s.name.padEnd(width)}  ${s.description} [${exp}]\n`);
  }
  return 0;
}

