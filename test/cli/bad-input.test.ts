/**
 * The bad-input catalogue: every way a new user can get the command line, a scenario file or a
 * schedule wrong ends in one clear line (or a finding), the documented exit status, no stack
 * trace, and within a bound: never a hang, a native crash or lost output.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  let out = '';
  let err = '';
  const t0 = performance.now();
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err, ms: performance.now() - t0 };
}

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-bad-'));
writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
mkdirSync(join(dir, 'empty'));

function file(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `import { Access, defineScenario } from 'hmmsim';\n${body}\n`);
  return p;
}

const ok = `{ name: 'fine', description: 'x', setup: () => ({ c: { name: 'c', v: 0 } }), tasks: { *a(s, w) { yield w.point('a', s.c, Access.Write); s.c.v++; } } }`;
const files = {
  syntax: file('syntax.ts', 'export default defineScenario({{'),
  typeError: file('types.ts', `export default defineScenario({ name: 'types', description: 'x', setup: () => ({ n: 1 }), tasks: { *a(s) { const x: string = s.n; yield x; } } });`),
  nothing: file('nothing.ts', 'export const x = 1;'),
  fine: file('fine.ts', `export default defineScenario(${ok});`),
  setupThrows: file('setup-throws.ts', `export default defineScenario({ name: 'nosetup', description: '', setup: () => {\n  throw new Error('no device');\n}, tasks: { *t() {} } });`),
  importThrows: file('import-throws.ts', `const cfg: { dev?: { id: number } } = {};\nexport const id = cfg.dev!.id;\nexport default defineScenario(${ok});`),
  badName: file('bad-name.ts', `export default defineScenario({ name: 'has space', description: '', setup: () => ({}), tasks: { *t() {} } });`),
  notGenerator: file('not-generator.ts', `export default defineScenario({ name: 'plain', description: '', setup: () => ({}), tasks: { t: (() => 1) as never } });`),
  typoKind: file('typo-kind.ts', `export default defineScenario({ ...${ok}, name: 'typo-kind', expect: ['dedlock'] });`),
  // A kind the file defines and reports itself through a constant: plausible, so it runs.
  ownKind: file('own-kind.ts', `const MINE = 'my-own-kind';\nexport default defineScenario({ ...${ok}, name: 'own-kind', check(s, ctx) { if (s.c.v === 1) ctx.fail('one', MINE); }, expect: [MINE] });`),
};

/** One clear line: the first line says it, nothing looks like a stack trace. */
function clear(err: string): void {
  expect(err.trim()).not.toBe('');
  expect(err).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
  expect(err).not.toMatch(/internal error/);
}

describe('bad input: one clear line, exit 2', () => {
  it.each([
    // check: options
    [['check', 'no-such-scenario'], /unknown scenario 'no-such-scenario'/],
    [['check', '--runs', '0'], /--runs must be a whole number from 1/],
    [['check', '--runs', 'abc'], /--runs must be a whole number/],
    [['check', '--runs', '1e12'], /--runs must be a whole number from 1 to/],
    [['check', '--runs'], /--runs needs a value/],
    [['check', '--time', '0'], /--time must be a number from/],
    [['check', '--time', '-1'], /--time must be a number/],
    [['check', '--seed', '-5'], /--seed must be a whole number/],
    [['check', '--seed', '1.5'], /--seed must be a whole number/],
    [['check', '--workers', '0'], /--workers must be a whole number from 1/],
    [['check', '--workers', '1000'], /--workers must be a whole number from 1 to 256/],
    [['check', '--depth', '0'], /--depth must be/],
    [['check', '--preemptions', '-1'], /--preemptions must be/],
    [['check', '--strategy', 'bfs'], /--strategy must be one of random, pct, dfs, portfolio/],
    [['check', '--kernel', 'v9'], /--kernel must be one of/],
    [['check', '--frobnicate'], /unknown option --frobnicate/],
    [['check', '--json=yes'], /--json takes no value/],
    [['check', '--strategy', 'dfs', '--workers', '2'], /--workers goes with --strategy portfolio/],
    // check: files and directories
    [['check', join(dir, 'missing.ts')], /no such scenario file/],
    [['check', join(dir, 'notes.txt')], /a scenario file must end in .ts or .js/],
    [['check', join(dir, 'empty')], /holds no scenario files/],
    [['check', files.syntax], /syntax\.ts:2:\d+: /],
    [['check', files.syntax, '--no-typecheck'], /syntax\.ts:2:\d+: /],
    [['check', files.typeError], /types\.ts:2:\d+: Type 'number' is not assignable to type 'string'/],
    [['check', files.nothing, '--no-typecheck'], /exports no scenario/],
    [['check', `${files.fine}#other`, '--no-typecheck'], /has no scenario named 'other' \(it has: fine\)/],
    [['check', files.setupThrows, '--no-typecheck', '--strategy', 'random'], /scenario 'nosetup': setup threw: no device \(at .*setup-throws\.ts:3:\d+/],
    [['check', files.importThrows, '--no-typecheck'], /could not load scenario file .*import-throws\.ts \(at .*import-throws\.ts:3:\d+\)/],
    [['check', files.badName, '--no-typecheck'], /name must be a non-empty word/],
    [['check', files.typoKind, '--no-typecheck'], /^hmmsim check: scenario typo-kind: its expect names 'dedlock', a kind nothing in hmmsim reports and the scenario never reports itself; did you mean 'deadlock'\?/],
    [['compare', files.typoKind, '--no-typecheck'], /^hmmsim compare: scenario typo-kind: its expect names 'dedlock'/],
    // replay
    [['replay', 'lost-update'], /expected a scenario and a schedule/],
    [['replay', 'lost-update', 'garbage'], /invalid schedule 'garbage'/],
    [['replay', 'lost-update', '1:aa999999999999'], /repeat count 999999999999 .* longer than 10000000 decisions/],
    [['replay', 'lost-update', '2:aa'], /schedule format version '2' is not known/],
    [['replay', 'lost-update', '1:{99999999}a'], /bad task number/],
    [['replay', 'lost-update', '1:a'], /cut short/],
    [['replay', 'no-such', '1:aa'], /unknown scenario 'no-such'/],
    [['replay', 'lost-update', '1:aa', '--seed', 'x'], /--seed must be a whole number/],
    [['replay', 'lost-update', '1:aa', '--kernel', 'bogus'], /--kernel must be one of/],
    [['replay', 'lost-update', '1:aa', '--html', '/no/such/dir/t.html'], /cannot write --html file/],
    // compare, list, the command itself
    [['compare'], /name the scenarios to compare/],
    [['compare', 'no-such'], /unknown scenario 'no-such'/],
    [['compare', 'lost-update', '--kernel', 'v4.19'], /unknown option --kernel/],
    [['list', 'lost-update'], /takes no arguments/],
    [['launch'], /unknown command 'launch'/],
  ])('%j', async (argv, msg) => {
    const r = await run(...argv);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(msg);
    clear(r.err);
    expect(r.ms).toBeLessThan(30_000);
  });

  it('a definition error names what is wrong', async () => {
    const r = await run('check', files.notGenerator, '--no-typecheck', '--strategy', 'random', '--runs', '10');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/task 't' did not return a generator/);
    clear(r.err);
  });
});

describe('bad input that still gives a whole answer', () => {
  it('--json prints one document with an error entry for a file that does not load, exit 2', async () => {
    const r = await run('check', 'lost-update', files.nothing, '--json', '--runs', '200', '--no-typecheck');
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.out) as { scenarios: { name: string; verdict: string; error?: string }[]; pass: boolean };
    expect(doc.scenarios.map((s) => s.verdict)).toEqual(['pass', 'error']);
    expect(doc.scenarios[1]!.error).toMatch(/exports no scenario/);
    expect(doc.pass).toBe(false);
  });

  it('--json keeps the document when a setup throws', async () => {
    const r = await run('check', files.fine, files.setupThrows, '--json', '--runs', '100', '--no-typecheck', '--strategy', 'random');
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.out) as { scenarios: { name: string; verdict: string; error?: string }[] };
    expect(doc.scenarios.map((s) => [s.name, s.verdict])).toEqual([
      ['fine', 'pass'],
      ['nosetup', 'error'],
    ]);
    expect(doc.scenarios[1]!.error).toMatch(/setup threw: no device/);
  });

  it('check DIR runs every scenario file in it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'hmmsim-dir-'));
    writeFileSync(join(d, 'package.json'), '{"type":"module"}');
    writeFileSync(join(d, 'one.ts'), `import { Access, defineScenario } from 'hmmsim';\nexport default defineScenario(${ok.replace("'fine'", "'one'")});`);
    mkdirSync(join(d, 'more'));
    writeFileSync(join(d, 'more', 'two.ts'), `import { Access, defineScenario } from 'hmmsim';\nexport default defineScenario(${ok.replace("'fine'", "'two'")});`);
    const r = await run('check', d, '--runs', '50', '--no-typecheck', '--strategy', 'random');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/PASS {2}one:/);
    expect(r.out).toMatch(/PASS {2}two:/);
  });

  it('an expected kind that nothing reports is an error entry in --json, before anything runs', async () => {
    const r = await run('check', files.fine, files.typoKind, '--json', '--runs', '50', '--no-typecheck', '--strategy', 'random');
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.out) as { scenarios: { name: string; verdict: string; error?: string }[] };
    expect(doc.scenarios.map((s) => [s.name, s.verdict])).toEqual([
      ['fine', 'pass'],
      ['typo-kind', 'error'],
    ]);
    expect(doc.scenarios[1]!.error).toMatch(/did you mean 'deadlock'\?/);
  });

  it('an expected kind the scenario reports itself through a constant of its file runs', async () => {
    const r = await run('check', files.ownKind, '--runs', '50', '--no-typecheck', '--strategy', 'random');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/PASS {2}own-kind: found as expected: my-own-kind/);
  });

  it('a schedule with an absurd repeat count is one line from the built command too (no native crash)', () => {
    const bin = new URL('../../bin/hmmsim.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'replay', 'lost-update', '1:av1000000000000'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/repeat count 1000000000000/);
  });
});
