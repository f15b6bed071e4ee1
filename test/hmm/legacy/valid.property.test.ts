/**
 * Property: over any sequence of range registers and unregisters and (possibly overlapping,
 * possibly nested) invalidations, each registered range's `valid` is what the v5.2 rules say:
 * false from an overlapping start, or from a register while an invalidation is counted, until
 * hmm's count of invalidations drops to 0, when every range is valid again. The hmm's range list
 * holds exactly the registered ranges, once each.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MMU_NOTIFY_CLEAR } from '../../../src/notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../../src/notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../../../src/notifier/range.js';
import { mm_create } from '../../../src/mm/index.ts';
import { mm_get_hmm } from '../../../src/hmm/legacy/hmm.js';
import { hmm_mirror_register } from '../../../src/hmm/legacy/mirror.js';
import { HmmRange, hmm_range_register, hmm_range_unregister } from '../../../src/hmm/legacy/range.js';
import { kinds, LEGACY, mapAnon, P, RecordingMirror, run } from './helpers.js';

type Op = { kind: 'register'; i: number } | { kind: 'unregister'; i: number } | { kind: 'start'; page: number; pages: number } | { kind: 'end' };

const PAGES = 6;
/** Range i covers page i (one page each). */
const RANGES = 4;

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('register' as const), i: fc.nat(RANGES - 1) }),
  fc.record({ kind: fc.constant('unregister' as const), i: fc.nat(RANGES - 1) }),
  fc.record({ kind: fc.constant('start' as const), page: fc.nat(PAGES - 2), pages: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant('end' as const) }),
);

describe.each(LEGACY)('valid follows the invalidations (%s)', (kernel) => {
  it('for any sequence of registers, unregisters, starts and ends', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const mismatches: string[] = [];
        const { w } = run(kernel, (w) => ({ mm: mm_create(w, { name: 'mm' }) }), {
          *t(s) {
            const base = yield* mapAnon(s.mm, PAGES);
            yield* hmm_mirror_register(new RecordingMirror(), s.mm);
            const hmm = mm_get_hmm(s.mm)!;
            const ranges = Array.from({ length: RANGES }, (_, i) => new HmmRange(`r${i}`));
            const expected = new Map<HmmRange, boolean>();
            const open: MmuNotifierRange[] = [];
            for (const o of ops) {
              if (o.kind === 'register') {
                const r = ranges[o.i]!;
                if (expected.has(r)) continue;
                yield* hmm_range_register(r, s.mm, base + o.i * P, base + (o.i + 1) * P);
                expected.set(r, open.length === 0);
              } else if (o.kind === 'unregister') {
                const r = ranges[o.i]!;
                if (!expected.has(r)) continue;
                yield* hmm_range_unregister(r);
                expected.delete(r);
              } else if (o.kind === 'start') {
                const nr = new MmuNotifierRange();
                mmu_notifier_range_init(nr, MMU_NOTIFY_CLEAR, 0, s.mm, base + o.page * P, base + (o.page + o.pages) * P);
                yield* mmu_notifier_invalidate_range_start(nr);
                open.push(nr);
                // The kernel's test also counts a range starting exactly at the update's end.
                for (const r of expected.keys()) if (!(nr.end < r.start || nr.start >= r.end)) expected.set(r, false);
              } else {
                const nr = open.shift();
                if (nr === undefined) continue;
                yield* mmu_notifier_invalidate_range_end(nr);
                if (open.length === 0) for (const r of expected.keys()) expected.set(r, true);
              }
              for (const [r, v] of expected) if (r.valid !== v) mismatches.push(`${r.name} valid=${r.valid}, expected ${v} after ${JSON.stringify(o)}`);
              if (hmm.notifiers !== open.length) mismatches.push(`notifiers ${hmm.notifiers}, expected ${open.length}`);
              const listed = hmm.ranges.slice().sort((a, b) => a.start - b.start);
              const want = [...expected.keys()].sort((a, b) => a.start - b.start);
              if (listed.length !== want.length || listed.some((r, i) => r !== want[i])) mismatches.push(`range list ${listed.map((r) => r.name)} != ${want.map((r) => r.name)}`);
            }
            while (open.length > 0) yield* mmu_notifier_invalidate_range_end(open.shift()!);
            for (const r of expected.keys()) yield* hmm_range_unregister(r);
          },
        });
        expect(mismatches).toEqual([]);
        expect(kinds(w)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
