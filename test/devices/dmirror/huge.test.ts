/** dmirror on huge mappings, mmap of its file, and GUP of its device-private pages. */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { defineScenario } from '../../../src/check/scenario.js';
import { PAGE_SIZE } from '../../../src/mm/constants.ts';
import { write32 } from '../../../src/mm/cpu-access.ts';
import { FOLL_WRITE, get_user_pages_fast } from '../../../src/mm/gup.ts';
import { MAP_HUGETLB } from '../../../src/mm/hugetlb.ts';
import { MADV_DONTNEED, sys_madvise } from '../../../src/mm/madvise.ts';
import { sys_mmap, sys_munmap } from '../../../src/mm/mmap.ts';
import { sys_mprotect } from '../../../src/mm/mprotect.ts';
import { mm_create, type Mm } from '../../../src/mm/mm-struct.ts';
import { ptePfn } from '../../../src/mm/pte.ts';
import { VM_MIXEDMAP } from '../../../src/mm/vma-flags.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../src/mm/vma-ops.ts';
import {
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_READ,
  HMM_DMIRROR_SNAPSHOT,
  dmirror_fops_open,
  dmirror_fops_release,
  dmirror_fops_unlocked_ioctl,
  dmirror_module_init,
  type Dmirror,
  type DmirrorModule,
  type HmmDmirrorCmd,
} from '../../../src/devices/dmirror/index.ts';

type Gen<T> = Generator<unknown, T, unknown>;

const P = PAGE_SIZE;
const H = 2 * 1024 * 1024;
const A = 0x40000000;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** Runs `body` once with an mm (THP madvise... always here, one hugetlb page) and the module. */
function runOnce(body: (mm: Mm, fd: Dmirror, log: unknown[]) => Gen<void>): unknown[] {
  const log: unknown[] = [];
  const s = defineScenario<{ mm: Mm; mod: DmirrorModule }>({
    name: 'dmirror-huge',
    description: 'dmirror on huge mappings',
    maxRuns: 1,
    setup(world) {
      const mm = mm_create(world, { name: 'proc', thp: 'always', hugetlbPages: 1 });
      return { mm, mod: dmirror_module_init(world) };
    },
    tasks: {
      *t(s, world) {
        yield world.point('start');
        const fd = (yield* dmirror_fops_open(s.mod, 0, s.mm)) as Dmirror;
        yield* body(s.mm, fd, log);
        yield* dmirror_fops_release(fd);
      },
    },
  });
  const r = checkScenario(s, { legs: [{ name: 'random' }], seed: 1, runs: 1, shrink: false });
  log.push({ findings: r.problems.map((p) => `${p.kind}: ${p.message}`) });
  return log;
}

function cmd(addr: number, npages: number, bytes = npages * P): HmmDmirrorCmd {
  return { addr, ptr: new ArrayBuffer(bytes), npages, cpages: 0, faults: 0 };
}

describe('dmirror mirrors huge mappings page by page, as test_hmm.c does', () => {
  it('READ of a PMD-mapped THP stores one pt entry per page (head + i); SNAPSHOT says WRITE|PMD; a DONTNEED of part splits the PMD, which erases all', () => {
    const log = runOnce(function* (mm, fd, log) {
      yield* sys_mmap(mm, A, H, RW, ANON | MAP_FIXED);
      yield* write32(mm, A, 1);
      const head = ptePfn(mm.pt.get(A));
      const c = cmd(A, 512);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_READ, c), c.cpages, c.faults);
      const vpn = A / P;
      log.push([0, 1, 511].map((i) => fd.pt.load(vpn + i)!.page - head));
      const snap = cmd(A, 512, 512);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, snap));
      log.push(new Set(new Uint8Array(snap.ptr)));
      log.push(yield* sys_madvise(mm, A + 8 * P, 8 * P, MADV_DONTNEED));
      log.push([7, 8, 15, 16, 17].map((i) => fd.pt.load(vpn + i) !== undefined));
    });
    // __split_huge_pmd invalidates the whole 2 MiB before the DONTNEED's own CLEAR
    expect(log.slice(0, 8)).toEqual([0, 512, 1, [0, 1, 511], 0, new Set([0x06]), 0, [false, false, false, false, false]]);
    expect(log[8]).toEqual({ findings: [] });
  });

  it('SNAPSHOT of a read-only hugetlb page says READ|PMD (0x05) on every page', () => {
    const log = runOnce(function* (mm, fd, log) {
      yield* sys_mmap(mm, A, H, RW, ANON | MAP_FIXED | MAP_HUGETLB);
      yield* write32(mm, A, 1);
      yield* sys_mprotect(mm, A, H, PROT_READ);
      const snap = cmd(A, 512, 512);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, snap), snap.cpages, new Set(new Uint8Array(snap.ptr)));
    });
    expect(log.slice(0, 3)).toEqual([0, 512, new Set([0x05])]);
    expect(log[3]).toEqual({ findings: [] });
  });
});

describe('mmap of a dmirror file (dmirror_fops_mmap)', () => {
  it('fills the VMA with zeroed kernel pages by vm_insert_page: VM_MIXEDMAP, read-only (private), not in the mirror pt', () => {
    const log = runOnce(function* (mm, fd, log) {
      const a = yield* sys_mmap(mm, 0, 3 * P, RW, MAP_PRIVATE, fd.file, 0);
      log.push((mm.vmas.find(a)!.flags & VM_MIXEDMAP) !== 0, fd.pt.size);
      const snap = cmd(a, 3, 3);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, snap), [...new Uint8Array(snap.ptr)]);
      const pfns = [0, 1, 2].map((i) => ptePfn(mm.pt.get(a + i * P)));
      log.push(new Set(pfns).size, pfns.every((p) => mm.sys.frames.read32(p, 0) === 0 && mm.sys.frames.refcount(p) === 1));
    });
    expect(log.slice(0, 6)).toEqual([true, 0, 0, [1, 1, 1], 3, true]);
    expect(log[6]).toEqual({ findings: [] });
  });
});

describe('GUP of a device-private page', () => {
  it('faults it back to system memory through the driver: SNAPSHOT goes from DEV_PRIVATE_LOCAL|WRITE (0x22) to WRITE (0x02)', () => {
    const log = runOnce(function* (mm, fd, log) {
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* write32(mm, a, 7);
      yield* write32(mm, a + P, 8);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, cmd(a, 2)));
      const before = cmd(a, 2, 2);
      yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, before);
      const pages: number[] = [];
      log.push(yield* get_user_pages_fast(mm, a, 1, FOLL_WRITE, pages));
      log.push(mm.sys.frames.read32(pages[0]!, 0));
      mm.sys.putPage(pages[0]!);
      const after = cmd(a, 2, 2);
      yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, after);
      log.push([...new Uint8Array(before.ptr)], [...new Uint8Array(after.ptr)]);
      yield* sys_munmap(mm, a, 2 * P); // as the selftest frees its buffer before the teardown's close
    });
    expect(log.slice(0, 5)).toEqual([0, 1, 7, [0x22, 0x22], [0x02, 0x22]]);
    expect(log[5]).toEqual({ findings: [] });
  });
});
