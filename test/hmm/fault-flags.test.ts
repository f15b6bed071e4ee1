/**
 * The FAULT_FLAG_* bits migrate_to_ram sees (review item 13): hmm_range_fault faults with
 * FAULT_FLAG_REMOTE (| WRITE), a user CPU access with USER | ALLOW_RETRY (| WRITE).
 */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { FAULT_FLAG_ALLOW_RETRY, FAULT_FLAG_REMOTE, FAULT_FLAG_USER, FAULT_FLAG_WRITE } from '../../src/mm/fault-flags.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { kinds, run1 } from '../mm/helpers.ts';

const P = 4096;

/** Migrates one page to device A, then `access` faults it back; returns the vmf flags A saw. */
function flagsSeen(access: 'other-device-read' | 'other-device-write' | 'cpu-read' | 'cpu-write') {
  return run1(function* (w) {
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const devA = new HmmMirror(w, mm, 'correct', 'devA', 2);
    const devB = new HmmMirror(w, mm, 'correct', 'devB', 2);
    yield* devA.insert(a, P);
    yield* devB.insert(a, P);
    yield* write32(mm, a, 3);
    if ((yield* devA.migrateToDevice(a, a + P)) !== 0) throw new Error('migration failed');
    const seen: number[] = [];
    const inner = devA.pgmap.ops!.migrate_to_ram!;
    devA.pgmap.ops!.migrate_to_ram = function* (vmf) {
      seen.push(vmf.flags);
      return yield* inner(vmf);
    };
    if (access === 'other-device-read' || access === 'other-device-write') {
      const r = yield* devB.fault(a, a + P, access === 'other-device-write');
      if (r !== 0) throw new Error(`device fault ${r}`);
    } else if (access === 'cpu-read') yield* read32(mm, a);
    else yield* write32(mm, a, 4);
    return seen;
  });
}

describe('fault flags reach migrate_to_ram', () => {
  it('hmm_range_fault faults with FAULT_FLAG_REMOTE, plus WRITE for a write', () => {
    const r = flagsSeen('other-device-read');
    expect(r.value).toEqual([FAULT_FLAG_REMOTE]);
    expect(kinds(r.w)).toEqual([]);
    expect(flagsSeen('other-device-write').value).toEqual([FAULT_FLAG_REMOTE | FAULT_FLAG_WRITE]);
  });
  it('a CPU access is a user fault that may retry, never REMOTE', () => {
    expect(flagsSeen('cpu-read').value).toEqual([FAULT_FLAG_USER | FAULT_FLAG_ALLOW_RETRY]);
    expect(flagsSeen('cpu-write').value).toEqual([FAULT_FLAG_USER | FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_WRITE]);
  });
});
