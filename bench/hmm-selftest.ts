/**
 * `npm run bench -- hmm-selftest`: the selftest's benchmark_thp_migration case
 * (hmm-tests.c; dmirror.md §2.3 case 38) on the model. For each buffer size, with THP
 * (MADV_HUGEPAGE: the buffer's PMDs move as device THPs, v6.19) and without (MADV_NOHUGEPAGE):
 * map, fill int k with k & 0xFF, warm up with one migration to the device and one back, then time
 * 5 iterations of MIGRATE_TO_DEV and MIGRATE_TO_SYS. It prints, as the kernel's case does, the
 * average time of each direction with and without THP, the throughput, and the improvement THP
 * brings. Times are host wall-clock time of the model (the model's own time is virtual), so they
 * measure hmmsim, not a kernel. The 256 MiB step takes minutes: pass `--full` to include it.
 */
import { checkScenario } from '../src/check/run.ts';
import { defineScenario } from '../src/check/scenario.ts';
import { memory_system, mm_create, type Mm } from '../src/mm/mm-struct.ts';
import { dmirror_fops_open, dmirror_fops_release, dmirror_module_init, type DmirrorModule } from '../src/devices/dmirror/index.ts';
import { BENCHMARK_ITERATIONS, BENCHMARK_SIZES, benchmarkRun } from '../scenarios/hmm-tests/cases-migrate-thp.ts';
import type { TestContext } from '../scenarios/hmm-tests/harness.ts';

interface Timing {
  toDevMs: number;
  toSysMs: number;
  ok: boolean;
}

/** One benchmark run of `size` bytes, with or without THP: average ms per direction. */
function benchOne(size: number, thp: boolean): Timing {
  const result: Timing = { toDevMs: 0, toSysMs: 0, ok: false };
  const s = defineScenario<{ mm: Mm; mod: DmirrorModule }>({
    name: 'benchmark_thp_migration',
    description: `hmm-tests benchmark_thp_migration, ${thp ? 'with' : 'without'} THP`,
    maxRuns: 1,
    maxSteps: 1e9,
    setup(world) {
      memory_system(world, { thp: 'madvise' });
      const mm = mm_create(world, { name: 'bench' });
      return { mm, mod: dmirror_module_init(world) };
    },
    tasks: {
      *bench(st, world) {
        yield world.point('start');
        const fd = yield* dmirror_fops_open(st.mod, 0, st.mm);
        if (typeof fd === 'number') return;
        let failed = '';
        const t: TestContext = {
          world,
          mm: st.mm,
          mod: st.mod,
          fd,
          fd0: fd,
          fd1: fd,
          coherent: false,
          ASSERT(ok, what) {
            if (!ok) throw new Error((failed = what));
          },
          ASSERT_EQ(got, want, what) {
            if (got !== want) throw new Error((failed = `${what}: got ${got}, want ${want}`));
          },
          EXPECT_EQ() {},
          SKIP(reason) {
            throw new Error((failed = `SKIP: ${reason}`));
          },
          *open(minor) {
            return yield* dmirror_fops_open(st.mod, minor, st.mm);
          },
        };
        let t0 = 0;
        const mark = (phase: 'start' | 'to-dev' | 'to-sys'): void => {
          const now = performance.now();
          if (phase === 'to-dev') result.toDevMs += now - t0;
          if (phase === 'to-sys') result.toSysMs += now - t0;
          t0 = now;
        };
        try {
          yield* benchmarkRun(t, size, thp, BENCHMARK_ITERATIONS, (phase) => mark(phase), () => mark('start'));
        } catch (e) {
          if (failed === '') throw e;
          console.log(`  FAILED: ${failed}`);
          return;
        }
        yield* dmirror_fops_release(fd);
        result.ok = true;
      },
    },
  });
  const r = checkScenario(s, { legs: [{ name: 'random' }], seed: 1, runs: 1, shrink: false });
  if (r.problems.length > 0) {
    result.ok = false;
    for (const p of r.problems.slice(0, 3)) console.log(`  problem: ${p.message.split('\n')[0]}`);
  }
  result.toDevMs /= BENCHMARK_ITERATIONS;
  result.toSysMs /= BENCHMARK_ITERATIONS;
  return result;
}

function gbps(size: number, ms: number): number {
  return ms > 0 ? size / (ms / 1000) / 1e9 : 0;
}

function improvement(withThp: number, without: number): number {
  return without > 0 ? ((without - withThp) / without) * 100 : 0;
}

/** Runs the benchmark and prints its tables. */
export async function main(): Promise<void> {
  const full = process.argv.includes('--full');
  const sizes = full ? BENCHMARK_SIZES : BENCHMARK_SIZES.filter((s) => s <= 16 << 20);
  console.log('hmm-selftest: benchmark_thp_migration on the model (host ms per migration, average of 5; machine may be shared)');
  for (const size of sizes) {
    const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
    const w = benchOne(size, true);
    const wo = benchOne(size, false);
    console.log(`\n=== ${label} ===${w.ok && wo.ok ? '' : '  FAILED'}`);
    console.log('                     | With THP        | Without THP     | Improvement');
    console.log(`Sys->Dev Migration   | ${w.toDevMs.toFixed(3).padStart(9)} ms    | ${wo.toDevMs.toFixed(3).padStart(9)} ms    | ${improvement(w.toDevMs, wo.toDevMs).toFixed(1)}%`);
    console.log(`Dev->Sys Migration   | ${w.toSysMs.toFixed(3).padStart(9)} ms    | ${wo.toSysMs.toFixed(3).padStart(9)} ms    | ${improvement(w.toSysMs, wo.toSysMs).toFixed(1)}%`);
    console.log(`S->D Throughput      | ${gbps(size, w.toDevMs).toFixed(2).padStart(9)} GB/s  | ${gbps(size, wo.toDevMs).toFixed(2).padStart(9)} GB/s  |`);
    console.log(`D->S Throughput      | ${gbps(size, w.toSysMs).toFixed(2).padStart(9)} GB/s  | ${gbps(size, wo.toSysMs).toFixed(2).padStart(9)} GB/s  |`);
  }
  if (!full) console.log('\n(256 MiB step left out: pass --full)');
}
