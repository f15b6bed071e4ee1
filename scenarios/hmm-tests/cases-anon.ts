/**
 * hmm-tests.c cases on anonymous and file memory read and written by the device
 * (dmirror.md §2.3 cases 1, 2, 4, 5, 6, 8, 9, 10, 19, 20, 21).
 */
import { EPERM } from '../../src/locking/errno.js';
import { Access } from '../../src/sim/point.js';
import { file_create } from '../../src/mm/files.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { read32 } from '../../src/mm/cpu-access.ts';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ } from '../../src/mm/vma-ops.ts';
import { HMM_DMIRROR_PROT_READ, HMM_DMIRROR_READ, HMM_DMIRROR_SNAPSHOT, HMM_DMIRROR_WRITE } from '../../src/devices/dmirror/index.ts';
import {
  NTIMES,
  RW,
  assertCpu,
  cpuFillInts,
  filePwriteInts,
  hmmBuffer,
  hmm_dmirror_cmd,
  mirrorFill,
  mirrorMismatch,
  type CaseSpec,
  type HmmBuffer,
  hmm_buffer_free,
  mapAnon,
  type TestContext,
} from './harness.ts';
import { anonWriteChild, anonWriteHuge, anonWriteHugetlbfs } from './cases-huge.ts';

const ident = (k: number): number => k;

/** anon_teardown's random sleep: nanoseconds per scheduling point of the sleeping thread. */
const SLEEP_NS_PER_POINT = 8;

function assertMirror(t: TestContext, b: HmmBuffer, n: number, want: (k: number) => number, what: string): void {
  t.ASSERT_EQ(mirrorMismatch(b.mirror, n, want), -1, `${what}: first mirror int that differs`);
}

export const anonCases: readonly CaseSpec[] = [
  {
    fixture: 'hmm',
    name: 'open_close',
    *body() {},
  },
  {
    fixture: 'hmm',
    name: 'anon_read',
    *body(t) {
      const npages = 1024;
      const b = yield* mapAnon(t);
      const n = b.size / 4;
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 2048, n, ident), 0, 'fill');
      t.ASSERT_EQ(yield* sys_mprotect(t.mm, b.ptr, b.size, PROT_READ), 0, 'mprotect(PROT_READ)');
      t.ASSERT_EQ(yield* read32(t.mm, b.ptr + 1024 * 4), 0, 'ptr[1024]');
      const ret = yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_READ, b, npages);
      t.ASSERT_EQ(ret, 0, 'READ');
      t.ASSERT_EQ(b.cpages, npages, 'cpages');
      t.ASSERT_EQ(b.faults, 1, 'faults');
      assertMirror(t, b, 2048, () => 0, 'mirror[0..2048)');
      t.ASSERT_EQ(mirrorMismatch(b.mirror, n, (k) => (k < 2048 ? 0 : k)), -1, 'mirror[2048..)');
      yield* hmm_buffer_free(t, b);
    },
  },
  {
    fixture: 'hmm',
    name: 'anon_write',
    *body(t) {
      const npages = 1024;
      const b = yield* mapAnon(t);
      mirrorFill(b.mirror, b.size / 4, ident);
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_WRITE, b, npages), 0, 'WRITE');
      t.ASSERT_EQ(b.cpages, npages, 'cpages');
      t.ASSERT_EQ(b.faults, 1, 'faults');
      yield* assertCpu(t, b, 0, b.size / 4, ident, 'ptr');
      yield* hmm_buffer_free(t, b);
    },
  },
  {
    fixture: 'hmm',
    name: 'anon_write_prot',
    *body(t) {
      const npages = 1024;
      const b = yield* mapAnon(t, PROT_READ);
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_READ, b, 1), 0, 'READ 1');
      t.ASSERT_EQ(b.cpages, 1, 'cpages');
      t.ASSERT_EQ(b.faults, 1, 'faults');
      mirrorFill(b.mirror, b.size / 4, ident);
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_WRITE, b, npages), -EPERM, 'WRITE to a read-only mapping');
      yield* assertCpu(t, b, 0, b.size / 4, () => 0, 'ptr still zero');
      t.ASSERT_EQ(yield* sys_mprotect(t.mm, b.ptr, b.size, RW), 0, 'mprotect(RW)');
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_WRITE, b, npages), 0, 'WRITE');
      t.ASSERT_EQ(b.cpages, npages, 'cpages');
      t.ASSERT_EQ(b.faults, 1, 'faults');
      yield* assertCpu(t, b, 0, b.size / 4, ident, 'ptr');
      yield* hmm_buffer_free(t, b);
    },
  },
  anonWriteChild,
  anonWriteHuge,
  anonWriteHugetlbfs,
  {
    fixture: 'hmm',
    name: 'file_read',
    *body(t) {
      const npages = 1024;
      const size = npages << 12;
      const file = file_create(t.world, size);
      t.ASSERT(file >= 0, 'fd >= 0');
      const b = hmmBuffer(size);
      t.ASSERT_EQ(yield* filePwriteInts(t.mm, file, 0, size / 4, ident), size, 'pwrite');
      mirrorFill(b.mirror, size / 4, () => 0);
      b.ptr = yield* sys_mmap(t.mm, 0, size, PROT_READ, MAP_SHARED, file, 0);
      t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_READ, b, npages), 0, 'READ');
      t.ASSERT_EQ(b.cpages, npages, 'cpages');
      t.ASSERT_EQ(b.faults, 1, 'faults');
      assertMirror(t, b, size / 4, ident, 'mirror');
      yield* hmm_buffer_free(t, b);
    },
  },
  {
    fixture: 'hmm',
    name: 'anon_read_multiple',
    maxSteps: 2_000_000,
    *body(t) {
      const npages = 1024;
      for (let c = 0; c < NTIMES; c++) {
        const b = yield* mapAnon(t);
        t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, b.size / 4, (k) => k + c), 0, 'fill');
        t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_READ, b, npages), 0, 'READ');
        t.ASSERT_EQ(b.cpages, npages, 'cpages');
        t.ASSERT_EQ(b.faults, 1, 'faults');
        assertMirror(t, b, b.size / 4, (k) => k + c, 'mirror');
        yield* hmm_buffer_free(t, b);
      }
    },
  },
  {
    fixture: 'hmm',
    name: 'anon_teardown',
    concurrent: true,
    maxSteps: 2_000_000,
    *body(t) {
      const npages = 1024;
      for (let c = 0; c < NTIMES; c++) {
        const b = yield* mapAnon(t);
        t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, b.size / 4, (k) => k + c), 0, 'fill');
        const mm = t.mm;
        const world = t.world;
        // The thread sleeps a random 0..31999 ns, then unmaps the second half. The sleep is
        // one scheduling point per SLEEP_NS_PER_POINT ns (on a point no other task touches),
        // so the unmap lands anywhere in the READ, as in the kernel, and the explorer still
        // chooses the interleaving around it.
        const naps = Math.floor(world.rng.below(32000) / SLEEP_NS_PER_POINT);
        const nap = { name: `unmap${c}->sleep` };
        const thread = world.spawn(`unmap${c}`, function* () {
          yield world.point(`unmap${c} starts`);
          for (let i = 0; i < naps; i++) yield world.point('usleep', nap, Access.Read);
          yield* sys_munmap(mm, b.ptr + b.size / 2, b.size / 2);
          b.ptr = 0;
        });
        const cmd = { ...b };
        const ret = yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_READ, cmd, npages);
        if (ret === 0) {
          t.ASSERT_EQ(cmd.cpages, npages, 'cpages');
          t.ASSERT_EQ(cmd.faults, 1, 'faults');
          t.ASSERT_EQ(mirrorMismatch(cmd.mirror, cmd.size / 4, (k) => k + c), -1, 'mirror');
        }
        yield* world.join(thread);
        yield* hmm_buffer_free(t, b);
      }
    },
  },
  {
    fixture: 'hmm',
    name: 'mixedmap',
    kernelSkip: (kernel) =>
      kernel.hmmMixedMap ? null : `mixedmap needs hmm_range_fault on VM_MIXEDMAP VMAs and dmirror's mmap (v5.16+, 87c01d57fa23); kernel ${kernel.name} refuses them`,
    *body(t) {
      const npages = 1;
      const size = npages << 12;
      const b = hmmBuffer(size, npages);
      b.ptr = yield* sys_mmap(t.mm, 0, size, RW, MAP_PRIVATE, t.fd.file, 0);
      t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_SNAPSHOT, b, npages), 0, 'SNAPSHOT');
      t.ASSERT_EQ(b.cpages, npages, 'cpages');
      t.ASSERT_EQ(new Uint8Array(b.mirror)[0]!, HMM_DMIRROR_PROT_READ, 'm[0]');
      yield* hmm_buffer_free(t, b);
    },
  },
];
