import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { defineScenario } from '../../../src/check/scenario.js';
import { DEVICE_MAPS_FREED_PAGE } from '../../../src/notifier/coherence.js';
import { PAGE_SIZE } from '../../../src/mm/constants.ts';
import { write32 } from '../../../src/mm/cpu-access.ts';
import { sys_mmap } from '../../../src/mm/mmap.ts';
import { sys_mprotect } from '../../../src/mm/mprotect.ts';
import { mm_create, type Mm } from '../../../src/mm/mm-struct.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../src/mm/vma-ops.ts';
import {
  DPT_WRITE,
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_READ,
  dmirror_fops_open,
  dmirror_fops_unlocked_ioctl,
  dmirror_module_init,
  type Dmirror,
  type DmirrorModule,
} from '../../../src/devices/dmirror/index.ts';

type Gen<T> = Generator<unknown, T, unknown>;

function runOnce(body: (mm: Mm, mod: DmirrorModule, log: unknown[]) => Gen<void>): { log: unknown[]; kinds: string[] } {
  const log: unknown[] = [];
  const s = defineScenario<{ mm: Mm; mod: DmirrorModule }>({
    name: 'dmirror-notifier',
    description: 'notifier filter',
    maxRuns: 1,
    setup(world) {
      const mm = mm_create(world, { name: 'proc' });
      return { mm, mod: dmirror_module_init(world) };
    },
    tasks: {
      *t(s, world) {
        yield world.point('start');
        yield* body(s.mm, s.mod, log);
      },
    },
  });
  const r = checkScenario(s, { legs: [{ name: 'random' }], seed: 1, runs: 1, shrink: false });
  return { log, kinds: [...new Set(r.problems.map((p) => p.kind))].sort() };
}

function* open(mod: DmirrorModule, minor: number, mm: Mm): Gen<Dmirror> {
  const fd = yield* dmirror_fops_open(mod, minor, mm);
  if (typeof fd === 'number') throw new Error(`open: ${fd}`);
  return fd;
}

const rec = (addr: number, npages = 1) => ({ addr, ptr: new ArrayBuffer(npages * PAGE_SIZE), npages, cpages: 0, faults: 0 });

describe('the mirror notifier (dmirror §1.5)', () => {
  it('mprotect erases the pt entries of the range and one page past its end; a read fault of a writable page stores WRITE', () => {
    const { log, kinds } = runOnce(function* (mm, mod, log) {
      const fd = yield* open(mod, 0, mm);
      const addr = yield* sys_mmap(mm, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      for (let p = 0; p < 4; p++) yield* write32(mm, addr + p * PAGE_SIZE, p);
      yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_READ, rec(addr, 4));
      const vpn = addr / PAGE_SIZE;
      log.push([0, 1, 2, 3].map((i) => fd.pt.load(vpn + i)?.tag));
      yield* sys_mprotect(mm, addr + PAGE_SIZE, PAGE_SIZE, PROT_READ);
      log.push([0, 1, 2, 3].map((i) => fd.pt.load(vpn + i)?.tag ?? 'none'));
    });
    expect(log).toEqual([
      [DPT_WRITE, DPT_WRITE, DPT_WRITE, DPT_WRITE],
      [DPT_WRITE, 'none', 'none', DPT_WRITE],
    ]);
    expect(kinds).toEqual([]);
  });

  it("filters MIGRATE events of its own device only: another device's migration erases, a sibling file of the same device keeps a stale entry (the oracle reports it)", () => {
    const other = runOnce(function* (mm, mod, log) {
      const dev0 = yield* open(mod, 0, mm);
      const dev1 = yield* open(mod, 1, mm);
      const addr = yield* sys_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, addr, 1);
      yield* dmirror_fops_unlocked_ioctl(dev1, HMM_DMIRROR_READ, rec(addr));
      yield* dmirror_fops_unlocked_ioctl(dev0, HMM_DMIRROR_MIGRATE_TO_DEV, rec(addr));
      log.push(dev1.pt.load(addr / PAGE_SIZE) === undefined);
    });
    expect(other.log).toEqual([true]);
    expect(other.kinds).toEqual([]);

    const sibling = runOnce(function* (mm, mod, log) {
      const a = yield* open(mod, 0, mm);
      const b = yield* open(mod, 0, mm);
      const addr = yield* sys_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, addr, 1);
      yield* dmirror_fops_unlocked_ioctl(b, HMM_DMIRROR_READ, rec(addr));
      yield* dmirror_fops_unlocked_ioctl(a, HMM_DMIRROR_MIGRATE_TO_DEV, rec(addr));
      log.push(b.pt.load(addr / PAGE_SIZE) !== undefined);
    });
    // The kernel's filter compares the device, not the file: b's entry still names the system
    // page the migration freed.
    expect(sibling.log).toEqual([true]);
    expect(sibling.kinds).toContain(DEVICE_MAPS_FREED_PAGE);
  });
});
