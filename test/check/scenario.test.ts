import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { defineScenario, ScenarioError, verdictOf } from '../../src/check/scenario.js';
import { Access } from '../../src/sim/point.js';
import type { World } from '../../src/sim/world.js';

describe('defineScenario', () => {
  it('rejects malformed definitions with a message naming the problem', () => {
    const base = { name: 'x', description: '', setup: () => ({}), tasks: { *t() {} } };
    expect(() => defineScenario({ ...base, name: 'has space' })).toThrow(/name must be/);
    expect(() => defineScenario({ ...base, setup: 3 as never })).toThrow(/setup must be a function/);
    expect(() => defineScenario({ ...base, tasks: {} })).toThrow(/at least one/);
    expect(() => defineScenario({ ...base, tasks: { t: 5 as never } })).toThrow(/task 't' must be a generator function/);
    expect(() => defineScenario({ ...base, maxSteps: -1 })).toThrow(ScenarioError);
    expect(() => defineScenario({ ...base, runs: 0 })).toThrow(/runs must be a positive integer/);
    expect(defineScenario({ ...base, runs: 500 }).defaultRuns).toBe(500);
    expect(defineScenario(base).defaultRuns).toBeUndefined();
  });

  it('turns a throwing check into a check-failed finding, and can check after every step', () => {
    const sc = defineScenario({
      name: 'transient',
      description: 'a counter is briefly 1 between two writes',
      setup: () => ({ c: { name: 'c', v: 0 } }),
      tasks: {
        *t(s, w: World) {
          yield w.point('one', s.c, Access.Write);
          s.c.v = 1;
          yield w.point('back', s.c, Access.Write);
          s.c.v = 0;
        },
      },
      check(s, ctx) {
        if (s.c.v !== 0) throw new Error(`c is ${s.c.v} (atEnd=${ctx.atEnd})`);
      },
      checkEveryStep: true,
    });
    const r = checkScenario(sc, { legs: [{ name: 'random' }], seed: 1, runs: 5 });
    expect(r.problems.map((p) => [p.kind, p.message])).toEqual([['check-failed', 'c is 1 (atEnd=false)']]);
    expect(r.verdict).toBe('fail');
  });

  it('a setup that throws is a ScenarioError naming the scenario', () => {
    const sc = defineScenario({ name: 'broken', description: '', setup: () => { throw new Error('no device'); }, tasks: { *t() {} } });
    expect(() => checkScenario(sc, { legs: [{ name: 'random' }], seed: 1, runs: 1 })).toThrow(/scenario 'broken': setup threw: no device/);
  });

  it('a task that is not a generator function is a ScenarioError', () => {
    const sc = defineScenario({ name: 'plain', description: '', setup: () => ({}), tasks: { t: (() => 1) as never } });
    expect(() => checkScenario(sc, { legs: [{ name: 'random' }], seed: 1, runs: 1 })).toThrow(/task 't' .*generator/);
  });
});

describe('verdictOf', () => {
  it('passes only when the found kinds are exactly the expected ones', () => {
    expect(verdictOf(['deadlock'], ['deadlock']).pass).toBe(true);
    expect(verdictOf([], []).pass).toBe(true);
    expect(verdictOf(['deadlock'], [])).toEqual({ pass: false, missing: ['deadlock'], unexpected: [] });
    expect(verdictOf([], ['exception'])).toEqual({ pass: false, missing: [], unexpected: ['exception'] });
  });
});
