/**
 * Benchmark: what the lock validator costs in the explorer.
 *
 * A lock-heavy scenario (three tasks, each taking a nest of a spinlock, a mutex and an rwsem a
 * hundred times, in one consistent order) is explored under the random strategy with lockdep on
 * (the default: one graph for the whole exploration, chains cached) and off, in alternating
 * rounds (median of five each, so a busy machine skews both alike). Reported: scheduling steps/s
 * for each and the validator's share of the time. Goal: at most 30% once chains are
 * cached (the warm-up run fills the cache). A second figure does the same for ww_mutex
 * transactions (acquire contexts, nest-lock merging, -EDEADLK back-off), the GPU drivers' pattern.
 *
 * Run: `npx tsx bench/lockdep.ts` (or `npm run bench -- lockdep`).
 */
import { pathToFileURL } from 'node:url';
import { defineScenario } from '../src/check/scenario.ts';
import { setLockdepMode, type LockdepMode } from '../src/locking/kernel.ts';
import { Mutex, mutex_lock, mutex_unlock } from '../src/locking/mutex.ts';
import { down_read, RwSemaphore, up_read } from '../src/locking/rwsem.ts';
import { Spinlock, spin_lock, spin_unlock } from '../src/locking/spinlock.ts';
import { EDEADLK } from '../src/locking/errno.ts';
import { DEFINE_WD_CLASS, WwAcquireCtx, WwMutex, ww_acquire_fini, ww_acquire_init, ww_mutex_lock, ww_mutex_lock_slow, ww_mutex_unlock } from '../src/locking/ww-mutex.ts';
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

const wwBench = DEFINE_WD_CLASS('bench_ww_class');
const WW_ROUNDS = 40;

/** Locks `objs` through `ctx` with the -EDEADLK back-off loop drivers use. */
function* lockAll(objs: WwMutex[], ctx: WwAcquireCtx): Generator<unknown, void, unknown> {
  let contended: WwMutex | null = null;
  for (;;) {
    if (contended !== null) yield* ww_mutex_lock_slow(contended, ctx);
    const held: WwMutex[] = contended !== null ? [contended] : [];
    let failed: WwMutex | null = null;
    for (const o of objs) {
      if (o === contended) continue;
      if ((yield* ww_mutex_lock(o, ctx)) === -EDEADLK) {
        failed = o;
        break;
      }
      held.push(o);
    }
    if (failed === null) return;
    for (const o of held) yield* ww_mutex_unlock(o);
    contended = failed;
  }
}

/** Three transactions locking four buffer objects of one ww class in different orders, with a spinlock inside. */
function wwHeavy(mode: LockdepMode) {
  return defineScenario({
    name: `ww-heavy-${mode}`,
    description: 'ww_mutex transactions with back-off',
    setup: (w) => {
      setLockdepMode(w, mode);
      return { bos: ['a', 'b', 'c', 'd'].map((n) => new WwMutex(w, n, wwBench)), l: new Spinlock(w, 'lru_lock') };
    },
    tasks: Object.fromEntries(
      [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [1, 3, 0, 2],
      ].map((order, i) => [
        `t${i}`,
        function* (s: { bos: WwMutex[]; l: Spinlock }) {
          const objs = order.map((j) => s.bos[j]!);
          for (let r = 0; r < WW_ROUNDS; r++) {
            const ctx = new WwAcquireCtx();
            ww_acquire_init(ctx, wwBench);
            yield* lockAll(objs, ctx);
            yield* spin_lock(s.l);
            yield* spin_unlock(s.l);
            for (const o of objs) yield* ww_mutex_unlock(o);
            ww_acquire_fini(ctx);
          }
        },
      ]),
    ),
  });
}

type Bench = (mode: LockdepMode) => ReturnType<typeof lockHeavy>;

function stepsPerSecond(make: Bench, mode: LockdepMode, ms: number): number {
  const sc = make(mode);
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

/** One figure: on and off alternate, and each reports its median round. */
function measure(make: Bench, title: string, print: boolean): { on: number; off: number; cost: number } {
  stepsPerSecond(make, 'exploration', 500);
  stepsPerSecond(make, 'off', 500);
  const ons: number[] = [];
  const offs: number[] = [];
  for (let round = 0; round < 5; round++) {
    ons.push(stepsPerSecond(make, 'exploration', 800));
    offs.push(stepsPerSecond(make, 'off', 800));
  }
  const on = median(ons);
  const off = median(offs);
  const cost = 1 - on / off;
  if (print) {
    console.log(`lockdep (${title}, random strategy, chains cached)`);
    console.log(`  validator on   ${Math.round(on).toLocaleString('en-US').padStart(14)} steps/s`);
    console.log(`  validator off  ${Math.round(off).toLocaleString('en-US').padStart(14)} steps/s`);
    console.log(`  validator cost ${(cost * 100).toFixed(1).padStart(13)} % of throughput`);
  }
  return { on, off, cost };
}

/** Runs the benchmark and prints its figures: the lock-heavy scenario, then the ww_mutex-heavy one. */
export function main(print = true): { on: number; off: number; cost: number; ww: { on: number; off: number; cost: number } } {
  const plain = measure(lockHeavy, 'lock-heavy scenario', print);
  const ww = measure(wwHeavy, 'ww_mutex-heavy scenario', print);
  return { ...plain, ww };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
