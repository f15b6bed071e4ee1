/**
 * A portfolio worker thread: receives legs to run, loads their scenario (cached), explores, and
 * posts the result back; a leg stops early once the scenario's shared stop flag says another leg
 * covered the whole space. Its steps are counted in the heartbeat the parent's watchdog reads, and
 * it answers the watchdog's two questions about a stuck run (`__hmmsimStall`, `__hmmsimOriginal`).
 */
import { findSourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { runLeg } from '../check/run.js';
import type { ReplayJob } from './replay-worker.js';
import type { Scenario } from '../check/scenario.js';
import { shareHeartbeat } from '../sim/heartbeat.js';
import { guardNondeterminism } from '../sim/nondeterminism.js';
import { replaySchedule } from '../sim/run-once.js';
import { ScheduleError } from '../sim/schedule.js';
import { configureKernel } from '../check/run.js';
import { loadSource, type ScenarioSource } from './source.js';
import type { LegJob, LegReply } from './portfolio.js';
import { isUserError } from './user-error.js';
import { currentStallState } from './stall-state.js';

const cache = new Map<string, Promise<Scenario>>();

function load(src: ScenarioSource): Promise<Scenario> {
  const key = JSON.stringify(src);
  let p = cache.get(key);
  if (p === undefined) {
    p = loadSource(src);
    cache.set(key, p);
  }
  return p;
}

/** The poll of a job's shared stop flag. */
function stopFlag(stop: SharedArrayBuffer | undefined): (() => boolean) | undefined {
  if (stop === undefined) return undefined;
  const flag = new Int32Array(stop);
  return () => Atomics.load(flag, 0) !== 0;
}

// Task code that reads the clock, Math.random, timers or I/O is a finding, not a silent flake.
guardNondeterminism();

const beat = (workerData as { heartbeat?: Int32Array } | null)?.heartbeat;
if (beat !== undefined) shareHeartbeat(beat);

const g = globalThis as Record<string, unknown>;
/** The run in progress, for the watchdog (called through the inspector while paused). */
g.__hmmsimStall = (): string => JSON.stringify(currentStallState());
/** A compiled scenario's position mapped back to the user's file, as path:line:col. */
g.__hmmsimOriginal = (url: string, line: number, col: number): string | null => {
  try {
    const map = findSourceMap(url.startsWith('file:') ? fileURLToPath(url) : url) ?? findSourceMap(url);
    const e = map?.findEntry(line, col) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (e?.originalSource === undefined) return null;
    const src = e.originalSource.startsWith('file:') ? fileURLToPath(e.originalSource) : e.originalSource;
    return `${src}:${e.originalLine! + 1}:${e.originalColumn! + 1}`;
  } catch {
    return null;
  }
};

// Loaded (the engine and its modules): the pool may start timing from here.
parentPort!.postMessage({ ready: true });

parentPort!.on('message', (job: LegJob | ReplayJob) => {
  void (async () => {
    if ('replay' in job) {
      try {
        const scenario = await load(job.source);
        parentPort!.postMessage({ id: job.id, started: true });
        const result = replaySchedule(scenario, job.replay, job.seed, job.seed, configureKernel(job.kernel));
        parentPort!.postMessage({ id: job.id, ok: true, replayed: result });
      } catch (e) {
        parentPort!.postMessage({ id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), userError: isUserError(e), schedule: e instanceof ScheduleError });
      }
      return;
    }
    let reply: LegReply;
    try {
      const scenario = await load(job.source);
      // From here on the watchdog counts: a step must come within its limit.
      parentPort!.postMessage({ id: job.id, started: true });
      const result = runLeg(scenario, job.spec, {
        seed: job.seed,
        runs: job.runs,
        timeLimitMs: job.timeLimitMs,
        shrink: job.shrink,
        clock: () => performance.now(),
        kernel: job.kernel,
        shouldStop: stopFlag(job.stop),
        shard: job.shard,
        onProgress: (p) => parentPort!.postMessage({ id: job.id, progress: true, runs: p.runs, findings: p.findings } satisfies LegReply),
      });
      reply = { id: job.id, ok: true, result };
    } catch (e) {
      reply = { id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), userError: isUserError(e) };
    }
    parentPort!.postMessage(reply);
  })();
});
