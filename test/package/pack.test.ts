/**
 * The package as a user gets it: `npm pack`, installed into an empty project offline (from the
 * tarball and the local npm cache, through a lockfile made from hmmsim's own), then a scenario
 * file checked through the command (type-checked and compiled on the way) and an exploration run
 * through the API from a node:test file.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
}

/** A lockfile for a project depending on the tarball only, with hmmsim's runtime dependencies pinned as hmmsim pins them. */
function lockFor(tarball: string): unknown {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: unknown; license: string; engines: unknown };
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'user-project', dependencies: { hmmsim: `file:${tarball}` } },
    'node_modules/hmmsim': { version: pkg.version, resolved: `file:${tarball}`, integrity, dependencies: pkg.dependencies, bin: pkg.bin, license: pkg.license, engines: pkg.engines },
  };
  const todo = Object.keys(pkg.dependencies);
  const seen = new Set<string>();
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const entry = lock.packages[`node_modules/${name}`];
    if (entry === undefined) continue;
    const { dev: _dev, devOptional: _devOptional, ...kept } = entry;
    packages[`node_modules/${name}`] = kept;
    todo.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
  }
  return { name: 'user-project', lockfileVersion: 3, requires: true, packages };
}

const SCENARIO = `import { Access, defineScenario } from 'hmmsim';

export default defineScenario({
  name: 'user-lost-update',
  description: 'two unlocked increments of a shared counter',
  setup: () => ({ counter: { name: 'counter', value: 0 } }),
  tasks: {
    *inc0(s, w) {
      yield w.point('load counter', s.counter, Access.Read);
      const v: number = s.counter.value;
      yield w.point('store counter', s.counter, Access.Write);
      s.counter.value = v + 1;
    },
    *inc1(s, w) {
      yield w.point('load counter', s.counter, Access.Read);
      const v: number = s.counter.value;
      yield w.point('store counter', s.counter, Access.Write);
      s.counter.value = v + 1;
    },
  },
  check(s, ctx) {
    if (s.counter.value !== 2) ctx.fail(\`counter is \${s.counter.value}\`, 'lost-update', 'counter');
  },
  expect: ['lost-update'],
});
`;

/** A scenario on the CPU stand-in of hmmsim/testing: the subpath resolves, type-checks and runs. */
const STUB_SCENARIO = `import { defineScenario, mm_alloc } from 'hmmsim';
import { cpu_stub_attach, cpu_stub_munmap, STUB_PAGE } from 'hmmsim/testing';

export default defineScenario({
  name: 'user-stub',
  description: 'the CPU stand-in unmaps what it populated',
  setup: (world) => {
    const mm = mm_alloc(world, 'mm');
    const cpu = cpu_stub_attach(mm);
    cpu.populate(0, 2 * STUB_PAGE);
    return { cpu };
  },
  tasks: {
    *cpu(s) {
      yield* cpu_stub_munmap(s.cpu, 0, STUB_PAGE);
    },
  },
});
`;

const API_TEST = `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertScenario, check } from 'hmmsim';
import scenario from './user-scenario.mjs';

test('check() explores and returns the JSON entry', () => {
  const r = check(scenario, { runs: 300 });
  assert.equal(r.verdict, 'pass');
  assert.deepEqual(r.findings.map((f) => f.kind), ['lost-update']);
});

test('assertScenario() passes on the expected verdict', () => {
  assertScenario(scenario, { runs: 300 });
});

test('the CPU stand-in and the oracle hooks are in hmmsim/testing, not the root', async () => {
  const root = await import('hmmsim');
  const testing = await import('hmmsim/testing');
  for (const name of ['cpu_stub_attach', 'cpu_stub_munmap', 'CpuStub', 'STUB_PAGE', 'cpu_mapping_changed', 'page_freed', 'expectQuiescent']) {
    assert.equal(name in root, false, name);
    assert.equal(name in testing, true, name);
  }
});
`;

describe('the packed package', () => {
  it('installs into an empty project offline and runs there through the command and the API', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-pack-'));
    // dist/ is already built by the suite's global setup; scripts would rebuild it under other tests.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root });
    const tarball = join(dir, stdout.trim().split('\n').pop()!);
    const project = join(dir, 'project');
    await run('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module', dependencies: { hmmsim: `file:${tarball}` } }));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockFor(tarball)));
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: project });

    writeFileSync(join(project, 'my-scenario.ts'), SCENARIO);
    const cli = await run('npx', ['--offline', 'hmmsim', 'check', 'my-scenario.ts', '--runs', '600'], { cwd: project });
    expect(cli.stdout).toMatch(/PASS {2}user-lost-update: found as expected: lost-update/);
    expect(cli.stdout).toMatch(/replay: hmmsim replay \S+my-scenario\.ts#user-lost-update 1:\S+ --seed \d+ --finding lost-update/);

    // A type error in the user's file is reported against hmmsim's declarations, exit 2.
    writeFileSync(join(project, 'typo.ts'), SCENARIO.replace("name: 'user-lost-update'", 'nme: 1'));
    const typo = await run('npx', ['--offline', 'hmmsim', 'check', 'typo.ts'], { cwd: project }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/typo\.ts:\d+:\d+: .*nme/);

    writeFileSync(join(project, 'stub.ts'), STUB_SCENARIO);
    const stub = await run('npx', ['--offline', 'hmmsim', 'check', 'stub.ts', '--runs', '50'], { cwd: project });
    expect(stub.stdout).toMatch(/PASS {2}user-stub: no findings, as expected/);

    writeFileSync(join(project, 'user-scenario.mjs'), SCENARIO.replaceAll(': number', ''));
    writeFileSync(join(project, 'api.test.mjs'), API_TEST);
    const api = await run(process.execPath, ['--test', 'api.test.mjs'], { cwd: project });
    expect(api.stdout).toMatch(/# pass 3/);
    expect(api.stdout).toMatch(/# fail 0/);
  }, 240_000);
});
