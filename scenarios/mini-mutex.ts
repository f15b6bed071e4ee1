/**
 * A minimal sleeping lock for the engine's own scenarios, written only with the engine's
 * primitives (a point, a wait queue). Driver models use the full locking layer instead.
 */
import { Access, type Task, type WaitQueue, type World } from '../src/index.js';

/** A mutex that sleeps on contention; no lockdep. */
export class MiniMutex {
  owner: Task | null = null;
  readonly queue: WaitQueue;

  constructor(
    private readonly world: World,
    readonly name: string,
  ) {
    this.queue = world.waitQueue(name, this);
    this.queue.holder = () => this.owner?.name ?? null;
  }

  *lock(): Generator<unknown, void, unknown> {
    for (;;) {
      yield this.world.point(`lock ${this.name}`, this, Access.Write);
      if (this.owner === null) {
        this.owner = this.world.current;
        return;
      }
      yield this.queue.block();
    }
  }

  *unlock(): Generator<unknown, void, unknown> {
    yield this.world.point(`unlock ${this.name}`, this, Access.Write);
    this.owner = null;
    this.queue.wakeOne();
  }
}
