import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { defineScenario } from '../../../src/check/scenario.js';
import { EINVAL, ENOENT, EPERM } from '../../../src/locking/errno.js';
import { PAGE_SIZE } from '../../../src/mm/constants.ts';
import { read32, write32 } from '../../../src/mm/cpu-access.ts';
import { sys_mmap } from '../../../src/mm/mmap.ts';
import { mm_create, type Mm } from '../../../src/mm/mm-struct.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../../src/mm/vma-ops.ts';
import {
  ENODEV,
  HMM_DMIRROR_CHECK_EXCLUSIVE,
  HMM_DMIRROR_EXCLUSIVE,
  HMM_DMIRROR_FLAGS,
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_MIGRATE_TO_SYS,
  HMM_DMIRROR_READ,
  HMM_DMIRROR_RELEASE,
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

/** Runs `body` once as a single task with an mm and the module loaded; returns what it logged. */
function runOnce(body: (mm: Mm, mod: DmirrorModule, log: unknown[]) => Gen<void>): unknown[] {
  const log: unknown[] = [];
  const s = defineScenario<{ mm: Mm; mod: DmirrorModule }>({
    name: 'dmirror-commands',
    description: 'command interface',
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
  log.push({ findings: r.problems.map((p) => `${p.kind}: ${p.message}`) });
  return log;
}

function cmd(addr: number, npages: number, bytes = npages * PAGE_SIZE): HmmDmirrorCmd {
  return { addr, ptr: new ArrayBuffer(bytes), npages, cpages: 77, faults: 77 };
}

function* open(mod: DmirrorModule, minor: number, mm: Mm): Gen<Dmirror> {
  const fd = yield* dmirror_fops_open(mod, minor, mm);
  if (typeof fd === 'number') throw new Error(`open: ${fd}`);
  return fd;
}

describe('dmirror command interface', () => {
  it('common checks: unaligned address, npages 0 and unknown commands are -EINVAL and leave the record alone', () => {
    const log = runOnce(function* (mm, mod, log) {
      const fd = yield* open(mod, 0, mm);
      const a = cmd(0x10001, 1);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_READ, a), a.cpages);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_READ, cmd(0x10000, 0)));
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, 0x42, cmd(0x10000, 1)));
      log.push(yield* dmirror_fops_open(mod, 2, mm));
      yield* dmirror_fops_release(fd);
    });
    expect(log.slice(0, 5)).toEqual([-EINVAL, 77, -EINVAL, -EINVAL, -ENODEV]);
    expect(log[5]).toEqual({ findings: [] });
  });

  it('READ of an unmapped range is -EFAULT; SNAPSHOT reports it as 0xFF without faulting; a populated page is 0x02', () => {
    const log = runOnce(function* (mm, mod, log) {
      const fd = yield* open(mod, 0, mm);
      const addr = yield* sys_mmap(mm, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, addr, 5);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_READ, cmd(addr + 2 * PAGE_SIZE, 1)));
      const snap = cmd(addr, 3, 3);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, snap), snap.cpages, [...new Uint8Array(snap.ptr)]);
      yield* dmirror_fops_release(fd);
    });
    expect(log.slice(0, 4)).toEqual([-14, 0, 3, [0x02, 0x00, 0xff]]);
  });

  it('MIGRATE_TO_DEV: own pages snapshot as 0x22; the fail-alloc flag skips one page so the read-back is -ENOENT; MIGRATE_TO_SYS brings them back (cpages counts the pages migrated)', () => {
    const log = runOnce(function* (mm, mod, log) {
      const fd = yield* open(mod, 0, mm);
      const addr = yield* sys_mmap(mm, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      for (let p = 0; p < 4; p++) yield* write32(mm, addr + p * PAGE_SIZE, p + 1);
      const m = cmd(addr, 2);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, m), m.cpages, new Uint32Array(m.ptr)[1024]);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_FLAGS, cmd(addr, 1)));
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, cmd(addr + 2 * PAGE_SIZE, 2)));
      const snap = cmd(addr, 4, 4);
      yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, snap);
      log.push([...new Uint8Array(snap.ptr)]);
      const back = cmd(addr, 4);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_MIGRATE_TO_SYS, back), back.cpages);
      const snap2 = cmd(addr, 4, 4);
      yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_SNAPSHOT, snap2);
      log.push([...new Uint8Array(snap2.ptr)]);
      yield* dmirror_fops_release(fd);
    });
    expect(log.slice(0, 8)).toEqual([0, 2, 2, 0, -ENOENT, [0x22, 0x22, 0x02, 0x22], 0, 3]);
    expect(log[8]).toEqual([0x02, 0x02, 0x02, 0x02]);
    expect(log[9]).toEqual({ findings: [] });
  });

  it('EXCLUSIVE maps pages ATOMIC (CHECK_EXCLUSIVE -EPERM) until the CPU touches them (then 0)', () => {
    const log = runOnce(function* (mm, mod, log) {
      const fd = yield* open(mod, 0, mm);
      const addr = yield* sys_mmap(mm, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, addr, 1);
      yield* write32(mm, addr + PAGE_SIZE, 2);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_EXCLUSIVE, cmd(addr, 2)));
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, cmd(addr, 2)));
      yield* write32(mm, addr, 3);
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, cmd(addr, 1)));
      log.push(yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, cmd(addr, 2)));
      yield* dmirror_fops_release(fd);
    });
    // The CPU store restores page 0 and invalidates [addr, addr + PAGE): the erase reaches one
    // page past the end (the kernel's inclusive loop bound), so page 1's entry goes too.
    expect(log.slice(0, 4)).toEqual([0, -EPERM, 0, 0]);
  });

  it('the pool: RELEASE removes every chunk (the next migration adds one); closing any file evicts the device memory another file put there', () => {
    const log = runOnce(function* (mm, mod, log) {
      const pool = mod.devices[0]!.pool;
      const a = yield* open(mod, 0, mm);
      const b = yield* open(mod, 0, mm);
      const addr = yield* sys_mmap(mm, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, addr, 7);
      yield* write32(mm, addr + PAGE_SIZE, 8);
      log.push(pool.chunks.length);
      yield* dmirror_fops_unlocked_ioctl(a, HMM_DMIRROR_MIGRATE_TO_DEV, cmd(addr, 1));
      log.push(pool.inUse.size, yield* dmirror_fops_unlocked_ioctl(a, HMM_DMIRROR_RELEASE, cmd(addr, 1)), pool.chunks.length, pool.inUse.size);
      log.push(yield* read32(mm, addr));
      yield* dmirror_fops_unlocked_ioctl(a, HMM_DMIRROR_MIGRATE_TO_DEV, cmd(addr + PAGE_SIZE, 1));
      log.push(pool.chunks.length, pool.inUse.size);
      yield* dmirror_fops_release(b);
      log.push(pool.chunks.length, pool.inUse.size, yield* read32(mm, addr + PAGE_SIZE));
      yield* dmirror_fops_release(a);
    });
    expect(log.slice(0, 11)).toEqual([1, 1, 0, 0, 0, 7, 1, 1, 0, 0, 8]);
    expect(log[11]).toEqual({ findings: [] });
  });
});
