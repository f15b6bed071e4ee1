/**
 * hmm-tests.c cases on huge pages and fork (dmirror.md §2.3 cases 6, 8, 9, 23):
 * anon_write_child (fork, with and without THP, with and without migration first),
 * anon_write_huge (a THP made by MADV_HUGEPAGE), anon_write_hugetlbfs and compound (a hugetlb
 * page, written by the device, then snapshot at PMD or PUD level).
 *
 * The port runs with THP in `madvise` mode and one 2 MiB page in the hugetlb pool (harness.ts),
 * as the kernel's run after HUGETLB_SETUP_DEFAULT_PAGES(1); the default huge page size is 2 MiB.
 */
import type { KernelContract } from '../../src/locking/version.js';
import { PAGE_SHIFT, PAGE_SIZE, PMD_SIZE } from '../../src/mm/constants.ts';
import { MAP_HUGETLB } from '../../src/mm/hugetlb.ts';
import { MADV_HUGEPAGE, sys_madvise } from '../../src/mm/madvise.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { memoryOf } from '../../src/mm/memory.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import {
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_PUD,
  HMM_DMIRROR_PROT_READ,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_SNAPSHOT,
  HMM_DMIRROR_WRITE,
  dmirror_fops_release,
} from '../../src/devices/dmirror/index.ts';
import {
  HMM_BUFFER_SIZE,
  HUGETLB_SETUP_DEFAULT_PAGES,
  TWOMEG,
  cpuCheckInts,
  cpuFillInts,
  fork,
  hmmBuffer,
  hmm_dmirror_cmd,
  mirrorFill,
  mirrorMismatch,
  waitpid,
  type CaseSpec,
  type HmmBuffer,
  type TestContext,
} from './harness.ts';

type Gen<T> = Generator<unknown, T, unknown>;

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const ident = (k: number): number => k;

/** read_pmd_pagesize(): /sys/kernel/mm/transparent_hugepage/hpage_pmd_size. */
const PMD_PAGESIZE = PMD_SIZE;
/** default_huge_page_size(): Hugepagesize of /proc/meminfo (the model's default is 2 MiB). */
const DEFAULT_HUGE_PAGE_SIZE = 2 * 1024 * 1024;
/** log2 of it: the hugetlb pool the default size draws from. */
const DEFAULT_HUGE_PAGE_SHIFT = 21;

/** ALIGN(x, a) for a power-of-two a. */
function align(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** The kernel's SKIP when no default-size huge page is free, decided from the port's setup. */
function noHugePages(): string | null {
  return HUGETLB_SETUP_DEFAULT_PAGES > 0 ? null : 'Not enough huge pages';
}

/** hugetlb_free_default_pages(): HugePages_Free of the default size, at run time. */
function hugetlbFreeDefaultPages(t: TestContext): number {
  return memoryOf(t.world)?.hugetlb.pool(DEFAULT_HUGE_PAGE_SHIFT).free ?? 0;
}

function* assertCpu(t: TestContext, ptr: number, n: number, want: (k: number) => number, what: string): Gen<void> {
  const r = yield* cpuCheckInts(t.mm, ptr, 0, n, want);
  if (typeof r === 'object') t.ASSERT_EQ(r.error, 0, `${what}: CPU access`);
  else t.ASSERT_EQ(r, -1, `${what}: first int that differs`);
}

/** One round of anon_write_child. */
function* writeChildRound(t: TestContext, migrate: boolean, useThp: boolean): Gen<void> {
  const npages = align(useThp ? PMD_PAGESIZE : HMM_BUFFER_SIZE, PAGE_SIZE) >> PAGE_SHIFT;
  t.ASSERT(npages !== 0, 'npages != 0');
  const size = npages << PAGE_SHIFT;
  const b: HmmBuffer = hmmBuffer(size * 2, size);
  b.ptr = yield* sys_mmap(t.mm, 0, size * 2, RW, ANON);
  t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
  const oldPtr = b.ptr;
  if (useThp) {
    const map = align(b.ptr, size);
    t.ASSERT_EQ(yield* sys_madvise(t.mm, map, size, MADV_HUGEPAGE), 0, 'madvise(MADV_HUGEPAGE)');
    b.ptr = map;
  }
  const n = size / 4;
  t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, n, ident), 0, 'fill ptr');
  mirrorFill(b.mirror, n, (k) => -k);
  if (migrate) {
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, npages), 0, 'MIGRATE_TO_DEV');
    t.ASSERT_EQ(b.cpages, npages, 'cpages');
  }
  const child = yield* fork(t, function* (c) {
    // The child's copy of the buffer record: fork copies the heap.
    const cb: HmmBuffer = { ...b, mirror: b.mirror.slice(0) };
    yield* assertCpu(c, cb.ptr, n, ident, "child sees the parent's values");
    if (!migrate) c.ASSERT_EQ(mirrorMismatch(cb.mirror, n, (k) => -k), -1, 'child: mirror == -i');
    // The child needs its own mirror of its own mm.
    const childFd = yield* c.open(0);
    c.ASSERT(typeof childFd !== 'number', 'child_fd >= 0');
    if (typeof childFd === 'number') return;
    c.ASSERT_EQ(yield* hmm_dmirror_cmd(childFd, HMM_DMIRROR_WRITE, cb, npages), 0, 'WRITE through child_fd');
    c.ASSERT_EQ(cb.cpages, npages, 'cpages');
    c.ASSERT_EQ(cb.faults, 1, 'faults');
    if (!migrate) yield* assertCpu(c, cb.ptr, n, (k) => -k, 'what the device wrote');
    yield* dmirror_fops_release(childFd);
  });
  t.ASSERT(typeof child !== 'number', 'fork() != -1');
  if (typeof child === 'number') return;
  t.ASSERT_EQ((yield* waitpid(t, child)) ? 1 : 0, 1, 'WIFEXITED(child)');
  yield* assertCpu(t, b.ptr, n, ident, "the parent's buffer did not change");
  b.ptr = oldPtr;
  yield* sys_munmap(t.mm, b.ptr, b.size);
}

/** The mapping level bit snapshot byte 0 shows (PUD if it has the PUD bit, else PMD). */
function level(m: Uint8Array): number {
  return (m[0]! & HMM_DMIRROR_PROT_PUD) !== 0 ? HMM_DMIRROR_PROT_PUD : HMM_DMIRROR_PROT_PMD;
}

/** The first page whose byte differs from `want`, or -1. */
function firstOther(m: Uint8Array, npages: number, want: number): number {
  for (let i = 0; i < npages; i++) if (m[i] !== want) return i;
  return -1;
}

/** anon_write_child */
export const anonWriteChild: CaseSpec = {
  fixture: 'hmm',
  name: 'anon_write_child',
  concurrent: true,
  maxSteps: 2_000_000,
  *body(t) {
    for (const migrate of [false, true]) {
      for (const useThp of [false, true]) yield* writeChildRound(t, migrate, useThp);
    }
  },
};

/** anon_write_huge */
export const anonWriteHuge: CaseSpec = {
  fixture: 'hmm',
  name: 'anon_write_huge',
  *body(t) {
    let size = 2 * PMD_PAGESIZE;
    const b = hmmBuffer(size);
    b.ptr = yield* sys_mmap(t.mm, 0, size, RW, ANON);
    t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
    size /= 2;
    const npages = size >> PAGE_SHIFT;
    const map = align(b.ptr, size);
    t.ASSERT_EQ(yield* sys_madvise(t.mm, map, size, MADV_HUGEPAGE), 0, 'madvise(MADV_HUGEPAGE)');
    const oldPtr = b.ptr;
    b.ptr = map;
    mirrorFill(b.mirror, size / 4, ident);
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_WRITE, b, npages), 0, 'WRITE');
    t.ASSERT_EQ(b.cpages, npages, 'cpages');
    t.ASSERT_EQ(b.faults, 1, 'faults');
    yield* assertCpu(t, b.ptr, size / 4, ident, 'what the device wrote');
    b.ptr = oldPtr;
    yield* sys_munmap(t.mm, b.ptr, b.size);
  },
};

/** anon_write_hugetlbfs */
export const anonWriteHugetlbfs: CaseSpec = {
  fixture: 'hmm',
  name: 'anon_write_hugetlbfs',
  kernelSkip: noHugePages,
  *body(t) {
    if (hugetlbFreeDefaultPages(t) === 0) t.SKIP('Not enough huge pages');
    const size = align(TWOMEG, DEFAULT_HUGE_PAGE_SIZE);
    const npages = size >> PAGE_SHIFT;
    const b = hmmBuffer(size);
    b.ptr = yield* sys_mmap(t.mm, 0, size, RW, ANON | MAP_HUGETLB);
    if (b.ptr < 0) t.SKIP('Huge page could not be allocated');
    mirrorFill(b.mirror, size / 4, ident);
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_WRITE, b, npages), 0, 'WRITE');
    t.ASSERT_EQ(b.cpages, npages, 'cpages');
    t.ASSERT_EQ(b.faults, 1, 'faults');
    yield* assertCpu(t, b.ptr, size / 4, ident, 'what the device wrote');
    yield* sys_munmap(t.mm, b.ptr, b.size);
  },
};

/** compound: needs the map order in hmm_range_fault's output (v5.10+). */
export const compound: CaseSpec = {
  fixture: 'hmm',
  name: 'compound',
  kernelSkip: (kernel: KernelContract) =>
    noHugePages() ?? (kernel.hmmPfnMapOrder ? null : `compound needs the page mapping order from hmm_range_fault (hmm_pfn_to_map_order, v5.10+); kernel ${kernel.name} has none`),
  *body(t) {
    if (hugetlbFreeDefaultPages(t) === 0) t.SKIP('Not enough huge pages');
    const size = align(TWOMEG, DEFAULT_HUGE_PAGE_SIZE);
    const npages = size >> PAGE_SHIFT;
    const b = hmmBuffer(size, npages);
    b.ptr = yield* sys_mmap(t.mm, 0, size, RW, ANON | MAP_HUGETLB);
    if (b.ptr < 0) return; // the kernel's case returns here, counted as passed
    t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, size / 4, ident), 0, 'fill');
    const m = new Uint8Array(b.mirror);
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_SNAPSHOT, b, npages), 0, 'SNAPSHOT');
    t.ASSERT_EQ(b.cpages, npages, 'cpages');
    let prot = HMM_DMIRROR_PROT_WRITE | level(m);
    let i = firstOther(m, npages, prot);
    if (i >= 0) t.ASSERT_EQ(m[i]!, prot, `m[${i}]`);
    t.ASSERT_EQ(yield* sys_mprotect(t.mm, b.ptr, size, PROT_READ), 0, 'mprotect(PROT_READ)');
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_SNAPSHOT, b, npages), 0, 'SNAPSHOT after mprotect');
    t.ASSERT_EQ(b.cpages, npages, 'cpages');
    prot = HMM_DMIRROR_PROT_READ | level(m);
    i = firstOther(m, npages, prot);
    if (i >= 0) t.ASSERT_EQ(m[i]!, prot, `m[${i}] after mprotect`);
    yield* sys_munmap(t.mm, b.ptr, b.size);
  },
};
