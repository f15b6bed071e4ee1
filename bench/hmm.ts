/**
 * Benchmark: the hmm layer at scale, through the task API, lockdep on.
 *
 * - snapshot: hmm_range_fault without REQ_FAULT over a populated 1 GiB range (pages/s);
 * - faulting: hmm_range_fault with REQ_FAULT | REQ_WRITE over an untouched 1 GiB range, the
 *   driver loop restarting on -EBUSY as the fault invalidations bump the sequence (pages/s);
 * - migrate round trip: 64 MiB migrated to device memory and back by the reference driver
 *   (migrate_vma_setup/pages/finalize twice, data copied both ways), pages/s of the round trip.
 * The snapshot should beat bench/mm's fault-in rate.
 *
 * Run: `npx tsx bench/hmm.ts [snapshotPages] [migratePages]`; `main()` is exported for
 * bench/run.ts. Timing uses performance.now(): the bench drives the model from outside.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { EBUSY } from '../src/locking/errno.js';
import { setLockdepMode } from '../src/locking/kernel.js';
import { mmap_read_lock, mmap_read_unlock } from '../src/locking/mmap-lock.js';
import { MmuIntervalNotifier, mmu_interval_notifier_insert, mmu_interval_read_begin, mmu_interval_set_seq } from '../src/notifier/interval.js';
import { NonPreemptiveStrategy } from '../src/sim/strategies/non-preemptive.js';
import { World } from '../src/sim/world.js';
import { mm_create, type Mm } from '../src/mm/mm-struct.ts';
import { sys_mmap } from '../src/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../src/mm/vma-ops.ts';
import { HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, HMM_PFN_VALID } from '../src/hmm/hmm-pfn.ts';
import { hmm_range_fault } from '../src/hmm/hmm-range-fault.ts';
import { HmmRange } from '../src/hmm/range.ts';
import { HmmMirror } from '../src/devices/hmm-mirror.ts';

/** What this benchmark reports. */
export interface HmmBenchResult {
  pages: number;
  snapshotPagesPerSec: number;
  faultPagesPerSec: number;
  migratePages: number;
  migrateRoundTripPagesPerSec: number;
}

function* fullRange(mm: Mm, sub: MmuIntervalNotifier, range: HmmRange): Generator<unknown, void, unknown> {
  for (;;) {
    range.notifier_seq = yield* mmu_interval_read_begin(sub);
    yield* mmap_read_lock(mm);
    const r = yield* hmm_range_fault(range);
    yield* mmap_read_unlock(mm);
    if (r === 0) return;
    if (r !== -EBUSY) throw new Error(`hmm_range_fault: ${r}`);
  }
}

/** Runs the benchmark. @param pages pages per hmm_range_fault (default 2^18 = 1 GiB). */
export function main(pages = 1 << 18, migratePages = 1 << 14, print = true): HmmBenchResult {
  const len = pages * 4096;
  const world = new World();
  world.reset(1);
  world.maxSteps = Number.MAX_SAFE_INTEGER;
  setLockdepMode(world, 'exploration');
  const marks: number[] = [];
  const stamp = (): void => {
    marks.push(performance.now());
  };
  world.spawn('bench', function* () {
    yield world.point('start');
    const mm = mm_create(world, { name: 'bench' });
    const sub = new MmuIntervalNotifier(
      {
        *invalidate(s, _r, cur) {
          mmu_interval_set_seq(s, cur);
          return true;
        },
      },
      'bench-notifier',
    );
    const populated = (yield* sys_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)) as number;
    const untouched = (yield* sys_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)) as number;
    const lo = Math.min(populated, untouched);
    yield* mmu_interval_notifier_insert(sub, mm, lo, 2 * len);
    const snap = new HmmRange({ notifier: sub, start: populated, end: populated + len, hmm_pfns: new BigUint64Array(pages) });
    stamp();
    yield* fullRange(mm, sub, snap);
    stamp();
    if ((snap.hmm_pfns[pages - 1]! & HMM_PFN_VALID) === 0n) throw new Error('snapshot: last page not valid');
    const fault = new HmmRange({
      notifier: sub,
      start: untouched,
      end: untouched + len,
      hmm_pfns: new BigUint64Array(pages),
      default_flags: HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
    });
    stamp();
    yield* fullRange(mm, sub, fault);
    stamp();
    // The migrate round trip, in a separate mm so the first two do not weigh on its rmap walks.
    const mm2 = mm_create(world, { name: 'bench2' });
    const dev = new HmmMirror(world, mm2, 'correct', 'dmirror', migratePages);
    const m = (yield* sys_mmap(mm2, 0, migratePages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)) as number;
    yield* dev.insert(m, migratePages * 4096);
    stamp();
    const r1 = yield* dev.migrateToDevice(m, m + migratePages * 4096);
    const r2 = yield* dev.migrateToRam(m, m + migratePages * 4096);
    stamp();
    if (r1 !== 0 || r2 !== 0) throw new Error(`migration failed: ${r1} ${r2}`);
    if (dev.free.length !== migratePages) throw new Error(`device pages not all back: ${dev.free.length}`);
  });
  world.run(new NonPreemptiveStrategy());
  if (world.findings.length > 0) throw new Error(`bench run had findings: ${world.findings.map((f) => f.message).join('; ')}`);
  const sec = (i: number): number => (marks[i + 1]! - marks[i]!) / 1000;
  const res: HmmBenchResult = {
    pages,
    snapshotPagesPerSec: pages / sec(0),
    faultPagesPerSec: pages / sec(2),
    migratePages,
    migrateRoundTripPagesPerSec: migratePages / sec(4),
  };
  if (print) {
    console.log(`hmm: ${pages.toLocaleString('en-US')} pages (${(len / 2 ** 30).toFixed(2)} GiB) per hmm_range_fault; migrate ${(migratePages * 4096) / 2 ** 20} MiB`);
    console.log(`  snapshot (populated, no fault)      ${Math.round(res.snapshotPagesPerSec).toLocaleString('en-US')} pages/s`);
    console.log(`  faulting (untouched, REQ_WRITE)     ${Math.round(res.faultPagesPerSec).toLocaleString('en-US')} pages/s`);
    console.log(`  migrate round trip (to device+back) ${Math.round(res.migrateRoundTripPagesPerSec).toLocaleString('en-US')} pages/s`);
  }
  return res;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const a = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const b = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  main(a, b);
}
