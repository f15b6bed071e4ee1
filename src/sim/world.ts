/**
 * The deterministic world one run executes in: tasks, the run queue, the virtual clock, the step
 * budget, the findings and (on request) the trace.
 *
 * The protocol, in one picture. A task is a generator; each `yield` hands control back here and
 * announces the point the task will pass when it next runs:
 *
 *     world                          task A                         task B
 *     ─────                          ──────                         ──────
 *     spawn A ──────────────────────> runs to its first yield
 *                                     yield point('lock m', m, W)
 *     spawn B ──────────────────────────────────────────────────────> runs to its first yield
 *     choose(A, B) → A
 *     step A ───────────────────────> takes m; yield point(...)
 *     choose(A, B) → B
 *     step B ──────────────────────────────────────────────────────> m is taken: yield q.block()
 *     only A runnable: step A ──────> releases m, wakes B; ...
 *
 * - Code before a task's first yield runs inside the step that spawns it (for initial tasks,
 *   before the first step). Start every task with a point before touching shared state.
 * - A step is everything from one yield of the chosen task to its next yield: atomic.
 * - When nothing can run, the clock jumps to the earliest timed wait; with no timed wait left and
 *   a non-daemon task still blocked, that is a deadlock, reported with the wait-for chain.
 * - A task in a retry loop that must spin yields `spinPoint` instead of `point`: it is parked off
 *   the run queue until another task takes a step (loom's yield_now, shuttle's yielding flag), so
 *   no strategy keeps re-running a spin that cannot succeed, and correct spin-waits never exhaust
 *   the step budget. When only spinners are left (and no timer is due), they all run again: a
 *   spin with nobody to end it is a livelock, and the budget reports it.
 * - Nothing in here reads a clock, Math.random or any I/O: the same strategy decisions give the
 *   same run, byte for byte.
 */
import { BufferPool, type BufferAllocator } from './buffer-pool.js';
import { DecisionLog } from './decisions.js';
import { FindingKind, type Finding } from './finding.js';
import { heartbeat } from './heartbeat.js';
import { afterResume, badYield, unyieldedBlock } from './protocol.js';
import { kernelCallsOnStack } from './calls.js';
import { firstUserFrame } from './user-frame.js';
import { Access, type SimObject } from './point.js';
import { Rng } from './rng.js';
import type { Strategy } from './strategy.js';
import { Task, TaskState, type TaskBody } from './task.js';
import { Trace } from './trace.js';
import { WaitQueue } from './waitqueue.js';

/** What a task yields for a named point; the point's fields travel through the world. */
const POINT: unique symbol = Symbol('point');
/** What a task yields when it has just blocked itself on a wait queue. */
const BLOCKED: unique symbol = Symbol('blocked');

/** The world whose task is running right now: the model's `current`. */
let active: World | null = null;

/**
 * The world of the task running now. Kernel functions that take no object (kmalloc, might_sleep,
 * non_block_start) find their world here, as kernel code finds `current`.
 */
export function currentWorld(): World {
  if (active === null) throw new Error('no simulated task is running: kernel functions can only be called from task code');
  return active;
}

/** The world running a task right now, or null between runs (for guards that must not throw). */
export function runningWorld(): World | null {
  return active;
}

/**
 * Forgets a run that was cut off in the middle of a step (the command's in-thread watchdog stopped
 * a task that never reached a scheduling point; none of the engine's clean-up ran): from here on
 * no world is running, so the guards and kernel functions see code outside any task again.
 */
export function abandonRunningWorld(): void {
  active = null;
}

/** The step budget of a run unless the scenario asks for another. */
export const DEFAULT_MAX_STEPS = 100_000;

/** Options for spawning a task. */
export interface SpawnOptions {
  /** A daemon (a kthread waiting for work) still blocked at the end is not a deadlock. */
  daemon?: boolean;
}

/** How a run ended. */
export const enum RunEnd {
  /** Every non-daemon task finished. */
  Completed = 0,
  /** A fatal finding (deadlock, exception, budget, BUG) stopped it. */
  Stopped = 1,
  /** The strategy abandoned it as redundant. */
  Pruned = 2,
}

/** One deterministic execution environment, reset and reused for every run of an exploration. */
export class World {
  /** Every task of this run, by id. */
  readonly tasks: Task[] = [];
  /** Runnable tasks, sorted by id. Strategies index into this. */
  readonly runnable: Task[] = [];
  /** The task being stepped, or the last one stepped. */
  current: Task | null = null;
  /** Virtual time in ticks. */
  now = 0;
  /** Steps taken so far in this run. */
  steps = 0;
  maxSteps = DEFAULT_MAX_STEPS;
  /** Randomness available to the model itself (not to strategies), seeded per run. */
  readonly rng = new Rng(0);
  /** The run's seed (what `--seed` replays). */
  seed = 0;
  /**
   * State that outlives a run and lasts the whole exploration in this world (lockdep's
   * dependency graph, as a kernel accumulates dependencies over a boot). A replay uses a fresh
   * world, so there it is per run.
   */
  readonly persistent = new Map<string, unknown>();
  readonly findings: Finding[] = [];
  readonly decisions = new DecisionLog();
  /** Set to a Trace to record every step. */
  trace: Trace | null = null;
  /** Called after every step (for `check` on every step); null when not wanted. */
  afterStep: (() => void) | null = null;
  /** Called when a task finishes (lockdep: locks still held). */
  readonly exitHooks: ((t: Task) => void)[] = [];
  /**
   * End-of-run checks other layers register during a run (notifier quiescence, device
   * coherence); the scenario runs them before its own check. Cleared at reset.
   */
  readonly endOfRunChecks: (() => void)[] = [];
  /** Called at reset, so other layers can clear per-run state they keep on the side. */
  readonly resetHooks: (() => void)[] = [];
  end: RunEnd = RunEnd.Completed;
  private stopped = false;
  /** Blocked tasks with a deadline. */
  private readonly timed: Task[] = [];
  private nextLabel = '';
  private nextObj: SimObject | null = null;
  private nextAccess: Access = Access.None;
  private nextSpinning = false;
  /** With a trace: the kernel calls on the stack at the pending point (see calls.ts). */
  private nextCalls = '';
  /** Spinning tasks kept off the run queue until another task takes a step. */
  private readonly parked: Task[] = [];
  /**
   * Labels of steps seen to touch shared state their point does not name (oracles reading a
   * device's shadow, a callback writing a subscription's sequence). The explorer treats them as
   * conflicting with every step. Kept for the whole exploration: it is knowledge, not state.
   */
  readonly undeclaredLabels = new Set<string>();
  /** Set when this run taught `undeclaredLabels` something new (DFS then restarts its search). */
  learnedUndeclared = false;
  /** The label of the step being executed. */
  private stepLabel = '';
  /** Per-run key/value slots for layers above (lockdep state, mm registries). */
  readonly locals = new Map<string, unknown>();
  /** Typed-array storage for this run's large structures (page tables, frame metadata), recycled at reset. */
  readonly buffers = new BufferPool();
  /** `buffers.take` as a function, made once: what structures below the world are given to allocate with. */
  readonly allocateBuffer: BufferAllocator = (bytes) => this.buffers.take(bytes);

  /** Prepares the world for a fresh run. Objects made for an earlier run must not be reused. */
  reset(seed: number): void {
    this.tasks.length = 0;
    this.runnable.length = 0;
    this.current = null;
    this.now = 0;
    this.steps = 0;
    this.maxSteps = DEFAULT_MAX_STEPS;
    this.seed = seed;
    this.rng.reseed(seed);
    this.findings.length = 0;
    this.decisions.clear();
    this.trace?.clear();
    this.afterStep = null;
    this.exitHooks.length = 0;
    this.endOfRunChecks.length = 0;
    this.learnedUndeclared = false;
    this.stepLabel = '';
    this.end = RunEnd.Completed;
    this.stopped = false;
    this.timed.length = 0;
    this.parked.length = 0;
    this.nextSpinning = false;
    this.locals.clear();
    this.buffers.reclaim();
    for (const h of this.resetHooks) h();
  }

  /** Makes a wait queue belonging to this world, optionally part of an `owner` object. */
  waitQueue(name: string, owner: SimObject | null = null): WaitQueue {
    return new WaitQueue(this, name, owner);
  }

  /**
   * Announces the next scheduling point of the running task. Use as
   * `yield world.point(label, obj, access)`.
   */
  point(label: string, obj: SimObject | null = null, access: Access = Access.None): unknown {
    this.nextLabel = label;
    this.nextObj = obj;
    this.nextAccess = access;
    if (this.trace !== null) this.nextCalls = kernelCallsOnStack();
    return POINT;
  }

  /**
   * Like {@link point}, for the retry of a spin-wait: the task cannot progress until another task
   * does (a trylock that failed, a flag not yet set). Every strategy honours it, because the world
   * parks the task until someone else has taken a step. Use as `yield world.spinPoint(...)`.
   */
  spinPoint(label: string, obj: SimObject | null = null, access: Access = Access.None): unknown {
    this.nextLabel = label;
    this.nextObj = obj;
    this.nextAccess = access;
    this.nextSpinning = true;
    if (this.trace !== null) this.nextCalls = kernelCallsOnStack();
    return POINT;
  }

  /**
   * Starts a task. Its code up to its first yield runs now, as part of the caller's step.
   * `body` is a generator, or a generator function called with no arguments.
   */
  spawn(name: string, body: TaskBody | (() => TaskBody), options?: SpawnOptions): Task {
    const gen = typeof body === 'function' ? body() : body;
    const t = new Task(this.tasks.length, name, gen, options?.daemon === true);
    this.tasks.push(t);
    this.insertRunnable(t);
    const caller = this.current;
    const callerWorld = active;
    this.current = t;
    active = this;
    this.resume(t);
    this.current = caller;
    active = callerWorld;
    return t;
  }

  /** Sleeps until `t` has finished. Use as `yield* world.join(t)`. */
  *join(t: Task): Generator<unknown, void, unknown> {
    while (t.state !== TaskState.Done) {
      if (t.exitQueue === null) {
        const q = new WaitQueue(this, `exit of ${t.name}`);
        q.holder = () => t.name;
        t.exitQueue = q;
      }
      yield t.exitQueue.block();
    }
  }

  /**
   * Declares that the running step touches shared state its point did not name. Partial-order
   * reduction is only sound if every conflicting access is announced; call this where code
   * reaches past its point (an oracle, a helper writing another object's field), and the
   * explorer will treat steps with this label as conflicting with all others.
   */
  touchUndeclared(): void {
    const l = this.stepLabel;
    if (l === '' || this.undeclaredLabels.has(l)) return;
    this.undeclaredLabels.add(l);
    this.learnedUndeclared = true;
  }

  /** Records a finding. A fatal one (a BUG, a deadlock) ends the run after the current step. */
  report(kind: string, message: string, place: string, fatal = false): void {
    const task = this.current;
    // Inside a step, the step's own number (its trace line); outside, the number of steps taken.
    const step = this.stepLabel !== '' ? this.steps - 1 : this.steps;
    this.findings.push({ kind, message, place, task: task === null ? null : task.name, step });
    this.trace?.note(`[${kind}] ${message}`, true);
    if (fatal) this.stop(RunEnd.Stopped);
  }

  /** Ends the run after the current step. */
  stop(end: RunEnd): void {
    this.stopped = true;
    this.end = end;
  }

  /** True once a fatal finding or the strategy has ended the run. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Runs until every task is done, a fatal finding, deadlock, the step budget, or pruning. */
  run(strategy: Strategy): RunEnd {
    const rq = this.runnable;
    active = this;
    while (!this.stopped) {
      const n = rq.length;
      if (n === 0) {
        if (this.expireTimers()) continue;
        if (this.parked.length > 0) {
          this.unpark();
          continue;
        }
        this.checkDeadlock();
        break;
      }
      if (this.steps >= this.maxSteps) {
        this.reportBudget();
        break;
      }
      let t: Task;
      if (n === 1) {
        t = rq[0]!;
        if (strategy.observeForced !== undefined && !strategy.observeForced(this)) {
          this.stop(RunEnd.Pruned);
          break;
        }
      } else {
        const i = strategy.choose(this);
        if (i < 0) {
          this.stop(RunEnd.Pruned);
          break;
        }
        t = rq[i]!;
        const prev = this.current;
        this.decisions.push(t.id, t.label, prev !== null && prev !== t && prev.state === TaskState.Runnable && !prev.spinning);
      }
      this.step(t);
    }
    active = null;
    this.current = null; // end-of-run checks belong to no task
    return this.end;
  }

  /** Steps one task: from its pending point to its next yield. */
  private step(t: Task): void {
    this.current = t;
    this.stepLabel = t.label;
    if (this.trace !== null) this.trace.step(t.id, t.label, t.obj, t.access, t.calls);
    t.recent[t.steps % t.recent.length] = t.label;
    t.steps++;
    this.steps++;
    heartbeat.view[0]++;
    this.resume(t);
    if (t.spinning && t.state === TaskState.Runnable) {
      this.removeRunnable(t);
      this.parked.push(t);
    } else if (this.parked.length > 0) {
      this.unpark(); // t made progress: the spinners may now succeed
    }
    this.stepLabel = ''; // outside a step (end-of-run checks) nothing is attributed to one
    if (this.trace !== null) this.trace.close();
    if (this.afterStep !== null && !this.stopped) this.afterStep();
  }

  private resume(t: Task): void {
    let r: IteratorResult<unknown, unknown>;
    try {
      r = t.gen.next();
    } catch (e) {
      this.taskThrew(t, e);
      afterResume(this, t);
      return;
    }
    afterResume(this, t);
    if (r.done === true) {
      this.exitTask(t);
      return;
    }
    const v = r.value;
    if (v === POINT) {
      if (t.state === TaskState.Blocked) unyieldedBlock(this, t, t.waitingOn!.name);
      t.label = this.nextLabel;
      t.obj = this.nextObj;
      t.access = this.nextAccess;
      t.spinning = this.nextSpinning;
      this.nextSpinning = false;
      if (this.trace !== null) t.calls = this.nextCalls;
    } else if (v !== BLOCKED) {
      // A bare `yield` or `yield 'label'`: a point that conflicts with everything.
      if (v !== undefined && typeof v !== 'string') badYield(this, t, v);
      if (t.state === TaskState.Blocked) unyieldedBlock(this, t, t.waitingOn!.name);
      t.label = typeof v === 'string' ? v : 'yield';
      t.obj = null;
      t.access = Access.None;
      t.spinning = false;
      t.calls = ''; // a bare yield is seen only after the task's stack is gone
    } else {
      t.spinning = false;
    }
  }

  /** Called by WaitQueue.block: takes the current task off the run queue. */
  blockCurrent(q: WaitQueue, ticks: number): unknown {
    const t = this.current;
    if (t === null || t.state !== TaskState.Runnable) {
      throw new Error(`wait on ${q.name} outside a running task: only task code can sleep`);
    }
    this.removeRunnable(t);
    t.state = TaskState.Blocked;
    t.waitingOn = q;
    t.timedOut = false;
    q.waiters.push(t);
    if (ticks >= 0) {
      t.deadline = this.now + ticks;
      this.timed.push(t);
    }
    t.label = q.sleepLabel;
    t.obj = q.object;
    t.access = Access.Write;
    if (this.trace !== null) t.calls = kernelCallsOnStack();
    return BLOCKED;
  }

  /** Called by WaitQueue on wake-up and by the clock on timeout. */
  makeRunnable(t: Task, label: string, obj: SimObject | null, access: Access, timedOut: boolean): void {
    if (t.state !== TaskState.Blocked) return;
    if (t.deadline >= 0) {
      const i = this.timed.indexOf(t);
      if (i >= 0) this.timed.splice(i, 1);
      t.deadline = -1;
    }
    t.state = TaskState.Runnable;
    t.waitingOn = null;
    t.timedOut = timedOut;
    t.label = label;
    t.obj = obj;
    t.access = access;
    this.insertRunnable(t);
  }

  /** Puts every parked spinner back on the run queue. */
  private unpark(): void {
    const p = this.parked;
    for (let i = 0; i < p.length; i++) this.insertRunnable(p[i]!);
    p.length = 0;
  }

  private insertRunnable(t: Task): void {
    const rq = this.runnable;
    let i = rq.length;
    rq.push(t);
    while (i > 0 && rq[i - 1]!.id > t.id) {
      rq[i] = rq[i - 1]!;
      i--;
    }
    rq[i] = t;
  }

  private removeRunnable(t: Task): void {
    const rq = this.runnable;
    const i = rq.indexOf(t);
    if (i >= 0) rq.splice(i, 1);
  }

  /** Nothing can run: jump the clock to the earliest deadline and wake whoever it expires for. */
  private expireTimers(): boolean {
    if (this.timed.length === 0) return false;
    let earliest = Infinity;
    for (const t of this.timed) if (t.deadline < earliest) earliest = t.deadline;
    this.now = earliest;
    const due = this.timed.filter((t) => t.deadline === earliest);
    for (const t of due) {
      const q = t.waitingOn!;
      q.remove(t);
      this.makeRunnable(t, `timeout on ${q.name}`, q, Access.Write, true);
    }
    return true;
  }

  private exitTask(t: Task): void {
    t.state = TaskState.Done;
    this.removeRunnable(t);
    t.label = 'exited';
    t.obj = null;
    for (const h of this.exitHooks) h(t);
    t.exitQueue?.wakeAll();
  }

  private taskThrew(t: Task, e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    const where = firstUserFrame(err);
    this.report(
      FindingKind.Exception,
      `task ${t.name} threw in step ${this.steps - 1} (after point '${t.label}'): ${err.message}` +
        (where === null ? '' : `\n  at ${where}`),
      `${t.name}: ${err.message}`,
      true,
    );
    t.state = TaskState.Done;
    this.removeRunnable(t);
  }

  private checkDeadlock(): void {
    const stuck = this.tasks.filter((t) => t.state === TaskState.Blocked && !t.daemon);
    if (stuck.length === 0) {
      this.end = RunEnd.Completed;
      return;
    }
    const lines = stuck.map((t) => {
      const q = t.waitingOn!;
      const holder = q.holderName();
      const held = holder === null ? '' : ` (held by ${holder})`;
      return `  ${t.name} sleeps on ${q.name}${held}; its last points: ${t.recentPoints().join(' -> ')}`;
    });
    const place = stuck
      .map((t) => t.waitingOn!.name)
      .sort()
      .join(' | ');
    this.current = null;
    this.report(
      FindingKind.Deadlock,
      `every task is asleep and no timer is pending, at step ${this.steps}:\n${lines.join('\n')}`,
      place,
      true,
    );
  }

  private reportBudget(): void {
    this.unpark();
    const spinning = this.runnable.map((t) => `${t.name} at '${t.label}'`).join(', ');
    this.current = null;
    this.report(
      FindingKind.StepBudget,
      `step budget of ${this.maxSteps} exceeded, possible livelock; still runnable: ${spinning}`,
      this.runnable
        .map((t) => `${t.name}:${t.label}`)
        .sort()
        .join(' | '),
      true,
    );
  }
}
