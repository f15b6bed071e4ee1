import fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/check/scenario.js';
import { explore } from '../../src/sim/explore.js';
import { GUARDED_CALLS, guardNondeterminism, NONDETERMINISM } from '../../src/sim/nondeterminism.js';
import { Access } from '../../src/sim/point.js';
import { replaySchedule } from '../../src/sim/run-once.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';

guardNondeterminism();

/** Each guarded call, made the way driver code would make it. */
const CALLS: Record<(typeof GUARDED_CALLS)[number], () => unknown> = {
  'Math.random': () => Math.random(),
  'Date.now': () => Date.now(),
  'new Date()': () => new Date().getTime(),
  'performance.now': () => performance.now(),
  'process.hrtime': () => process.hrtime(),
  setTimeout: () => setTimeout(() => {}, 1),
  setInterval: () => setInterval(() => {}, 1),
  setImmediate: () => setImmediate(() => {}),
  queueMicrotask: () => queueMicrotask(() => {}),
  'crypto.getRandomValues': () => crypto.getRandomValues(new Uint8Array(4)),
  'crypto.randomUUID': () => crypto.randomUUID(),
  'fs.readFileSync': () => fs.readFileSync('/etc/hostname'),
  'fs.writeFileSync': () => fs.writeFileSync('/tmp/hmmsim-guard-test', 'x'),
  'fs.existsSync': () => fs.existsSync('/'),
  'fs.readdirSync': () => fs.readdirSync('/'),
  'fs.statSync': () => fs.statSync('/'),
  'fs.readFile': () => fs.readFile('/etc/hostname', () => {}),
  'fs.writeFile': () => fs.writeFile('/tmp/hmmsim-guard-test', 'x', () => {}),
};

function scenarioCalling(call: keyof typeof CALLS) {
  return defineScenario({
    name: 'calls-outside',
    description: `a task calls ${call}`,
    setup: () => ({ c: { name: 'c', v: 0 } }),
    tasks: {
      *a(s, w) {
        yield w.point('start', s.c, Access.Write);
        s.c.v = Number(CALLS[call]() !== undefined);
        yield w.point('after', s.c, Access.Write);
      },
      *b(s, w) {
        yield w.point('other', s.c, Access.Read);
      },
    },
  });
}

describe('the nondeterminism guard', () => {
  it('catches each forbidden call from task code, naming it; replay stays byte-identical', () => {
    fc.assert(
      fc.property(fc.constantFrom(...GUARDED_CALLS), fc.integer({ min: 0, max: 1000 }), (call, seed) => {
        const sc = scenarioCalling(call);
        const r = explore(sc, new RandomStrategy(), { seed, maxRuns: 3, shrink: false });
        const p = r.problems.find((x) => x.kind === NONDETERMINISM);
        expect(p?.message).toContain(`called ${call}`);
        const a = replaySchedule(sc, p!.schedule, p!.seed);
        const b = replaySchedule(sc, p!.schedule, p!.seed);
        expect(a.trace).toBe(b.trace);
        expect(a.findings.map((f) => f.kind)).toContain(NONDETERMINISM);
      }),
      { numRuns: 40 },
    );
  });

  it('outside a run the calls behave as always', () => {
    expect(typeof Math.random()).toBe('number');
    expect(Date.now()).toBeGreaterThan(1e12);
    expect(new Date().getFullYear()).toBeGreaterThan(2000);
    expect(fs.existsSync('/')).toBe(true);
  });

  it('a task that stays inside the model is not reported', () => {
    const sc = defineScenario({
      name: 'clean',
      description: 'uses world.rng',
      setup: () => ({ c: { name: 'c', v: 0 } }),
      tasks: {
        *a(s, w) {
          yield w.point('start', s.c, Access.Write);
          s.c.v = w.rng.below(10) + w.now;
        },
      },
    });
    expect(explore(sc, new RandomStrategy(), { seed: 1, maxRuns: 20 }).problems).toEqual([]);
  });
});
