/**
 * Micro-benchmark of the pure validator's hot path: acquire/release on a
 * chain-cache hit, as the explorer drives it millions of times.
 *
 *   npx tsx bench/lockdep-hot-path.ts
 *   node --expose-gc --import tsx bench/lockdep-hot-path.ts   # also checks heap growth
 */
import { Lockdep, LockdepMap, type Where } from '../src/lockdep/index.ts';

const ld = new Lockdep();
ld.beginRun('bench');
const maps = ['&mm->mmap_lock', '&drv->lock', '&pt->ptl', '&obj->lock'].map(
  (n, i) => new LockdepMap(n, { wait: i === 2 ? 'spin' : 'sleep' }),
);
const where: { taskName: string; step: number; stack: string[] } & Where = { taskName: 'bench', step: 0, stack: ['bench'] };
const READ = { read: 1 as const };

function episode(task: number): void {
  where.step++;
  ld.acquire(task, maps[0]!, READ, where);
  ld.acquire(task, maps[1]!, undefined, where);
  ld.acquire(task, maps[2]!, undefined, where);
  ld.release(task, maps[2]!, where);
  ld.acquire(task, maps[3]!, undefined, where);
  ld.release(task, maps[3]!, where);
  ld.release(task, maps[1]!, where);
  ld.release(task, maps[0]!, where);
}

const gc = (globalThis as { gc?: () => void }).gc;
for (let i = 0; i < 200_000; i++) episode(i & 3); // warm up JIT and the cache
gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const N = 2_000_000;
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) episode(i & 3);
const t1 = process.hrtime.bigint();
gc?.();
const heapAfter = process.memoryUsage().heapUsed;
const ops = N * 8;
const ns = Number(t1 - t0);
const s = ld.stats();
console.log(`lockdep hot path: ${ops} ops in ${(ns / 1e6).toFixed(0)} ms = ${((ops / ns) * 1e3).toFixed(1)} M ops/s (${(ns / ops).toFixed(1)} ns/op)`);
console.log(`chain cache: ${s.chainHits} hits, ${s.chainMisses} misses, ${s.chains} chains; ${s.edges} edges; reports ${ld.reports.length}`);
if (gc) console.log(`heap growth over the timed loop: ${((heapAfter - heapBefore) / 1024).toFixed(1)} KiB`);
