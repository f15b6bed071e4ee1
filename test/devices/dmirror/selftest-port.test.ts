import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { DEVICE_MAPS_FREED_PAGE } from '../../../src/notifier/coherence.js';
import { defineCase, SELFTEST_ASSERT, type CaseSpec } from '../../../scenarios/hmm-tests/harness.ts';
import { hmmTestCaseSpecs } from '../../../scenarios/hmm-tests/index.ts';

function spec(name: string): CaseSpec {
  const s = hmmTestCaseSpecs.find((c) => c.name === name);
  if (s === undefined) throw new Error(`no case ${name}`);
  return s;
}

const once = { legs: [{ name: 'random' as const }], seed: 1, runs: 1, shrink: false };

describe('the hmm-tests port on the model', () => {
  it('a case passes under the current contract and under the oldest one with its features (v5.5), and SKIPs before', () => {
    const [priv] = defineCase(spec('anon_write_prot'));
    for (const kernel of ['current', 'v5.5']) {
      const r = checkScenario(priv!, { ...once, kernel });
      expect(r.verdict, kernel).toBe('pass');
      expect(r.problems).toEqual([]);
    }
    const old = checkScenario(priv!, { ...once, kernel: 'v5.4' });
    expect(old.verdict).toBe('skip');
    expect(old.skipReason).toMatch(/interval notifiers/);
  });

  it('exclusive runs on both device-exclusive generations (v5.14 range, v6.15 single) and SKIPs without one', () => {
    const [priv] = defineCase(spec('exclusive'));
    for (const kernel of ['v5.14', 'v6.15']) expect(checkScenario(priv!, { ...once, kernel }).verdict, kernel).toBe('pass');
    const r = checkScenario(priv!, { ...once, kernel: 'v5.9' });
    expect(r.verdict).toBe('skip');
    expect(r.skipReason).toMatch(/make_device_exclusive_range \(v5\.14\+\)/);
  });

  it('coherent variants run from v6.0 and SKIP before with the kernel reason', () => {
    const [, coherent] = defineCase(spec('migrate'));
    for (const kernel of ['current', 'v6.0']) {
      const r = checkScenario(coherent!, { ...once, kernel });
      expect(r.verdict, kernel).toBe('pass');
      expect(r.problems).toEqual([]);
    }
    expect(coherent!.skipFor('v5.14')).toMatch(/^DEVICE_COHERENT not available/);
  });

  it('coherent migrate_multiple: MIGRATE_TO_SYS brings every page back; a dmirror that ignores its notifier leaves coherent pages mapped after munmap frees them', () => {
    const [, coherent] = defineCase(spec('migrate_multiple'));
    expect(checkScenario(coherent!, once).problems).toEqual([]);
    const [, broken] = defineCase(spec('migrate'), 'ignores-notifier');
    const r = checkScenario(broken!, once);
    expect(r.verdict).toBe('fail');
    expect(r.problems.map((p) => p.kind)).toContain(DEVICE_MAPS_FREED_PAGE);
  });

  it('the migrate case moves the buffer to device memory and back through CPU faults, clean', () => {
    const [priv] = defineCase(spec('migrate_release'));
    const r = checkScenario(priv!, once);
    expect(r.problems).toEqual([]);
    expect(r.verdict).toBe('pass');
  });

  it('a dmirror that ignores its notifier fails anon_read_multiple: the selftest assertion and the oracles see it', () => {
    const [broken] = defineCase(spec('anon_read_multiple'), 'ignores-notifier');
    const r = checkScenario(broken!, once);
    expect(r.verdict).toBe('fail');
    const kinds = new Set(r.problems.map((p) => p.kind));
    expect(kinds).toContain(SELFTEST_ASSERT);
    expect(kinds).toContain(DEVICE_MAPS_FREED_PAGE);
    expect(r.problems.find((p) => p.kind === SELFTEST_ASSERT)!.message).toMatch(/faults: got 0, want 1/);
    const [fixed] = defineCase(spec('anon_read_multiple'));
    expect(checkScenario(fixed!, once).problems).toEqual([]);
  });

});
