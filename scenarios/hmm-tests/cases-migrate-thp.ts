/**
 * hmm-tests.c cases that migrate transparent huge pages to the device and back (dmirror.md §2.3
 * cases 30–33, 35–38, and migrate_partial_unmap_fault, which the spec leaves out; added to the selftest with device-private THP migration, v6.19). Each maps
 * twice the PMD size, aligns a pointer up to it and madvises MADV_HUGEPAGE (or collapses), as the
 * kernel's do; runs use THP mode `madvise`, the selftest machine's usual setting.
 *
 * Under a kernel without device THP migration the contents cases still pass (collect splits the
 * THP first); those that assert what only v6.19 does (a PMD-mapped device folio, the fail-alloc
 * flag's split paths) SKIP there.
 */
import type { KernelContract } from '../../src/locking/version.js';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { read32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { PAGE_SIZE, PMD_SIZE } from '../../src/mm/constants.ts';
import { MADV_FREE, sys_madvise } from '../../src/mm/madvise.ts';
import { MADV_COLLAPSE, MADV_HUGEPAGE, MADV_NOHUGEPAGE } from '../../src/mm/khugepaged.ts';
import type { Mm } from '../../src/mm/mm-struct.ts';
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, sys_mremap } from '../../src/mm/mremap.ts';
import { PTE_KIND_BITS, PTE_KIND_NONE, PTE_KIND_PRESENT } from '../../src/mm/pte.ts';
import {
  HMM_DMIRROR_FLAGS,
  HMM_DMIRROR_FLAG_FAIL_ALLOC,
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_MIGRATE_TO_SYS,
  HMM_DMIRROR_SNAPSHOT,
} from '../../src/devices/dmirror/index.ts';
import { TWOMEG, cpuCheckInts, cpuFillInts, hmmBuffer, hmm_dmirror_cmd, mirrorFill, mirrorMismatch, type CaseSpec, type HmmBuffer, type TestContext } from './harness.ts';

type Gen<T> = Generator<unknown, T, unknown>;

const ident = (k: number): number => k;
const zero = (): number => 0;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** The cases that need what v6.19 brought: a PMD-mapped device folio, or the FLAGS command's split paths. */
function needsDeviceThp(kernel: KernelContract): string | null {
  return kernel.deviceThpMigration === true
    ? null
    : `needs device-private THP migration and HMM_DMIRROR_FLAGS (v6.19+); kernel ${kernel.name} splits THPs in migrate_vma and its test_hmm has neither`;
}

/** A THP test buffer: 2 x size mapped at `old`, `b.ptr` aligned up to the PMD size, advised. */
interface ThpBuffer {
  b: HmmBuffer;
  old: number;
}

function* mapThp(t: TestContext, prot: number, mirrorBytes: number, advice = MADV_HUGEPAGE): Gen<ThpBuffer> {
  const size = TWOMEG;
  const b = hmmBuffer(size, mirrorBytes);
  mirrorFill(b.mirror, mirrorBytes / 4, () => -1);
  const old = yield* sys_mmap(t.mm, 0, 2 * size, prot, ANON);
  t.ASSERT(old >= 0, 'buffer->ptr != MAP_FAILED');
  const map = Math.ceil(old / PMD_SIZE) * PMD_SIZE;
  if (advice >= 0) t.ASSERT_EQ(yield* sys_madvise(t.mm, map, size, advice), 0, 'madvise');
  b.ptr = map;
  return { b, old };
}

function* toDev(t: TestContext, b: HmmBuffer, npages: number): Gen<void> {
  t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, npages), 0, 'MIGRATE_TO_DEV');
  t.ASSERT_EQ(b.cpages, npages, 'cpages');
}

function* setFailAlloc(t: TestContext, b: HmmBuffer): Gen<void> {
  t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_FLAGS, b, HMM_DMIRROR_FLAG_FAIL_ALLOC), 0, 'FLAGS');
}

function* checkCpu(t: TestContext, mm: Mm, addr: number, n: number, want: (k: number) => number, what: string): Gen<void> {
  const r = yield* cpuCheckInts(mm, addr, 0, n, want);
  if (typeof r === 'object') t.ASSERT_EQ(r.error, 0, `${what}: CPU access`);
  else t.ASSERT_EQ(r, -1, `${what}: first int that differs`);
}

/** One int read by the CPU (faulting as a load would). */
function* cpuInt(t: TestContext, addr: number): Gen<number> {
  const v = yield* read32(t.mm, addr);
  t.ASSERT(v >= 0 || v < -4095, `CPU read at 0x${addr.toString(16)} faulted`);
  return v;
}

/**
 * What /proc/self/pagemap reports for the page at `addr`: bit 63 present, bit 62 swapped (any
 * swap-format entry: swap, migration, device-private, device-exclusive). Returned as [present, swap].
 */
function pagemapBits(mm: Mm, addr: number): [boolean, boolean] {
  const kind = mm.pt.get(addr) & PTE_KIND_BITS;
  return [kind === PTE_KIND_PRESENT, kind !== PTE_KIND_PRESENT && kind !== PTE_KIND_NONE];
}

/** The THP cases, in the selftest's order. */
export const thpMigrateCases: readonly CaseSpec[] = [
  {
    fixture: 'hmm',
    name: 'migrate_anon_huge_empty',
    thp: 'madvise',
    *body(t) {
      const { b, old } = yield* mapThp(t, PROT_READ, TWOMEG);
      const npages = TWOMEG / PAGE_SIZE;
      yield* toDev(t, b, npages);
      t.ASSERT_EQ(mirrorMismatch(b.mirror, TWOMEG / 4, zero), -1, 'mirror: first int that differs');
      yield* sys_munmap(t.mm, old, 2 * TWOMEG);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_anon_huge_zero',
    thp: 'madvise',
    *body(t) {
      const { b, old } = yield* mapThp(t, PROT_READ, TWOMEG);
      const npages = TWOMEG / PAGE_SIZE;
      t.ASSERT_EQ(yield* cpuInt(t, b.ptr), 0, 'ptr[0]: the huge zero page');
      yield* toDev(t, b, npages);
      t.ASSERT_EQ(mirrorMismatch(b.mirror, TWOMEG / 4, zero), -1, 'mirror: first int that differs');
      yield* checkCpu(t, t.mm, b.ptr, TWOMEG / 4, zero, 'ptr');
      yield* sys_munmap(t.mm, old, 2 * TWOMEG);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_anon_huge_free',
    thp: 'madvise',
    *body(t) {
      const { b, old } = yield* mapThp(t, PROT_READ | PROT_WRITE, TWOMEG);
      const npages = TWOMEG / PAGE_SIZE;
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, TWOMEG / 4, ident), 0, 'fill');
      yield* toDev(t, b, npages);
      t.ASSERT_EQ(mirrorMismatch(b.mirror, TWOMEG / 4, ident), -1, 'mirror: first int that differs');
      t.ASSERT_EQ(yield* sys_madvise(t.mm, b.ptr, TWOMEG, MADV_FREE), 0, 'madvise(MADV_FREE)');
      yield* sys_munmap(t.mm, old, 2 * TWOMEG);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_anon_huge_fault',
    thp: 'madvise',
    modelLacks: needsDeviceThp,
    *body(t) {
      const { b, old } = yield* mapThp(t, PROT_READ | PROT_WRITE, TWOMEG, -1);
      const npages = TWOMEG / PAGE_SIZE;
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, TWOMEG / 4, ident), 0, 'fill');
      t.ASSERT_EQ(yield* sys_madvise(t.mm, b.ptr, TWOMEG, MADV_COLLAPSE), 0, 'madvise(MADV_COLLAPSE)');
      yield* toDev(t, b, npages);
      t.ASSERT_EQ(mirrorMismatch(b.mirror, TWOMEG / 4, ident), -1, 'mirror: first int that differs');
      if (!t.coherent) {
        t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_SNAPSHOT, b, npages), 0, 'SNAPSHOT');
        t.ASSERT_EQ(b.cpages, npages, 'cpages');
        const bytes = new Uint8Array(b.mirror, 0, npages);
        for (let i = 0; i < npages; i++) t.ASSERT_EQ(bytes[i]!, 0x26, `snapshot byte of page ${i} (DEV_PRIVATE_LOCAL | WRITE | PMD)`);
        for (let i = 0; i < npages; i++) {
          const [present, swap] = pagemapBits(t.mm, b.ptr + i * PAGE_SIZE);
          t.ASSERT(swap, `pagemap of page ${i}: the swap bit (62) is set`);
          t.ASSERT(!present, `pagemap of page ${i}: the present bit (63) is clear`);
        }
      }
      yield* checkCpu(t, t.mm, b.ptr, TWOMEG / 4, ident, 'ptr');
      yield* sys_munmap(t.mm, old, 2 * TWOMEG);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_partial_unmap_fault',
    thp: 'madvise',
    maxSteps: 2_000_000,
    *body(t) {
      const npages = TWOMEG / PAGE_SIZE;
      for (const useThp of [false, true]) {
        for (const offset of [0, 512 * 1024, 1 << 20]) {
          const { b, old } = yield* mapThp(t, PROT_READ | PROT_WRITE, TWOMEG, useThp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
          t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, TWOMEG / 4, ident), 0, 'fill');
          yield* toDev(t, b, npages);
          t.ASSERT_EQ(mirrorMismatch(b.mirror, TWOMEG / 4, ident), -1, 'mirror: first int that differs');
          yield* sys_munmap(t.mm, b.ptr + offset, 1 << 20);
          // Fault the rest back: every int outside the hole.
          yield* checkCpu(t, t.mm, b.ptr, offset / 4, ident, `ptr below the hole (offset ${offset})`);
          const after = offset + (1 << 20);
          const r = yield* cpuCheckInts(t.mm, b.ptr, after / 4, TWOMEG / 4, ident);
          if (typeof r === 'object') t.ASSERT_EQ(r.error, 0, `ptr above the hole (offset ${offset}): CPU access`);
          else t.ASSERT_EQ(r, -1, `ptr above the hole (offset ${offset}): first int that differs`);
          yield* sys_munmap(t.mm, old, 2 * TWOMEG);
        }
      }
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_remap_fault',
    thp: 'madvise',
    maxSteps: 5_000_000,
    *body(t) {
      const size = TWOMEG;
      const npages = size / PAGE_SIZE;
      for (const before of [false, true]) {
        for (const dontUnmap of [false, true]) {
          for (const useThp of [false, true]) {
            for (const offset of [0, 512 * 1024, 1 << 20]) {
              const flags = MREMAP_MAYMOVE | MREMAP_FIXED | (dontUnmap ? MREMAP_DONTUNMAP : 0);
              const b = hmmBuffer(8 * size, size);
              mirrorFill(b.mirror, size / 4, () => -1);
              const old = yield* sys_mmap(t.mm, 0, 8 * size, PROT_READ | PROT_WRITE, ANON);
              t.ASSERT(old >= 0, 'buffer->ptr != MAP_FAILED');
              const map = Math.ceil(old / PMD_SIZE) * PMD_SIZE;
              t.ASSERT_EQ(yield* sys_madvise(t.mm, map, size, useThp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), 0, 'madvise');
              yield* sys_munmap(t.mm, map + size, size * 2);
              b.ptr = map;
              t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, size / 4, ident), 0, 'fill');
              const round = `before=${before} dont_unmap=${dontUnmap} thp=${useThp} offset=${offset}`;
              let moved = 0;
              if (before) {
                moved = yield* sys_mremap(t.mm, map, size, size, flags, map + size + offset);
                t.ASSERT(moved >= 0, `${round}: mremap != MAP_FAILED`);
                b.ptr = moved;
              }
              t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, npages), 0, `${round}: MIGRATE_TO_DEV`);
              t.ASSERT_EQ(b.cpages, npages, `${round}: cpages`);
              t.ASSERT_EQ(mirrorMismatch(b.mirror, size / 4, ident), -1, `${round}: mirror: first int that differs`);
              if (!before) {
                moved = yield* sys_mremap(t.mm, map, size, size, flags, map + size + offset);
                t.ASSERT(moved >= 0, `${round}: mremap != MAP_FAILED`);
                b.ptr = moved;
              }
              yield* checkCpu(t, t.mm, b.ptr, size / 4, ident, `${round}: ptr`);
              yield* sys_munmap(t.mm, moved, size);
              yield* sys_munmap(t.mm, old, 8 * size);
            }
          }
        }
      }
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_anon_huge_err',
    thp: 'madvise',
    modelLacks: needsDeviceThp,
    *body(t) {
      const npages = TWOMEG / PAGE_SIZE;
      let { b, old } = yield* mapThp(t, PROT_READ | PROT_WRITE, 2 * TWOMEG);
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, TWOMEG / 4, ident), 0, 'fill');
      // Phase 1: the large device allocation fails: 512 single device pages, the THP split.
      yield* setFailAlloc(t, b);
      yield* toDev(t, b, npages);
      t.ASSERT_EQ(mirrorMismatch(b.mirror, TWOMEG / 4, ident), -1, 'mirror: first int that differs');
      t.ASSERT_EQ(yield* cpuInt(t, b.ptr + 2048 * 4), 2048, 'ptr[2048]');
      t.ASSERT_EQ(yield* sys_munmap(t.mm, old, 2 * TWOMEG), 0, 'munmap');
      ({ b, old } = yield* mapThp(t, PROT_READ | PROT_WRITE, 2 * TWOMEG));
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, TWOMEG / 4, ident), 0, 'fill');
      yield* toDev(t, b, npages);
      // Phase 2: the large system allocation on the way back fails: order-0 pages, the device THP split.
      yield* setFailAlloc(t, b);
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_SYS, b, npages), 0, 'MIGRATE_TO_SYS');
      t.ASSERT_EQ(yield* cpuInt(t, b.ptr + 2048 * 4), 2048, 'ptr[2048]');
      yield* sys_munmap(t.mm, old, 2 * TWOMEG);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_anon_huge_zero_err',
    thp: 'madvise',
    modelLacks: needsDeviceThp,
    *body(t) {
      const npages = TWOMEG / PAGE_SIZE;
      let { b, old } = yield* mapThp(t, PROT_READ, 2 * TWOMEG);
      yield* setFailAlloc(t, b);
      yield* toDev(t, b, npages);
      t.ASSERT_EQ(mirrorMismatch(b.mirror, TWOMEG / 4, zero), -1, 'mirror: first int that differs');
      const saved = b.ptr;
      t.ASSERT_EQ(yield* cpuInt(t, saved + 2048 * 4), 0, 'ptr[2048]');
      t.ASSERT_EQ(yield* sys_munmap(t.mm, old, 2 * TWOMEG), 0, 'munmap');
      ({ b, old } = yield* mapThp(t, PROT_READ, 2 * TWOMEG));
      // Read through the pointer of the first mapping: the new one lands where it was.
      t.ASSERT_EQ(yield* cpuInt(t, saved), 0, 'ptr[0] through the old pointer');
      yield* setFailAlloc(t, b);
      yield* toDev(t, b, npages);
      yield* checkCpu(t, t.mm, b.ptr, TWOMEG / 4, zero, 'ptr');
      yield* sys_munmap(t.mm, old, 2 * TWOMEG);
    },
  },
  {
    fixture: 'hmm',
    name: 'benchmark_thp_migration',
    thp: 'madvise',
    // The coherent variant has no PMD-sized device folios: every THP is split and moved as 512
    // pages in each size and direction, and overruns the private variant's 20 M steps.
    maxSteps: 400_000_000,
    *body(t) {
      for (const size of BENCHMARK_SIZES) {
        for (const thp of [true, false]) {
          yield* benchmarkRun(t, size, thp, BENCHMARK_ITERATIONS);
        }
      }
    },
  },
];

/** The buffer sizes of benchmark_thp_migration: THP/4 up to 128 x THP. */
export const BENCHMARK_SIZES: readonly number[] = [TWOMEG / 4, TWOMEG / 2, TWOMEG, 2 * TWOMEG, 4 * TWOMEG, 8 * TWOMEG, 128 * TWOMEG];
/** Timed iterations per run (after one warm-up round trip). */
export const BENCHMARK_ITERATIONS = 5;

/**
 * One benchmark run of the selftest's benchmark_thp_migration: map `size` bytes, advise
 * (NO)HUGEPAGE, fill, one warm-up round trip, then `iterations` timed round trips to the device
 * and back; every step must succeed. `onStart` is called before each timed round trip and
 * `onStep` after each of its directions (the benchmark's clock).
 */
export function* benchmarkRun(
  t: TestContext,
  size: number,
  thp: boolean,
  iterations: number,
  onStep?: (phase: 'to-dev' | 'to-sys', iteration: number) => void,
  onStart?: () => void,
): Gen<void> {
  const npages = size / PAGE_SIZE;
  const b = hmmBuffer(size);
  b.ptr = yield* sys_mmap(t.mm, 0, size, PROT_READ | PROT_WRITE, ANON);
  t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
  t.ASSERT_EQ(yield* sys_madvise(t.mm, b.ptr, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), 0, 'madvise');
  t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, size / 4, (k) => k & 0xff), 0, 'fill');
  for (let it = -1; it < iterations; it++) {
    if (it >= 0) onStart?.();
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, npages), 0, 'MIGRATE_TO_DEV');
    if (it >= 0) onStep?.('to-dev', it);
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_SYS, b, npages), 0, 'MIGRATE_TO_SYS');
    if (it >= 0) onStep?.('to-sys', it);
  }
  yield* sys_munmap(t.mm, b.ptr, size);
}
