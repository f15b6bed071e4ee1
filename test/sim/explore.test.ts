import { describe, expect, it } from 'vitest';
import { explore } from '../../src/sim/explore.js';
import type { Program } from '../../src/sim/program.js';
import { DfsStrategy } from '../../src/sim/strategies/dfs.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';

/** Two tasks; task b reports a finding whose place depends on what a did first. */
const twoPlaces: Program = {
  start(w) {
    const flag = { name: 'flag', a: false };
    w.spawn('a', function* () {
      yield 'set';
      flag.a = true;
    });
    w.spawn('b', function* () {
      yield 'look';
      w.report('seen', flag.a ? 'saw a' : 'missed a', flag.a ? 'after' : 'before');
    });
  },
};

describe('explore', () => {
  it('de-duplicates findings by kind and place and counts hits', () => {
    const r = explore(twoPlaces, new RandomStrategy(), { seed: 1, maxRuns: 200 });
    expect(r.problems.map((p) => p.place).sort()).toEqual(['after', 'before']);
    expect(r.problems.reduce((n, p) => n + p.hits, 0)).toBe(200);
  });

  it('stops at the run budget, at exhaustion, or when stopWhen says so', () => {
    expect(explore(twoPlaces, new RandomStrategy(), { seed: 1, maxRuns: 7 }).runs).toBe(7);
    const dfs = explore(twoPlaces, new DfsStrategy(Infinity), { seed: 1, maxRuns: 1000 });
    expect(dfs.exhausted).toBe(true);
    expect(dfs.runs).toBe(2);
    const early = explore(twoPlaces, new RandomStrategy(), { seed: 1, maxRuns: 1000, stopWhen: (found) => found.length >= 2 });
    expect(early.runs).toBeLessThan(1000);
  });

  it('stops at the time limit, reading only the injected clock', () => {
    let t = 0;
    const r = explore(twoPlaces, new RandomStrategy(), { seed: 1, maxRuns: 1_000_000, timeLimitMs: 10, clock: () => (t += 0.01) });
    expect(r.runs).toBeLessThan(1_000_000);
  });
});
