/**
 * Small harness for the notifier-layer unit tests: a scenario from a setup, an optional init and
 * tasks, checked with the real checker under a chosen kernel contract, and helpers to read the
 * report. Every test states what it expects of the findings, so a wrong behaviour shows up as a
 * missing or unexpected kind (with its message in the assertion diff).
 */
import { checkScenario } from '../../src/check/run.js';
import type { ScenarioReport } from '../../src/check/report-model.js';
import { defineScenario, type ScenarioTask } from '../../src/check/scenario.js';
import type { StrategySpec } from '../../src/check/strategies.js';
import type { FoundProblem } from '../../src/sim/explore.js';
import type { TaskBody } from '../../src/sim/task.js';
import type { World } from '../../src/sim/world.js';
import { MmuNotifier, type MmuNotifierOps } from '../../src/notifier/classic.js';
import { MMU_NOTIFY_CLEAR } from '../../src/notifier/events.js';
import {
  mmu_notifier_invalidate_range_end,
  mmu_notifier_invalidate_range_start,
  mmu_notifier_invalidate_range_start_nonblock,
} from '../../src/notifier/invalidate.js';
import type { MmStruct } from '../../src/notifier/mm.js';
import { MmuNotifierRange, mmu_notifier_range_init, mmu_notifier_range_blockable } from '../../src/notifier/range.js';
import { MmuIntervalNotifier, mmu_interval_set_seq } from '../../src/notifier/interval.js';

/** Every interleaving (DFS without a preemption bound). */
export const EXHAUSTIVE: StrategySpec = { name: 'dfs', preemptionBound: Infinity };

/** The contract versions, oldest first. */
export type Kernel = 'v4.19' | 'v5.4' | 'v5.5' | 'v5.9' | 'current';
export const KERNELS: readonly Kernel[] = ['v4.19', 'v5.4', 'v5.5', 'v5.9', 'current'];
/** Versions with interval notifiers. */
export const INTERVAL_KERNELS: readonly Kernel[] = ['v5.5', 'v5.9', 'current'];
/** Versions with the v5.4 annotations (might_sleep, non_block, WARNs on bad starts). */
export const ANNOTATED_KERNELS: readonly Kernel[] = ['v5.4', 'v5.5', 'v5.9', 'current'];

export interface Spec<S> {
  setup: (w: World) => S;
  init?: (s: S, w: World) => TaskBody;
  tasks: Record<string, ScenarioTask<S>>;
  /** Checked at the end of every run; a non-null string fails the run (kind `check-failed`). */
  check?: (s: S, w: World) => string | null;
}

export interface RunOptions {
  kernel?: Kernel;
  /** Default: exhaustive DFS. */
  legs?: StrategySpec[];
  runs?: number;
  /**
   * Also run this many uniformly random runs and merge their findings in. The DFS legs rely on
   * the points naming what each step touches; random runs do not, so they back up "in every
   * interleaving" claims where a step's accesses are not all announced.
   */
  random?: number;
}

/** Explores the scenario and returns the report. */
export function run<S>(spec: Spec<S>, opts: RunOptions = {}): ScenarioReport {
  const sc = defineScenario<S>({
    name: 'notifier-unit',
    description: '',
    setup: spec.setup,
    ...(spec.init === undefined ? {} : { init: spec.init }),
    tasks: spec.tasks,
    ...(spec.check === undefined
      ? {}
      : {
          check: (s: S, ctx) => {
            const msg = spec.check!(s, ctx.world);
            if (msg !== null) ctx.fail(msg);
          },
        }),
  });
  const main = checkScenario(sc, {
    legs: opts.legs ?? [EXHAUSTIVE],
    seed: 1,
    runs: opts.runs ?? 100_000,
    kernel: opts.kernel ?? 'current',
    shrink: false,
  });
  if (opts.random === undefined || opts.random <= 0) return main;
  const extra = checkScenario(sc, { legs: [{ name: 'random' }], seed: 2, runs: opts.random, kernel: opts.kernel ?? 'current', shrink: false });
  const seen = new Set(main.problems.map((p) => `${p.kind}\u0000${p.place}`));
  const problems = [...main.problems, ...extra.problems.filter((p) => !seen.has(`${p.kind}\u0000${p.place}`))];
  return { ...main, runs: main.runs + extra.runs, strategies: [...main.strategies, ...extra.strategies], problems };
}

/** The distinct finding kinds of a report, sorted. */
export function kinds(r: ScenarioReport): string[] {
  return [...new Set(r.problems.map((p) => p.kind))].sort();
}

/** The problems of one kind. */
export function ofKind(r: ScenarioReport, kind: string): FoundProblem[] {
  return r.problems.filter((p) => p.kind === kind);
}

/** `kind: message` lines, for assertion diffs that say what went wrong. */
export function summary(r: ScenarioReport): string[] {
  return r.problems.map((p) => `${p.kind} @ ${p.place}: ${p.message.split('\n')[0]}`).sort();
}

/** The places of a kind's problems (stable names like `end-without-start`), sorted. */
export function places(r: ScenarioReport, kind: string): string[] {
  return ofKind(r, kind)
    .map((p) => p.place)
    .sort();
}

// ---------------------------------------------------------------------------------------------
// Building blocks shared by the notifier tests.
type Gen<T> = Generator<unknown, T, unknown>;

/** A fresh range over [start, end) of `mm`. */
export function rangeOf(mm: MmStruct, start: number, end: number, event = MMU_NOTIFY_CLEAR, flags = 0): MmuNotifierRange {
  const r = new MmuNotifierRange();
  mmu_notifier_range_init(r, event, flags, mm, start, end);
  return r;
}

/** A blocking invalidation of [start, end): start, `between` (the PTE change), end. */
export function* invalidate(mm: MmStruct, start: number, end: number, between?: () => Gen<void>, event = MMU_NOTIFY_CLEAR): Gen<MmuNotifierRange> {
  const r = rangeOf(mm, start, end, event);
  yield* mmu_notifier_invalidate_range_start(r);
  if (between !== undefined) yield* between();
  yield* mmu_notifier_invalidate_range_end(r);
  return r;
}

/** The OOM reaper's pattern: non-blocking start; on success end, on failure nothing. Returns the start's result. */
export function* reap(mm: MmStruct, start: number, end: number): Gen<number> {
  const r = rangeOf(mm, start, end, MMU_NOTIFY_CLEAR);
  const ret = yield* mmu_notifier_invalidate_range_start_nonblock(r);
  if (ret === 0) yield* mmu_notifier_invalidate_range_end(r);
  return ret;
}

/** What a logging classic subscription does. */
export interface LoggingOptions {
  /** Have a start op (default true). */
  start?: boolean;
  /** What start returns (default 0); a function gets the range. */
  startRet?: number | ((r: MmuNotifierRange) => number);
  /** Have an end op (default true). */
  end?: boolean;
  /** Have a release op (default true). */
  release?: boolean;
}

/**
 * A classic subscription that appends `name:start`, `name:end`, `name:release` (with `/nb` for a
 * non-blockable range) to `log`.
 */
export function logging(name: string, log: string[], o: LoggingOptions = {}): MmuNotifier {
  const ops: MmuNotifierOps = {};
  const nb = (r: MmuNotifierRange): string => (mmu_notifier_range_blockable(r) ? '' : '/nb');
  if (o.start !== false) {
    ops.invalidate_range_start = function* (_sub, r) {
      log.push(`${name}:start${nb(r)}`);
      const v = o.startRet;
      return typeof v === 'function' ? v(r) : (v ?? 0);
    };
  }
  if (o.end !== false) {
    ops.invalidate_range_end = function* (_sub, r) {
      log.push(`${name}:end${nb(r)}`);
    };
  }
  if (o.release !== false) {
    ops.release = function* () {
      log.push(`${name}:release`);
    };
  }
  return new MmuNotifier(ops, name);
}

/**
 * An interval subscription that logs `name:inv(cur_seq)` (with the event number and `/nb` when not
 * blockable, if `detail`), calls set_seq, and returns `ret` (default true).
 */
export function loggingInterval(name: string, log: string[], o: { ret?: boolean | ((r: MmuNotifierRange) => boolean); setSeq?: boolean; detail?: boolean } = {}): MmuIntervalNotifier {
  return new MmuIntervalNotifier(
    {
      *invalidate(sub, r, curSeq) {
        const extra = o.detail === true ? `,ev${r.event}${mmu_notifier_range_blockable(r) ? '' : '/nb'}` : '';
        log.push(`${name}:inv(${curSeq}${extra})`);
        const ret = typeof o.ret === 'function' ? o.ret(r) : (o.ret ?? true);
        if (ret && o.setSeq !== false) mmu_interval_set_seq(sub, curSeq);
        return ret;
      },
    },
    name,
  );
}
