/**
 * The validator core. Two scopes (see `OffAfterReport` and `GraphScope`): the
 * graph scope (classes, dependencies, chain cache) may outlive many runs of an
 * exploration, like a kernel accumulating dependencies over a boot; the run
 * scope (held-lock stacks, per-task sleep/alloc context, "lockdep is off")
 * starts afresh at every `beginRun`.
 *
 * The hot path is `lockAcquire`/`release` on a chain-cache hit: integer class
 * ids, typed-array held stacks, a numeric chain key; nothing is allocated.
 */
import { ChainCache, chainId, chainKeyStep } from './chain-cache.ts';
import { ClassTable } from './classes.ts';
import { gfpToString, memallocScopeNames } from './gfp.ts';
import { DepGraph } from './graph.ts';
import { LOCKDEP_NO_TRACK, LOCKDEP_NO_VALIDATE, type LockClassKey, type LockdepMap, MAX_LOCKDEP_SUBCLASSES } from './map.ts';
import type { GraphScope, LockdepOptions, LockdepStats, OffAfterReport } from './options.ts';
import { heldDesc, heldList, type LockDesc, type LockdepReport, mapDesc } from './reports.ts';
import { HELD_CHECK, HELD_TRYLOCK, MAX_LOCK_DEPTH, TaskState } from './task-state.ts';
import { IrqUsage, markUsage, usageBits } from './irq-usage.ts';
import { validateChain } from './validate.ts';
import { snapshotWhere, type WhereArg, type WhereSnapshot } from './where.ts';

/** The validator core: acquire/release, held stacks, reports. `Lockdep` adds the convenience API. */
export class LockdepCore {
  /** Lock classes (graph scope). */
  readonly classes = new ClassTable();
  /** Dependency graph (graph scope). */
  readonly graph = new DepGraph();
  /** Validated chains (graph scope). */
  readonly chains = new ChainCache();
  /** IRQ usage bits of every class (graph scope). */
  readonly irq = new IrqUsage();
  /** Graph lifetime chosen at construction. */
  readonly scope: GraphScope;
  /** What a lockdep report does to validation (see `OffAfterReport`). */
  readonly offAfterReport: OffAfterReport;
  /** False only for tests and comparisons: validate every acquisition. */
  readonly useChainCache: boolean;
  /** False once a report switched validation off (spec §13). */
  /**
   * Whether a reclaim-capable allocation also acquires the mmu notifier start map (kernels from
   * v5.9 on). Older kernels learned that dependency only from registration-time priming.
   */
  reclaimTracksNotifierMap = true;
  /** Whether acquisitions are checked against the wait context (kernels from v5.7 on). */
  checkWaitContext = true;
  enabled = true;
  /** Label of the current run (schedule string, run number…). */
  runLabel = '';
  /** Runs begun so far. */
  runs = 0;
  /** Reports of the current run, in order. */
  readonly reports: LockdepReport[] = [];
  private readonly onReport: ((r: LockdepReport) => void) | undefined;
  private runGen = 0;
  private readonly tasks: TaskState[] = [];
  private readonly aliases: number[] = [];
  private aliasing = false;
  private readonly aliasGen: number[] = [];
  private readonly seen = new Set<string>();
  // Scratch copy of held entries while rebuilding a stack (never re-entered).
  private readonly sMap: (LockdepMap | null)[] = new Array<LockdepMap | null>(MAX_LOCK_DEPTH).fill(null);
  private readonly sNest: (LockdepMap | null)[] = new Array<LockdepMap | null>(MAX_LOCK_DEPTH).fill(null);
  private readonly sCls = new Int32Array(MAX_LOCK_DEPTH);
  private readonly sRead = new Uint8Array(MAX_LOCK_DEPTH);
  private readonly sFlags = new Uint8Array(MAX_LOCK_DEPTH);
  private readonly sRefs = new Int32Array(MAX_LOCK_DEPTH);
  private readonly sStep = new Float64Array(MAX_LOCK_DEPTH);
  private readonly sIctx = new Uint8Array(MAX_LOCK_DEPTH);

  constructor(opts: LockdepOptions = {}) {
    this.scope = opts.scope ?? 'persistent';
    this.offAfterReport = opts.offAfterReport ?? 'run';
    this.useChainCache = opts.chainCache ?? true;
    this.onReport = opts.onReport;
  }

  /**
   * Starts a run: forgets held stacks and per-task context, clears this run's
   * reports, re-enables validation unless `offAfterReport` is `scope` (and the
   * graph persists). With `scope: 'run'` the graph is reset too.
   */
  beginRun(runLabel: string = String(this.runs + 1)): void {
    this.runs++;
    this.runLabel = runLabel;
    this.runGen++;
    this.classes.newRun();
    this.reports.length = 0;
    this.seen.clear();
    if (this.scope === 'run') this.resetGraph();
    if (this.offAfterReport !== 'scope' || this.scope === 'run') this.enabled = true;
  }

  /** Full reset: graph, classes, chains, tasks, reports and the enabled flag. */
  reset(): void {
    this.resetGraph();
    this.runGen++;
    this.reports.length = 0;
    this.seen.clear();
    this.enabled = true;
  }

  /** Counters (cheap; allocates the result object). */
  stats(): LockdepStats {
    return {
      classes: this.classes.size,
      edges: this.graph.size,
      chains: this.chains.size,
      chainHits: this.chains.hits,
      chainMisses: this.chains.misses,
      searches: this.graph.searches,
    };
  }

  // ---- acquire / release ------------------------------------------------

  /** `lock_acquire` with the kernel's positional arguments (no option object). */
  lockAcquire(
    task: number,
    map: LockdepMap,
    subclass: number,
    trylock: boolean,
    read: number,
    check: boolean,
    nestLock: LockdepMap | null,
    where: WhereArg,
  ): void {
    const t = this.task(task);
    // Spinning locks count like preempt_count: tracked even when lockdep is off.
    if (map.wait === 'spin') t.spinDepth++;
    this.acquireTracked(t, map, subclass, trylock, read, check, nestLock, where);
  }

  /** `lock_release`: unlocking a lock the task does not hold is "bad unlock balance". */
  release(task: number, map: LockdepMap, where: WhereArg): void {
    const t = this.task(task);
    if (map.wait === 'spin' && t.spinDepth > 0) t.spinDepth--;
    if (!this.enabled || map.key === LOCKDEP_NO_TRACK) return;
    this.releaseCore(t, map, where);
  }

  /**
   * `lock_is_held`: whether the task holds `map` (directly or merged under a
   * nest lock). Returns true while validation is off, so assertions built on
   * it stay quiet, as in the kernel.
   */
  isHeld(task: number, map: LockdepMap): boolean {
    if (!this.enabled) return true;
    return this.findHeld(this.task(task), map) >= 0;
  }

  /**
   * `lock_is_held_type(map, read)`: held with exactly that read mode (0, 1 or 2). Like `isHeld`,
   * true while validation is off.
   */
  isHeldType(task: number, map: LockdepMap, read: number): boolean {
    if (!this.enabled) return true;
    const t = this.task(task);
    const i = this.findHeld(t, map);
    return i >= 0 && t.read[i] === read;
  }

  /**
   * `DEBUG_LOCKS_WARN_ON(condition)` from a lock implementation's debug checks: reports (once per
   * place and run) and switches validation off, as debug_locks_off does. Silent if already off.
   */
  debugLocksWarn(task: number, condition: string, message: string, where: WhereArg): void {
    if (!this.enabled) return;
    const t = this.task(task);
    const snap = this.snap(t, where);
    this.emit({
      kind: 'lockdep-debug-warn',
      title: `WARNING: DEBUG_LOCKS_WARN_ON(${condition})`,
      place: condition,
      where: snap,
      heldLocks: heldList(this.classes, t),
      validationOff: this.offMode(),
      condition,
      message,
    });
  }

  /** The task's held locks, outermost first (allocates; for reports and tests). */
  heldLocks(task: number): LockDesc[] {
    return heldList(this.classes, this.task(task));
  }

  /** Held depth of a task (cheap). */
  heldDepth(task: number): number {
    return this.task(task).depth;
  }

  /** `lock_downgrade`: a held exclusive lock becomes a (non-recursive) read lock. */
  downgrade(task: number, map: LockdepMap, where: WhereArg): void {
    if (!this.enabled) return;
    const t = this.task(task);
    const i = this.findHeld(t, map);
    if (i < 0) return this.badUnlock(t, map, where);
    this.rebuild(t, i, false, t.cls[i]!, 1, where);
  }

  /** `lock_set_class`: re-key a held lock (and its map), re-validating the locks above it. */
  setClass(task: number, map: LockdepMap, name: string, key: LockClassKey, subclass: number, where: WhereArg): void {
    if (!this.enabled) return;
    const t = this.task(task);
    const i = this.findHeld(t, map);
    if (i < 0) return this.badUnlock(t, map, where);
    map.name = name;
    map.key = key;
    map.subclass = 0;
    map._gen = 0;
    if (!this.checkSubclass(t, map, subclass, where)) return;
    this.rebuild(t, i, false, this.classes.lookup(map, subclass), t.read[i]!, where);
  }

  /** `lock_set_subclass`: same as `setClass` keeping name and key. */
  setSubclass(task: number, map: LockdepMap, subclass: number, where: WhereArg): void {
    this.setClass(task, map, map.name, map.key, subclass, where);
  }

  /**
   * The lock's memory is (re-)initialised: reports "held lock freed!" if any
   * task of this run holds it. The kernel only checks the current task; we
   * check all of them because freeing a lock another task holds is a bug too.
   */
  initMap(task: number, map: LockdepMap, where: WhereArg): void {
    this.checkFreed(task, map, 'init', where);
  }

  /** The memory holding these maps is freed: reports "held lock freed!" if one is held. */
  freeMaps(task: number, maps: LockdepMap | readonly LockdepMap[], where: WhereArg): void {
    if (Array.isArray(maps)) {
      for (const m of maps as readonly LockdepMap[]) if (!this.checkFreed(task, m, 'free', where)) return;
    } else this.checkFreed(task, maps as LockdepMap, 'free', where);
  }

  /** The task finishes: locks still held are reported; its state is cleared. */
  taskExit(task: number, where: WhereArg): void {
    const t = this.task(task);
    if (this.enabled && t.depth > 0) {
      const snap = this.snap(t, where);
      const held = heldList(this.classes, t);
      this.emit({
        kind: 'lockdep-held-at-exit',
        title: `WARNING: ${snap.taskName}/${t.id} still has locks held!`,
        place: `${snap.taskName}: ${held.map((h) => h.className).join(', ')}`,
        where: snap,
        heldLocks: held,
        validationOff: this.offMode(),
      });
    }
    t.reset(this.runGen);
  }

  // ---- internals shared with validate.ts / sleep.ts / alloc.ts -------------

  /**
   * An interrupt handler's task runs on the CPU of the task it interrupted: until `unalias`,
   * lockdep treats task `handler` as task `cpu` (same held stack, same context counters).
   */
  alias(handler: number, cpu: number): void {
    while (this.aliases.length <= handler) {
      this.aliases.push(-1);
      this.aliasGen.push(-1);
    }
    this.aliases[handler] = cpu;
    this.aliasGen[handler] = this.runGen;
    this.aliasing = true;
  }

  /** Ends `alias`. */
  unalias(handler: number): void {
    if (handler < this.aliases.length) this.aliases[handler] = -1;
  }

  /** Task state for this run, reset lazily when first touched in a run. @internal */
  task(id: number): TaskState {
    // Only worlds that delivered an interrupt pay for the alias lookup.
    if (this.aliasing && id < this.aliases.length) {
      const a = this.aliases[id]!;
      if (a >= 0 && this.aliasGen[id] === this.runGen) id = a;
    }
    let t = this.tasks[id];
    if (t === undefined) {
      while (this.tasks.length < id) this.tasks.push(new TaskState(this.tasks.length));
      t = new TaskState(id);
      this.tasks[id] = t;
    }
    if (t.runGen !== this.runGen) t.reset(this.runGen);
    return t;
  }

  /** Snapshot of `where` for task `t`, with its allocation context. @internal */
  snap(t: TaskState, where: WhereArg): WhereSnapshot {
    const note =
      t.allocGfp >= 0 ? { gfp: gfpToString(t.allocGfp), scopes: memallocScopeNames(t.memalloc) } : undefined;
    const s = snapshotWhere(where, t.id, this.runLabel, note);
    t.name = s.taskName;
    return s;
  }

  /** How a lockdep report affects validation, for the report itself. @internal */
  offMode(): 'run' | 'scope' | null {
    if (this.offAfterReport === 'never') return null;
    return this.offAfterReport === 'scope' && this.scope === 'persistent' ? 'scope' : 'run';
  }

  /** Records a report (once per kind and place per run) and applies §13. @internal */
  emit(r: LockdepReport): void {
    if (r.kind !== 'sleep-in-atomic' && r.kind !== 'non-block-imbalance' && this.offAfterReport !== 'never') {
      this.enabled = false;
    }
    const k = `${r.kind}\u0000${r.place}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.reports.push(r);
    this.onReport?.(r);
  }

  private resetGraph(): void {
    this.classes.clear();
    this.graph.clear();
    this.chains.clear();
    this.irq.clear();
  }

  /** Acquire + release without touching spin accounting (might_lock, lock_map_sync). @internal */
  protected acquireRelease(task: number, map: LockdepMap, subclass: number, read: number, where: WhereArg): void {
    const t = this.task(task);
    const before = t.depth;
    this.acquireTracked(t, map, subclass, false, read, true, null, where);
    // Release only what was pushed (a report may have stopped the push).
    if (this.enabled && t.depth > before) this.releaseCore(t, map, where);
  }

  /** Acquire minus the spin accounting (resolves the class, then `acquireCore`). @internal */
  acquireTracked(
    t: TaskState,
    map: LockdepMap,
    subclass: number,
    trylock: boolean,
    read: number,
    check: boolean,
    nest: LockdepMap | null,
    where: WhereArg,
  ): void {
    if (!this.enabled || map.key === LOCKDEP_NO_TRACK) return;
    const sub = subclass === 0 ? map.subclass : subclass;
    if (!this.checkSubclass(t, map, sub, where)) return;
    if (map.key === LOCKDEP_NO_VALIDATE) check = false;
    const cls = this.classes.lookup(map, sub);
    let step = -1;
    if (typeof where !== 'function') {
      step = where.step;
      t.name = where.taskName; // a reference copy; lets other tasks' reports name us
    }
    this.acquireCore(t, map, cls, read, trylock, check, nest, where, 0, step, t.irqContext());
  }

  private acquireCore(
    t: TaskState,
    map: LockdepMap,
    cls: number,
    read: number,
    trylock: boolean,
    check: boolean,
    nest: LockdepMap | null,
    where: WhereArg,
    refs: number,
    step: number,
    ictx: number,
  ): void {
    const d = t.depth;
    // Same class on top under a nest lock: merge instead of pushing (spec §3.3).
    if (nest !== null && d > 0 && t.cls[d - 1] === cls) {
      t.refs[d - 1] = (t.refs[d - 1] || 1) + (refs || 1);
      return;
    }
    if (d >= MAX_LOCK_DEPTH) {
      this.limit(t, where, 'BUG: MAX_LOCK_DEPTH too low!', `depth ${MAX_LOCK_DEPTH} exceeded acquiring ${map.name}`);
      return;
    }
    // Usage states are marked on every acquisition (not only on a chain-cache miss), as the kernel does.
    if (check) {
      const bits = usageBits(t, read, trylock);
      if ((this.irq.usage(cls) & bits) !== bits && !markUsage(this, t, map, cls, read, bits, where, step)) return;
    }
    const id = chainId(cls, read, trylock, check, nest !== null, ictx);
    const key = chainKeyStep(t.chainKey, id);
    if (nest !== null && t.indexOfInstance(nest) < 0) {
      const snap = this.snap(t, where);
      this.emit({
        kind: 'lockdep-nested-not-taken',
        title: 'WARNING: Nested lock was not taken',
        place: this.classes.list[cls]!.name,
        where: snap,
        heldLocks: heldList(this.classes, t),
        validationOff: this.offMode(),
        trying: mapDesc(this.classes, map, cls, read, step),
        nestLock: nest.name,
      });
      if (!this.enabled) return;
    }
    if (check && !trylock) {
      if (!(this.useChainCache && this.chains.lookup(key, t.hid, d, id))) {
        if (!this.useChainCache) this.chains.misses++;
        if (validateChain(this, t, map, cls, read, nest, where, step, ictx)) {
          if (this.useChainCache) this.chains.add(key, t.hid, d, id);
        } else if (!this.enabled) return;
      }
    }
    t.cls[d] = cls;
    t.hid[d] = id;
    t.read[d] = read;
    t.flags[d] = (trylock ? HELD_TRYLOCK : 0) | (check ? HELD_CHECK : 0);
    t.refs[d] = refs;
    t.prevKey[d] = t.chainKey;
    t.step[d] = step;
    t.ictx[d] = ictx;
    t.maps[d] = map;
    t.nest[d] = nest;
    t.depth = d + 1;
    t.chainKey = key;
  }

  private releaseCore(t: TaskState, map: LockdepMap, where: WhereArg): void {
    const top = t.depth - 1;
    const i = top >= 0 && t.maps[top] === map ? top : this.findHeld(t, map);
    if (i < 0) return this.badUnlock(t, map, where);
    if (t.refs[i]! > 0 && --t.refs[i]! > 0) return;
    if (i === top) {
      t.maps[i] = null;
      t.nest[i] = null;
      t.depth = i;
      t.chainKey = t.prevKey[i]!;
      return;
    }
    // Out-of-order release is legal: drop the entry, re-acquire those above it.
    this.rebuild(t, i, true, -1, -1, where);
  }

  /**
   * Truncates the stack at `from` and re-acquires the entries above (and entry
   * `from` itself with a new class/mode unless `drop`), re-validating them.
   */
  private rebuild(t: TaskState, from: number, drop: boolean, newCls: number, newRead: number, where: WhereArg): void {
    const d = t.depth;
    let n = 0;
    for (let i = drop ? from + 1 : from; i < d; i++, n++) {
      this.sMap[n] = t.maps[i]!;
      this.sNest[n] = t.nest[i]!;
      this.sCls[n] = t.cls[i]!;
      this.sRead[n] = t.read[i]!;
      this.sFlags[n] = t.flags[i]!;
      this.sRefs[n] = t.refs[i]!;
      this.sStep[n] = t.step[i]!;
      this.sIctx[n] = t.ictx[i]!;
    }
    if (!drop) {
      this.sCls[0] = newCls;
      this.sRead[0] = newRead;
    }
    for (let i = from; i < d; i++) {
      t.maps[i] = null;
      t.nest[i] = null;
    }
    t.chainKey = t.prevKey[from]!;
    t.depth = from;
    for (let k = 0; k < n && this.enabled; k++) {
      const f = this.sFlags[k]!;
      this.acquireCore(
        t,
        this.sMap[k]!,
        this.sCls[k]!,
        this.sRead[k]!,
        (f & HELD_TRYLOCK) !== 0,
        (f & HELD_CHECK) !== 0,
        this.sNest[k]!,
        where,
        this.sRefs[k]!,
        this.sStep[k]!,
        this.sIctx[k]!,
      );
    }
    for (let k = 0; k < n; k++) {
      this.sMap[k] = null;
      this.sNest[k] = null;
    }
  }

  /** Held index of `map`: by instance, or by class for merged nest-lock entries. */
  private findHeld(t: TaskState, map: LockdepMap): number {
    let cls = -2;
    for (let i = t.depth - 1; i >= 0; i--) {
      if (t.maps[i] === map) return i;
      if (t.refs[i]! > 0 && t.nest[i] !== null) {
        if (cls === -2) cls = this.classes.peek(map, map.subclass);
        if (cls === t.cls[i]) return i;
      }
    }
    return -1;
  }

  private badUnlock(t: TaskState, map: LockdepMap, where: WhereArg): void {
    const snap = this.snap(t, where);
    const lock = mapDesc(this.classes, map, this.classes.peek(map, map.subclass), 0, -1);
    this.emit({
      kind: 'lockdep-bad-unlock',
      title: 'WARNING: bad unlock balance detected!',
      place: lock.className,
      where: snap,
      heldLocks: heldList(this.classes, t),
      validationOff: this.offMode(),
      lock,
    });
  }

  private checkFreed(task: number, map: LockdepMap, action: 'free' | 'init', where: WhereArg): boolean {
    if (!this.enabled) return false;
    const me = this.task(task);
    // Called on every lock init and object free: keep it allocation-free.
    for (let k = 0; k < this.tasks.length; k++) {
      const t = this.tasks[k]!;
      if (t.runGen !== this.runGen) continue;
      const i = t.indexOfInstance(map);
      if (i < 0) continue;
      const snap = this.snap(me, where);
      const lock = heldDesc(this.classes, t, i);
      this.emit({
        kind: 'lockdep-held-freed',
        title: 'WARNING: held lock freed!',
        place: lock.className,
        where: snap,
        heldLocks: heldList(this.classes, me),
        validationOff: this.offMode(),
        lock,
        action,
        holderTask: { id: t.id, name: t.name || `task${t.id}` },
      });
      return false;
    }
    return true;
  }

  private checkSubclass(t: TaskState, map: LockdepMap, sub: number, where: WhereArg): boolean {
    if (sub >= 0 && sub < MAX_LOCKDEP_SUBCLASSES) return true;
    this.limit(t, where, 'BUG: looking up invalid subclass', `${map.name}: subclass ${sub} >= ${MAX_LOCKDEP_SUBCLASSES}`);
    return false;
  }

  private limit(t: TaskState, where: WhereArg, title: string, message: string): void {
    this.emit({
      kind: 'lockdep-limit',
      title,
      place: title,
      where: this.snap(t, where),
      heldLocks: heldList(this.classes, t),
      validationOff: this.offMode(),
      message,
    });
  }
}
