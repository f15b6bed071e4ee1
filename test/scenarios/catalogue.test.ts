import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import { catalogue } from '../../scenarios/index.js';

describe('built-in catalogue', () => {
  it.each(catalogue.map((s) => [s.name, s] as const))('%s: verdict as expected under the default portfolio', (_name, scenario) => {
    const r = checkScenario(scenario, { legs: portfolioLegs(2, 3, 2), seed: 7, runs: 3000 });
    expect(r.verdict).toBe('pass');
    const found = new Set(r.problems.map((p) => p.kind));
    for (const k of scenario.expect) expect(found).toContain(k);
  });
});
