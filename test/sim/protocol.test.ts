import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/check/scenario.js';
import { mutex_lock, mutex_unlock, Mutex } from '../../src/locking/mutex.js';
import { explore } from '../../src/sim/explore.js';
import { Access } from '../../src/sim/point.js';
import { checkedCall, GENERATOR_PROTOCOL } from '../../src/sim/protocol.js';
import { DfsStrategy } from '../../src/sim/strategies/dfs.js';
import type { World } from '../../src/sim/world.js';

// What a scenario file gets from 'hmmsim': the same functions behind the checking wrapper.
const lock = checkedCall('mutex_lock', mutex_lock);
const unlock = checkedCall('mutex_unlock', mutex_unlock);

function kinds(body: (s: { m: Mutex; c: { name: string; v: number } }, w: World) => Generator<unknown, void, unknown>): string[] {
  const sc = defineScenario({
    name: 'p',
    description: 'protocol',
    setup: (w) => ({ m: new Mutex(w, 'dev.lock'), c: { name: 'c', v: 0 } }),
    tasks: { a: body, *b(s, w) { yield w.point('b', s.c, Access.Read); } },
  });
  return [...new Set(explore(sc, new DfsStrategy(2), { seed: 1, maxRuns: 100 }).problems.map((p) => p.kind))].sort();
}

describe('generator protocol', () => {
  it('a kernel call without yield* is a finding; with yield* it is not', () => {
    expect(kinds(function* (s, w) {
      yield w.point('start', s.c, Access.Write);
      lock(s.m);
      s.c.v++;
    })).toContain(GENERATOR_PROTOCOL);
    expect(kinds(function* (s, w) {
      yield w.point('start', s.c, Access.Write);
      yield* lock(s.m);
      s.c.v++;
      yield* unlock(s.m);
    })).toEqual([]);
  });

  it('yielding a value that is not a point is a finding; a point, a label or a bare yield is not', () => {
    expect(kinds(function* (s, w) {
      yield w.point('start', s.c, Access.Write);
      yield 42;
    })).toEqual([GENERATOR_PROTOCOL]);
    expect(kinds(function* (s, w) {
      yield w.point('start', s.c, Access.Write);
      yield lock(s.m);
    })).toContain(GENERATOR_PROTOCOL);
    expect(kinds(function* (s, w) {
      yield w.point('start', s.c, Access.Write);
      yield 'label';
      yield;
    })).toEqual([]);
  });

  it('blocking without yielding the block is a finding; yielding it is not', () => {
    const run = (yielded: boolean): string[] => {
      const sc = defineScenario({
        name: 'q',
        description: 'block',
        setup: (w) => ({ q: w.waitQueue('dev.wq'), c: { name: 'c', v: 0 } }),
        tasks: {
          *a(s, w) {
            yield w.point('start', s.c, Access.Read);
            if (s.c.v === 0) {
              if (yielded) yield s.q.block();
              else s.q.block();
            }
            yield w.point('after', s.c, Access.Read);
          },
          *b(s, w) {
            yield w.point('wake', s.c, Access.Write);
            s.c.v = 1;
            s.q.wakeAll();
          },
        },
      });
      return [...new Set(explore(sc, new DfsStrategy(2), { seed: 1, maxRuns: 100 }).problems.map((p) => p.kind))];
    };
    expect(run(false)).toContain(GENERATOR_PROTOCOL);
    expect(run(true)).not.toContain(GENERATOR_PROTOCOL);
  });
});
