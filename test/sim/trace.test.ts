/**
 * What a recorded step carries for the reader: the kernel calls on the task's stack (outermost
 * first), details the running step attaches, and a shown access; and that none of it is
 * gathered or attached outside a step or without a trace.
 */
import { describe, expect, it } from 'vitest';
import { registerKernelCalls } from '../../src/sim/calls.js';
import { Access, type SimObject } from '../../src/sim/point.js';
import { NonPreemptiveStrategy } from '../../src/sim/strategies/non-preemptive.js';
import { Trace, type TraceStep } from '../../src/sim/trace.js';
import { World } from '../../src/sim/world.js';

const obj: SimObject = { name: 'x' };

function* lock_thing(w: World): Generator<unknown, void, unknown> {
  yield w.point('lock_thing', obj, Access.Write);
  w.trace?.showAccess(Access.Read);
  w.trace?.detail('taken shared');
}

function* outer_kernel_call(w: World): Generator<unknown, void, unknown> {
  yield* lock_thing(w);
  w.trace?.detail('second detail');
}

function* driverHelper(w: World): Generator<unknown, void, unknown> {
  yield* outer_kernel_call(w);
}

registerKernelCalls({ lock_thing, outer_kernel_call, driverHelper });

function run(trace: boolean): World {
  const w = new World();
  if (trace) w.trace = new Trace();
  w.reset(1);
  w.spawn('t', function* () {
    yield* driverHelper(w);
    yield w.point('plain', obj, Access.Write);
  });
  w.run(new NonPreemptiveStrategy());
  w.trace?.detail('after the run: attached to nothing');
  return w;
}

describe('trace steps for readers', () => {
  it('names the kernel calls outermost first, skips camelCase helpers, attaches details and the shown access to the running step', () => {
    const rows = run(true).trace!.rows() as TraceStep[];
    expect(rows.map((r) => [r.label, r.calls, r.access, r.detail])).toEqual([
      ['lock_thing', 'outer_kernel_call › lock_thing', 'R', 'taken shared; second detail'],
      ['plain', '', 'W', ''],
    ]);
  });

  it('the text trace carries the details too', () => {
    expect(run(true).trace!.format(['t'])).toContain('lock_thing  [x R]  {taken shared; second detail}');
  });

  it('without a trace nothing is captured', () => {
    const w = run(false);
    expect(w.tasks[0]!.calls).toBe('');
  });
});
