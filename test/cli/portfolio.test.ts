import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legSeed } from '../../src/check/run.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import { checkWithPortfolio, WorkerPool } from '../../src/cli/portfolio.js';
import { resolveScenarios } from '../../src/cli/source.js';
import { deriveSeed } from '../../src/sim/rng.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;

describe('the portfolio on worker threads', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = new WorkerPool(2);
    await pool.ready();
  }, 60_000);
  afterAll(async () => {
    await pool.close();
  });

  it('stops every leg once DFS has explored the whole space, and says the verdict is complete', async () => {
    const { targets: [{ scenario, source }] } = await resolveScenarios(['abba-deadlock']);
    const r = await checkWithPortfolio(scenario!, source!, pool, { legs: portfolioLegs(2, 3, 2), seed: 1, runs: 1_000_000, timeLimitMs: 30_000, shrink: false, kernel: undefined });
    expect(r.verdict).toBe('pass');
    expect(r.complete).toBe(true);
    // Far from the million runs and 30 s allowed: the other legs stopped once DFS was done.
    expect(r.runs).toBeLessThan(200_000);
    expect(r.elapsedMs).toBeLessThan(30_000);
  }, 60_000);

  it('merges what each worker learned into one lockdep graph: a cycle whose halves two workers saw is found', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-portfolio-'));
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
    const { targets: [{ scenario, source }] } = await resolveScenarios([file]);
    // Two legs of one run each, on two workers; a base seed whose legs take the locks in different orders.
    let seed = 1;
    while (deriveSeed(legSeed(seed, 0), 0) % 2 === deriveSeed(legSeed(seed, 1), 0) % 2) seed++;
    const r = await checkWithPortfolio(scenario!, source!, pool, { legs: [{ name: 'random' }, { name: 'random' }], seed, runs: 2, timeLimitMs: 10_000, shrink: false, kernel: undefined });
    expect(r.runs).toBe(2);
    expect(r.verdict).toBe('pass');
    const cycle = r.problems.find((p) => p.kind === 'lockdep-circular')!;
    expect(cycle.strategy).toBe('lockdep (merged graph)');
    expect(cycle.message).toMatch(/lock_A --> lock_B/);
    expect(cycle.message).toMatch(/lock_B --> lock_A/);
  }, 60_000);
});
