import { it } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { hmmTestsGroup } from '../../../scenarios/hmm-tests/index.ts';
it('smoke', () => {
  for (const s of hmmTestsGroup) {
    if (!s.name.includes('private') || !/migrate|exclusive/.test(s.name)) continue;
    const t0 = Date.now();
    const r = checkScenario(s, { legs: [{ name: 'random' }], seed: 1, runs: 1 });
    console.log(s.name, r.verdict, r.skipReason ?? '', Date.now() - t0, 'ms', r.problems.map((p) => p.kind + ': ' + p.message).join('\n'));
  }
});
