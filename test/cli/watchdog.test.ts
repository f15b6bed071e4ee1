/**
 * The watchdog and replay's exit status: a task that loops without a scheduling point ends check
 * and replay with a soft-lockup finding naming the task, its last point and the loop's line; a
 * replay says by its exit status whether it reproduced the recorded finding.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { REPLAY_EXIT } from '../../src/cli/commands.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  let out = '';
  let err = '';
  const t0 = performance.now();
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err, ms: performance.now() - t0 };
}

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-wd-'));
writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
const hang = join(dir, 'hang.ts');
writeFileSync(
  hang,
  `import { Access, defineScenario } from 'hmmsim';
export default defineScenario({
  name: 'hang',
  description: 'waits for a flag in a loop with no yield',
  setup: () => ({ flag: { name: 'flag', v: 0 } }),
  tasks: {
    *waiter(s, w) {
      yield w.point('check flag', s.flag, Access.Read);
      while (s.flag.v === 0) {
        // the missing 'yield w.point(...)' here is the bug
      }
    },
    *setter(s, w) {
      yield w.point('set flag', s.flag, Access.Write);
      s.flag.v = 1;
    },
  },
});
`,
);

describe('the watchdog', () => {
  it('check ends with a soft-lockup finding naming the task, its last point and the line, and --time bounds it', async () => {
    const r = await run('check', hang, '--strategy', 'dfs', '--time', '1', '--no-typecheck');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\[soft-lockup\]/);
    expect(r.out).toMatch(/task waiter ran for [\d.]+ s without reaching a scheduling point \(the limit is 1 s\)/);
    expect(r.out).toMatch(/its last point: 'check flag'/);
    expect(r.out).toMatch(/running at .*hang\.ts:9:\d+ \(in waiter\)/);
    expect(r.ms).toBeLessThan(20_000);
    const replay = /replay: (hmmsim replay .*)$/m.exec(r.out)![1]!.split(' ').slice(2);
    const again = await run('replay', ...replay, '--no-typecheck');
    expect(again.out).toMatch(/stopped by the watchdog/);
    expect(again.out).toMatch(/hang\.ts:9:\d+ \(in waiter\)/);
    expect(again.code).toBe(REPLAY_EXIT.Reproduced);
  }, 60_000);
});

describe('the watchdog of a check in the command\'s own thread', () => {
  // One strategy runs in the command's thread (no worker to start); the built command, as users
  // run it, must still stop the loop and name its line.
  it('stops the loop with SIGINT, reports the task, its last point and the line, and the command goes on to exit 1', () => {
    const bin = new URL('../../bin/hmmsim.js', import.meta.url).pathname;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [bin, 'check', hang, '--strategy', 'random', '--time', '1', '--no-typecheck'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/\[soft-lockup\]/);
    expect(r.stdout).toMatch(/task waiter ran for [\d.]+ s without reaching a scheduling point \(the limit is 1 s\)/);
    expect(r.stdout).toMatch(/its last point: 'check flag'/);
    expect(r.stdout).toMatch(/running at .*hang\.ts:9:\d+ \(in waiter\)/);
    expect(r.stdout).toMatch(/1 of 1 scenario not as expected/);
    expect(r.stderr).toBe('');
    expect(performance.now() - t0).toBeLessThan(25_000);
  }, 60_000);
});

describe('replay exit status', () => {
  it('0 reproduced, 1 a different finding, 4 clean, 5 the schedule no longer fits', async () => {
    const check = await run('check', 'abba-deadlock', '--strategy', 'dfs', '--runs', '200');
    const line = /replay: hmmsim replay (abba-deadlock \S+ --seed \d+ --finding deadlock)/.exec(check.out)![1]!.split(' ');
    expect((await run('replay', ...line)).code).toBe(REPLAY_EXIT.Reproduced);
    const other = line.map((w) => (w === 'deadlock' ? 'lost-update' : w));
    expect((await run('replay', ...other)).code).toBe(REPLAY_EXIT.DifferentFinding);
    // The empty schedule fits anything; the run goes on (here with no deadlock).
    expect((await run('replay', 'abba-deadlock', '1:', '--finding', 'deadlock')).code).toBe(REPLAY_EXIT.Clean);
    // Check letters that match no point the code passes: the schedule no longer fits.
    const noFit = await run('replay', 'abba-deadlock', '1:axbx2', '--finding', 'deadlock');
    expect(noFit.out).toMatch(/note: /);
    expect(noFit.code).toBe(REPLAY_EXIT.NoLongerFits);
  }, 60_000);
});
