import { describe, expect, it } from 'vitest';
import { Access, assertScenario, check, defineScenario } from 'hmmsim';

const racy = defineScenario({
  name: 'racy-counter',
  description: 'two unlocked increments of a shared counter',
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
});

describe('my driver', () => {
  it('finds the lost update, with a replay line', () => {
    const result = check(racy, { runs: 2000 });
    expect(result.verdict).toBe('fail');
    expect(result.findings.map((f) => f.kind)).toEqual(['lost-update']);
    expect(result.findings[0]!.replay).toMatch(/^hmmsim replay \S+#racy-counter 1:\S+ --seed \d+ --finding lost-update$/);
  });

  it('assertScenario fails with the report when the verdict is not as expected', () => {
    expect(() => assertScenario(racy, { runs: 2000 })).toThrow(/\[lost-update\] hit in/);
  });
});
