/**
 * The README's examples are true of the code: the driver of the tour checks clean, and with its
 * read_retry dropped shows the findings the README names; the API example is the test file the
 * suite runs; the replay line it prints reproduces its finding.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

const root = new URL('..', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced block right after `<!-- marker -->`. */
function block(marker: string): string {
  const at = readme.indexOf(`<!-- ${marker} -->`);
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at))!;
  return m[1]!;
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('README', () => {
  it('the tour driver type-checks and checks clean; without read_retry it shows the findings the README names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-readme-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const tour = block('tour: my-driver.ts');
    writeFileSync(join(dir, 'my-driver.ts'), tour);
    const good = await run('check', join(dir, 'my-driver.ts'), '--runs', '1500');
    expect(good.err).toBe('');
    expect(good.out).toMatch(/PASS {2}my-driver: no findings, as expected/);
    expect(good.code).toBe(0);
    const buggy = tour.replace('if (yield* mmu_interval_read_retry(this.notifier, seq)) {', 'if (false as boolean) {');
    expect(buggy).not.toBe(tour);
    writeFileSync(join(dir, 'buggy.ts'), buggy);
    const bad = await run('check', join(dir, 'buggy.ts'), '--runs', '3000', '--no-typecheck', '--strategy', 'dfs');
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/\[stale-device-mapping\]/);
    expect(bad.out).toMatch(/\[device-maps-freed-page\]/);
  }, 120_000);

  it('the API example is test/api/readme.test.ts, which the suite runs', () => {
    expect(block('api: test/api/readme.test.ts')).toBe(readFileSync(join(root, 'test/api/readme.test.ts'), 'utf8'));
  });

  it('the replay line of "Reading a finding" reproduces its finding as printed', async () => {
    const line = /replay: hmmsim (replay abba-deadlock .*)$/m.exec(readme)![1]!;
    const r = await run(...line.split(' '));
    expect(r.out).toMatch(/\[deadlock\] at step 4/);
    expect(r.code).toBe(0);
  });
});
