/**
 * Helpers for the mm tests: run task bodies in a fresh world, one schedule, and hand back the
 * world for inspection.
 */
import { NonPreemptiveStrategy } from '../../src/sim/strategies/non-preemptive.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import type { Strategy } from '../../src/sim/strategy.js';
import type { TaskBody } from '../../src/sim/task.js';
import { World } from '../../src/sim/world.js';
import { mm_consistency } from '../../src/mm/check.ts';
import { memoryOf } from '../../src/mm/memory.ts';
import type { Mm } from '../../src/mm/mm-struct.ts';
import { EAGAIN } from '../../src/locking/errno.js';
import { currentKernel } from '../../src/locking/kernel.js';
import { FS_RECLAIM_MAP } from '../../src/locking/lockdep-maps.js';
import { rwsem_is_held } from '../../src/locking/rwsem.js';
import { MmuNotifier, mmu_notifier_register } from '../../src/notifier/classic.js';
import { mmu_notifier_range_blockable, type MmuNotifierRange } from '../../src/notifier/range.js';

/** A task for `run`: gets the state `setup` built. */
export type TestTask<S> = (s: S, w: World) => TaskBody;

/** Runs `tasks` (by name) once; without a seed, non-preemptively, else under a random schedule. */
export function run<S>(setup: (w: World) => S, tasks: Record<string, TestTask<S>>, seed?: number): { s: S; w: World } {
  const w = new World();
  const strategy: Strategy = seed === undefined ? new NonPreemptiveStrategy() : new RandomStrategy();
  strategy.beginRun(0, seed ?? 1);
  w.reset(seed ?? 1);
  const s = setup(w);
  for (const [name, t] of Object.entries(tasks)) w.spawn(name, () => t(s, w));
  w.run(strategy);
  for (const h of w.endOfRunChecks) h();
  strategy.endRun(w);
  return { s, w };
}

/** Runs one task body once and returns what it returned, with the world. */
export function run1<T>(body: (w: World) => Generator<unknown, T, unknown>): { value: T; w: World } {
  let value: T | undefined;
  const { w } = run(() => null, {
    *main(_s, w) {
      value = yield* body(w);
    },
  });
  return { value: value as T, w };
}

/** Finding kinds of a world, sorted, distinct. */
export function kinds(w: World): string[] {
  return [...new Set(w.findings.map((f) => f.kind))].sort();
}

/** The mm layer's consistency report for the world's memory. */
export function consistency(w: World): string[] {
  const sys = memoryOf(w);
  return sys === undefined ? [] : mm_consistency(sys);
}

/** One invalidation a recording notifier saw. */
export interface Seen {
  op: 'start' | 'end' | 'release';
  event: number;
  start: number;
  end: number;
  blockable: boolean;
  /** How the running task held the mm's mmap_lock during the callback. */
  mmapLock: 'write' | 'read' | 'none';
  /** Whether the running task held fs_reclaim during the callback. */
  fsReclaim: boolean;
  /** Task that made the call. */
  task: string;
}

/**
 * Registers a classic notifier on `mm` that records every start, end and release, with the
 * locks the caller held. `fail` makes non-blockable starts return -EAGAIN.
 */
export function* recordInvalidations(mm: Mm, fail = false): Generator<unknown, Seen[], unknown> {
  const seen: Seen[] = [];
  const note = (op: Seen['op'], r: MmuNotifierRange | null): void => {
    const k = currentKernel();
    const t = k.current;
    seen.push({
      op,
      event: r?.event ?? -1,
      start: r?.start ?? 0,
      end: r?.end ?? 0,
      blockable: r === null ? true : mmu_notifier_range_blockable(r),
      mmapLock: rwsem_is_held(mm.mmap_lock, true) ? 'write' : rwsem_is_held(mm.mmap_lock) ? 'read' : 'none',
      fsReclaim: k.lockdep.isHeld(t.id, FS_RECLAIM_MAP),
      task: t.name,
    });
  };
  const sub = new MmuNotifier(
    {
      *invalidate_range_start(_s, r) {
        note('start', r);
        return fail && !mmu_notifier_range_blockable(r) ? -EAGAIN : 0;
      },
      ...(fail
        ? {}
        : {
            *invalidate_range_end(_s: MmuNotifier, r: MmuNotifierRange) {
              note('end', r);
            },
          }),
      *release() {
        note('release', null);
      },
    },
    `recorder-${mm.name}`,
  );
  yield* mmu_notifier_register(sub, mm);
  return seen;
}

/** The starts among `seen`, as `EVENT [start, end)` strings (hex). */
export function starts(seen: readonly Seen[]): string[] {
  return seen.filter((s) => s.op === 'start').map((s) => `${EVENT_NAMES[s.event]} [0x${s.start.toString(16)}, 0x${s.end.toString(16)})`);
}

const EVENT_NAMES = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE'];

/** `[start, end)` as the strings `starts` makes. */
export function rng(event: string, start: number, end: number): string {
  return `${event} [0x${start.toString(16)}, 0x${end.toString(16)})`;
}
