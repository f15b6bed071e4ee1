/**
 * PCT, probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010). Each task gets a
 * random distinct priority; the highest-priority runnable task always runs; at d−1 random steps
 * the running task's priority drops below every other. A bug of depth d in a program with n tasks
 * and k steps is found by one run with probability at least 1/(n·k^(d−1)).
 *
 * k counts only the steps at which there was a choice (two or more tasks runnable): a step with a
 * single runnable task cannot be preempted, and counting it would spread change points where they
 * do nothing and loosen the stated bound. k is not known in advance: it starts at the scenario's
 * hint (or 100) and becomes the most decisions any run has taken, which keeps the change points
 * spread over every run's choices.
 */
import { Rng } from '../rng.js';
import type { Strategy } from '../strategy.js';
import type { World } from '../world.js';

/** PCT with bug depth `depth` (d ≥ 1). */
export class PctStrategy implements Strategy {
  readonly name = 'pct';
  private readonly rng = new Rng(0);
  /** Priority per task id; higher runs first. New tasks get a random priority above the low band. */
  private priority: number[] = [];
  /** Decision numbers (1-based) before which the task that ran last is demoted, sorted. */
  private readonly changePoints: number[] = [];
  private nextChange = 0;
  private maxTasks = 0;
  private maxSteps: number;
  private runs = 0;
  private measured = false;

  constructor(
    readonly depth = 3,
    stepsHint = 100,
    private readonly maxRuns = Infinity,
  ) {
    if (!Number.isInteger(depth) || depth < 1) throw new Error(`PCT depth must be an integer ≥ 1, got ${depth}`);
    this.maxSteps = Math.max(1, stepsHint);
  }

  beginRun(run: number, seed: number): boolean {
    if (run >= this.maxRuns) return false;
    this.rng.reseed(seed);
    this.priority.length = 0;
    this.changePoints.length = 0;
    for (let i = 0; i < this.depth - 1; i++) this.changePoints.push(1 + this.rng.below(this.maxSteps));
    this.changePoints.sort((a, b) => a - b);
    this.nextChange = 0;
    this.runs++;
    return true;
  }

  choose(world: World): number {
    const rq = world.runnable;
    // Demote the task that ran last if this decision is (or passed) a change point.
    const decision = world.decisions.count + 1;
    while (this.nextChange < this.changePoints.length && this.changePoints[this.nextChange]! <= decision) {
      const cur = world.current;
      if (cur !== null) this.priority[cur.id] = this.nextChange - this.depth; // below every initial priority
      this.nextChange++;
    }
    let best = 0;
    let bestPrio = -Infinity;
    for (let i = 0; i < rq.length; i++) {
      const id = rq[i]!.id;
      let p = this.priority[id];
      if (p === undefined) {
        // Distinct random priorities ≥ depth, drawn as tasks appear.
        p = this.depth + this.rng.below(1 << 20) + id / 1024;
        this.priority[id] = p;
      }
      if (p > bestPrio) {
        bestPrio = p;
        best = i;
      }
    }
    return best;
  }

  endRun(world: World): void {
    if (world.tasks.length > this.maxTasks) this.maxTasks = world.tasks.length;
    // The hint only stands until a run has been seen; from then on k is the longest run.
    const k = world.decisions.count;
    if (!this.measured || k > this.maxSteps) this.maxSteps = Math.max(1, k);
    this.measured = true;
  }

  /** The lower bound on one run finding a bug of this depth, with the n and k seen so far. */
  bound(): number {
    const n = Math.max(1, this.maxTasks);
    return 1 / (n * Math.pow(this.maxSteps, this.depth - 1));
  }

  describe(): string {
    if (this.runs === 0) return `pct (d=${this.depth}; 0 runs)`;
    return `pct (n=${this.maxTasks}, k=${this.maxSteps}, d=${this.depth}; one run finds a depth-${this.depth} bug with p >= ${this.bound().toExponential(2)}; ${this.runs} runs)`;
  }
}
