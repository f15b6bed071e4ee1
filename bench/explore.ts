/**
 * Benchmark: whole-run exploration speed of catalogue scenarios in one thread, the figure a user
 * sees per core in `hmmsim check`.
 *
 * For each scenario and strategy, `explore()` (the real exploration loop, shrinking off) runs for
 * a fixed time, several rounds; the table shows the median runs/s and the spread. Scenarios
 * alternate round by round, so load from other processes on the machine skews them alike.
 *
 * Goals (issue 14, medians in one process on the 2-core development machine): s-seq-1 and
 * s-pair-1 at least 40k runs/s, s-seq-1-mm at least 15k, lost-update at least 500k.
 *
 * Besides wall-clock runs/s the table shows runs per CPU-second of this process (user + system,
 * garbage-collector threads included): on a machine shared with other work, wall time counts the
 * time other processes had the core, CPU time does not, so the CPU figure is the steadier one.
 *
 * Run: `npx tsx bench/explore.ts [--rounds N] [--ms M] [--json]` (or `npm run bench -- explore`).
 */
import { pathToFileURL } from 'node:url';
import { catalogue } from '../scenarios/index.ts';
import { explore } from '../src/sim/explore.ts';
import { DfsStrategy } from '../src/sim/strategies/dfs.ts';
import { PctStrategy } from '../src/sim/strategies/pct.ts';
import { RandomStrategy } from '../src/sim/strategies/random.ts';
import type { Strategy } from '../src/sim/strategy.ts';

/** The scenarios measured: two on the CPU stand-in, one on the real address space, the toy race. */
export const EXPLORE_SCENARIOS = ['s-seq-1', 's-pair-1', 's-seq-1-mm', 'lost-update'] as const;

const STRATEGIES: Record<string, () => Strategy> = {
  random: () => new RandomStrategy(),
  pct: () => new PctStrategy(3),
  // Unbounded DFS; a finished search starts again (explore stops when it is exhausted, we loop).
  dfs: () => new DfsStrategy(Infinity),
};

/** One figure: median runs/s of a scenario under a strategy. */
export interface ExploreFigure {
  readonly scenario: string;
  readonly strategy: string;
  /** Median runs per wall-clock second. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Median runs per CPU-second of this process. */
  readonly cpuMedian: number;
}

interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function runsPerSecond(name: string, strategy: string, ms: number): Sample {
  const scenario = catalogue.find((s) => s.name === name);
  if (scenario === undefined) throw new Error(`bench/explore: no scenario '${name}' in the catalogue`);
  const clock = () => performance.now();
  let runs = 0;
  const c0 = cpuSeconds();
  const t0 = clock();
  let seed = 1;
  // DFS may exhaust a small space before the time is up: start a fresh search, as bench/engine does.
  while (clock() - t0 < ms) {
    const left = ms - (clock() - t0);
    const r = explore(scenario, STRATEGIES[strategy]!(), { seed: seed++, maxRuns: 1e9, timeLimitMs: left, clock, shrink: false });
    runs += r.runs;
  }
  return { wall: (runs * 1000) / (clock() - t0), cpu: runs / (cpuSeconds() - c0) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs the exploration benchmark and prints a table. */
export async function main(print = true, rounds = 5, ms = 1000, strategies = ['random', 'dfs']): Promise<ExploreFigure[]> {
  const samples = new Map<string, Sample[]>();
  for (const name of EXPLORE_SCENARIOS) for (const st of strategies) runsPerSecond(name, st, 200); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const name of EXPLORE_SCENARIOS) {
      for (const st of strategies) {
        const key = `${name}\u0000${st}`;
        const xs = samples.get(key) ?? [];
        xs.push(runsPerSecond(name, st, ms));
        samples.set(key, xs);
      }
    }
  }
  const figures: ExploreFigure[] = [];
  for (const [key, ss] of samples) {
    const [scenario, strategy] = key.split('\u0000') as [string, string];
    const xs = ss.map((x) => x.wall);
    figures.push({ scenario, strategy, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), cpuMedian: median(ss.map((x) => x.cpu)) });
  }
  if (print) {
    console.log(`explore (one thread, shrinking off; median of ${rounds} rounds of ${ms} ms; the machine is shared, figures are noisy)`);
    console.log(`  ${'scenario, strategy'.padEnd(28)}${'runs/s'.padStart(12)}  ${'(min .. max)'.padEnd(22)}${'runs/CPU-s'.padStart(12)}`);
    for (const f of figures) {
      const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
      console.log(`  ${`${f.scenario}, ${f.strategy}`.padEnd(28)}${fmt(f.median).padStart(12)}  ${`(${fmt(f.min)} .. ${fmt(f.max)})`.padEnd(22)}${fmt(f.cpuMedian).padStart(12)}`);
    }
  }
  return figures;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const figures = await main(!process.argv.includes('--json'), Number(arg('rounds') ?? 5), Number(arg('ms') ?? 1000), (arg('strategies') ?? 'random,dfs').split(','));
  if (process.argv.includes('--json')) console.log(JSON.stringify(figures));
}
