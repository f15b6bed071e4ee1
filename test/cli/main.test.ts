import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;

function scenarioFile(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hmmsim-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const file = join(dir, 'mine.ts');
  writeFileSync(file, `import { defineScenario, Access } from '${srcIndex}';\n${body}`);
  return file;
}

describe('hmmsim check', () => {
  it('explores the built-in catalogue, every verdict as expected, exit 0', async () => {
    // A generous time limit: the verdicts then depend on the 400 runs alone, not on how loaded the machine is.
    const r = await run('check', '--runs', '400', '--time', '300', '--workers', '1', '--quiet');
    // On failure, say which scenarios were not as expected and what they found.
    const notAsExpected = r.out.split('\n').filter((l, i, all) => l.startsWith('FAIL') || (i > 0 && all[i - 1]!.startsWith('FAIL') && l.includes('runs in')));
    expect(r.code, notAsExpected.join('\n')).toBe(0);
    expect(r.out).toMatch(/PASS {2}lost-update/);
    expect(r.out).toMatch(/replay: hmmsim replay lost-update 1:\S+ --seed \d+/);
    expect(r.out).toMatch(/all \d+ scenarios as expected/);
  }, 180_000); // sweeps the whole catalogue: on a shared, loaded machine that can take more than a minute

  it('--json prints one document with the documented fields', async () => {
    const r = await run('check', 'lost-update', 'producer-consumer', '--json', '--runs', '200', '--strategy', 'random');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { scenarios: Record<string, unknown>[] };
    expect(doc.scenarios.map((s) => [s.name, s.verdict])).toEqual([
      ['lost-update', 'pass'],
      ['producer-consumer', 'pass'],
    ]);
    const s0 = doc.scenarios[0]!;
    for (const k of ['name', 'verdict', 'runs', 'runsPerSecond', 'findings']) expect(s0).toHaveProperty(k);
    const f = (s0.findings as Record<string, unknown>[])[0]!;
    for (const k of ['kind', 'message', 'hits', 'schedule', 'seed']) expect(f).toHaveProperty(k);
    expect(f.kind).toBe('lost-update');
  });

  it('runs the portfolio on two worker threads', async () => {
    const r = await run('check', 'abba-deadlock', '--workers', '2', '--runs', '2000', '--json');
    const doc = JSON.parse(r.out) as { scenarios: { verdict: string; runs: number; strategies: string[] }[] };
    expect(r.code).toBe(0);
    expect(doc.scenarios[0]!.strategies).toHaveLength(3);
    expect(doc.scenarios[0]!.strategies[0]).toMatch(/^dfs/);
    expect(doc.scenarios[0]!.strategies[1]).toMatch(/^pct/);
    expect(doc.scenarios[0]!.strategies[2]).toMatch(/^random/);
  });

  it('exit 1 when a verdict is not as expected', async () => {
    const file = scenarioFile(`export default defineScenario({ name: 'racy', description: 'x', setup: () => ({ c: { name: 'c', v: 0 } }),
      tasks: { *a(s, w) { yield w.point('a', s.c, Access.Write); s.c.v++; }, *b(s, w) { yield w.point('b', s.c, Access.Write); if (s.c.v === 1) throw new Error('boom'); } } });`);
    const r = await run('check', file, '--strategy', 'dfs');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}racy: unexpected: exception/);
    expect(r.out).toMatch(/task b threw in step \d+ .*boom/);
  });

  it.each([
    [['check', 'no-such-scenario'], /unknown scenario 'no-such-scenario'/],
    [['check', '--runs', '0'], /--runs must be a whole number from 1/],
    [['check', '--strategy', 'bfs'], /--strategy must be one of random, pct, dfs, portfolio/],
    [['check', '--frobnicate'], /unknown option --frobnicate/],
    [['check', '--strategy', 'dfs', '--workers', '2'], /--workers goes with --strategy portfolio/],
    [['replay', 'lost-update', 'garbage'], /invalid schedule 'garbage'/],
    [['replay', 'lost-update'], /expected a scenario and a schedule/],
    [['launch'], /unknown command 'launch'/],
  ])('bad input %j: one clear line, exit 2, no stack trace', async (argv, msg) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a scenario file that does not compile, or exports nothing, is exit 2 with the reason', async () => {
    const broken = scenarioFile('export default defineScenario({{');
    const r1 = await run('check', broken);
    expect(r1.code).toBe(2);
    expect(r1.err).toMatch(/^\/.*mine\.ts:\d+:\d+: .* \(TS\d+\)/);
    const r1b = await run('check', broken, '--no-typecheck');
    expect(r1b.code).toBe(2);
    expect(r1b.err).toMatch(/^\/.*mine\.ts:\d+:\d+: /);
    const empty = scenarioFile('export const x = 1;');
    const r2 = await run('check', empty);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/exports no scenario/);
  });

  it('a scenario whose setup throws is exit 2 naming the scenario', async () => {
    const file = scenarioFile(`export default defineScenario({ name: 'nosetup', description: '', setup: () => { throw new Error('no device'); }, tasks: { *t() {} } });`);
    const r = await run('check', file, '--strategy', 'random');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/scenario 'nosetup': setup threw: no device/);
  });
});

describe('budgets', () => {
  const file = scenarioFile(`export default defineScenario({
  name: 'budgeted',
  description: 'two racing writes, with its own budget',
  setup: () => ({ x: { name: 'x', v: 0 } }),
  tasks: {
    *a(s, w) { yield w.point('a', s.x, Access.Write); s.x.v = 1; },
    *b(s, w) { yield w.point('b', s.x, Access.Write); s.x.v = 2; },
  },
  runs: 37,
});`);

  it("a scenario's own budget applies when no --runs is given; --runs overrides it", async () => {
    const own = await run('check', file, '--strategy', 'random', '--no-typecheck', '--json');
    expect(JSON.parse(own.out).scenarios[0].runs).toBe(37);
    const named = await run('check', file, '--strategy', 'random', '--no-typecheck', '--json', '--runs', '11');
    expect(JSON.parse(named.out).scenarios[0].runs).toBe(11);
  });

  it('the catalogue keeps its mm scenarios to their budget, every verdict as expected', async () => {
    const r = await run('check', 'hmm-mirror-munmap', 's-seq-1-mm-no-retry', '--strategy', 'random', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).scenarios.map((s: { runs: number }) => s.runs)).toEqual([1000, 1000]);
  }, 60_000);
});

describe('hmmsim replay', () => {
  it('prints the full trace, one line a step, and the finding', async () => {
    const r = await run('replay', 'lost-update', '1:avbv2');
    expect(r.code).toBe(0);
    expect(r.out).toContain('0  inc0  load counter  [counter R]');
    expect(r.out).toContain('3  inc0  store counter  [counter W]');
    expect(r.out).toMatch(/\[lost-update\] at step 4/);
  });

  it('replays what check reported, byte for byte across two replays', async () => {
    const c = await run('check', 'abba-deadlock', '--json', '--strategy', 'pct', '--runs', '300');
    const f = (JSON.parse(c.out) as { scenarios: { findings: { schedule: string; seed: number }[] }[] }).scenarios[0]!.findings[0]!;
    const a = await run('replay', 'abba-deadlock', f.schedule, '--seed', String(f.seed));
    const b = await run('replay', 'abba-deadlock', f.schedule, '--seed', String(f.seed));
    expect(a.out).toBe(b.out);
    expect(a.out).toMatch(/\[deadlock\]/);
    expect(a.out).not.toMatch(/note:/);
  });
});

describe('kernel contract versions', () => {
  it('check --kernel runs under the chosen contract: S-PAIR-1 finds the unpaired start only before v5.12', async () => {
    const old = await run('check', 's-pair-1', '--kernel', 'v4.19', '--json', '--runs', '600', '--workers', '1');
    const cur = await run('check', 's-pair-1', '--kernel', 'current', '--json', '--runs', '600', '--workers', '1');
    const kinds = (out: string) => (JSON.parse(out) as { scenarios: { findings: { kind: string }[] }[] }).scenarios[0]!.findings.map((f) => f.kind).sort();
    expect(old.code).toBe(0);
    expect(kinds(old.out)).toEqual(['quiescence', 'unpaired-invalidate']);
    expect(cur.code).toBe(0);
    expect(kinds(cur.out)).toEqual([]);
  });

  it('a replay line printed after check --kernel names the kernel, and reproduces its finding as printed', async () => {
    const old = await run('check', 's-pair-1', '--kernel', 'v4.19', '--json', '--runs', '600', '--workers', '1');
    const line = (JSON.parse(old.out) as { scenarios: { findings: { replay: string }[] }[] }).scenarios[0]!.findings[0]!.replay;
    expect(line).toMatch(/ --kernel v4\.19 --finding /);
    const r = await run(...line.split(' ').slice(1));
    expect(r.code).toBe(0); // 0: reproduced the finding the line names
  });

  it('compare prints the verdict under every version side by side', async () => {
    const r = await run('compare', 's-lockdep-map-1', '--runs', '50', '--workers', '1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/v4\.19 +as expected +none/);
    expect(r.out).toMatch(/v5\.4 +as expected +lockdep-circular/);
    expect(r.out).toMatch(/current +as expected +lockdep-circular/);
  });

  it('an unknown version is a usage error', async () => {
    const r = await run('check', '--kernel', 'v9.9');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--kernel must be one of v4\.19, v5\.2, v5\.3, v5\.4, v5\.5, v5\.9, v5\.14, v6\.0, v6\.15, v6\.19, current/);
  });
});

describe('hmmsim replay --html', () => {
  it('writes a self-contained page: one column per task, one row per step, the finding where it happened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-html-'));
    const file = join(dir, 'trace.html');
    const r = await run('replay', 'lost-update', '1:avbv2', '--html', file);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`wrote ${file}`);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/<th>inc0<\/th>\s*<th>inc1<\/th>/);
    expect((html.match(/<td class="s">/g) ?? []).length).toBe(4);
    expect(html).toMatch(/<a href="#finding-0">\[lost-update\] at step 4<\/a>/);
    expect(html.split('counter is 1 after two increments')).toHaveLength(2);
    expect(html).toMatch(/<tr class="f" id="finding-0">.*\[lost-update\] lost update: counter is 1/);
    expect(html).not.toMatch(/<script|https?:/);
    const again = await run('replay', 'lost-update', '1:avbv2', '--html', file);
    expect(again.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(html);
  });

  it('an unwritable --html path is one clear line, exit 2', async () => {
    const r = await run('replay', 'lost-update', '1:avbv2', '--html', '/nonexistent-dir/x.html');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot write --html file \/nonexistent-dir\/x\.html/);
  });
});

describe('hmmsim list', () => {
  it('lists the built-in scenarios, one line each', async () => {
    const r = await run('list');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^lost-update +two tasks/m);
    expect(r.out).toMatch(/^missed-wakeup .*\[expects deadlock\]$/m);
  });
});
