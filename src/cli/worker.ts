/**
 * A portfolio worker thread: receives legs to run, loads their scenario (cached), explores, and
 * posts the result back. Runs under tsx like the command, so scenario files need no build.
 */
import { parentPort } from 'node:worker_threads';
import { runLeg } from '../check/run.js';
import type { Scenario } from '../check/scenario.js';
import { loadSource, type ScenarioSource } from './source.js';
import type { LegJob, LegReply } from './portfolio.js';
import { isUserError } from './user-error.js';

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

// Loaded (tsx and the engine compiled): the pool may start timing from here.
parentPort!.postMessage({ ready: true });

parentPort!.on('message', (job: LegJob) => {
  void (async () => {
    let reply: LegReply;
    try {
      const scenario = await load(job.source);
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
