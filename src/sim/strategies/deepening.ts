/**
 * Iterative deepening of DFS's preemption bound: explore every schedule with at most P
 * preemptions; if that space is exhausted and the bound cut some choice, explore again with
 * P + 1, and so on while the run budget and time last. Each level starts a fresh search (the
 * smaller levels' schedules are explored again: with few preemptions that is cheap, and it keeps
 * every level exact). A level whose search never had to cut a choice has covered the whole space:
 * the strategy stops there and says the verdict is complete.
 *
 *     bound 2: exhausted, cut choices  -> bound 3: exhausted, cut choices -> bound 4: exhausted,
 *     nothing cut: whole space covered, stop ("completed bound 4: whole space exhausted")
 */
import type { Coverage, Strategy } from '../strategy.js';
import type { World } from '../world.js';
import { DfsStrategy, type Shard } from './dfs.js';

/** DFS whose preemption bound rises, from `firstBound`, each time its space is exhausted. */
export class DeepeningDfsStrategy implements Strategy {
  readonly name = 'dfs';
  private level: DfsStrategy;
  /** The highest bound explored in full, or null before the first level is. */
  private completed: number | null = null;
  private complete = false;
  /** Runs of earlier levels, so run numbers handed to a level start at 0. */
  private levelStart = 0;
  /** Executions and pruned runs summed over finished levels. */
  private executionsBefore = 0;
  private prunedBefore = 0;

  private skippedBefore = 0;

  constructor(
    readonly firstBound = 2,
    private readonly sleepSets = true,
    /** Explore only this shard's share at every level (see DfsStrategy). */
    readonly shard: Shard | null = null,
  ) {
    this.level = new DfsStrategy(firstBound, Infinity, sleepSets, shard);
  }

  /** True when the run just ended belongs to another shard. */
  discarded(): boolean {
    return this.level.discarded();
  }

  /** The preemption bound being explored now. */
  get bound(): number {
    return this.level.preemptionBound;
  }

  beginRun(run: number): boolean {
    if (this.complete) return false;
    while (!this.level.beginRun(run - this.levelStart)) {
      const c = this.level.coverage();
      this.completed = this.level.preemptionBound;
      if (c.complete) {
        this.complete = true;
        return false;
      }
      // Every schedule was explored but runs also depend on the world's random draws: a higher
      // bound would only explore the same schedules again.
      if (!this.level.boundCut) return false;
      this.executionsBefore += this.level.executions;
      this.prunedBefore += this.level.pruned;
      this.skippedBefore += this.level.skipped;
      this.levelStart = run;
      this.level = new DfsStrategy(this.level.preemptionBound + 1, Infinity, this.sleepSets, this.shard);
    }
    return true;
  }

  choose(world: World): number {
    return this.level.choose(world);
  }

  observeForced(world: World): boolean {
    return this.level.observeForced(world);
  }

  endRun(world: World): void {
    this.level.endRun(world);
  }

  coverage(): Coverage {
    return { exhausted: this.completed !== null, complete: this.complete, completedBound: this.complete ? Infinity : this.completed };
  }

  describe(): string {
    const executions = this.executionsBefore + this.level.executions;
    const pruned = this.prunedBefore + this.level.pruned;
    const done =
      this.complete
        ? this.shard === null || this.shard.count === 1
          ? `completed bound ${this.completed}: whole space exhausted, the verdict is complete`
          : `completed bound ${this.completed}: this shard's whole part exhausted`
        : this.completed !== null && !this.level.boundCut && this.level.exhausted
          ? `completed bound ${this.completed}: every schedule explored, but runs draw from the world's random generator, which DFS does not enumerate`
          : this.completed === null
          ? `bound ${this.bound} not completed`
          : `completed bound ${this.completed}; bound ${this.bound} not completed`;
    const shard = this.shard === null ? '' : `shard ${this.shard.index + 1}/${this.shard.count}, ${this.skippedBefore + this.level.skipped} runs left to other shards; `;
    return `dfs (iterative deepening from preemption bound ${this.firstBound}; ${shard}${executions} execution${executions === 1 ? '' : 's'}, ${pruned} pruned by sleep sets; ${done})`;
  }
}
