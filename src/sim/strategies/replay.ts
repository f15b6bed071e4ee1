/**
 * Replay: follows a recorded schedule decision by decision. When the code under test has changed
 * and a recorded choice no longer fits (the task cannot run, or it is at a different point), or
 * the recording runs out before the run ends, replay says so in `notes` and hands the rest of the
 * run to a fallback strategy, named in the note, instead of failing.
 */
import { labelCheck, type Schedule } from '../schedule.js';
import type { Strategy } from '../strategy.js';
import type { World } from '../world.js';

/** Replays `schedule`, then continues with `fallback` (seeded with `fallbackSeed`). */
export class ReplayStrategy implements Strategy {
  readonly name = 'replay';
  private index = 0;
  private following = true;
  /** What happened that the user should know: divergence, running past the end. */
  readonly notes: string[] = [];

  constructor(
    private readonly schedule: Schedule,
    private readonly fallback: Strategy,
    private readonly fallbackSeed: number,
  ) {}

  /** True when the whole run followed the recording and used all of it. */
  get exact(): boolean {
    return this.following && this.index === this.schedule.tasks.length && this.notes.length === 0;
  }

  beginRun(run: number): boolean {
    if (run > 0) return false;
    this.index = 0;
    this.following = true;
    this.notes.length = 0;
    this.fallback.beginRun(0, this.fallbackSeed);
    return true;
  }

  choose(world: World): number {
    if (this.following) {
      const i = this.index;
      const rq = world.runnable;
      if (i < this.schedule.tasks.length) {
        const id = this.schedule.tasks[i]!;
        const check = this.schedule.checks[i]!;
        for (let k = 0; k < rq.length; k++) {
          const t = rq[k]!;
          if (t.id !== id) continue;
          if (check >= 0 && labelCheck(t.label) !== check) {
            this.diverge(`decision ${i}: task ${t.name} is at point '${t.label}', not at the point the schedule recorded`);
            return this.fallback.choose(world);
          }
          this.index++;
          return k;
        }
        const names = rq.map((t) => t.name).join(', ');
        this.diverge(`decision ${i}: the schedule picks task #${id}, but only ${names} can run`);
      } else {
        this.diverge(`the recorded schedule ran out after ${i} decisions but the run goes on`);
      }
    }
    return this.fallback.choose(world);
  }

  endRun(world: World): void {
    if (this.following && this.index < this.schedule.tasks.length) {
      this.notes.push(
        `the run ended after ${this.index} of the ${this.schedule.tasks.length} recorded decisions; the code under test may have changed`,
      );
    }
    this.fallback.endRun(world);
  }

  describe(): string {
    return `replay (${this.schedule.tasks.length} recorded decisions)`;
  }

  private diverge(what: string): void {
    this.following = false;
    this.notes.push(`${what}; continuing under ${this.fallback.name} strategy with seed ${this.fallbackSeed}`);
  }
}
