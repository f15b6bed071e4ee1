/**
 * Benchmark: what the lock validator costs in the explorer.
 *
 * A lock-heavy scenario (three tasks, each taking a nest of a spinlock, a mutex and an rwsem a
 * hundred times, in one consistent order) is explored under the random strategy with lockdep on
 * (the default: one graph for the whole exploration, chains cached) and off, in alternating
 * rounds (median of five each, so a busy machine skews both alike). Reported: scheduling steps/s
 * for each and the validator's share of the time. Goal: at most 30% once chains are
 * cached (the warm-up run fills the cache).
 *
 * Run: `npx tsx bench/lockdep.ts` (or `npm run bench -- lockdep`).
 */
import { pathToFileURL } from 'node:url';
import { defineScenario } from '../src/check/scenario.ts';
import { setLockdepMode, type LockdepMode } from '../src/locking/kernel.ts';
import { Mutex, mutex_lock, mutex_unlock } from '../src/locking/mutex.ts';
import { down_read, RwSemaphore, up_read } from '../src/locking/rwsem.ts';
import { Spinlock, spin_lock, spin_unlock } from '../src/locking/spinlock.ts';
import { RandomStrategy } from '../src/sim/strategies/random.ts';
import { RunEnd, World } from '../src/sim/world.ts';

const ROUNDS = 100;

function lockHeavy(mode: LockdepMode) {
  return defineScenario({
    name: `lock-heavy-${mode}`,
    description: 'nested locking in a consistent order',
    setup: (w) => {
      setLockdepMode(w, mode);
      return { sem: new RwSemaphore(w, 'sem'), m: new Mutex(w, 'm'), l: new Spinlock(w, 'l') };
    },
    tasks: Object.fromEntries(
      ['t0', 't1', 't2'].map((n) => [
        n,
        function* (s: { sem: RwSemaphore; m: Mutex; l: Spinlock }) {
          for (let i = 0; i < ROUNDS; i++) {
            yield* down_read(s.sem);
            yield* mutex_lock(s.m);
            yield* spin_lock(s.l);
            yield* spin_unlock(s.l);
            yield* mutex_unlock(s.m);
            yield* up_read(s.sem);
          }
        },
      ]),
    ),
  });
}

function stepsPerSecond(mode: LockdepMode, ms: number): number {
  const sc = lockHeavy(mode);
  const world = new World();
  const strategy = new RandomStrategy();
  let steps = 0;
  let run = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    strategy.beginRun(run, run);
    world.reset(run);
    sc.start(world);
    world.run(strategy);
    if (world.end !== RunEnd.Pruned) sc.finish?.(world);
    if (world.findings.length > 0) throw new Error(`unexpected finding: ${world.findings[0]!.message}`);
    steps += world.steps;
    run++;
  }
  return steps / ((performance.now() - t0) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Runs the benchmark and prints its figures. On and off alternate, and each reports its median round. */
export function main(print = true): { on: number; off: number; cost: number } {
  stepsPerSecond('exploration', 500);
  stepsPerSecond('off', 500);
  const ons: number[] = [];
  const offs: number[] = [];
  for (let round = 0; round < 5; round++) {
    ons.push(stepsPerSecond('exploration', 800));
    offs.push(stepsPerSecond('off', 800));
  }
  const on = median(ons);
  const off = median(offs);
  const cost = 1 - on / off;
  if (print) {
    console.log('lockdep (lock-heavy scenario, random strategy, chains cached)');
    console.log(`  validator on   ${Math.round(on).toLocaleString('en-US').padStart(14)} steps/s`);
    console.log(`  validator off  ${Math.round(off).toLocaleString('en-US').padStart(14)} steps/s`);
    console.log(`  validator cost ${(cost * 100).toFixed(1).padStart(13)} % of throughput`);
  }
  return { on, off, cost };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
