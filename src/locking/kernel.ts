/**
 * The locking layer's per-run context: the world, the lockdep validator the run reports to, and
 * the cheap `where` every lock operation passes (materialised only when lockdep records a new
 * dependency or reports).
 *
 * Lockdep's dependency graph lives in `world.persistent`, so during an exploration it
 * accumulates over every run, as a kernel's does over a boot: a cycle whose two halves were seen
 * in different runs is still reported, naming the schedule prefix that established each half.
 * A replay runs in a fresh world, so there the graph is what that one schedule proves.
 */
import { Lockdep } from '../lockdep/lockdep.js';
import { renderReport } from '../lockdep/render.js';
import type { Where } from '../lockdep/where.js';
import { encodeSchedule } from '../sim/schedule.js';
import type { Task } from '../sim/task.js';
import { currentWorld, type World } from '../sim/world.js';
import { contractOf } from './version.js';

/** The finding kind of sleeping where the non-blocking notifier contract forbids it (spec §7.2). */
export const NONBLOCK_CONTRACT = 'nonblock-contract';

/** How lockdep runs for a scenario. */
export type LockdepMode =
  /** One graph for the whole exploration (the default for `hmmsim check`). */
  | 'exploration'
  /** A fresh graph every run: only what one schedule proves. */
  | 'run'
  /** No validation at all (sleep-context checks included); for measuring its cost. */
  | 'off';

const KERNEL_KEY = 'locking.kernel';
const LOCKDEP_KEY = 'locking.lockdep';
const MODE_KEY = 'locking.mode';

/** Per-run locking context of a world. */
export class Kernel {
  /** Reused by every operation; lockdep calls it only when it needs the details. */
  readonly where: () => Where;
  /** False when lockdep is off: lock operations skip the validator entirely. */
  readonly validating: boolean;

  constructor(
    readonly world: World,
    readonly lockdep: Lockdep,
    mode: LockdepMode,
  ) {
    this.validating = mode !== 'off';
    this.where = () => describeWhere(world);
  }

  /**
   * Per task: what non-blockable notifier callback it is in, when the core does not wrap that
   * callback in a non_block section (interval callbacks, compensating ends) but the contract
   * still forbids sleeping there.
   */
  private readonly nonblockContract: (string | null)[] = [];

  /**
   * `might_sleep` for the locking primitives: lockdep's sleep-context check, plus the
   * non-blocking contract of the notifier callbacks kernel debugging does not cover.
   */
  mightSleep(taskId: number, what: string): void {
    if (this.validating) this.lockdep.mightSleep(taskId, this.where);
    this.checkNonblockContract(taskId, what);
  }

  /** The contract half of `mightSleep` alone (for paths whose lockdep check happens elsewhere). */
  checkNonblockContract(taskId: number, what: string): void {
    const inside = this.nonblockContract[taskId];
    if (inside !== null && inside !== undefined) {
      this.world.report(
        NONBLOCK_CONTRACT,
        `${what} may sleep, inside ${inside} on a non-blockable range: the callback must not sleep there (kernel debug checks do not cover this path)`,
        `${inside}:${what}`,
      );
    }
  }

  /** Enters a non-blockable callback the core does not wrap in non_block_start (returns the previous state). */
  enterNonblockContract(taskId: number, what: string): string | null {
    const prev = this.nonblockContract[taskId] ?? null;
    this.nonblockContract[taskId] = what;
    return prev;
  }

  /** Leaves it again. */
  leaveNonblockContract(taskId: number, prev: string | null): void {
    this.nonblockContract[taskId] = prev;
  }

  /** The running task (the kernel's `current`). */
  get current(): Task {
    const t = this.world.current;
    if (t === null) throw new Error('no task is running');
    return t;
  }
}

function describeWhere(world: World): Where {
  const t = world.current;
  const d = world.decisions;
  const prefix = encodeSchedule(d.tasks, d.labels, d.count);
  return {
    taskName: t === null ? '(none)' : t.name,
    // The number of the step running now, as the trace and findings number it (steps counts it already).
    step: t === null ? world.steps : Math.max(0, world.steps - 1),
    runLabel: `schedule ${prefix} --seed ${world.seed}`,
    // No call stack exists in the model; the points the task passed last stand in for one.
    stack: t === null ? [] : t.recentPoints(),
  };
}

/** Chooses how lockdep runs in this world; call before the first lock is made (scenario setup). */
export function setLockdepMode(world: World, mode: LockdepMode): void {
  if (world.locals.has(KERNEL_KEY)) throw new Error('setLockdepMode must be called before any lock is created in the run');
  world.persistent.set(MODE_KEY, mode);
}

/** The locking context of `world` for this run, made on first use. */
export function kernelOf(world: World): Kernel {
  const k = world.locals.get(KERNEL_KEY) as Kernel | undefined;
  return k ?? startRun(world);
}

/**
 * The validator whose dependency graph has lasted the exploration in `world` (undefined if no lock
 * was ever taken there): what a portfolio merges across its workers and shards.
 */
export function explorationLockdep(world: World): Lockdep | undefined {
  return world.persistent.get(LOCKDEP_KEY) as Lockdep | undefined;
}

/** The locking context of the world whose task is running. */
export function currentKernel(): Kernel {
  return kernelOf(currentWorld());
}

function startRun(world: World): Kernel {
  const mode = (world.persistent.get(MODE_KEY) as LockdepMode | undefined) ?? 'exploration';
  let ld = world.persistent.get(LOCKDEP_KEY) as Lockdep | undefined;
  if (ld === undefined) {
    ld = new Lockdep({
      scope: mode === 'run' ? 'run' : 'persistent',
      onReport: (r) => world.report(r.kind, renderReport(r), r.place),
    });
    world.persistent.set(LOCKDEP_KEY, ld);
  }
  ld.beginRun(`seed ${world.seed}`);
  ld.reclaimTracksNotifierMap = contractOf(world).reclaimTracksNotifier;
  ld.checkWaitContext = contractOf(world).lockdepWaitContext;
  const k = new Kernel(world, ld, mode);
  world.locals.set(KERNEL_KEY, k);
  if (k.validating) world.exitHooks.push((t) => ld.taskExit(t.id, k.where));
  if (world.trace !== null && k.validating) world.trace.heldLocks = (task) => heldForTrace(ld, task);
  return k;
}

const LOCKDEP_OFF: readonly string[] = ['(not tracked: lockdep turned itself off after its report)'];

/** A task's held locks as the trace shows them: outermost first, shared ones marked (R). */
function heldForTrace(ld: Lockdep, task: number): readonly string[] {
  // Like the kernel's debug_locks, lockdep stops tracking after a report: say so, show no stale list.
  if (!ld.enabled) return LOCKDEP_OFF;
  return ld.heldLocks(task).map((l) => (l.read === 0 ? l.instance : `${l.instance} (R)`));
}
