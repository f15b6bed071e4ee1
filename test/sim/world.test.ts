import { describe, expect, it } from 'vitest';
import { FindingKind } from '../../src/sim/finding.js';
import { Access } from '../../src/sim/point.js';
import { NonPreemptiveStrategy } from '../../src/sim/strategies/non-preemptive.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import { TaskState } from '../../src/sim/task.js';
import { Trace } from '../../src/sim/trace.js';
import { RunEnd, World } from '../../src/sim/world.js';

function fresh(): World {
  const w = new World();
  w.reset(1);
  return w;
}

describe('World', () => {
  it('runs code before the first yield at spawn, and each step up to the next yield', () => {
    const w = fresh();
    const log: string[] = [];
    w.spawn('a', function* () {
      log.push('prologue');
      yield w.point('p1');
      log.push('after p1');
      yield w.point('p2');
      log.push('after p2');
    });
    expect(log).toEqual(['prologue']);
    expect(w.runnable.map((t) => t.label)).toEqual(['p1']);
    w.run(new NonPreemptiveStrategy());
    expect(log).toEqual(['prologue', 'after p1', 'after p2']);
    expect(w.steps).toBe(2);
    expect(w.end).toBe(RunEnd.Completed);
  });

  it('keeps the run queue sorted by task id and asks the strategy only when two can run', () => {
    const w = fresh();
    let asked = 0;
    const strategy = { ...new NonPreemptiveStrategy(), name: 'count', beginRun: () => true, endRun() {}, describe: () => '', choose: (world: World) => (asked++, world.runnable.length - 1) };
    w.spawn('a', function* () {
      yield 'a1';
      yield 'a2';
    });
    w.spawn('b', function* () {
      yield 'b1';
    });
    expect(w.runnable.map((t) => t.id)).toEqual([0, 1]);
    w.run(strategy);
    // b is picked at the first decision, then only a remains: two forced steps.
    expect(asked).toBe(1);
    expect(w.decisions.count).toBe(1);
  });

  it('blocks on a wait queue and wakes in FIFO order', () => {
    const w = fresh();
    const q = w.waitQueue('q');
    const order: string[] = [];
    for (const name of ['x', 'y']) {
      w.spawn(name, function* () {
        yield q.block();
        order.push(name);
      });
    }
    expect(w.runnable.length).toBe(0);
    expect(q.waiters.map((t) => t.name)).toEqual(['x', 'y']);
    expect(q.wakeOne()).toBe(true);
    expect(w.runnable.map((t) => t.name)).toEqual(['x']);
    expect(w.runnable[0]!.label).toBe('woken from q');
    expect(q.wakeAll()).toBe(1);
    w.run(new NonPreemptiveStrategy());
    expect(order).toEqual(['x', 'y']);
  });

  it('advances virtual time only when nothing can run, and reports the timeout', () => {
    const w = fresh();
    const q = w.waitQueue('q');
    const seen: [number, boolean][] = [];
    w.spawn('sleeper', function* () {
      yield q.blockTimeout(1000);
      seen.push([w.now, w.current!.timedOut]);
    });
    w.spawn('busy', function* () {
      for (let i = 0; i < 5; i++) yield 'spin';
    });
    w.run(new RandomStrategy());
    expect(seen).toEqual([[1000, true]]);
  });

  it('a wake-up before the deadline is not a timeout and does not move the clock', () => {
    const w = fresh();
    const q = w.waitQueue('q');
    let result: [number, boolean] | null = null;
    w.spawn('sleeper', function* () {
      yield q.blockTimeout(1000);
      result = [w.now, w.current!.timedOut];
    });
    w.spawn('waker', function* () {
      yield w.point('wake', q, Access.Write);
      q.wakeAll();
    });
    w.run(new NonPreemptiveStrategy());
    expect(result).toEqual([0, false]);
  });

  it('reports a deadlock with each task, what it sleeps on, the holder and its last points', () => {
    const w = fresh();
    const qa = w.waitQueue('lock A');
    qa.holder = () => 'a';
    const qb = w.waitQueue('lock B');
    qb.holder = () => 'b';
    w.spawn('a', function* () {
      yield 'take A';
      yield qb.block();
    });
    w.spawn('b', function* () {
      yield 'take B';
      yield qa.block();
    });
    expect(w.run(new NonPreemptiveStrategy())).toBe(RunEnd.Stopped);
    expect(w.findings).toHaveLength(1);
    const f = w.findings[0]!;
    expect(f.kind).toBe(FindingKind.Deadlock);
    expect(f.message).toContain('a sleeps on lock B (held by b)');
    expect(f.message).toContain('b sleeps on lock A (held by a)');
    expect(f.message).toContain('take A');
    expect(f.place).toBe('lock A | lock B');
  });

  it('does not call a blocked daemon a deadlock', () => {
    const w = fresh();
    const q = w.waitQueue('work');
    w.spawn('kthread', function* () {
      yield q.block();
    }, { daemon: true });
    w.spawn('user', function* () {
      yield 'work';
    });
    expect(w.run(new NonPreemptiveStrategy())).toBe(RunEnd.Completed);
    expect(w.findings).toEqual([]);
  });

  it('turns an exception in a task into a finding naming the task and step, without throwing', () => {
    const w = fresh();
    w.spawn('driver', function* () {
      yield 'first';
      throw new Error('NULL pointer');
    });
    expect(() => w.run(new NonPreemptiveStrategy())).not.toThrow();
    expect(w.findings[0]!.kind).toBe(FindingKind.Exception);
    expect(w.findings[0]!.message).toMatch(/task driver threw in step 0 .*NULL pointer/);
    expect(w.tasks[0]!.state).toBe(TaskState.Done);
  });

  it('stops a livelock at the step budget with a finding', () => {
    const w = fresh();
    w.maxSteps = 50;
    w.spawn('spinner', function* () {
      for (;;) yield 'spin';
    });
    w.run(new NonPreemptiveStrategy());
    expect(w.steps).toBe(50);
    expect(w.findings.map((f) => f.kind)).toEqual([FindingKind.StepBudget]);
  });

  it('join sleeps until the task exits', () => {
    const w = fresh();
    const order: string[] = [];
    w.spawn('parent', function* () {
      const child = w.spawn('child', function* () {
        yield 'child work';
        order.push('child done');
      });
      yield* w.join(child);
      order.push('parent done');
    });
    w.run(new RandomStrategy());
    expect(order).toEqual(['child done', 'parent done']);
  });

  it('records a full trace with task, label, object and access', () => {
    const w = fresh();
    w.trace = new Trace();
    const obj = { name: 'counter' };
    w.spawn('t', function* () {
      yield w.point('load', obj, Access.Read);
      yield w.point('store', obj, Access.Write);
    });
    w.run(new NonPreemptiveStrategy());
    expect(w.trace.format(['t'])).toBe('0  t     load  [counter R]\n1  t     store  [counter W]\n');
  });

  it('reset clears everything a run left behind', () => {
    const w = fresh();
    w.spawn('t', function* () {
      yield 'x';
      throw new Error('boom');
    });
    w.run(new NonPreemptiveStrategy());
    w.reset(2);
    expect([w.tasks.length, w.findings.length, w.steps, w.decisions.count, w.now]).toEqual([0, 0, 0, 0, 0]);
  });
});
