import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import { catalogue } from '../../scenarios/index.js';

describe('built-in catalogue', () => {
  it.each(catalogue.map((s) => [s.name, s] as const))('%s: verdict as expected under the default portfolio and under random', (_name, scenario) => {
    for (const legs of [portfolioLegs(2, 3, 2), [{ name: 'random' }]] as const) {
      const r = checkScenario(scenario, { legs, seed: 7, runs: 2000 });
      expect([r.verdict, r.problems.map((p) => p.kind)]).toEqual(['pass', [...scenario.expect]]);
    }
  });
});
