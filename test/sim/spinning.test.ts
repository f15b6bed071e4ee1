import { describe, expect, it } from 'vitest';
import { explore } from '../../src/sim/explore.js';
import { FindingKind } from '../../src/sim/finding.js';
import { Access } from '../../src/sim/point.js';
import type { Program } from '../../src/sim/program.js';
import { DfsStrategy } from '../../src/sim/strategies/dfs.js';
import { PctStrategy } from '../../src/sim/strategies/pct.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import type { Strategy } from '../../src/sim/strategy.js';
import { World } from '../../src/sim/world.js';
import { NonPreemptiveStrategy } from '../../src/sim/strategies/non-preemptive.js';

/** A correct spin-wait: `waiter` retries until `setter`, after some work, raises the flag. */
function spinWait(hinted: boolean, stats = { maxSpins: 0 }): Program {
  return {
    start(w) {
      let spins = 0;
      w.maxSteps = 300;
      const flag = { name: 'flag', up: false };
      const work = { name: 'work' };
      w.spawn('waiter', function* () {
        for (;;) {
          yield hinted ? w.spinPoint('test flag', flag, Access.Read) : w.point('test flag', flag, Access.Read);
          if (flag.up) break;
          spins++;
          if (spins > stats.maxSpins) stats.maxSpins = spins;
        }
        yield w.point('proceed', work, Access.Write);
      });
      w.spawn('setter', function* () {
        for (let i = 0; i < 20; i++) yield w.point(`work ${i}`, work, Access.Write);
        yield w.point('raise flag', flag, Access.Write);
        flag.up = true;
      });
    },
  };
}

const strategies: [string, () => Strategy][] = [
  ['random', () => new RandomStrategy()],
  ['pct', () => new PctStrategy(3, 50)],
  ['dfs', () => new DfsStrategy(2)],
];

describe('the spinning hint', () => {
  for (const [name, make] of strategies) {
    it(`${name}: a hinted spin-wait never exhausts the step budget; an unhinted one can`, () => {
      const hintedStats = { maxSpins: 0 };
      const hinted = explore(spinWait(true, hintedStats), make(), { seed: 3, maxRuns: 300 });
      expect(hinted.problems.map((p) => p.kind)).toEqual([]);
      // At most one failed test of the flag per step the setter takes.
      expect(hintedStats.maxSpins).toBeLessThanOrEqual(21);
      const plainStats = { maxSpins: 0 };
      const plain = explore(spinWait(false, plainStats), make(), { seed: 3, maxRuns: 300 });
      expect(plainStats.maxSpins).toBeGreaterThan(21);
      if (name !== 'random') expect(plain.problems.map((p) => p.kind)).toContain(FindingKind.StepBudget);
    });
  }

  it('a spin nobody can end is still a livelock', () => {
    const w = new World();
    w.reset(1);
    w.maxSteps = 40;
    w.spawn('spinner', function* () {
      for (;;) yield w.spinPoint('spin');
    });
    w.run(new NonPreemptiveStrategy());
    expect(w.findings.map((f) => f.kind)).toEqual([FindingKind.StepBudget]);
    expect(w.findings[0]!.message).toMatch(/spinner at 'spin'/);
  });

  it('switching away from a spinner is not a preemption', () => {
    const w = new World();
    w.reset(1);
    let flag = false;
    w.spawn('a', function* () {
      while (!flag) yield w.spinPoint('wait');
    });
    w.spawn('b', function* () {
      yield w.point('set');
      flag = true;
    });
    w.run(new NonPreemptiveStrategy());
    expect(w.decisions.preemptions()).toBe(0);
  });
});
