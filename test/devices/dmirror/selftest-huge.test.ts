/**
 * The hmm-tests cases on huge pages, fork, the device file's mmap and gup_test: each passes under
 * the current contract and under the oldest one with its features, SKIPs before with the reason,
 * fails where the feature it checks is missing, and really exercises what it is about.
 */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { thpStats, type ThpStats } from '../../../src/mm/huge-memory.ts';
import { memoryOf } from '../../../src/mm/memory.ts';
import { defineCase, SELFTEST_ASSERT, type CaseSpec } from '../../../scenarios/hmm-tests/harness.ts';
import { hmmTestCaseSpecs } from '../../../scenarios/hmm-tests/index.ts';

function spec(name: string): CaseSpec {
  const s = hmmTestCaseSpecs.find((c) => c.name === name);
  if (s === undefined) throw new Error(`no case ${name}`);
  return s;
}

const once = { legs: [{ name: 'random' as const }], seed: 1, runs: 1, shrink: false };

function verdict(c: CaseSpec, kernel: string): { verdict: string; problems: string[]; skip: string | null } {
  const [priv] = defineCase(c);
  const r = checkScenario(priv!, { ...once, kernel });
  return { verdict: r.verdict, problems: r.problems.map((p) => `${p.kind}: ${p.message}`), skip: r.skipReason ?? null };
}

describe('hmm-tests on huge pages, fork, mixed maps and gup_test', () => {
  it.each([
    ['anon_write_huge', 'v5.5', 'v5.4', /interval notifiers/],
    ['anon_write_hugetlbfs', 'v5.5', 'v5.4', /interval notifiers/],
    ['compound', 'v5.14', 'v5.9', /hmm_pfn_to_map_order, v5\.10\+/],
    ['mixedmap', 'v6.0', 'v5.14', /VM_MIXEDMAP .*v5\.16\+/],
    ['hmm_gup_test', 'v5.14', 'v5.9', /^Skipping test, could not find gup_test driver$/],
  ])('%s passes under current and %s, and SKIPs under %s', (name, oldest, before, reason) => {
    for (const k of ['current', oldest]) expect(verdict(spec(name), k), `${name} ${k}`).toEqual({ verdict: 'pass', problems: [], skip: null });
    const old = verdict(spec(name), before);
    expect(old.verdict).toBe('skip');
    expect(old.skip).toMatch(reason);
  });

  it('anon_write_child passes under current and v5.5 (fork, four rounds), and its THP rounds make huge pages, split by migration only before device THP migration', () => {
    const stats: ThpStats[] = [];
    const base = spec('anon_write_child');
    const probe: CaseSpec = {
      ...base,
      *body(t) {
        yield* base.body(t);
        stats.push({ ...thpStats(memoryOf(t.world)!) });
      },
    };
    for (const k of ['current', 'v5.5']) expect(verdict(probe, k), k).toEqual({ verdict: 'pass', problems: [], skip: null });
    // the THP rounds fault in a THP each (in the child's COW of it too); migrating one splits it
    // before device THP migration (v5.5), and moves it whole since (current, v6.19+)
    const [current, v5_5] = stats;
    for (const s of [current!, v5_5!]) expect(s.faultAlloc).toBeGreaterThanOrEqual(2);
    expect(v5_5!.splitPage).toBeGreaterThanOrEqual(1);
    expect(current!.splitPage).toBeLessThan(v5_5!.splitPage);
  });

  it('anon_write_huge writes through a PMD-mapped THP', () => {
    let s: ThpStats | null = null;
    const base = spec('anon_write_huge');
    const probe: CaseSpec = {
      ...base,
      *body(t) {
        yield* base.body(t);
        s = { ...thpStats(memoryOf(t.world)!) };
      },
    };
    expect(verdict(probe, 'current').verdict).toBe('pass');
    expect(s!.faultAlloc).toBe(1);
    expect(s!.faultFallback).toBe(0);
  });

  it('compound fails where hmm_range_fault reports no map order (v5.9 with the skip taken away)', () => {
    const r = verdict({ ...spec('compound'), kernelSkip: () => null }, 'v5.9');
    expect(r.verdict).toBe('fail');
    expect(r.problems).toEqual([`${SELFTEST_ASSERT}: ASSERT_EQ failed: m[0]: got 2, want 6`]);
  });

  it('mixedmap fails where hmm_range_fault refuses VM_MIXEDMAP (v5.14 with the skip taken away): 0xFF', () => {
    const r = verdict({ ...spec('mixedmap'), kernelSkip: () => null }, 'v5.14');
    expect(r.verdict).toBe('fail');
    expect(r.problems).toEqual([`${SELFTEST_ASSERT}: ASSERT_EQ failed: m[0]: got 255, want 1`]);
  });

  it('hmm_gup_test reaches the kernel SKIP at run time when the port says it would not (v5.9 with the skip taken away)', () => {
    const r = verdict({ ...spec('hmm_gup_test'), kernelSkip: () => null }, 'v5.9');
    expect(r.verdict).toBe('fail');
    expect(r.problems[0]).toMatch(/would SKIP here \("Skipping test, could not find gup_test driver"\)/);
  });
});
