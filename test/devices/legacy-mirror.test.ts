/**
 * The seed's driver for the 2019 HMM API (src/devices/legacy-mirror.ts) and the scenarios built
 * on it: the correct mydevice_prefault is clean where the API cannot fail it, each variant the
 * seed warns against yields its finding (asserted by kind), S-HMM-RACE-1 shows the boolean race
 * under v5.2/v5.3 and the sequence-count retry from v5.5, and the v5.3 unwinding fix shows.
 */
import { describe, expect, it } from 'vitest';
import { checkScenario, configureKernel } from '../../src/check/run.js';
import { replaySchedule } from '../../src/sim/run-once.js';
import { Access } from '../../src/sim/point.js';
import { defineScenario, type Scenario, type ScenarioDefinition } from '../../src/check/scenario.js';
import { portfolioLegs } from '../../src/check/strategies.js';
import type { IntervalMirror } from '../../src/devices/interval-mirror.js';
import raceScenarios, { sHmmRace1, sHmmRace1Reclaim } from '../../scenarios/legacy-hmm/s-hmm-race-1.js';
import seedDriver from '../../scenarios/legacy-hmm/s-hmm-seed-driver.js';
import unwind from '../../scenarios/legacy-hmm/s-hmm-unwind.js';

function check(s: Scenario, kernel: string, runs = 1200) {
  return checkScenario(s, { legs: portfolioLegs(2, 3, 2), seed: 7, runs, kernel, shrink: false });
}

function foundKinds(r: ReturnType<typeof check>): string[] {
  return [...new Set(r.problems.map((p) => p.kind))].sort();
}

const byName = new Map([...raceScenarios, ...seedDriver, ...unwind].map((s) => [s.name, s]));

describe('the seed driver and its variants', () => {
  it.each([
    ['s-hmm-seed-driver', []],
    ['s-hmm-seed-driver-no-valid-check', ['map-in-invalidation-window']],
    ['s-hmm-seed-driver-no-wait', ['step-budget-exceeded']],
    ['s-hmm-seed-driver-snapshot', ['lockdep-recursive']],
    ['s-hmm-seed-driver-error', []],
    ['s-hmm-seed-driver-no-unregister', ['hmm-range-unbalanced']],
  ] as const)('%s on v5.3: exactly %j', (name, want) => {
    const r = check(byName.get(name)!, 'v5.3');
    expect(foundKinds(r)).toEqual([...want]);
    expect(r.verdict).toBe('pass');
  });

  it.each(['v5.2', 'v4.19', 'current'])('every variant has its verdict under %s', (kernel) => {
    for (const s of seedDriver) expect(check(s, kernel, kernel === 'v5.2' ? 600 : 100).verdict, s.name).toBe('pass');
  });
});

describe('S-HMM-RACE-1', () => {
  it.each(['v5.2', 'v5.3'])('%s: the correct seed driver maps a page the CPU freed and replaced (stale-device-mapping)', (kernel) => {
    const r = check(sHmmRace1, kernel);
    expect(r.verdict).toBe('pass');
    expect(foundKinds(r)).toContain('stale-device-mapping');
    expect(r.problems.find((p) => p.kind === 'stale-device-mapping')!.message).toMatch(/mydevice maps mm:0x[0-9a-f]+ -> pfn \d+ \(write\) but the CPU maps/);
  });

  it('the reported schedule replays, byte for byte, with valid going true -> false -> true before the device is programmed', () => {
    const r = check(sHmmRace1, 'v5.2');
    const stale = r.problems.find((p) => p.kind === 'stale-device-mapping')!;
    const a = replaySchedule(sHmmRace1, stale.schedule, stale.seed, stale.seed, configureKernel('v5.2'));
    const b = replaySchedule(sHmmRace1, stale.schedule, stale.seed, stale.seed, configureKernel('v5.2'));
    expect(b.trace).toBe(a.trace);
    expect(a.findings.map((f) => f.kind)).toContain('stale-device-mapping');
    const marks = [
      'link mydevice.range on hmm(mm)->ranges, valid = true',
      'hmm_range_fault(mydevice.range): valid?',
      'overlapping ranges valid = false',
      'then every range valid = true',
      'hmm_range_valid(mydevice.range)',
      'program mydevice',
    ];
    const at = marks.map((m) => a.trace.indexOf(m));
    expect(at.every((i) => i >= 0), at.join(',')).toBe(true);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
  });

  it.each(['v5.5', 'current'])('%s: the interval driver retries when the CPU invalidated in between, and never when the CPU was done before it began', (kernel) => {
    interface Probe {
      interval: IntervalMirror | null;
      cpuDone: boolean;
    }
    const def = sHmmRace1.definition as unknown as ScenarioDefinition<Probe>;
    const flag = { name: 'probe flag' };
    const afterCpu = new Set<number>();
    const all = new Set<number>();
    const probe = defineScenario<Probe>({
      ...def,
      name: 's-hmm-race-1-probe',
      setup: (w) => ({ ...def.setup(w), cpuDone: false }),
      tasks: {
        *device_fault(s, w) {
          yield w.point('probe: has the CPU finished?', flag, Access.Read);
          const cpuFirst = s.cpuDone;
          yield* def.tasks['device_fault']!(s, w);
          if (cpuFirst) afterCpu.add(s.interval!.retries);
          all.add(s.interval!.retries);
        },
        *cpu_replace(s, w) {
          yield* def.tasks['cpu_replace']!(s, w);
          yield w.point('probe: the CPU has finished', flag, Access.Write);
          s.cpuDone = true;
        },
      },
    });
    const r = checkScenario(probe, { legs: [{ name: 'dfs', preemptionBound: 2 }], seed: 1, runs: 5000, kernel, shrink: false });
    expect(foundKinds(r)).toEqual([]);
    expect([...afterCpu]).toEqual([0]);
    expect(Math.max(...all)).toBeGreaterThanOrEqual(1);
  });

  it.each(['v5.2', 'current'])('%s: with reclaim (no mmap lock) as the CPU side, the same verdicts', (kernel) => {
    const r = check(sHmmRace1Reclaim, kernel);
    expect(r.verdict).toBe('pass');
    if (kernel === 'v5.2') expect(foundKinds(r)).toContain('stale-device-mapping');
    else expect(foundKinds(r)).toEqual([]);
  });

  it.each(['v4.19', 'v5.4'])('%s: neither API as modelled: api-unavailable', (kernel) => {
    expect(foundKinds(check(sHmmRace1, kernel, 200))).toEqual(['api-unavailable']);
  });
});

describe('the v5.3 unwinding fix', () => {
  it.each([
    ['s-hmm-unwind-sync', ['device-maps-freed-page', 'stale-device-mapping']],
    ['s-hmm-unwind-mirrors-sem', ['quiescence']],
  ] as const)('%s: v5.2 finds %j, v5.3 is clean', (name, want) => {
    const s = byName.get(name)!;
    expect(foundKinds(check(s, 'v5.2'))).toEqual([...want]);
    expect(foundKinds(check(s, 'v5.3'))).toEqual([]);
  });
});
