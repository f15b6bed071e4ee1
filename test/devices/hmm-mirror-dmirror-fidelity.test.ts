/**
 * The reference driver against lib/test_hmm.c (review items 10, 11): the `dmirror` variant filters
 * its own MIGRATE events before the lock (`correct` keeps set_seq), and migrate_to_ram erases the
 * device's mapping before it copies.
 */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { mmu_interval_check_retry, mmu_interval_read_begin } from '../../src/notifier/interval.js';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { peek32 } from '../../src/mm/check.ts';
import { explore } from '../../src/sim/explore.js';
import type { Program } from '../../src/sim/program.js';
import { DfsStrategy } from '../../src/sim/strategies/dfs.js';
import { kinds, run1 } from '../mm/helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** A migration to the device and back: whether the device's interval sequence moved, and the data. */
function ownMigration(variant: 'correct' | 'dmirror') {
  return run1(function* (w) {
    const mm = mm_create(w);
    const dev = new HmmMirror(w, mm, variant, 'dmirror', 4);
    const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
    yield* dev.insert(a, 2 * P);
    yield* write32(mm, a, 7);
    const seq = yield* mmu_interval_read_begin(dev.notifier);
    const toDev = yield* dev.migrateToDevice(a, a + 2 * P);
    const afterToDevice = mmu_interval_check_retry(dev.notifier, seq);
    const toRam = yield* dev.migrateToRam(a, a + 2 * P);
    return { toDev, toRam, afterToDevice, v: yield* read32(mm, a) };
  });
}

describe('hmm-mirror: its own MIGRATE invalidations', () => {
  it('variant dmirror returns before set_seq, as lib/test_hmm.c does (v5.9+): the sequence does not move', () => {
    const { value, w } = ownMigration('dmirror');
    expect(value).toEqual({ toDev: 0, toRam: 0, afterToDevice: false, v: 7 });
    expect(kinds(w)).toEqual([]);
  });
  it('the correct variant bumps the sequence, so a fault that walked before the migration retries', () => {
    const { value, w } = ownMigration('correct');
    expect(value).toEqual({ toDev: 0, toRam: 0, afterToDevice: true, v: 7 });
    expect(kinds(w)).toEqual([]);
  });
});

/**
 * The CPU faults a device page back (migrate_to_ram) while the device stores 5 to it. The device
 * task waits until the CPU is inside migrate_to_ram, so DFS explores only the interesting part.
 * @returns per run: the device's return and the word the CPU page holds afterwards.
 */
function raceOutcomes(): { outcomes: Set<string>; exhausted: boolean } {
  const outcomes = new Set<string>();
  const program: Program = {
    start(w) {
      const mm = mm_create(w);
      const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4);
      const q = w.waitQueue('in migrate_to_ram');
      const st = { a: 0, inFault: false, wrote: 1 };
      const inner = dev.pgmap.ops!.migrate_to_ram!;
      dev.pgmap.ops!.migrate_to_ram = function* (vmf) {
        st.inFault = true;
        q.wakeAll();
        return yield* inner(vmf);
      };
      w.spawn('cpu', function* () {
        st.a = yield* sys_mmap(mm, 0, P, RW, ANON);
        yield* dev.insert(st.a, P);
        yield* write32(mm, st.a, 1);
        if ((yield* dev.migrateToDevice(st.a, st.a + P)) !== 0) throw new Error('migration to the device failed');
        yield* read32(mm, st.a);
      });
      w.spawn('device', function* () {
        if (!st.inFault) yield q.block();
        st.wrote = yield* dev.deviceWrite32(st.a, 5);
      });
      finishers.push(() => outcomes.add(`wrote=${st.wrote} cpu=${peek32(mm, st.a)}`));
    },
    finish() {
      finishers.pop()!();
    },
  };
  const finishers: (() => void)[] = [];
  const r = explore(program, new DfsStrategy(2), { seed: 1, maxRuns: 2000 });
  return { outcomes, exhausted: r.exhausted };
}

describe('hmm-mirror: migrate_to_ram erases the device mapping before it copies (dmirror_devmem_fault_alloc_and_copy)', () => {
  it('a device store the device saw succeed is never lost by the copy', () => {
    const { outcomes, exhausted } = raceOutcomes();
    expect(exhausted).toBe(true);
    // Before the erase the store lands and is copied; after it the device has no mapping (-ENOENT).
    expect([...outcomes].sort()).toEqual(['wrote=-2 cpu=1', 'wrote=0 cpu=5']);
  });
});
