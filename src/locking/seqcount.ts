/**
 * Sequence counters: `write_seqcount_begin/end` make the count odd while a write is in progress;
 * `read_seqcount_begin` waits for an even count, `read_seqcount_retry` says whether a write
 * happened since. Writers must be serialised by a lock of their own, as in the kernel.
 *
 * A reader that finds a write in progress spins in the kernel; here it sleeps until the write
 * ends. The outcome is the same, and a spin loop would give the explorer an unbounded number of
 * equivalent schedules to try.
 */
import { FindingKind } from '../sim/finding.js';
import { Access, type SimObject } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { opLabel } from '../sim/labels.js';

/** A sequence counter. */
export class Seqcount implements SimObject {
  sequence = 0;
  readonly readLabel: string;
  readonly writeLabel: string;
  /** Readers waiting for a write to end. */
  readonly queue: WaitQueue;

  constructor(
    readonly world: World,
    readonly name: string,
  ) {
    this.readLabel = opLabel('read_seqcount', name);
    this.writeLabel = opLabel('write_seqcount', name);
    this.queue = world.waitQueue(name, this);
  }
}

/** `write_seqcount_begin`: the count becomes odd. */
export function* write_seqcount_begin(s: Seqcount): Generator<unknown, void, unknown> {
  yield s.world.point(s.writeLabel, s, Access.Write);
  if ((s.sequence & 1) !== 0) {
    s.world.report(FindingKind.Warn, `write_seqcount_begin(${s.name}) while a write is already in progress: writers are not serialised`, `seqcount-nested:${s.name}`);
  }
  s.sequence++;
}

/** `write_seqcount_end`: the count becomes even again. */
export function* write_seqcount_end(s: Seqcount): Generator<unknown, void, unknown> {
  yield s.world.point(s.writeLabel, s, Access.Write);
  s.sequence++;
  s.queue.wakeAll();
}

/** `read_seqcount_begin`: waits until no write is in progress; returns the count to retry against. */
export function* read_seqcount_begin(s: Seqcount): Generator<unknown, number, unknown> {
  yield s.world.point(s.readLabel, s, Access.Read);
  while ((s.sequence & 1) !== 0) yield s.queue.block();
  return s.sequence;
}

/** `read_seqcount_retry`: true when the data read since `start` may be inconsistent. */
export function* read_seqcount_retry(s: Seqcount, start: number): Generator<unknown, boolean, unknown> {
  yield s.world.point(s.readLabel, s, Access.Read);
  return s.sequence !== start;
}
