/**
 * Reports as plain data (spec §15, §16). Everything a renderer or the finding
 * layer needs is copied in at report time, so a report stays valid after the
 * run, the graph or the held stacks move on.
 */
import type { ClassTable } from './classes.ts';
import { isDmaFenceKey, isFsReclaimKey, isNotifierKey } from './fake-maps.ts';
import { DEP_EN, DEP_ER, DEP_SN, depKind, type DepPath, kindNames } from './graph.ts';
import type { LockdepMap } from './map.ts';
import type { TaskState } from './task-state.ts';
import type { WhereSnapshot } from './where.ts';

/** Finding kinds produced by this layer. */
export type LockdepReportKind =
  | 'lockdep-circular'
  | 'lockdep-recursive'
  | 'lockdep-bad-unlock'
  | 'lockdep-held-freed'
  | 'lockdep-held-at-exit'
  | 'lockdep-nested-not-taken'
  | 'lockdep-limit'
  | 'lockdep-debug-warn'
  | 'lockdep-wait-context'
  | 'lockdep-inconsistent'
  | 'lockdep-irq-inversion'
  | 'lockdep-irq-safe-unsafe'
  | 'sleep-in-atomic'
  | 'non-block-imbalance';

/** A lock as shown in reports. */
export interface LockDesc {
  /** Instance (map) name. */
  readonly instance: string;
  /** Instance number, to tell two instances of one class apart. */
  readonly instanceId: number;
  /** Class name with `#version` and `/subclass` suffixes. */
  readonly className: string;
  /** 0 exclusive, 1 shared, 2 recursive shared. */
  readonly read: number;
  /** Step of the acquisition, -1 if unknown or not held. */
  readonly step: number;
}

/** One `-> #k` block of a circular report: the dependency "after → lock". */
export interface DependencyLink {
  /** k of `-> #k`: distance from the lock being acquired along the cycle. */
  readonly index: number;
  /** Class acquired. */
  readonly lock: string;
  /** Class that was held when `lock` was acquired. */
  readonly after: string;
  /** Edge kinds (EN/ER/SN/SR) of the dependency. */
  readonly kinds: readonly string[];
  /** Where the dependency was first recorded; for #0, the current acquisition. */
  readonly established: WhereSnapshot;
  /** True for #0, the dependency being added now. */
  readonly current: boolean;
}

/** The CPU0/CPU1 "Possible unsafe locking scenario" table (§16.2). */
export interface Scenario {
  /** CPU0 takes the held lock P: `lock(P)` or `rlock(P)`. */
  readonly cpu0First: string;
  /** CPU1 takes the lock just before P on the path (N for a two-lock cycle). */
  readonly cpu1First: string;
  /** CPU1 then wants P. */
  readonly cpu1Second: string;
  /** CPU0 then wants N: deadlock. */
  readonly cpu0Second: string;
}

interface ReportBase {
  /** Finding kind. */
  readonly kind: LockdepReportKind;
  /** Verbatim kernel title line. */
  readonly title: string;
  /** De-duplication key: the same bug gives the same place across runs and schedules. */
  readonly place: string;
  /** Where the problem was detected (task, step, stack, run). */
  readonly where: WhereSnapshot;
  /** Locks held by the reporting task at that moment. */
  readonly heldLocks: readonly LockDesc[];
  /** Whether this report switched lock validation off, and until when. */
  readonly validationOff: 'run' | 'scope' | null;
}

/** "possible circular locking dependency detected". */
export interface CircularReport extends ReportBase {
  readonly kind: 'lockdep-circular';
  /** The lock being acquired (N). */
  readonly trying: LockDesc;
  /** The held lock that N would come after (P). */
  readonly holding: LockDesc;
  /** Blocks from #k (the dependency reaching `holding`) down to #0 (the current one). */
  readonly links: readonly DependencyLink[];
  /** `N --> M --> P` when the cycle has more than two locks. */
  readonly chainExists: readonly string[] | null;
  readonly scenario: Scenario;
  /** One line per fake map on the cycle, saying what it means. */
  readonly fakeNotes: readonly string[];
  readonly hint: string | null;
  /** Distinct run labels in which the cycle's dependencies were recorded. */
  readonly runs: readonly string[];
}

/** "possible recursive locking detected". */
export interface RecursiveReport extends ReportBase {
  readonly kind: 'lockdep-recursive';
  /** The lock being acquired. */
  readonly trying: LockDesc;
  /** The held lock of the same class. */
  readonly holding: LockDesc;
  /** Non-empty when the recursion was found through the graph (subclass corner cases). */
  readonly links: readonly DependencyLink[];
}

/** "bad unlock balance detected!". */
export interface BadUnlockReport extends ReportBase {
  readonly kind: 'lockdep-bad-unlock';
  /** The lock being released (not held). */
  readonly lock: LockDesc;
}

/** "held lock freed!" (freed or re-initialised while held). */
export interface HeldFreedReport extends ReportBase {
  readonly kind: 'lockdep-held-freed';
  /** The held lock whose memory goes away. */
  readonly lock: LockDesc;
  /** Freed, or re-initialised in place. */
  readonly action: 'free' | 'init';
  /** The task holding the lock (usually the reporting task). */
  readonly holderTask: { readonly id: number; readonly name: string };
}

/** A task finished while still holding locks. */
export interface HeldAtExitReport extends ReportBase {
  readonly kind: 'lockdep-held-at-exit';
}

/** "Nested lock was not taken". */
export interface NestedNotTakenReport extends ReportBase {
  readonly kind: 'lockdep-nested-not-taken';
  /** The lock being acquired with a nest lock. */
  readonly trying: LockDesc;
  /** Instance name of the nest lock that is not held. */
  readonly nestLock: string;
}

/** Internal lockdep limits ("BUG: MAX_LOCK_DEPTH too low!", invalid subclass). */
export interface LimitReport extends ReportBase {
  readonly kind: 'lockdep-limit';
  /** Which limit and for which lock. */
  readonly message: string;
}

/**
 * A `DEBUG_LOCKS_WARN_ON(condition)` of a lock implementation's debug checks (ww_mutex misuse):
 * like any lockdep report it switches validation off.
 */
export interface DebugWarnReport extends ReportBase {
  readonly kind: 'lockdep-debug-warn';
  /** The condition that held, as the kernel prints it. */
  readonly condition: string;
  /** What it means, in one sentence. */
  readonly message: string;
}

/** "[ BUG: Invalid wait context ]". */
export interface WaitContextReport extends ReportBase {
  readonly kind: 'lockdep-wait-context';
  /** The lock being acquired. */
  readonly trying: LockDesc;
  /** Its outer wait type, `{n:name}`. */
  readonly tryingWait: string;
  /** The strictest inner wait type of the context. */
  readonly contextWait: string;
  /** The held lock (or irq context) that sets it. */
  readonly context: string;
}

/** The irq-state reports (spec §10): inconsistent lock state, irq lock inversion, safe -> unsafe order. */
export interface IrqReport extends ReportBase {
  readonly kind: 'lockdep-inconsistent' | 'lockdep-irq-inversion' | 'lockdep-irq-safe-unsafe';
  /** The lock being acquired (or marked). */
  readonly trying: LockDesc;
  /** What conflicts with what, in one paragraph. */
  readonly message: string;
  /** HARDIRQ or SOFTIRQ. */
  readonly irqClass: string;
}

/** "BUG: sleeping function called from invalid context". */
export interface SleepReport extends ReportBase {
  readonly kind: 'sleep-in-atomic';
  /** Call site (innermost stack label). */
  readonly site: string;
  /** A spinning lock is held or preemption is disabled. */
  readonly inAtomic: boolean;
  /** Interrupts are disabled. */
  readonly irqsDisabled: boolean;
  /** non_block_start depth. */
  readonly nonBlock: number;
  /** Spinning locks held plus explicit preempt_disable depth. */
  readonly preemptCount: number;
  /** Spinning locks held, innermost last. */
  readonly spinLocks: readonly string[];
  /** False if lockdep was already off, so the held-lock list is not tracked. */
  readonly heldTracked: boolean;
}

/** `non_block_end` without a matching `non_block_start`. */
export interface NonBlockImbalanceReport extends ReportBase {
  readonly kind: 'non-block-imbalance';
}

/** Any report produced by this layer. */
export type LockdepReport =
  | CircularReport
  | RecursiveReport
  | BadUnlockReport
  | HeldFreedReport
  | HeldAtExitReport
  | NestedNotTakenReport
  | LimitReport
  | DebugWarnReport
  | WaitContextReport
  | IrqReport
  | SleepReport
  | NonBlockImbalanceReport;

/** Describes held entry `i` of a task. */
export function heldDesc(classes: ClassTable, t: TaskState, i: number): LockDesc {
  const map = t.maps[i]!;
  return {
    instance: map.name,
    instanceId: classes.instanceId(map),
    className: classes.list[t.cls[i]!]!.name,
    read: t.read[i]!,
    step: t.step[i]!,
  };
}

/** Describes a lock that is not (or not yet) on a held stack. */
export function mapDesc(classes: ClassTable, map: LockdepMap, cls: number, read: number, step: number): LockDesc {
  return {
    instance: map.name,
    instanceId: classes.instanceId(map),
    className: cls >= 0 ? classes.list[cls]!.name : map.name,
    read,
    step,
  };
}

/** The whole held stack of a task. */
export function heldList(classes: ClassTable, t: TaskState): LockDesc[] {
  const out: LockDesc[] = [];
  for (let i = 0; i < t.depth; i++) out.push(heldDesc(classes, t, i));
  return out;
}

/** Builds the `-> #k` blocks from a path N → … → P plus the closing P → N. */
export function buildLinks(
  classes: ClassTable,
  path: DepPath,
  holdingCls: number,
  holdingRead: number,
  tryingCls: number,
  tryingRead: number,
  current: WhereSnapshot,
): DependencyLink[] {
  const links: DependencyLink[] = [];
  for (let j = path.length; j >= 1; j--) {
    const e = path[j - 1]!;
    links.push({
      index: j,
      lock: classes.list[e.to]!.name,
      after: classes.list[e.from]!.name,
      kinds: kindNames(e.kinds),
      established: e.established,
      current: false,
    });
  }
  links.push({
    index: 0,
    lock: classes.list[tryingCls]!.name,
    after: classes.list[holdingCls]!.name,
    kinds: kindNames(depKind(holdingRead, tryingRead)),
    established: current,
    current: true,
  });
  return links;
}

/** Scenario, notes, hint and place for a circular report. */
export function describeCycle(
  classes: ClassTable,
  path: DepPath,
  trying: LockDesc,
  holding: LockDesc,
  tryingCls: number,
  holdingCls: number,
): Pick<CircularReport, 'chainExists' | 'scenario' | 'fakeNotes' | 'hint' | 'runs' | 'place'> {
  const last = path[path.length - 1]!;
  const m = classes.list[last.from]!.name;
  const lockOrR = (read: boolean, name: string): string => `${read ? 'rlock' : 'lock'}(${name})`;
  const scenario: Scenario = {
    cpu0First: lockOrR(holding.read !== 0, holding.className),
    // M was a reader if the dependency never started from an exclusive holder.
    cpu1First: lockOrR((last.kinds & (DEP_EN | DEP_ER)) === 0, m),
    // P was taken as a recursive reader if no kind ends in an exclusive/non-recursive acquisition.
    cpu1Second: lockOrR((last.kinds & (DEP_EN | DEP_SN)) === 0, holding.className),
    cpu0Second: lockOrR(trying.read !== 0, trying.className),
  };
  const cycle = [tryingCls, ...path.map((e) => e.to)];
  if (cycle[cycle.length - 1] !== holdingCls) cycle.push(holdingCls);
  const names = cycle.map((c) => classes.list[c]!.name);
  const fakeNotes: string[] = [];
  let notifier = false;
  let reclaim = false;
  let fence = false;
  const real: string[] = [];
  for (const c of new Set(cycle)) {
    const k = classes.list[c]!;
    if (k.fakeNote !== undefined) fakeNotes.push(k.fakeNote);
    else real.push(k.name);
    if (isNotifierKey(k.key)) notifier = true;
    if (isFsReclaimKey(k.key)) reclaim = true;
    if (isDmaFenceKey(k.key)) fence = true;
  }
  const runs = [...new Set([...path.map((e) => e.established.runLabel)])];
  return {
    chainExists: path.length > 1 ? [trying.className, m, holding.className] : null,
    scenario,
    fakeNotes,
    hint: fence ? fenceHint(notifier, reclaim, real) : cycleHint(notifier, reclaim, real),
    runs,
    place: [...new Set(names)].sort().join(' | '),
  };
}

function fenceHint(notifier: boolean, reclaim: boolean, real: string[]): string {
  const via = [reclaim ? 'memory reclaim' : '', notifier ? 'an MMU notifier invalidation' : ''].filter((x) => x !== '').join(' and ');
  const what = real.length > 0 ? `takes ${real.join(', ')}, which is also held while waiting for a fence` : 'may enter memory reclaim';
  return (
    'Code that a published dma_fence needs in order to signal (a dma_fence_begin_signalling section) ' +
    `${what}${via === '' ? '' : `; ${via} may wait for fences`}. Allocate (GFP_KERNEL) and take such locks before ` +
    'the fence is published, or use GFP_NOWAIT/GFP_ATOMIC inside the section.'
  );
}

function cycleHint(notifier: boolean, reclaim: boolean, real: string[]): string | null {
  if (real.length === 0) return null;
  const locks = real.join(', ');
  if (notifier) {
    return (
      `${locks} is taken inside an MMU notifier invalidation (or while waiting for one) and is also held ` +
      'across a reclaim-capable allocation, which may itself have to wait for MMU notifiers. Allocate before ' +
      'taking the lock, use a non-blocking mask (GFP_NOWAIT/GFP_ATOMIC), or do not take this lock in the ' +
      'invalidate callback. A memalloc_nofs/noio scope does not help: only a non-blocking mask or ' +
      'memalloc_noreclaim removes the notifier dependency.'
    );
  }
  if (reclaim) {
    return (
      `${locks} is held across a reclaim-capable allocation and also taken from memory reclaim. Allocate ` +
      'before taking the lock, or keep reclaim from entering filesystems (GFP_NOFS or a memalloc_nofs scope).'
    );
  }
  return null;
}
