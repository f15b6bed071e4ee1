/**
 * The list of kinds hmmsim's layers report is complete (every kind a source file reports or
 * defines is on it), and no built-in scenario expects a kind nothing can report; a typo in an
 * expect is caught with the nearest kind, a kind the scenario reports itself is not.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_KINDS, selfReportedKinds, unreportableExpectations } from '../../src/check/known-kinds.js';
import { defineScenario } from '../../src/check/scenario.js';
import { catalogue, groups } from '../../scenarios/index.js';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sources(dir: string): { path: string; text: string }[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [{ path: p, text: readFileSync(p, 'utf8') }] : [];
  });
}

/** Constants that look like kinds but are none. */
const NOT_KINDS = new Set(['current']);

describe('known finding kinds', () => {
  it('lists every kind the sources report with a literal or define as a kind constant', () => {
    const found = new Set<string>();
    for (const { path, text } of sources(SRC)) {
      for (const m of text.matchAll(/\.report\(\s*'([a-z0-9-]+)'/g)) found.add(m[1]!);
      // lockdep's reports carry their kind as a field
      if (path.includes('/lockdep/')) for (const m of text.matchAll(/\bkind: '([a-z0-9-]+)'/g)) found.add(m[1]!);
      for (const m of text.matchAll(/export const [A-Z_]+ = '([a-z][a-z0-9]*(?:-[a-z0-9]+)+|[a-z]+)';/g)) if (!NOT_KINDS.has(m[1]!)) found.add(m[1]!);
    }
    expect(found.size).toBeGreaterThan(40);
    expect([...found].filter((k) => !KNOWN_KINDS.has(k)).sort()).toEqual([]);
  });

  it('no built-in scenario or group member expects a kind nothing can report', () => {
    const all = [...catalogue, ...Object.values(groups).flat()];
    expect(all.flatMap((s) => unreportableExpectations(s).map((p) => `${s.name}: ${p}`))).toEqual([]);
  });

  it('a typo is unreportable and names the nearest kind; a kind the scenario reports itself is plausible', () => {
    const base = { description: 'x', setup: () => ({ v: 0 }), tasks: { *t() {} } };
    const typo = defineScenario({ ...base, name: 'typo', expect: ['dedlock'] });
    expect(unreportableExpectations(typo)).toEqual(["'dedlock', a kind nothing in hmmsim reports and the scenario never reports itself; did you mean 'deadlock'?"]);
    const own = defineScenario({ ...base, name: 'own', expect: ['my-kind'], check: (_s, ctx) => ctx.fail('mine', 'my-kind') });
    expect(unreportableExpectations(own)).toEqual([]);
    expect(selfReportedKinds(own)).toEqual(['my-kind']);
    expect(unreportableExpectations(defineScenario({ ...base, name: 'known', expect: ['deadlock'] }))).toEqual([]);
  });
});
