/**
 * `hmmsim replay` runs its one run on a worker thread under the watchdog, like `check`: a schedule
 * that leads into a loop without a scheduling point ends with the same soft-lockup finding
 * instead of hanging the command.
 */
import { Worker } from 'node:worker_threads';
import type { RunResult } from '../sim/run-once.js';
import { ScheduleError } from '../sim/schedule.js';
import { ScenarioError } from '../check/scenario.js';
import type { ScenarioSource } from './source.js';
import { workerEntryUrl } from './self.js';
import { newHeartbeat, Watchdog, watchdogLimitMs, type Stall } from './watchdog.js';

/** What the worker is asked to replay. */
export interface ReplayJob {
  readonly id: number;
  readonly source: ScenarioSource;
  readonly replay: string;
  readonly seed: number;
  readonly kernel: string | undefined;
}

/** The replayed run, or where it got stuck. */
export type ReplayOutcome = { readonly result: RunResult } | { readonly stall: Stall; readonly limitMs: number };

/** Replays `schedule` on a fresh watched worker (a task may go `limitMs` without a step). */
export async function replayInWorker(job: Omit<ReplayJob, 'id'>, limitMs = watchdogLimitMs(undefined)): Promise<ReplayOutcome> {
  const heartbeat = newHeartbeat();
  const worker = new Worker(workerEntryUrl, { workerData: { heartbeat } });
  const watchdog = new Watchdog();
  try {
    return await new Promise<ReplayOutcome>((resolve, reject) => {
      watchdog.add(worker, heartbeat, (stall) => resolve({ stall, limitMs }));
      worker.on('error', reject);
      worker.on('message', (m: { ready?: true; started?: true; ok?: boolean; replayed?: RunResult; message?: string; userError?: boolean; schedule?: boolean }) => {
        if (m.ready === true) worker.postMessage({ ...job, id: 0 } satisfies ReplayJob);
        else if (m.started === true) watchdog.arm(worker, limitMs);
        else if (m.ok === true) resolve({ result: m.replayed! });
        else if (m.ok === false) reject(m.schedule === true ? new ScheduleError(m.message!) : m.userError === true ? new ScenarioError(m.message!) : new Error(m.message));
      });
    });
  } finally {
    watchdog.stop();
    await worker.terminate();
  }
}
