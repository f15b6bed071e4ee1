/**
 * Benchmark: the engine's raw speed.
 *
 * - ping-pong: two tasks pass 10,000 points between them (5,000 each) with tracing off; every
 *   step is a scheduling decision under the random strategy. Reported as steps/s (goal: at
 *   least 3 million per core).
 * - lost-update: whole runs of the built-in scenario per second, under random and under DFS
 *   (DFS restarts its search whenever it exhausts the space).
 * - portfolio: runs/s of the random strategy on one worker thread and on two, same scenario,
 *   same time; the ratio is the parallel speed-up (goal on two cores: at least 1.7x).
 *
 * Run: `npx tsx bench/engine.ts` (or `npm run bench`). Timing uses performance.now(): the bench
 * is outside the model.
 */
import { pathToFileURL } from 'node:url';
import { catalogue } from '../scenarios/index.ts';
import { WorkerPool } from '../src/cli/portfolio.ts';
import type { Program } from '../src/sim/program.ts';
import { Access } from '../src/sim/point.ts';
import { DfsStrategy } from '../src/sim/strategies/dfs.ts';
import { RandomStrategy } from '../src/sim/strategies/random.ts';
import type { Strategy } from '../src/sim/strategy.ts';
import { RunEnd, World } from '../src/sim/world.ts';

/** One figure. */
export interface EngineFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

const PING_PONG_POINTS = 10_000;

const pingPong: Program = {
  start(w: World) {
    const ball = { name: 'ball' };
    const player = function* () {
      for (let i = 0; i < PING_PONG_POINTS / 2; i++) yield w.point('hit', ball, Access.Write);
    };
    w.spawn('ping', player);
    w.spawn('pong', player);
  },
};

/** Repeats whole runs of `program` under `strategy` for about `ms`; returns runs and steps per second. */
function measureRuns(program: Program, makeStrategy: () => Strategy, ms: number): { runsPerSec: number; stepsPerSec: number } {
  const world = new World();
  let strategy = makeStrategy();
  let runs = 0;
  let steps = 0;
  let strategyRun = 0;
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < ms) {
    for (let k = 0; k < 64; k++) {
      if (!strategy.beginRun(strategyRun, runs)) {
        strategy = makeStrategy();
        strategyRun = 0;
        strategy.beginRun(0, runs);
      }
      world.reset(runs);
      program.start(world);
      world.run(strategy);
      if (world.end !== RunEnd.Pruned) program.finish?.(world);
      strategy.endRun(world);
      strategyRun++;
      runs++;
      steps += world.steps;
    }
    now = performance.now();
  }
  const secs = (now - t0) / 1000;
  return { runsPerSec: runs / secs, stepsPerSec: steps / secs };
}

async function portfolioRunsPerSec(workers: number, ms: number): Promise<number> {
  const pool = new WorkerPool(workers);
  const job = { source: { kind: 'builtin', name: 'lost-update' } as const, spec: { name: 'random' } as const, runs: 1e9, shrink: false, kernel: undefined };
  try {
    // Warm up: load tsx and the scenario in every worker, let the JIT settle.
    await Promise.all(Array.from({ length: workers }, (_, i) => pool.run({ ...job, seed: i, timeLimitMs: 500 })));
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: workers }, (_, i) => pool.run({ ...job, seed: 100 + i, timeLimitMs: ms })));
    const secs = (performance.now() - t0) / 1000;
    return results.reduce((n, r) => n + r.runs, 0) / secs;
  } finally {
    await pool.close();
  }
}

/** Runs the engine benchmarks and prints a table. */
export async function main(print = true): Promise<EngineFigure[]> {
  const lostUpdate = catalogue.find((s) => s.name === 'lost-update')!;
  measureRuns(pingPong, () => new RandomStrategy(), 300); // warm-up
  const pp = measureRuns(pingPong, () => new RandomStrategy(), 2000);
  measureRuns(lostUpdate, () => new RandomStrategy(), 300);
  const luRandom = measureRuns(lostUpdate, () => new RandomStrategy(), 2000);
  const luDfs = measureRuns(lostUpdate, () => new DfsStrategy(Infinity), 2000);
  const one = await portfolioRunsPerSec(1, 3000);
  const two = await portfolioRunsPerSec(2, 3000);
  const figures: EngineFigure[] = [
    { name: `ping-pong, ${PING_PONG_POINTS} points, tracing off, random`, value: pp.stepsPerSec, unit: 'steps/s' },
    { name: 'lost-update, random', value: luRandom.runsPerSec, unit: 'runs/s' },
    { name: 'lost-update, dfs (unbounded, restarted on exhaustion)', value: luDfs.runsPerSec, unit: 'runs/s' },
    { name: 'lost-update, random on 1 worker thread', value: one, unit: 'runs/s' },
    { name: 'lost-update, random on 2 worker threads', value: two, unit: 'runs/s' },
    { name: 'speed-up of 2 workers over 1', value: two / one, unit: 'x' },
  ];
  if (print) {
    console.log('engine');
    for (const f of figures) {
      const v = f.unit === 'x' ? f.value.toFixed(2) : Math.round(f.value).toLocaleString('en-US');
      console.log(`  ${f.name.padEnd(56)}${v.padStart(14)} ${f.unit}`);
    }
  }
  return figures;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
