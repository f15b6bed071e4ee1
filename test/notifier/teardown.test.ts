/**
 * Teardown, `mmu_notifier_release` (spec §2.2 "Teardown", INV-R2): the RELEASE invalidation of
 * the whole interval tree (intervals stay in the tree), release for every classic subscription,
 * everything unlinked, and how it meets unregister and put.
 */
import { describe, expect, it } from 'vitest';
import {
  mmu_notifier_get,
  mmu_notifier_put,
  mmu_notifier_register,
  mmu_notifier_synchronize,
  mmu_notifier_unregister,
  MmuNotifier,
  type MmuNotifierOps,
} from '../../src/notifier/classic.js';
import { MMU_NOTIFY_RELEASE, MMU_NOTIFY_UNMAP, ULONG_MAX } from '../../src/notifier/events.js';
import { MmuIntervalNotifier, mmu_interval_notifier_insert, mmu_interval_notifier_remove, overlapping } from '../../src/notifier/interval.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import { mmu_notifier_range_blockable, type MmuNotifierRange } from '../../src/notifier/range.js';
import { mmu_notifier_release } from '../../src/notifier/teardown.js';
import { invalidate, logging, loggingInterval, places, run, summary } from './helpers.js';

const P = 0x1000;
const A = 0x200000;

interface St {
  mm: MmStruct;
  log: string[];
  ranges: MmuNotifierRange[];
  ivs: MmuIntervalNotifier[];
  cls: MmuNotifier[];
}

function setupWith(nIv: number, nCls: number) {
  return (w: import('../../src/sim/world.js').World): St => {
    const log: string[] = [];
    const ranges: MmuNotifierRange[] = [];
    const ivs: MmuIntervalNotifier[] = [];
    for (let i = 0; i < nIv; i++) {
      ivs.push(
        new MmuIntervalNotifier(
          {
            *invalidate(_sub, r) {
              ranges.push(r);
              log.push(`iv${i}:inv(ev${r.event}${mmu_notifier_range_blockable(r) ? '' : '/nb'})`);
              return true;
            },
          },
          `iv${i}`,
        ),
      );
    }
    const cls: MmuNotifier[] = [];
    for (let i = 0; i < nCls; i++) cls.push(logging(`c${i}`, log));
    return { mm: mm_alloc(w), log, ranges, ivs, cls };
  };
}

function* initAll(s: St) {
  for (let i = 0; i < s.ivs.length; i++) yield* mmu_interval_notifier_insert(s.ivs[i]!, s.mm, A + 4 * i * P, P);
  for (const c of s.cls) yield* mmu_notifier_register(c, s.mm);
}

describe('mmu_notifier_release', () => {
  it('runs one blockable RELEASE invalidation of [0, ULONG_MAX) over every interval; the intervals stay in the tree and a later UNMAP still reaches them', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup: setupWith(2, 0),
      init: initAll,
      tasks: {
        *exit(s) {
          yield* mmu_notifier_release(s.mm);
          const st = s.mm.notifier_subscriptions!;
          const rel = s.ranges[0]!;
          out = {
            log: [...s.log],
            range: { start: rel.start, end: rel.end, event: rel.event, blockable: mmu_notifier_range_blockable(rel), mm: rel.mm === s.mm },
            seq: st.invalidateSeq,
            active: st.activeInvalidateRanges,
            membership: s.ivs.map((x) => x.membership),
            inTree: overlapping(st, 0, Number.MAX_SAFE_INTEGER).map((x) => x.name),
          };
          // exit_mmap's unmap_vmas comes next, over the whole space.
          yield* invalidate(s.mm, 0, A + 8 * P, undefined, MMU_NOTIFY_UNMAP);
          out.after = s.log.slice(2);
          for (const iv of s.ivs) yield* mmu_interval_notifier_remove(iv);
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({
      log: [`iv0:inv(ev${MMU_NOTIFY_RELEASE})`, `iv1:inv(ev${MMU_NOTIFY_RELEASE})`],
      range: { start: 0, end: ULONG_MAX, event: MMU_NOTIFY_RELEASE, blockable: true, mm: true },
      seq: 4,
      active: 0,
      membership: ['in-tree', 'in-tree'],
      inTree: ['iv0', 'iv1'],
      after: [`iv0:inv(ev${MMU_NOTIFY_UNMAP})`, `iv1:inv(ev${MMU_NOTIFY_UNMAP})`],
    });
  });

  it('calls release on every classic subscription (newest first) and unlinks them all; later invalidations reach none', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup: setupWith(0, 3),
      init: initAll,
      tasks: {
        *exit(s) {
          yield* mmu_notifier_release(s.mm);
          out = { log: [...s.log], list: s.mm.notifier_subscriptions!.list.length, onList: s.cls.map((c) => c.onList) };
          yield* invalidate(s.mm, A, A + P);
          out.after = s.log.length;
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ log: ['c2:release', 'c1:release', 'c0:release'], list: 0, onList: [false, false, false], after: 3 });
  });

  it('handles intervals first, then the classic list', () => {
    let log: string[] = [];
    const r = run<St>({
      setup: (w) => {
        const s = setupWith(1, 1)(w);
        log = s.log;
        return s;
      },
      init: initAll,
      tasks: {
        *exit(s) {
          yield* mmu_notifier_release(s.mm);
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(log).toEqual([`iv0:inv(ev${MMU_NOTIFY_RELEASE})`, 'c0:release']);
  });

  it('an interval callback returning false for RELEASE is a WARN; the others are still called', () => {
    let log: string[] = [];
    const r = run<St>({
      setup: (w) => {
        const s = setupWith(0, 0)(w);
        log = s.log;
        return { ...s, ivs: [loggingInterval('bad', s.log, { ret: false }), loggingInterval('good', s.log)] };
      },
      init: initAll,
      tasks: {
        *exit(s) {
          yield* mmu_notifier_release(s.mm);
        },
      },
    });
    expect(places(r, 'warn')).toEqual(['release:callback-failed']);
    expect(log).toEqual(['bad:inv(3)', 'good:inv(3)']);
  });

  it('on an mm without notifier state it does nothing', () => {
    const r = run<St>({
      setup: setupWith(0, 0),
      tasks: {
        *exit(s, w) {
          yield w.point('go');
          yield* mmu_notifier_release(s.mm);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });

  it('unregister after teardown calls no second release (the subscription is no longer linked) and drops the pin', () => {
    let out: Record<string, unknown> = {};
    const r = run<St>({
      setup: setupWith(0, 1),
      init: initAll,
      tasks: {
        *exit(s) {
          const pinned = s.mm.mm_count;
          yield* mmu_notifier_release(s.mm);
          yield* mmu_notifier_unregister(s.cls[0]!, s.mm);
          out = { log: [...s.log], pinned, after: s.mm.mm_count };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ log: ['c0:release'], pinned: 2, after: 1 });
  });

  it('teardown racing unregister: release may come twice (allowed) but is never skipped, nothing is reported, and teardown returns only after a release ran, in every interleaving', () => {
    const counts = new Set<number>();
    const r = run<St & { releasesAtTeardownReturn: number }>(
      {
        setup: (w) => ({ ...setupWith(0, 1)(w), releasesAtTeardownReturn: -1 }),
        init: initAll,
        tasks: {
          *exit(s) {
            yield* mmu_notifier_release(s.mm);
            s.releasesAtTeardownReturn = s.log.length;
          },
          *unreg(s) {
            yield* mmu_notifier_unregister(s.cls[0]!, s.mm);
          },
        },
        check: (s) => {
          counts.add(s.log.length);
          if (s.releasesAtTeardownReturn < 1) return 'teardown returned before any release ran';
          return s.log.every((x) => x === 'c0:release') ? null : s.log.join(',');
        },
      },
      { random: 400 },
    );
    expect(summary(r)).toEqual([]);
    expect(r.exhausted).toBe(true);
    expect([...counts].sort()).toEqual([1, 2]);
  });

  it('put from inside release at teardown: the subscription is freed once, after release returned', () => {
    let out: Record<string, unknown> = {};
    const r = run<{ mm: MmStruct; ops: MmuNotifierOps; sub: MmuNotifier | null; log: string[] }>({
      setup: (w) => {
        const st = { mm: mm_alloc(w), ops: {} as MmuNotifierOps, sub: null as MmuNotifier | null, log: [] as string[] };
        st.ops = {
          *release(sub) {
            st.log.push('release begins');
            yield* mmu_notifier_put(sub);
            yield w.point('release still running', st.mm);
            st.log.push('release ends');
          },
          alloc_notifier: () => new MmuNotifier(st.ops, 'got'),
          free_notifier: () => {
            st.log.push('free');
          },
        };
        return st;
      },
      *init(s) {
        s.sub = (yield* mmu_notifier_get(s.ops, s.mm)) as MmuNotifier;
      },
      tasks: {
        *exit(s, w) {
          yield* mmu_notifier_release(s.mm);
          yield* mmu_notifier_synchronize(w);
          out = { log: [...s.log], mmCount: s.mm.mm_count, dead: s.sub!.dead };
        },
      },
    });
    expect(summary(r)).toEqual([]);
    expect(out).toEqual({ log: ['release begins', 'release ends', 'free'], mmCount: 1, dead: true });
  });
});
