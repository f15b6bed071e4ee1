/**
 * The scenarios on the real address space keep their verdicts with transparent huge pages always
 * on (the default THP mode switched for every run that names none), under the current contract
 * and an old one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import { defaultThpMode, setDefaultThpMode } from '../../src/mm/huge-memory.ts';
import reclaim1 from '../../scenarios/mm/s-lockdep-reclaim-1.ts';
import regcache1 from '../../scenarios/mm/s-regcache-1.ts';
import nonblock1 from '../../scenarios/mm/s-nonblock-1-mm.ts';
import onMm from '../../scenarios/mm/notifier-on-mm.ts';

const all = [...reclaim1, ...regcache1, ...nonblock1, ...onMm];

describe('mm scenarios with THP always on', () => {
  let saved = defaultThpMode();
  beforeAll(() => {
    saved = defaultThpMode();
    setDefaultThpMode('always');
  });
  afterAll(() => setDefaultThpMode(saved));
  for (const kernel of ['current', 'v5.4']) {
    it.each(all.map((s) => [s.name, s] as const))(`%s: verdict as expected (${kernel})`, (_name, scenario) => {
      const r = checkScenario(scenario, { legs: portfolioLegs(2, 3, 2), seed: 7, runs: 1000, kernel });
      expect(r.verdict).toBe('pass');
    });
  }
});
