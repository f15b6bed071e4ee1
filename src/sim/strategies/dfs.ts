/**
 * Bounded-preemption depth-first search with sleep sets: stateless model checking.
 *
 * Generators cannot be cloned, so each run re-executes the scenario from the start, replaying the
 * decisions on the DFS stack and then extending it. A decision is a step where two or more tasks
 * can run. Within the preemption bound the search is exhaustive; `exhausted` says when the whole
 * (reduced) space has been covered.
 *
 * Sleep sets (Godefroid 1996): after exploring choice t at a node, a sibling choice u need not
 * explore t first again unless some step in between conflicts with t. After a node picks c the
 * sleep set becomes { s ∈ sleep(node) ∪ done(node) \ {c} : s independent of c }, where
 * independence comes from the points' objects and accesses; every later step (decisions and
 * forced steps alike) wakes the sleepers it conflicts with. A run that must step a sleeping task
 * (every allowed choice asleep, or the only runnable task asleep) is redundant: it is abandoned
 * and counted as pruned.
 *
 *     node N: enabled {A, B}, A and B touch different objects
 *       explore A first:  N -A-> N1 -B-> ...        (B then A never needs exploring:
 *       then B:           N -B-> N2, sleep(N2)={A}   at N2 only choices other than A remain)
 *
 * A preemption is a decision that switches away from the task that ran last while it could still
 * run. Non-preemptive choices are tried first, so shallow bugs come early.
 *
 * Independence is only as good as the points: a step whose label the world has seen touch state
 * its point does not name (`World.touchUndeclared`) conflicts with everything. When a run learns
 * such a label, the sleep sets built so far may have been too bold, so the search starts over
 * (counted in `restarts`); knowledge only grows, so this happens a bounded number of times.
 *
 * Sharding (`hmmsim check --shard K/N`): every shard walks the same top of the tree, down to a
 * split depth L fixed by the first run (the first decisions whose branching multiplies to at
 * least 4N), and owns the subtrees below the prefixes of L decisions that hash to K (a run that
 * ends above L is a prefix of its own). On reaching decision L under a prefix it does not own, a
 * shard abandons the run uncounted and marks that choice explored, exactly as if it had explored
 * the subtree, so the sleep sets in the subtrees it does own are the unsharded search's: the
 * shards' executions add up to one unsharded search's, and no two shards explore the same one.
 *
 *     decisions 0..L-1: walked by every shard      prefix p: owned by shard hash(p) mod N
 *     ─────────────────────────────────────        below p: explored only by its owner
 */
import { independent, type Access, type SimObject } from '../point.js';
import type { Coverage, Strategy } from '../strategy.js';
import type { World } from '../world.js';

interface Node {
  /** Enabled task ids, in the order they are to be tried (the previous task first). */
  readonly order: number[];
  /** Pending point of each enabled task, parallel to `order`. */
  readonly objs: (SimObject | null)[];
  readonly accs: Access[];
  readonly labels: string[];
  /** Task that ran the step before this decision, -1 if none. */
  prev: number;
  prevEnabled: boolean;
  preemptionsBefore: number;
  /** Task ids asleep when the node was reached. */
  readonly sleep: number[];
  /** Choices already explored from here. */
  readonly done: number[];
  chosen: number;
}

function emptyNode(): Node {
  return { order: [], objs: [], accs: [], labels: [], prev: -1, prevEnabled: false, preemptionsBefore: 0, sleep: [], done: [], chosen: -1 };
}

/** A share of the work: shard `index` of `count` (0-based). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Exhaustive search within a preemption bound (Infinity for none). */
export class DfsStrategy implements Strategy {
  readonly name = 'dfs';
  private readonly stack: Node[] = [];
  /** Nodes popped off the stack, kept for reuse so a decision allocates nothing. */
  private readonly spareNodes: Node[] = [];
  private depth = 0;
  private started = false;
  /** Set once there is nothing left to explore. */
  exhausted = false;
  /** Runs that reached the end of the scenario (complete executions). */
  executions = 0;
  /** Runs abandoned because every allowed choice was asleep. */
  pruned = 0;
  /** Times the search started over after learning of a step that touches undeclared state. */
  restarts = 0;
  /**
   * Some choice was left out only because of the preemption bound. An exhausted search that
   * never cut one has covered the unbounded space: its verdict is complete.
   */
  boundCut = false;
  /**
   * Some run drew from the world's own random generator: the runs depend on their seeds as well
   * as on the schedule, and DFS only enumerates schedules, so it cannot call the space complete.
   */
  randomized = false;
  private undeclared: ReadonlySet<string> = new Set();
  /** Some sleep set so far was non-empty: only then can new knowledge invalidate the search. */
  private sleepUsed = false;
  /** The sleep set right now: task ids with the pending point each had when put to sleep. */
  private sleepIds: number[] = [];
  private sleepObjs: (SimObject | null)[] = [];
  private sleepAccs: Access[] = [];
  private sleepLabels: string[] = [];

  /** The shard's depth of split, fixed at the end of the first run; -1 before. */
  private splitDepth = -1;
  /** This run is another shard's: not counted, its findings dropped. */
  private discard = false;
  /** Runs abandoned as another shard's. */
  skipped = 0;

  constructor(
    readonly preemptionBound = 2,
    private readonly maxRuns = Infinity,
    private readonly sleepSets = true,
    /** Explore only this shard's share of the tree (see the protocol comment). */
    readonly shard: Shard | null = null,
  ) {
    if (!(preemptionBound >= 0)) throw new Error(`DFS preemption bound must be ≥ 0, got ${preemptionBound}`);
    if (shard !== null && !(Number.isInteger(shard.count) && shard.count >= 1 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < shard.count)) {
      throw new Error(`DFS shard must be K/N with 0 <= K < N, got ${shard.index}/${shard.count}`);
    }
  }

  /** True when the run just ended belongs to another shard: not counted, its findings dropped. */
  discarded(): boolean {
    return this.discard;
  }

  beginRun(run: number): boolean {
    if (this.exhausted || run >= this.maxRuns) return false;
    this.depth = 0;
    this.discard = false;
    this.sleepIds.length = 0;
    this.sleepObjs.length = 0;
    this.sleepAccs.length = 0;
    this.sleepLabels.length = 0;
    if (!this.started) {
      this.started = true;
      return true;
    }
    if (!this.backtrack()) {
      this.exhausted = true;
      return false;
    }
    return true;
  }

  choose(world: World): number {
    const rq = world.runnable;
    this.undeclared = world.undeclaredLabels;
    if (this.depth === this.splitDepth && this.shard !== null && !this.ownsPrefix(this.depth)) {
      this.discard = true;
      return -1;
    }
    if (this.depth < this.stack.length) {
      const node = this.stack[this.depth++]!;
      this.afterChoice(node);
      for (let i = 0; i < rq.length; i++) if (rq[i]!.id === node.chosen) return i;
      throw new Error(
        `the scenario is not deterministic: DFS replayed decision ${this.depth - 1} and task ${node.chosen} was not runnable; ` +
          'a task must not depend on anything outside the world (clock, Math.random, shared module state)',
      );
    }
    const node = this.newNode(world);
    const c = this.firstCandidate(node);
    if (c < 0) return -1;
    node.chosen = c;
    this.stack.push(node);
    this.depth++;
    this.afterChoice(node);
    for (let i = 0; i < rq.length; i++) if (rq[i]!.id === c) return i;
    return -1;
  }

  observeForced(world: World): boolean {
    if (this.sleepIds.length === 0) return true;
    const t = world.runnable[0]!;
    if (this.sleepIds.includes(t.id)) return false;
    this.undeclared = world.undeclaredLabels;
    this.wakeConflicting(t.obj, t.access, t.label);
    return true;
  }

  /** Two pending steps commute: their points say so and neither is known to reach past its point. */
  private commute(objA: SimObject | null, accA: Access, labelA: string, objB: SimObject | null, accB: Access, labelB: string): boolean {
    return independent(objA, accA, objB, accB) && !this.undeclared.has(labelA) && !this.undeclared.has(labelB);
  }

  endRun(world: World): void {
    if (world.rng.draws > 0) this.randomized = true;
    if (this.shard !== null) this.endShardRun();
    if (this.discard) this.skipped++;
    else if (world.end === 2 /* RunEnd.Pruned */) this.pruned++;
    else this.executions++;
    if (world.learnedUndeclared && this.sleepUsed) {
      // The sleep sets of this search assumed independence that does not hold: start over.
      while (this.stack.length > 0) this.spareNodes.push(this.stack.pop()!);
      this.depth = 0;
      this.started = false;
      this.sleepUsed = false;
      this.boundCut = false;
      this.restarts++;
      return;
    }
    // Decisions past the replayed prefix that were never reached (the run stopped early) are
    // dropped, so backtracking only considers nodes this run actually visited.
    while (this.stack.length > this.depth) this.spareNodes.push(this.stack.pop()!);
  }

  /**
   * Shard bookkeeping at the end of a run: fix the split depth after the first run, and decide
   * whether a run that never went below it (or the first run) is this shard's.
   */
  private endShardRun(): void {
    const firstRun = this.splitDepth < 0;
    if (firstRun) this.splitDepth = this.chooseSplitDepth();
    if (this.discard) return;
    const d = Math.min(this.depth, this.splitDepth);
    if ((firstRun || this.depth <= this.splitDepth) && !this.ownsPrefix(d)) {
      this.discard = true;
      // The rest of this prefix's subtree is the owner's: backtrack from the prefix itself.
      this.depth = d;
    }
  }

  /** The split depth: the first decisions of the first run whose branching multiplies to at least 4N. */
  private chooseSplitDepth(): number {
    const want = 4 * this.shard!.count;
    let product = 1;
    let l = 0;
    while (l < this.depth && product < want) product *= this.stack[l++]!.order.length;
    return l;
  }

  /** Whether the prefix of the first `d` decisions on the stack hashes to this shard. */
  private ownsPrefix(d: number): boolean {
    let h = 0x811c9dc5 ^ d;
    for (let i = 0; i < d; i++) h = Math.imul(h ^ this.stack[i]!.chosen, 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return (h >>> 0) % this.shard!.count === this.shard!.index;
  }

  /** What the search has covered (see Coverage). */
  coverage(): Coverage {
    // A sharded search that restarted may have re-split differently from the other shards.
    const complete = this.exhausted && !this.boundCut && !this.randomized && (this.shard === null || this.restarts === 0);
    return { exhausted: this.exhausted, complete, completedBound: this.exhausted ? (complete ? Infinity : this.preemptionBound) : null };
  }

  describe(): string {
    const bound = this.preemptionBound === Infinity ? 'unbounded' : `preemption bound ${this.preemptionBound}`;
    const restarts = this.restarts > 0 ? `, ${this.restarts} restart${this.restarts === 1 ? '' : 's'} after learning undeclared accesses` : '';
    const shard = this.shard === null ? '' : `shard ${this.shard.index + 1}/${this.shard.count}, ${this.skipped} runs left to other shards; `;
    return `dfs (${bound}; ${shard}${this.executions} execution${this.executions === 1 ? '' : 's'}, ${this.pruned} pruned by sleep sets${restarts}; ${this.exhausted ? (this.boundCut || this.randomized ? 'space exhausted' : 'whole space exhausted: the bound never cut a choice') : 'space not exhausted'}${this.randomized ? '; runs draw from the world\'s random generator, which DFS does not enumerate' : ''})`;
  }

  private newNode(world: World): Node {
    const rq = world.runnable;
    const prevTask = world.current;
    const prev = prevTask === null ? -1 : prevTask.id;
    const node = this.spareNodes.pop() ?? emptyNode();
    const { order, objs, accs, labels } = node;
    order.length = 0;
    objs.length = 0;
    accs.length = 0;
    labels.length = 0;
    node.done.length = 0;
    let prevEnabled = false;
    // The task that ran last goes first (continuing it is not a preemption), then the others by id.
    for (let i = 0; i < rq.length; i++) {
      const t = rq[i]!;
      if (t.id !== prev) continue;
      prevEnabled = true;
      order.push(t.id);
      objs.push(t.obj);
      accs.push(t.access);
      labels.push(t.label);
    }
    for (let i = 0; i < rq.length; i++) {
      const t = rq[i]!;
      if (t.id === prev) continue;
      order.push(t.id);
      objs.push(t.obj);
      accs.push(t.access);
      labels.push(t.label);
    }
    const parent = this.depth > 0 ? this.stack[this.depth - 1]! : null;
    node.prev = prev;
    node.prevEnabled = prevEnabled;
    node.preemptionsBefore = parent === null ? 0 : parent.preemptionsBefore + (parent.prevEnabled && parent.chosen !== parent.prev ? 1 : 0);
    const sleep = node.sleep;
    sleep.length = 0;
    for (let i = 0; i < this.sleepIds.length; i++) sleep.push(this.sleepIds[i]!);
    node.chosen = -1;
    return node;
  }

  /** The sleep set after `node` picks its choice: old sleepers and explored siblings that commute with it. */
  private afterChoice(node: Node): void {
    if (!this.sleepSets) return;
    const ci = node.order.indexOf(node.chosen);
    this.sleepIds.length = 0;
    this.sleepObjs.length = 0;
    this.sleepAccs.length = 0;
    this.sleepLabels.length = 0;
    for (let k = 0; k < node.sleep.length; k++) this.considerSleeper(node, ci, node.sleep[k]!);
    for (let k = 0; k < node.done.length; k++) this.considerSleeper(node, ci, node.done[k]!);
    if (this.sleepIds.length > 0) this.sleepUsed = true;
  }

  /** Puts task `id` to sleep after `node`'s choice (at index `ci`) if the two commute. */
  private considerSleeper(node: Node, ci: number, id: number): void {
    if (id === node.chosen || this.sleepIds.includes(id)) return;
    const i = node.order.indexOf(id);
    if (i >= 0 && this.commute(node.objs[i]!, node.accs[i]!, node.labels[i]!, node.objs[ci]!, node.accs[ci]!, node.labels[ci]!)) {
      this.sleepIds.push(id);
      this.sleepObjs.push(node.objs[i]!);
      this.sleepAccs.push(node.accs[i]!);
      this.sleepLabels.push(node.labels[i]!);
    }
  }

  /** A forced step wakes every sleeper it conflicts with. */
  private wakeConflicting(obj: SimObject | null, acc: Access, label: string): void {
    let k = 0;
    for (let i = 0; i < this.sleepIds.length; i++) {
      if (!this.commute(this.sleepObjs[i]!, this.sleepAccs[i]!, this.sleepLabels[i]!, obj, acc, label)) continue;
      this.sleepIds[k] = this.sleepIds[i]!;
      this.sleepObjs[k] = this.sleepObjs[i]!;
      this.sleepAccs[k] = this.sleepAccs[i]!;
      this.sleepLabels[k] = this.sleepLabels[i]!;
      k++;
    }
    this.sleepIds.length = k;
    this.sleepObjs.length = k;
    this.sleepAccs.length = k;
    this.sleepLabels.length = k;
  }

  private allowed(node: Node, id: number): boolean {
    if (node.done.includes(id) || node.sleep.includes(id)) return false;
    if (!node.prevEnabled || id === node.prev) return true;
    if (node.preemptionsBefore < this.preemptionBound) return true;
    this.boundCut = true;
    return false;
  }

  private firstCandidate(node: Node): number {
    for (const id of node.order) if (this.allowed(node, id)) return id;
    return -1;
  }

  private backtrack(): boolean {
    while (this.stack.length > 0) {
      const node = this.stack[this.stack.length - 1]!;
      node.done.push(node.chosen);
      const c = this.firstCandidate(node);
      if (c >= 0) {
        node.chosen = c;
        return true;
      }
      this.spareNodes.push(this.stack.pop()!);
    }
    return false;
  }
}
