/**
 * The device-coherent variants (hmm_device_coherent) of the hmm-tests cases on huge pages, fork,
 * the device file's mmap and gup_test: each runs as the kernel's case runs under that fixture,
 * passes under the current contract and under v6.0 (the first with MEMORY_DEVICE_COHERENT),
 * SKIPs before with the kernel's "DEVICE_COHERENT not available", really runs on device 2's
 * coherent memory, and hmm_gup_test fails on a GUP that keeps long-term pins on coherent pages.
 */
import { describe, expect, it, vi } from 'vitest';
import { checkScenario } from '../../../src/check/run.js';
import { FindingKind } from '../../../src/sim/finding.js';
import type { Mm } from '../../../src/mm/mm-struct.ts';
import { defineCase, SELFTEST_ASSERT, type CaseSpec } from '../../../scenarios/hmm-tests/harness.ts';
import { hmmTestCaseSpecs } from '../../../scenarios/hmm-tests/index.ts';

/**
 * Switch for a GUP that keeps FOLL_LONGTERM pins on device-coherent pages (the bug v6.0 fixed),
 * and the coherent pages each long-term GUP handed to the migration.
 */
const longtermKeepsCoherent = vi.hoisted(() => ({ on: false, migrated: [] as number[] }));
vi.mock('../../../src/mm/gup-longterm.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../../src/mm/gup-longterm.ts')>();
  return {
    ...orig,
    *migrate_longterm_unpinnable_pages(mm: Mm, pages: readonly number[], from: number, to: number, pinned: boolean): Generator<unknown, number, unknown> {
      if (longtermKeepsCoherent.on) return to - from;
      let coherent = 0;
      for (let i = from; i < to; i++) if (mm.sys.frames.isDeviceCoherent(pages[i]!)) coherent++;
      longtermKeepsCoherent.migrated.push(coherent);
      return yield* orig.migrate_longterm_unpinnable_pages(mm, pages, from, to, pinned);
    },
  };
});

function spec(name: string): CaseSpec {
  const s = hmmTestCaseSpecs.find((c) => c.name === name);
  if (s === undefined) throw new Error(`no case ${name}`);
  return s;
}

const once = { legs: [{ name: 'random' as const }], seed: 1, runs: 1, shrink: false };

function coherentVerdict(c: CaseSpec, kernel: string): { verdict: string; problems: string[]; skip: string | null } {
  const [priv, coherent] = defineCase(c);
  expect(priv!.name).toBe(`hmm.hmm_device_private.${c.name}`);
  expect(coherent!.name).toBe(`hmm.hmm_device_coherent.${c.name}`);
  const r = checkScenario(coherent!, { ...once, kernel });
  return { verdict: r.verdict, problems: r.problems.map((p) => `${p.kind}: ${p.message}`), skip: r.skipReason ?? null };
}

/** What device 2 (the fixture's coherent device) did during the case body, before the teardown. */
interface DeviceUse {
  minor: number;
  calloc: number;
}

/** The case with its body wrapped to record DeviceUse. */
function probe(name: string, out: DeviceUse[]): CaseSpec {
  const base = spec(name);
  return {
    ...base,
    *body(t) {
      yield* base.body(t);
      out.push({ minor: t.fd.mdevice.minor, calloc: t.fd.mdevice.pool.calloc });
    },
  };
}

describe('hmm-tests device-coherent variants on huge pages, fork, mixed maps and gup_test', () => {
  it.each(['anon_write_child', 'anon_write_huge', 'anon_write_hugetlbfs', 'compound', 'mixedmap', 'hmm_gup_test'])(
    '%s (coherent) passes under current and v6.0 on device 2, and SKIPs under v5.14 with DEVICE_COHERENT not available',
    (name) => {
      const use: DeviceUse[] = [];
      for (const k of ['current', 'v6.0']) expect(coherentVerdict(probe(name, use), k), k).toEqual({ verdict: 'pass', problems: [], skip: null });
      expect(use.map((u) => u.minor)).toEqual([2, 2]);
      const old = coherentVerdict(spec(name), 'v5.14');
      expect(old.verdict).toBe('skip');
      expect(old.skip).toMatch(/^DEVICE_COHERENT not available/);
    },
  );

  it('anon_write_child (coherent) migrates its buffers into coherent memory before the forks (1024 + 512 pages)', () => {
    const use: DeviceUse[] = [];
    expect(coherentVerdict(probe('anon_write_child', use), 'current').verdict).toBe('pass');
    expect(use[0]!.calloc).toBe(1024 + 512);
  });

  it('hmm_gup_test (coherent): each of the two long-term pins migrates its one coherent page out (the short-term ones leave theirs: m[0], m[1])', () => {
    longtermKeepsCoherent.migrated.length = 0;
    expect(coherentVerdict(spec('hmm_gup_test'), 'current').verdict).toBe('pass');
    expect(longtermKeepsCoherent.migrated).toEqual([1, 1]);
  });

  it('hmm_gup_test (coherent) fails on a GUP that keeps long-term pins on coherent pages: gup_test WARNs and m[2] is still coherent (0x42)', () => {
    longtermKeepsCoherent.on = true;
    try {
      const r = coherentVerdict(spec('hmm_gup_test'), 'current');
      expect(r.verdict).toBe('fail');
      expect(r.problems).toHaveLength(2);
      expect(r.problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^${FindingKind.Warn}: WARNING: gup_test: pages\\[0\\] \\(pfn \\d+\\) is NOT pinnable but pinned$`)),
          `${SELFTEST_ASSERT}: ASSERT_EQ failed: m[2] after a long-term PIN_FAST_BENCHMARK: got 2, want 66`,
        ]),
      );
      // the private variant does not depend on it: GUP faults device-private pages back anyway
      const [priv] = defineCase(spec('hmm_gup_test'));
      expect(checkScenario(priv!, once).problems).toEqual([]);
    } finally {
      longtermKeepsCoherent.on = false;
    }
  });
});
