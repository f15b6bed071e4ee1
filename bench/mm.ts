/**
 * Benchmark: the mm layer's operations at scale, through the task API.
 *
 * Workload: one task maps a 4 GiB private anonymous region with MAP_POPULATE (1,048,576 pages
 * faulted in for write by the bulk populate path), then munmaps it while 1,000 interval notifiers
 * cover it (each spanning 4 MiB; their callbacks run under the single UNMAP invalidation). Run
 * twice: with base pages (THP never), and with transparent huge pages always on (2,048 PMD
 * faults of 2 MiB folios).
 * Reported:
 * - fault-in rate (pages/s) of the populate, and with THP the PMD faults/s; munmap rate (pages/s)
 *   including the notifier calls;
 * - heap bytes per mapped page, contents excluded: process.memoryUsage() (heapUsed +
 *   arrayBuffers, after forced GCs) after the populate minus before it (goal: at most 32 with
 *   base pages, at most 4 with THP).
 *
 * Run: `npx tsx bench/mm.ts [pages] [never|always]`. `main()` is exported for bench/run.ts. Timing uses
 * performance.now(): the bench drives the model from outside.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { mm_create, type Mm } from '../src/mm/mm-struct.ts';
import { thpStats, type ThpMode } from '../src/mm/huge-memory.ts';
import { memoryOf } from '../src/mm/memory.ts';
import { sys_mmap, sys_munmap } from '../src/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../src/mm/vma-ops.ts';
import { MmuIntervalNotifier, mmu_interval_notifier_insert } from '../src/notifier/interval.js';
import { NonPreemptiveStrategy } from '../src/sim/strategies/non-preemptive.js';
import { World } from '../src/sim/world.js';
import { setLockdepMode } from '../src/locking/kernel.js';
import { gcFunction, used } from './heap.ts';

/** What this benchmark reports. */
export interface MmBenchResult {
  pages: number;
  notifiers: number;
  faultInPagesPerSec: number;
  munmapPagesPerSec: number;
  /** Heap growth per mapped page after the populate (heapUsed + arrayBuffers). */
  bytesPerPage: number;
  /** Callbacks the notifiers received during the munmap. */
  callbacks: number;
  /** THP mode of the run. */
  thp: ThpMode;
  /** PMD faults (2 MiB folios mapped) during the populate, and their rate. */
  pmdFaults: number;
  pmdFaultsPerSec: number;
}

/** Runs the benchmark. @param pages pages to map (default 2^20 = 4 GiB). */
export function main(pages = 1 << 20, notifiers = 1000, print = true, thp?: ThpMode): MmBenchResult {
  if (thp === undefined) {
    const base = main(pages, notifiers, print, 'never');
    main(pages, notifiers, print, 'always');
    return base;
  }
  const gc = gcFunction();
  const len = pages * 4096;
  const world = new World();
  world.reset(1);
  world.maxSteps = Number.MAX_SAFE_INTEGER;
  // Lockdep stays on: the bench measures the model as scenarios run it.
  setLockdepMode(world, 'exploration');
  let mm: Mm | null = null;
  let addr = 0;
  let callbacks = 0;
  const marks: number[] = [];
  const stamp = (): void => {
    marks.push(performance.now());
  };
  let before = 0;
  let after = 0;
  world.spawn('bench', function* () {
    yield world.point('start');
    mm = mm_create(world, { name: 'bench', thp });
    // Register the notifiers first (they cover the region the mmap will pick: set below).
    before = used(gc);
    stamp();
    addr = (yield* sys_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)) as number;
    stamp();
    after = used(gc);
    const span = Math.max(4096, Math.floor(len / notifiers / 4096) * 4096);
    const ops = {
      *invalidate() {
        callbacks++;
        return true;
      },
    };
    for (let i = 0; i < notifiers; i++) {
      const sub = new MmuIntervalNotifier(ops, `n${i}`);
      const r = yield* mmu_interval_notifier_insert(sub, mm, addr + i * span, span);
      if (r !== 0) throw new Error(`insert failed: ${r}`);
    }
    stamp();
    const r = yield* sys_munmap(mm, addr, len);
    if (r !== 0) throw new Error(`munmap failed: ${r}`);
    stamp();
  });
  world.run(new NonPreemptiveStrategy());
  if (world.findings.length > 0) throw new Error(`bench run had findings: ${world.findings.map((f) => f.message).join('; ')}`);
  const fault = (marks[1]! - marks[0]!) / 1000;
  const unmap = (marks[3]! - marks[2]!) / 1000;
  const pmdFaults = thpStats(memoryOf(world)!).faultAlloc;
  const res: MmBenchResult = {
    pages,
    notifiers,
    faultInPagesPerSec: pages / fault,
    munmapPagesPerSec: pages / unmap,
    bytesPerPage: (after - before) / pages,
    callbacks,
    thp,
    pmdFaults,
    pmdFaultsPerSec: pmdFaults / fault,
  };
  if (print) {
    console.log(`mm: ${pages.toLocaleString('en-US')} pages (${(len / 2 ** 30).toFixed(2)} GiB), ${notifiers} interval notifiers, THP ${thp}`);
    console.log(`  fault-in (MAP_POPULATE)   ${Math.round(res.faultInPagesPerSec).toLocaleString('en-US')} pages/s`);
    if (pmdFaults > 0) console.log(`  PMD faults                ${pmdFaults.toLocaleString('en-US')} (${Math.round(res.pmdFaultsPerSec).toLocaleString('en-US')}/s)`);
    console.log(`  munmap + notifiers        ${Math.round(res.munmapPagesPerSec).toLocaleString('en-US')} pages/s (${callbacks} callbacks)`);
    console.log(`  heap per mapped page      ${res.bytesPerPage.toFixed(2)} bytes (goal <= ${thp === 'never' ? 32 : 4}, contents excluded)`);
  }
  return res;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const mode = process.argv[3] as ThpMode | undefined;
  main(n, 1000, true, mode);
}
