/** dmirror's device-coherent devices (hmm_dmirror2/3, dmirror §1.1, §1.3, §1.4, §1.7). */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { defineScenario } from '../../../src/check/scenario.js';
import { PAGE_SIZE } from '../../../src/mm/constants.ts';
import { read32, write32 } from '../../../src/mm/cpu-access.ts';
import { is_device_coherent_page, page_pgmap } from '../../../src/mm/device-private.ts';
import { sys_mmap } from '../../../src/mm/mmap.ts';
import { sys_fork } from '../../../src/mm/fork.ts';
import { mm_create, type Mm } from '../../../src/mm/mm-struct.ts';
import { PTE_KIND_BITS, PTE_KIND_PRESENT, ptePfn } from '../../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../src/mm/vma-ops.ts';
import {
  ENODEV,
  HMM_DMIRROR_CHECK_EXCLUSIVE,
  HMM_DMIRROR_EXCLUSIVE,
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_MIGRATE_TO_SYS,
  HMM_DMIRROR_READ,
  HMM_DMIRROR_RELEASE,
  HMM_DMIRROR_SNAPSHOT,
  HMM_DMIRROR_WRITE,
  dmirror_fops_open,
  dmirror_fops_release,
  dmirror_fops_unlocked_ioctl,
  dmirror_module_init,
  type Dmirror,
  type DmirrorModule,
  type HmmDmirrorCmd,
} from '../../../src/devices/dmirror/index.ts';

type Gen<T> = Generator<unknown, T, unknown>;

function runOnce(body: (mm: Mm, mod: DmirrorModule, log: unknown[]) => Gen<void>, kernel = 'current'): unknown[] {
  const log: unknown[] = [];
  const s = defineScenario<{ mm: Mm; mod: DmirrorModule }>({
    name: 'dmirror-coherent',
    description: 'coherent devices',
    maxRuns: 1,
    setup(world) {
      const mm = mm_create(world, { name: 'proc' });
      return { mm, mod: dmirror_module_init(world, { coherent: true }) };
    },
    tasks: {
      *t(s, world) {
        yield world.point('start');
        yield* body(s.mm, s.mod, log);
      },
    },
  });
  const r = checkScenario(s, { legs: [{ name: 'random' }], seed: 1, runs: 1, shrink: false, kernel });
  log.push({ findings: r.problems.map((p) => `${p.kind}: ${p.message}`) });
  return log;
}

function cmd(addr: number, npages: number, bytes = npages * PAGE_SIZE): HmmDmirrorCmd {
  return { addr, ptr: new ArrayBuffer(bytes), npages, cpages: 0, faults: 0 };
}

function* open(mod: DmirrorModule, minor: number, mm: Mm): Gen<Dmirror> {
  const fd = yield* dmirror_fops_open(mod, minor, mm);
  if (typeof fd === 'number') throw new Error(`open: ${fd}`);
  return fd;
}

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('dmirror device-coherent devices', () => {
  it('exist from v6.0 when given special-purpose memory; before, opening them is -ENODEV', () => {
    const opened = (kernel: string) =>
      runOnce(function* (mm, mod, log) {
        for (const minor of [2, 3]) {
          const fd = yield* dmirror_fops_open(mod, minor, mm);
          log.push(typeof fd === 'number' ? fd : fd.mdevice.isPrivate ? 'private' : 'coherent');
          if (typeof fd !== 'number') yield* dmirror_fops_release(fd);
        }
      }, kernel);
    expect(opened('current')).toEqual(['coherent', 'coherent', { findings: [] }]);
    expect(opened('v6.0')).toEqual(['coherent', 'coherent', { findings: [] }]);
    expect(opened('v5.14')).toEqual([-ENODEV, -ENODEV, { findings: [] }]);
  });

  it('MIGRATE_TO_DEV puts present CPU PTEs to its own coherent pages; SNAPSHOT: 0x42 local, 0x52 from the other coherent device', () => {
    const log = runOnce(function* (mm, mod, log) {
      const fd2 = yield* open(mod, 2, mm);
      const fd3 = yield* open(mod, 3, mm);
      const a = yield* sys_mmap(mm, 0, 4 * PAGE_SIZE, RW, ANON);
      for (let i = 0; i < 4; i++) yield* write32(mm, a + i * PAGE_SIZE, 100 + i);
      const c = cmd(a, 4);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_MIGRATE_TO_DEV, c), c.cpages, new Uint32Array(c.ptr)[1024]);
      const ptes = [0, 1, 2, 3].map((i) => mm.pt.get(a + i * PAGE_SIZE));
      log.push(ptes.every((p) => (p & PTE_KIND_BITS) === PTE_KIND_PRESENT && is_device_coherent_page(mm.world, ptePfn(p)) && page_pgmap(mm.world, ptePfn(p))?.owner === fd2.mdevice));
      const s2 = cmd(a, 4, 4);
      const s3 = cmd(a, 4, 4);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_SNAPSHOT, s2), [...new Uint8Array(s2.ptr)]);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd3, HMM_DMIRROR_SNAPSHOT, s3), [...new Uint8Array(s3.ptr)]);
      // The CPU reads device memory in place: no fault, no invalidation, the device keeps its entries.
      log.push(yield* read32(mm, a + 2 * PAGE_SIZE), mm.pt.get(a + 2 * PAGE_SIZE) === ptes[2], fd2.pt.size);
      // Another device's MIGRATE_TO_SYS does not select them; the owner's does.
      const other = cmd(a, 4);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd3, HMM_DMIRROR_MIGRATE_TO_SYS, other), other.cpages);
      const back = cmd(a, 4);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_MIGRATE_TO_SYS, back), back.cpages, fd2.pt.size);
      log.push([0, 1, 2, 3].every((i) => !mm.sys.frames.isZoneDevice(ptePfn(mm.pt.get(a + i * PAGE_SIZE)))));
      log.push(yield* read32(mm, a + 3 * PAGE_SIZE));
      yield* dmirror_fops_release(fd2);
      yield* dmirror_fops_release(fd3);
    });
    expect(log).toEqual([
      0, 4, 101,
      true,
      0, [0x42, 0x42, 0x42, 0x42],
      0, [0x52, 0x52, 0x52, 0x52],
      102, true, 4,
      0, 0,
      0, 4, 0,
      true,
      103,
      { findings: [] },
    ]);
  });

  it('a READ through another device sees coherent pages as ordinary pages; RELEASE and close evict them to RAM', () => {
    const log = runOnce(function* (mm, mod, log) {
      const fd2 = yield* open(mod, 2, mm);
      const fd0 = yield* open(mod, 0, mm);
      const a = yield* sys_mmap(mm, 0, 2 * PAGE_SIZE, RW, ANON);
      yield* write32(mm, a, 7);
      yield* write32(mm, a + PAGE_SIZE, 8);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_MIGRATE_TO_DEV, cmd(a, 2)));
      const r = cmd(a, 2);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd0, HMM_DMIRROR_READ, r), r.cpages, r.faults, new Uint32Array(r.ptr)[1024]);
      log.push(is_device_coherent_page(mm.world, ptePfn(mm.pt.get(a))));
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_RELEASE, cmd(a, 1)));
      log.push(mm.sys.frames.isZoneDevice(ptePfn(mm.pt.get(a))), yield* read32(mm, a + PAGE_SIZE));
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_MIGRATE_TO_DEV, cmd(a, 2)));
      log.push(is_device_coherent_page(mm.world, ptePfn(mm.pt.get(a))));
      yield* dmirror_fops_release(fd2);
      log.push(mm.sys.frames.isZoneDevice(ptePfn(mm.pt.get(a))), yield* read32(mm, a));
      yield* dmirror_fops_release(fd0);
    });
    expect(log).toEqual([0, 0, 2, 1, 8, true, 0, false, 8, 0, true, false, 7, { findings: [] }]);
  });

  it('EXCLUSIVE works on coherent pages and the CPU takes them back; after fork a child writes through device 0 into its own COW copy', () => {
    const log = runOnce(function* (mm, mod, log) {
      const fd2 = yield* open(mod, 2, mm);
      const a = yield* sys_mmap(mm, 0, 2 * PAGE_SIZE, RW, ANON);
      yield* write32(mm, a, 5);
      yield* write32(mm, a + PAGE_SIZE, 6);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_MIGRATE_TO_DEV, cmd(a, 2)));
      const coherentPage = ptePfn(mm.pt.get(a));
      log.push(is_device_coherent_page(mm.world, coherentPage));
      const e = cmd(a, 2);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_EXCLUSIVE, e), e.cpages);
      log.push(yield* read32(mm, a), yield* write32(mm, a + PAGE_SIZE, 9));
      log.push(yield* dmirror_fops_unlocked_ioctl(fd2, HMM_DMIRROR_CHECK_EXCLUSIVE, cmd(a, 2)));
      log.push(ptePfn(mm.pt.get(a)) === coherentPage);
      const child = (yield* sys_fork(mm)) as Mm;
      const fd0 = yield* open(mod, 0, child);
      const w = cmd(a, 2);
      new Uint32Array(w.ptr)[0] = 77;
      log.push(yield* dmirror_fops_unlocked_ioctl(fd0, HMM_DMIRROR_WRITE, w), w.cpages, w.faults);
      log.push(yield* read32(child, a), yield* read32(mm, a), ptePfn(mm.pt.get(a)) === coherentPage, !mm.sys.frames.isZoneDevice(ptePfn(child.pt.get(a))));
      yield* dmirror_fops_release(fd0);
      yield* dmirror_fops_release(fd2);
    });
    expect(log).toEqual([0, true, 0, 2, 5, 0, 0, true, 0, 2, 1, 77, 5, true, true, { findings: [] }]);
  });
});

