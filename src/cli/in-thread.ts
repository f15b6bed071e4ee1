/**
 * One scenario's legs explored in the command's own thread, under the thread watchdog: what
 * `hmmsim check NAME --strategy S` does, so it starts no worker thread that would load the whole
 * engine again (about a tenth of a second, most of the command's start-up).
 *
 * A leg the watchdog cuts off becomes the same soft-lockup finding a worker's stuck leg becomes.
 * The cut-off leaves nothing but the engine's own record of the run (task, last point, schedule);
 * the source line the task loops on is found by replaying that schedule on a worker thread, whose
 * watchdog can pause the loop and read its stack. Deterministic replay reaches the same loop.
 */
import { legRuns, legSeed, runLeg } from '../check/run.js';
import type { LegResult } from '../check/report-model.js';
import type { Scenario } from '../check/scenario.js';
import { guardNondeterminism } from '../sim/nondeterminism.js';
import { abandonRunningWorld } from '../sim/world.js';
import type { PortfolioOptions } from './portfolio.js';
import { replayInWorker } from './replay-worker.js';
import { engineIsBuilt, fromSources } from './self.js';
import type { ScenarioSource } from './source.js';
import { currentStallState } from './stall-state.js';
import { ThreadWatchdog } from './thread-watchdog.js';
import { stallResult, watchdogLimitMs, type StallState } from './watchdog.js';

/**
 * True when `source` can run in this thread: a built-in scenario always; a scenario file only
 * when it runs on this thread's copy of the engine (from the sources with a build beside them,
 * files import the build, and a world of one copy cannot run the tasks of the other).
 */
export function runsInThisThread(source: ScenarioSource): boolean {
  return source.kind === 'builtin' || !fromSources || !engineIsBuilt;
}

/** Explores the legs one after the other in this thread; the legs' results, unmerged. */
export async function exploreInThread(
  scenario: Scenario,
  source: ScenarioSource,
  watchdog: ThreadWatchdog,
  options: PortfolioOptions,
): Promise<{ legs: LegResult[]; wallMs: number; stalled: boolean }> {
  // Task code that reads the clock, Math.random, timers or I/O is a finding here too, as on workers.
  guardNondeterminism();
  const t0 = performance.now();
  const shard = options.shard;
  // As on workers: once a leg has covered the whole space, the others have nothing left to find.
  const stopOnComplete = shard === undefined || shard.count === 1;
  const limitMs = watchdogLimitMs(options.timeLimitMs);
  const legs: LegResult[] = [];
  let complete = false;
  for (let i = 0; i < options.legs.length; i++) {
    const spec = options.legs[i]!;
    let runsSoFar = 0;
    const watched = watchdog.run(limitMs, () =>
      runLeg(scenario, spec, {
        seed: legSeed(options.seed, i),
        runs: legRuns(options.runs, options.legs.length, i),
        timeLimitMs: options.timeLimitMs,
        shrink: options.shrink,
        clock: () => performance.now(),
        kernel: options.kernel,
        shard,
        shouldStop: () => complete,
        onProgress: (p) => {
          runsSoFar = p.runs;
          options.onProgress?.(p);
        },
      }),
    );
    if ('value' in watched) {
      legs.push(watched.value);
      complete ||= watched.value.complete && stopOnComplete;
      continue;
    }
    const state = currentStallState();
    abandonRunningWorld();
    const where = await locate(source, state, options.kernel, limitMs);
    legs.push(stallResult({ seconds: watched.seconds, where, state }, spec.name, runsSoFar, limitMs));
    // The engine's state in this thread is that of a run cut off mid-step: explore no more here.
    return { legs, wallMs: performance.now() - t0, stalled: true };
  }
  return { legs, wallMs: performance.now() - t0, stalled: false };
}

/** Where the stuck run loops: its replay on a watched worker thread, paused in the loop. */
async function locate(source: ScenarioSource, state: StallState | null, kernel: string | undefined, limitMs: number): Promise<string | null> {
  try {
    const outcome = await replayInWorker({ source, replay: state === null || state.schedule === '' ? '1:' : state.schedule, seed: state?.seed ?? 0, kernel }, limitMs);
    return 'stall' in outcome ? outcome.stall.where : null;
  } catch (e) {
    // The finding stands without its source line.
    if (process.env.HMMSIM_DEBUG_WATCHDOG) process.stderr.write(`watchdog: locating the loop failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    return null;
  }
}
