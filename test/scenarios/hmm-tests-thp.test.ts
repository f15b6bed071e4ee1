import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { DEVICE_MAPS_FREED_PAGE } from '../../src/notifier/coherence.js';
import { defineCase, type CaseSpec } from '../../scenarios/hmm-tests/harness.ts';
import { hmmTestCaseSpecs } from '../../scenarios/hmm-tests/index.ts';

function spec(name: string): CaseSpec {
  const s = hmmTestCaseSpecs.find((c) => c.name === name);
  if (s === undefined) throw new Error(`no case ${name}`);
  return s;
}

const once = { legs: [{ name: 'random' as const }], seed: 1, runs: 1, shrink: false };

describe('the THP migration cases of hmm-tests (v6.19 device THP migration)', () => {
  for (const name of ['migrate_anon_huge_empty', 'migrate_anon_huge_zero', 'migrate_anon_huge_free', 'migrate_anon_huge_fault', 'migrate_partial_unmap_fault', 'migrate_remap_fault', 'migrate_anon_huge_err', 'migrate_anon_huge_zero_err']) {
    it(`${name} passes under the current contract`, () => {
      const [priv] = defineCase(spec(name));
      const r = checkScenario(priv!, once);
      expect(r.problems.map((p) => p.message)).toEqual([]);
      expect(r.verdict).toBe('pass');
    });
  }

  it('a dmirror that ignores its notifier fails migrate_partial_unmap_fault (the device still maps the unmapped part of its THP); the correct one passes', () => {
    const [broken] = defineCase(spec('migrate_partial_unmap_fault'), 'ignores-notifier');
    const r = checkScenario(broken!, once);
    expect(r.verdict).toBe('fail');
    expect(r.problems.map((p) => p.kind)).toContain(DEVICE_MAPS_FREED_PAGE);
  });

  it('the cases needing a device THP also pass under the oldest kernel that has it (v6.19)', () => {
    for (const name of ['migrate_anon_huge_fault', 'migrate_anon_huge_err', 'migrate_anon_huge_zero_err']) {
      const [c] = defineCase(spec(name));
      expect(checkScenario(c!, { ...once, kernel: 'v6.19' }).verdict, name).toBe('pass');
    }
  });

  it('under v6.15 the contents cases still pass (collect splits first); those needing a device THP SKIP with the reason', () => {
    for (const name of ['migrate_anon_huge_free', 'migrate_partial_unmap_fault']) {
      const [c] = defineCase(spec(name));
      expect(checkScenario(c!, { ...once, kernel: 'v6.15' }).verdict, name).toBe('pass');
    }
    for (const name of ['migrate_anon_huge_fault', 'migrate_anon_huge_err', 'migrate_anon_huge_zero_err']) {
      const [c] = defineCase(spec(name));
      const r = checkScenario(c!, { ...once, kernel: 'v6.15' });
      expect(r.verdict, name).toBe('skip');
      expect(r.skipReason).toMatch(/v6\.19\+/);
    }
  });
});
