/** The mm scenarios (scenarios/mm): each verdict as expected, under the current and an old contract. */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import reclaim1 from '../../scenarios/mm/s-lockdep-reclaim-1.ts';
import regcache1 from '../../scenarios/mm/s-regcache-1.ts';
import nonblock1 from '../../scenarios/mm/s-nonblock-1-mm.ts';

const all = [...reclaim1, ...regcache1, ...nonblock1];

describe('mm scenarios', () => {
  for (const kernel of ['current', 'v5.4']) {
    it.each(all.map((s) => [s.name, s] as const))(`%s: verdict as expected (${kernel})`, (_name, scenario) => {
      const r = checkScenario(scenario, { legs: portfolioLegs(2, 3, 2), seed: 7, runs: 3000, kernel });
      expect(r.verdict).toBe('pass');
    });
  }
});
