import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { legSeed } from '../../src/check/run.js';
import { main } from '../../src/cli/main.js';
import { deriveSeed } from '../../src/sim/rng.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;

/** A scenario taking A then B, or B then A, by the parity of the run's seed: no run has both. */
function orderBySeedFile(dir: string): string {
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const file = join(dir, 'order.ts');
  writeFileSync(
    file,
    `import { defineScenario, Mutex, mutex_lock, mutex_unlock } from '${srcIndex}';
export default defineScenario({
  name: 'order-by-seed',
  description: 'one lock order per run, by seed',
  setup: (w) => ({ a: new Mutex(w, 'lock_A'), b: new Mutex(w, 'lock_B'), aFirst: w.seed % 2 === 0 }),
  tasks: {
    *t(s) {
      const [x, y] = s.aFirst ? [s.a, s.b] : [s.b, s.a];
      yield* mutex_lock(x);
      yield* mutex_lock(y);
      yield* mutex_unlock(y);
      yield* mutex_unlock(x);
    },
  },
  expect: ['lockdep-circular'],
});
`,
  );
  return file;
}

describe('hmmsim check --shard and hmmsim merge', () => {
  it('finds after the merge a lock cycle whose halves were seen only in different shards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-shards-'));
    const file = orderBySeedFile(dir);
    // Two shards of one random run each: shard K makes run K of leg 0's seed stream.
    let seed = 1;
    while (deriveSeed(legSeed(seed, 0), 0) % 2 === deriveSeed(legSeed(seed, 0), 1) % 2) seed++;
    const common = ['--strategy', 'random', '--runs', '2', '--seed', String(seed), '--quiet'];
    for (const k of [1, 2]) {
      const r = await run('check', file, ...common, '--shard', `${k}/2`, '--out', join(dir, `${k}.json`));
      expect(r.code).toBe(0);
      expect(r.out).toContain(`shard ${k}/2: partial results written`);
      const doc = JSON.parse(readFileSync(join(dir, `${k}.json`), 'utf8')) as { scenarios: { legs: { runs: number; problems: unknown[]; dependencies: unknown[] }[] }[] };
      const leg = doc.scenarios[0]!.legs[0]!;
      expect(leg.runs).toBe(1);
      expect(leg.problems).toEqual([]);
      expect(leg.dependencies).toHaveLength(1);
    }
    const merged = await run('merge', join(dir, '1.json'), join(dir, '2.json'));
    expect(merged.code).toBe(0);
    expect(merged.out).toMatch(/PASS {2}order-by-seed: found as expected: lockdep-circular/);
    expect(merged.out).toMatch(/lock_A --> lock_B .*learned by random, shard \d\/2/);
    expect(merged.out).toMatch(/lock_B --> lock_A .*learned by random, shard \d\/2/);
    expect(merged.out).toContain('random over 2 shards: 2 runs');
  });

  it('a DFS split over shards is exhausted, and complete, only when every shard has its part', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-shards-'));
    for (const k of [1, 2, 3]) {
      const r = await run('check', 'abba-deadlock', '--strategy', 'dfs', '--preemptions', '5', '--quiet', '--shard', `${k}/3`, '--out', join(dir, `${k}.json`));
      expect(r.code).toBe(0);
    }
    const merged = await run('merge', '--json', join(dir, '1.json'), join(dir, '2.json'), join(dir, '3.json'));
    const doc = JSON.parse(merged.out) as { scenarios: { verdict: string; exhausted: boolean; complete: boolean; runs: number; findings: { kind: string }[] }[] };
    const one = await run('check', 'abba-deadlock', '--strategy', 'dfs', '--preemptions', '5', '--json');
    const whole = (JSON.parse(one.out) as { scenarios: { runs: number; complete: boolean }[] }).scenarios[0]!;
    expect(doc.scenarios[0]!.verdict).toBe('pass');
    expect(doc.scenarios[0]!.findings.map((f) => f.kind)).toEqual(['deadlock']);
    expect(doc.scenarios[0]!.runs).toBe(whole.runs);
    expect(doc.scenarios[0]!.complete).toBe(whole.complete);
    expect(doc.scenarios[0]!.exhausted).toBe(true);
    const missing = await run('merge', join(dir, '1.json'), join(dir, '3.json'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('shard 2/3 missing');
  });

  it('rejects a malformed --shard, a shard without --out, and files that are not shard results', async () => {
    expect((await run('check', 'lost-update', '--shard', '3/2', '--out', '/tmp/x.json')).err).toMatch(/--shard must be K\/N with 1 <= K <= N/);
    expect((await run('check', 'lost-update', '--shard', '1/2')).err).toMatch(/name the result file with --out FILE/);
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-shards-'));
    writeFileSync(join(dir, 'bad.json'), '{"hello": 1}');
    const r = await run('merge', join(dir, 'bad.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is not a shard result/);
  });

  it('refuses, as check does, a result whose expect names a kind nothing reports; keeps a kind the scenario reports itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-shards-'));
    const file = orderBySeedFile(dir);
    await run('check', file, '--no-typecheck', '--strategy', 'random', '--runs', '2', '--shard', '1/1', '--out', join(dir, '1.json'));
    const doc = JSON.parse(readFileSync(join(dir, '1.json'), 'utf8')) as { scenarios: { expected: string[]; selfReported?: string[] }[] };
    expect(doc.scenarios[0]!.selfReported).toEqual([]);
    doc.scenarios[0]!.expected = ['lockdep-circulr'];
    writeFileSync(join(dir, 'typo.json'), JSON.stringify(doc));
    const typo = await run('merge', join(dir, 'typo.json'));
    expect(typo.code).toBe(2);
    expect(typo.err.trim().split('\n')).toHaveLength(1);
    expect(typo.err).toMatch(/^hmmsim merge: scenario order-by-seed: its expect names 'lockdep-circulr', a kind nothing in hmmsim reports .*did you mean 'lockdep-circular'\?/);
    // The same kind, recorded as one the scenario reports itself: a plausible expectation, merged (and not found).
    doc.scenarios[0]!.selfReported = ['lockdep-circulr'];
    writeFileSync(join(dir, 'own.json'), JSON.stringify(doc));
    const own = await run('merge', join(dir, 'own.json'));
    expect(own.code).toBe(1);
    expect(own.out).toMatch(/FAIL {2}order-by-seed: expected lockdep-circulr but it was not found/);
  });
});
