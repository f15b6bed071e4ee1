/**
 * The portfolio: strategy legs run at once on worker threads, one leg per worker, each with its
 * own deterministic seed stream; results merge into one report. With one worker the legs run in
 * this thread, which is also what tests use.
 */
import { Worker } from 'node:worker_threads';
import { legRuns, legSeed, runLegsInThread } from '../check/run.js';
import { mergeResults, type LegResult, type ScenarioReport } from '../check/report-model.js';
import { ScenarioError, type Scenario } from '../check/scenario.js';
import type { Progress } from '../sim/explore.js';
import type { ShardSpec } from '../check/shards.js';
import type { StrategySpec } from '../check/strategies.js';
import type { ScenarioSource } from './source.js';
import { workerEntryUrl } from './self.js';
import { newHeartbeat, stallResult, Watchdog, watchdogLimitMs, type Stall } from './watchdog.js';

/** One leg of work sent to a worker. */
export interface LegJob {
  readonly id: number;
  readonly source: ScenarioSource;
  readonly spec: StrategySpec;
  readonly seed: number;
  readonly runs: number;
  readonly timeLimitMs: number | undefined;
  readonly shrink: boolean;
  readonly kernel: string | undefined;
  /**
   * Shared stop flag of the scenario's legs (an Int32Array of one element over a
   * SharedArrayBuffer): set once a leg has covered the whole space, polled every 64 runs.
   */
  readonly stop?: SharedArrayBuffer;
  /** The shard's share of the leg (`--shard K/N`). */
  readonly shard?: ShardSpec | undefined;
}

/** A worker's answer. */
export type LegReply =
  | { readonly id: number; readonly ok: true; readonly result: LegResult }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly userError: boolean }
  | { readonly id: number; readonly progress: true; readonly runs: number; readonly findings: number };

/** A fixed set of worker threads, reused across scenarios. */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { job: LegJob; resolve: (r: LegResult) => void; reject: (e: Error) => void; onStart: (() => void) | undefined }[] = [];
  private readonly pending = new Map<number, { resolve: (r: LegResult) => void; reject: (e: Error) => void; worker: Worker; job: LegJob }>();
  private readonly watchdog = new Watchdog();
  private nextId = 0;
  private readyCount = 0;
  private readyWaiters: (() => void)[] = [];
  /** The worker that took the first leg of each scenario (by name). */
  private readonly owner = new Map<string, Worker>();
  /** Latest progress of each job in flight. */
  private readonly progress = new Map<number, { runs: number; findings: number }>();

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.idle.push(this.startWorker());
  }

  private startWorker(): Worker {
    const heartbeat = newHeartbeat();
    const w = new Worker(workerEntryUrl, { workerData: { heartbeat } });
    w.on('message', (reply: LegReply | { ready: true } | { id: number; started: true }) => {
      if ('ready' in reply) this.markReady();
      else if ('started' in reply) this.watchdog.arm(w, watchdogLimitMs(this.pending.get(reply.id)?.job.timeLimitMs));
      else this.done(w, reply);
    });
    w.on('error', (e) => {
      this.markReady(); // a worker that failed to load must not leave ready() waiting
      this.failAll(e);
    });
    this.watchdog.add(w, heartbeat, (stall) => this.stalled(w, stall));
    this.workers.push(w);
    return w;
  }

  /** A worker's task looped without a scheduling point: its job ends with that finding, and a fresh worker takes its place. */
  private stalled(w: Worker, stall: Stall): void {
    this.watchdog.remove(w);
    void w.terminate();
    this.workers.splice(this.workers.indexOf(w), 1);
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(id);
      const runs = this.progress.get(id)?.runs ?? 0;
      this.progress.delete(id);
      p.resolve(stallResult(stall, p.job.spec.name, runs, watchdogLimitMs(p.job.timeLimitMs)));
    }
    this.readyCount--;
    this.idle.push(this.startWorker());
    this.pump();
  }

  /** Resolves once every worker has loaded, so start-up is not counted as exploration time. */
  ready(): Promise<void> {
    if (this.readyCount >= this.size) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private markReady(): void {
    this.readyCount++;
    if (this.readyCount < this.size) return;
    for (const r of this.readyWaiters) r();
    this.readyWaiters.length = 0;
  }

  /** Runs one leg on the next free worker; `onStart` is called when a worker takes it. */
  run(job: Omit<LegJob, 'id'>, onStart?: () => void): Promise<LegResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { ...job, id: this.nextId++ }, resolve, reject, onStart });
      this.pump();
    });
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    this.watchdog.stop();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.shift()!;
      // A worker keeps to the scenarios it started, so with many scenarios queued each runs its
      // legs one after the other on one worker (DFS first: once it has covered the whole space,
      // the later legs stop before their first run instead of racing it on the other core). Then
      // a scenario no worker has started; only when none is left, a leg of another worker's
      // scenario, so no core idles at the end (and one scenario alone still uses every worker).
      let i = this.queue.findIndex((q) => this.owner.get(q.job.source.name) === w);
      if (i < 0) i = this.queue.findIndex((q) => !this.owner.has(q.job.source.name));
      if (i < 0) i = 0;
      const { job, resolve, reject, onStart } = this.queue.splice(i, 1)[0]!;
      if (!this.owner.has(job.source.name)) this.owner.set(job.source.name, w);
      this.pending.set(job.id, { resolve, reject, worker: w, job });
      onStart?.();
      w.postMessage(job);
    }
  }

  /** Runs and findings so far, summed over the jobs in flight (of the scenario named, if one is). */
  totals(scenario?: string): { runs: number; findings: number } {
    let runs = 0;
    let findings = 0;
    for (const [id, p] of this.progress) {
      if (scenario !== undefined && this.pending.get(id)?.job.source.name !== scenario) continue;
      runs += p.runs;
      findings += p.findings;
    }
    return { runs, findings };
  }

  private done(w: Worker, reply: LegReply): void {
    if ('progress' in reply) {
      this.progress.set(reply.id, { runs: reply.runs, findings: reply.findings });
      return;
    }
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    this.progress.delete(reply.id);
    this.watchdog.disarm(w);
    this.idle.push(w);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(reply.userError ? new ScenarioError(reply.message) : new Error(reply.message));
    this.pump();
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/** Options of a portfolio check. */
export interface PortfolioOptions {
  readonly legs: readonly StrategySpec[];
  readonly seed: number;
  readonly runs: number;
  readonly timeLimitMs: number | undefined;
  readonly shrink: boolean;
  readonly kernel: string | undefined;
  /** In-thread progress (the pool reports through `totals()` instead). */
  readonly onProgress?: (p: Progress) => void;
  /** Explore only this shard's share of every leg (`--shard K/N`). */
  readonly shard?: ShardSpec | undefined;
}

/** Checks one scenario with its legs spread over the pool (or in this thread without a pool). */
export async function checkWithPortfolio(
  scenario: Scenario,
  source: ScenarioSource,
  pool: WorkerPool | null,
  options: PortfolioOptions,
): Promise<ScenarioReport> {
  const { legs, wallMs } = await exploreWithPortfolio(scenario, source, pool, options);
  return mergeResults(scenario.name, scenario.expectFor(options.kernel), legs, wallMs, scenario.allowFor(options.kernel));
}

/** Explores one scenario's legs over the pool (or in this thread); the legs' results, unmerged. */
export async function exploreWithPortfolio(
  scenario: Scenario,
  source: ScenarioSource,
  pool: WorkerPool | null,
  options: PortfolioOptions,
): Promise<{ legs: LegResult[]; wallMs: number }> {
  const t0 = performance.now();
  const shard = options.shard;
  // A shard's DFS covering its own part says nothing of the others' parts: it stops no leg.
  const stopOnComplete = shard === undefined || shard.count === 1;
  let results: LegResult[];
  if (pool === null) {
    results = runLegsInThread(scenario, options.legs, stopOnComplete, (i) => ({
      shard,
      seed: legSeed(options.seed, i),
      runs: legRuns(options.runs, options.legs.length, i),
      timeLimitMs: options.timeLimitMs,
      shrink: options.shrink,
      clock: () => performance.now(),
      kernel: options.kernel,
      onProgress: options.onProgress,
    }));
  } else {
    // One flag for the scenario's legs: the first to come back complete stops the others.
    const stop = new SharedArrayBuffer(4);
    const flag = new Int32Array(stop);
    // The scenario's time is from when a worker took its first leg: legs may wait in the queue
    // behind other scenarios' legs, and that wait is not this scenario's exploration.
    let started: number | null = null;
    const onStart = (): void => {
      started ??= performance.now();
    };
    results = await Promise.all(
      options.legs.map((spec, i) =>
        pool
          .run({ source, spec, seed: legSeed(options.seed, i), runs: legRuns(options.runs, options.legs.length, i), timeLimitMs: options.timeLimitMs, shrink: options.shrink, kernel: options.kernel, stop, shard }, onStart)
          .then((r) => {
            if (r.complete && stopOnComplete) Atomics.store(flag, 0, 1);
            return r;
          }),
      ),
    );
    return { legs: results, wallMs: performance.now() - (started ?? t0) };
  }
  return { legs: results, wallMs: performance.now() - t0 };
}
