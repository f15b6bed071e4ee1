/**
 * hmm-tests.c hmm_gup_test (dmirror.md §2.3 case 28): four pages migrated to the device, then
 * one GUP request per page through the gup_test debugfs interface (src/mm/gup-test.ts). Any GUP
 * of a device-private page faults it back to system memory; a long-term pin must also move
 * device-coherent memory out. SNAPSHOT then shows what the CPU maps.
 */
import {
  GUP_BASIC_TEST,
  GUP_FAST_BENCHMARK,
  PIN_FAST_BENCHMARK,
  PIN_LONGTERM_BENCHMARK,
  gup_test_ioctl,
  gup_test_open,
  type GupTestFile,
} from '../../src/mm/gup-test.ts';
import { FOLL_LONGTERM, FOLL_WRITE } from '../../src/mm/gup.ts';
import { PAGE_SHIFT, PAGE_SIZE } from '../../src/mm/constants.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import {
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_SNAPSHOT,
} from '../../src/devices/dmirror/index.ts';
import { cpuCheckInts, cpuFillInts, hmmBuffer, hmm_dmirror_cmd, mirrorMismatch, type CaseSpec } from './harness.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The kernel's SKIP when the debugfs file cannot be opened. */
const NO_GUP_TEST = 'Skipping test, could not find gup_test driver';

/** gup_test_exec: one request; @returns 0, or the errno (positive) the ioctl failed with. */
function* gupTestExec(gupFd: GupTestFile, addr: number, cmd: number, npages: number, size: number, flags: number): Gen<number> {
  const gup = { get_delta_usec: 0, put_delta_usec: 0, addr, size, nr_pages_per_call: npages, gup_flags: FOLL_WRITE | flags, test_flags: 0 };
  const r = yield* gup_test_ioctl(gupFd, cmd, gup);
  return r < 0 ? -r : 0;
}

/** hmm_gup_test */
export const hmmGupTest: CaseSpec = {
  fixture: 'hmm',
  name: 'hmm_gup_test',
  kernelSkip: (kernel) => (kernel.gupTestDebugfs ? null : NO_GUP_TEST),
  *body(t) {
    const gupFd = gup_test_open(t.mm);
    if (typeof gupFd === 'number') return t.SKIP(NO_GUP_TEST);
    const npages = 4;
    const size = npages << PAGE_SHIFT;
    const ident = (k: number): number => k;
    const b = hmmBuffer(size);
    b.ptr = yield* sys_mmap(t.mm, 0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
    t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, size / 4, ident), 0, 'fill');
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, npages), 0, 'MIGRATE_TO_DEV');
    t.ASSERT_EQ(b.cpages, npages, 'cpages');
    t.ASSERT_EQ(mirrorMismatch(b.mirror, size / 4, ident), -1, 'mirror: first int that differs');
    t.ASSERT_EQ(yield* gupTestExec(gupFd, b.ptr, GUP_BASIC_TEST, 1, PAGE_SIZE, 0), 0, 'GUP_BASIC_TEST of page 0');
    t.ASSERT_EQ(yield* gupTestExec(gupFd, b.ptr + PAGE_SIZE, GUP_FAST_BENCHMARK, 1, PAGE_SIZE, 0), 0, 'GUP_FAST_BENCHMARK of page 1');
    t.ASSERT_EQ(yield* gupTestExec(gupFd, b.ptr + 2 * PAGE_SIZE, PIN_FAST_BENCHMARK, 1, PAGE_SIZE, FOLL_LONGTERM), 0, 'PIN_FAST_BENCHMARK (FOLL_LONGTERM) of page 2');
    t.ASSERT_EQ(yield* gupTestExec(gupFd, b.ptr + 3 * PAGE_SIZE, PIN_LONGTERM_BENCHMARK, 1, PAGE_SIZE, 0), 0, 'PIN_LONGTERM_BENCHMARK of page 3');
    t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_SNAPSHOT, b, npages), 0, 'SNAPSHOT');
    t.ASSERT_EQ(b.cpages, npages, 'cpages');
    const m = new Uint8Array(b.mirror);
    const early = t.coherent ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL | HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_WRITE;
    t.ASSERT_EQ(early, m[0]!, 'm[0] after GUP_BASIC_TEST');
    t.ASSERT_EQ(early, m[1]!, 'm[1] after GUP_FAST_BENCHMARK');
    t.ASSERT_EQ(HMM_DMIRROR_PROT_WRITE, m[2]!, 'm[2] after a long-term PIN_FAST_BENCHMARK');
    t.ASSERT_EQ(HMM_DMIRROR_PROT_WRITE, m[3]!, 'm[3] after PIN_LONGTERM_BENCHMARK');
    const r = yield* cpuCheckInts(t.mm, b.ptr, 0, size / 4, ident);
    if (typeof r === 'object') t.ASSERT_EQ(r.error, 0, 'ptr: CPU access');
    else t.ASSERT_EQ(r, -1, 'ptr: first int that differs');
    yield* sys_munmap(t.mm, b.ptr, b.size);
  },
};
