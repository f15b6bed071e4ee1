/**
 * hmm-tests.c cases that migrate memory to the device and back, and device-exclusive access
 * (dmirror.md §2.3 cases 12, 13, 15, 16, 18, 23, 25, 28, 30–33, 35–38).
 */
import { ENOENT } from '../../src/locking/errno.js';
import { file_create } from '../../src/mm/files.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED } from '../../src/mm/vma-ops.ts';
import { PAGE_SIZE, WORDS_PER_PAGE } from '../../src/mm/constants.ts';
import { PTE_KIND_BITS, PTE_KIND_PRESENT, ptePfn } from '../../src/mm/pte.ts';
import {
  HMM_DMIRROR_CHECK_EXCLUSIVE,
  HMM_DMIRROR_EXCLUSIVE,
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_MIGRATE_TO_SYS,
  HMM_DMIRROR_RELEASE,
} from '../../src/devices/dmirror/index.ts';
import {
  NTIMES,
  cpuFillInts,
  hmmBuffer,
  hmm_dmirror_cmd,
  mirrorMismatch,
  type CaseSpec,
  type HmmBuffer,
  type TestContext,
  RW,
  assertCpu,
  hmm_buffer_free,
  mapAnon,
} from './harness.ts';
import { thpMigrateCases } from './cases-migrate-thp.ts';
import { hmmGupTest } from './case-gup.ts';
import { compound } from './cases-huge.ts';

type Gen<T> = Generator<unknown, T, unknown>;

const ident = (k: number): number => k;

/** MIGRATE_TO_DEV of the whole buffer: 0, cpages == npages, mirror == i. */
function* migrateAll(t: TestContext, b: HmmBuffer, npages: number): Gen<void> {
  t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, npages), 0, 'MIGRATE_TO_DEV');
  t.ASSERT_EQ(b.cpages, npages, 'cpages');
  t.ASSERT_EQ(mirrorMismatch(b.mirror, (npages * PAGE_SIZE) / 4, ident), -1, 'mirror: first int that differs');
}

export const migrateCases: readonly CaseSpec[] = [
  {
    fixture: 'hmm',
    name: 'migrate',
    *body(t) {
      const b = yield* mapAnon(t);
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, b.size / 4, ident), 0, 'fill');
      yield* migrateAll(t, b, 1024);
      yield* hmm_buffer_free(t, b);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_file_private',
    *body(t) {
      const npages = 1024;
      const size = npages << 12;
      const file = file_create(t.world, size);
      t.ASSERT(file >= 0, 'fd >= 0');
      const b = hmmBuffer(size);
      b.ptr = yield* sys_mmap(t.mm, 0, size, RW, MAP_PRIVATE, file, 0);
      t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, size / 4, ident), 0, 'fill');
      yield* migrateAll(t, b, npages);
      yield* hmm_buffer_free(t, b);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_release',
    *body(t) {
      const b = yield* mapAnon(t);
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, b.size / 4, ident), 0, 'fill');
      yield* migrateAll(t, b, 1024);
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_RELEASE, b, 1024), 0, 'RELEASE');
      yield* assertCpu(t, b, 0, b.size / 8, ident, 'first half');
      yield* hmm_buffer_free(t, b);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_shared',
    *body(t) {
      const b = yield* mapAnon(t, RW, MAP_SHARED | MAP_ANONYMOUS);
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_DEV, b, 1024), -ENOENT, 'MIGRATE_TO_DEV of shared memory');
      yield* hmm_buffer_free(t, b);
    },
  },
  {
    fixture: 'hmm',
    name: 'migrate_multiple',
    maxSteps: 2_000_000,
    *body(t) {
      for (let c = 0; c < NTIMES; c++) {
        const b = yield* mapAnon(t);
        t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, b.size / 4, ident), 0, 'fill');
        yield* migrateAll(t, b, 1024);
        if (t.coherent) {
          t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_MIGRATE_TO_SYS, b, 1024), 0, 'MIGRATE_TO_SYS');
          t.ASSERT_EQ(b.cpages, 1024, 'cpages');
        }
        yield* assertCpu(t, b, 0, b.size / 4, ident, 'ptr');
        yield* hmm_buffer_free(t, b);
      }
    },
  },
  compound,
  {
    fixture: 'hmm',
    name: 'exclusive',
    needsExclusive: true,
    *body(t) {
      const b = yield* mapAnon(t);
      const n = b.size / 4;
      t.ASSERT_EQ(yield* cpuFillInts(t.mm, b.ptr, 0, n, ident), 0, 'fill');
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_EXCLUSIVE, b, 1024), 0, 'EXCLUSIVE');
      t.ASSERT_EQ(b.cpages, 1024, 'cpages');
      t.ASSERT_EQ(mirrorMismatch(b.mirror, n, ident), -1, 'mirror: first int that differs');
      // ptr[i]++ with a check of the old value: a page per step (its first store restores
      // the CPU entry, which invalidates the device's atomic mapping).
      const frames = t.mm.sys.frames;
      for (let page = 0; page < n / WORDS_PER_PAGE; page++) {
        const a = b.ptr + page * PAGE_SIZE;
        const k0 = page * WORDS_PER_PAGE;
        t.ASSERT_EQ(yield* read32(t.mm, a), k0, `ptr[${k0}]`);
        t.ASSERT_EQ(yield* write32(t.mm, a, k0 + 1), 0, `ptr[${k0}]++`);
        const pte = t.mm.pt.get(a);
        t.ASSERT((pte & PTE_KIND_BITS) === PTE_KIND_PRESENT, `page ${page} present after the store`);
        const buf = frames.saveContents(ptePfn(pte))!;
        for (let j = 1; j < WORDS_PER_PAGE; j++) {
          t.ASSERT_EQ(buf[j]!, k0 + j, `ptr[${k0 + j}]`);
          buf[j] = k0 + j + 1;
        }
        frames.loadContents(ptePfn(pte), buf);
      }
      yield* assertCpu(t, b, 0, n, (k) => k + 1, 'ptr after increment');
      t.ASSERT_EQ(yield* hmm_dmirror_cmd(t.fd, HMM_DMIRROR_CHECK_EXCLUSIVE, b, 1024), 0, 'CHECK_EXCLUSIVE');
      yield* hmm_buffer_free(t, b);
    },
  },
  hmmGupTest,
  ...thpMigrateCases,
];
