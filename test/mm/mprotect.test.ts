/** mprotect: PROTECTION_VMA lazily over populated regions, the same-flags no-op, PROT_NONE. */
import { describe, expect, it } from 'vitest';
import { EINVAL, ENOMEM } from '../../src/mm/mm-errno.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { pteWrite } from '../../src/mm/pte.ts';
import { device_map, device_shadow_create } from '../../src/notifier/coherence.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { kinds, recordInvalidations, rng, run1, starts } from './helpers.ts';
import { Trace } from '../../src/sim/trace.js';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('mprotect', () => {
  it('raises PROTECTION_VMA from the first populated 1 GiB slot to the end, mmap lock held for write', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const base = 0x40000000; // 1 GiB aligned; the region spans two 1 GiB slots
      yield* sys_mmap(mm, base - 4 * P, 8 * P + 0x40000000, RW, ANON | 0x10);
      yield* write32(mm, base + 0x40000000, 1); // only the second slot has page tables
      const seen = yield* recordInvalidations(mm);
      const r = yield* sys_mprotect(mm, base - 4 * P, 8 * P, PROT_READ);
      const r2 = yield* sys_mprotect(mm, base - 4 * P, 0x40000000 + 8 * P, PROT_READ);
      return { r, r2, seen };
    });
    expect(value.r).toBe(0);
    expect(value.r2).toBe(0);
    // The first call touches only the unpopulated slot: no invalidation. The second raises one,
    // starting at the populated slot, and the part whose flags did not change raises nothing.
    expect(starts(value.seen)).toEqual([rng('PROTECTION_VMA', 0x80000000, 0x80000000 + 4 * P)]);
    expect(value.seen.find((s) => s.op === 'start')!.mmapLock).toBe('write');
  });

  it('raises nothing when the flags do not change, even if the call is repeated', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, ANON);
      yield* write32(mm, a, 1);
      const seen = yield* recordInvalidations(mm);
      yield* sys_mprotect(mm, a, 2 * P, RW);
      yield* sys_mprotect(mm, a, 2 * P, RW);
      const quiet = starts(seen).length;
      // Flags that change no PTE bit still raise it: a false positive drivers must tolerate.
      yield* sys_mprotect(mm, a, 2 * P, RW | PROT_EXEC);
      return { quiet, after: starts(seen) };
    });
    expect(value.quiet).toBe(0);
    expect(value.after).toEqual([rng('PROTECTION_VMA', 0x7fffffffd000, 0x7ffffffff000)]);
  });

  it('write-protects entries, so a device still mapping one writable is stale only if it ignored the invalidation', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 1);
      const dev = device_shadow_create(mm, 'careless');
      device_map(dev, a, mm.lookup(a)!.pfn, true);
      yield* sys_mprotect(mm, a, P, PROT_READ);
      return { writable: pteWrite(mm.pt.get(a)), write: yield* write32(mm, a, 2), read: yield* read32(mm, a) };
    });
    expect(value).toEqual({ writable: false, write: -14, read: 1 });
    // The device registered no notifier, so nobody told it: the oracle reports it.
    expect(kinds(w)).toEqual(['stale-device-mapping']);
  });

  it('PROT_NONE keeps the page but forbids access; restoring access brings the data back', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, ANON);
      yield* write32(mm, a, 9);
      yield* sys_mprotect(mm, a, P, PROT_NONE);
      const none = [yield* read32(mm, a), mm.lookup(a) === null ? 1 : 0, mm.sys.frames.ramInUse];
      yield* sys_mprotect(mm, a, P, PROT_READ);
      return { none, back: yield* read32(mm, a) };
    });
    expect(value).toEqual({ none: [-14, 1, 1], back: 9 });
  });

  it('splits and merges VMAs, and fails with -ENOMEM at a hole after changing what comes before it', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0x400000, 4 * P, RW, ANON);
      const r1 = yield* sys_mprotect(mm, 0x401000, P, PROT_READ);
      const split = mm.vmas.count;
      const r2 = yield* sys_mprotect(mm, 0x401000, P, RW);
      const merged = mm.vmas.count;
      const r3 = yield* sys_mprotect(mm, 0x403000, 2 * P, PROT_READ);
      const r4 = yield* sys_mprotect(mm, 0x400001, P, PROT_READ);
      return { r: [r1, r2, r3, r4], split, merged, flags: mm.vmas.toArray().map((v) => [v.start, v.flags & 3]) };
    });
    expect(value.r).toEqual([0, 0, -ENOMEM, -EINVAL]);
    expect(value.split).toBe(3);
    expect(value.merged).toBe(1);
    expect(value.flags).toEqual([
      [0x400000, 3],
      [0x403000, 1],
    ]);
  });
});

describe('PROTECTION_VMA false positives', () => {
  it('toggling PROT_EXEC changes the VMA and raises PROTECTION_VMA, though no PTE changes: the trace says so', () => {
    const { value, w } = run1(function* (w) {
      w.trace = new Trace();
      const mm = mm_create(w, { name: 'm' });
      const a = yield* sys_mmap(mm, 0x400000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 1);
      const seen = yield* recordInvalidations(mm);
      yield* sys_mprotect(mm, a, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
      yield* sys_mprotect(mm, a, 4096, PROT_READ | PROT_WRITE);
      return starts(seen);
    });
    expect(value).toEqual([rng('PROTECTION_VMA', 0x400000, 0x401000), rng('PROTECTION_VMA', 0x400000, 0x401000)]);
    const notes = w.trace!.rows().filter((r) => 'note' in r).map((r) => (r as { note: string }).note);
    expect(notes.filter((n) => /PROTECTION_VMA .*no PTE changed \(a false positive\)/.test(n))).toHaveLength(2);
  });
});
