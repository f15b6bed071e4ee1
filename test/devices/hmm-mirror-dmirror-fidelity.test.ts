/**
 * The reference driver against lib/test_hmm.c (review item 10): the `dmirror` variant filters its
 * own MIGRATE events before the lock, as the kernel's test module does; `correct` keeps set_seq.
 */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { mmu_interval_check_retry, mmu_interval_read_begin } from '../../src/notifier/interval.js';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
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

