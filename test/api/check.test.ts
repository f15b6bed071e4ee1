/**
 * The programmatic API, used as the README shows: check() returns the JSON entry of the command,
 * assertScenario() passes on an expected verdict and throws the report with replay lines otherwise.
 */
import { describe, expect, it } from 'vitest';
import { Access, assertScenario, check, defineScenario, ScenarioAssertionError } from '../../src/index.js';

const lostUpdate = (expectBug: boolean) =>
  defineScenario({
    name: 'api-lost-update',
    description: 'two unlocked increments',
    setup: () => ({ counter: { name: 'counter', value: 0 } }),
    tasks: {
      *inc0(s, w) {
        yield w.point('load', s.counter, Access.Read);
        const v = s.counter.value;
        yield w.point('store', s.counter, Access.Write);
        s.counter.value = v + 1;
      },
      *inc1(s, w) {
        yield w.point('load', s.counter, Access.Read);
        const v = s.counter.value;
        yield w.point('store', s.counter, Access.Write);
        s.counter.value = v + 1;
      },
    },
    check(s, ctx) {
      if (s.counter.value !== 2) ctx.fail(`counter is ${s.counter.value}`, 'lost-update', 'counter');
    },
    expect: expectBug ? ['lost-update'] : [],
  });

describe('programmatic API', () => {
  it('check() returns the fields of the JSON document, with a replay line naming this file', () => {
    const r = check(lostUpdate(true), { runs: 500, strategy: 'dfs' });
    expect(r.verdict).toBe('pass');
    expect(r.findings.map((f) => f.kind)).toEqual(['lost-update']);
    for (const k of ['name', 'verdict', 'runs', 'runsPerSecond', 'findings']) expect(r).toHaveProperty(k);
    expect(r.findings[0]!.replay).toMatch(/^hmmsim replay \/.*check\.test\.ts#api-lost-update 1:\S+ --seed \d+ --finding lost-update$/);
  });

  it('assertScenario() passes when the verdict is as expected and throws the report otherwise', () => {
    expect(() => assertScenario(lostUpdate(true), { runs: 500 })).not.toThrow();
    let err: unknown;
    try {
      assertScenario(lostUpdate(false), { runs: 500 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioAssertionError);
    expect((err as Error).message).toMatch(/FAIL {2}api-lost-update: unexpected: lost-update/);
    expect((err as Error).message).toMatch(/replay: npx hmmsim replay \S+#api-lost-update 1:\S+ --seed \d+ --finding lost-update/);
  });
});
