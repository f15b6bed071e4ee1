/**
 * Helpers for the legacy HMM tests: one deterministic run of some tasks under a chosen kernel
 * contract (non-preemptive unless a seed is given), an exploration of every interleaving of a
 * small scenario, and the building blocks (a populated anonymous mapping, a recording mirror).
 */
import { checkScenario } from '../../../src/check/run.js';
import type { ScenarioReport } from '../../../src/check/report-model.js';
import { defineScenario, type ScenarioTask } from '../../../src/check/scenario.js';
import type { StrategySpec } from '../../../src/check/strategies.js';
import { setKernelContract } from '../../../src/locking/version.js';
import { EAGAIN } from '../../../src/locking/errno.js';
import { HmmMirror, type HmmUpdate } from '../../../src/hmm/legacy/mirror.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, sys_mmap, write32, type Mm } from '../../../src/mm/index.ts';
import { NonPreemptiveStrategy } from '../../../src/sim/strategies/non-preemptive.js';
import { RandomStrategy } from '../../../src/sim/strategies/random.js';
import type { Strategy } from '../../../src/sim/strategy.js';
import type { TaskBody } from '../../../src/sim/task.js';
import { World } from '../../../src/sim/world.js';

export type Gen<T> = Generator<unknown, T, unknown>;
export const P = PAGE_SIZE;

/** The versions with the 2019 API, and some without it. */
export const LEGACY = ['v5.2', 'v5.3'] as const;
export const WITHOUT = ['v4.19', 'v5.4', 'v5.5', 'current'] as const;

/** Runs `tasks` once under `kernel`; without a seed non-preemptively, else under a random schedule. */
export function run<S>(kernel: string, setup: (w: World) => S, tasks: Record<string, (s: S, w: World) => TaskBody>, seed?: number): { s: S; w: World } {
  const w = new World();
  const strategy: Strategy = seed === undefined ? new NonPreemptiveStrategy() : new RandomStrategy();
  setKernelContract(w, kernel);
  strategy.beginRun(0, seed ?? 1);
  w.reset(seed ?? 1);
  const s = setup(w);
  for (const [name, t] of Object.entries(tasks)) w.spawn(name, () => t(s, w));
  w.run(strategy);
  for (const h of w.endOfRunChecks) h();
  strategy.endRun(w);
  return { s, w };
}

/** Finding kinds of a world, sorted, distinct. */
export function kinds(w: World): string[] {
  return [...new Set(w.findings.map((f) => f.kind))].sort();
}

/** Explores every interleaving (DFS, no preemption bound) of a small scenario under `kernel`. */
export function explore<S>(
  kernel: string,
  spec: { setup: (w: World) => S; init?: (s: S, w: World) => TaskBody; tasks: Record<string, ScenarioTask<S>>; check?: (s: S) => void; legs?: StrategySpec[] },
  runs = 50_000,
): ScenarioReport {
  const sc = defineScenario<S>({
    name: 'legacy-hmm-unit',
    description: '',
    setup: spec.setup,
    ...(spec.init === undefined ? {} : { init: spec.init }),
    tasks: spec.tasks,
    ...(spec.check === undefined ? {} : { check: (s: S) => spec.check!(s) }),
  });
  return checkScenario(sc, { legs: spec.legs ?? [{ name: 'dfs', preemptionBound: Infinity }], seed: 1, runs, kernel, shrink: false });
}

/** The distinct finding kinds of a report, sorted. */
export function reportKinds(r: ScenarioReport): string[] {
  return [...new Set(r.problems.map((p) => p.kind))].sort();
}

/** Maps `pages` anonymous read-write pages, writing the first `written` of them; returns the address. */
export function* mapAnon(mm: Mm, pages: number, written = pages): Gen<number> {
  const addr = yield* sys_mmap(mm, 0, pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (addr < 0) throw new Error(`mmap failed: ${addr}`);
  for (let i = 0; i < written; i++) yield* write32(mm, addr + i * P, i + 1);
  return addr;
}

/** A mirror that records every update it gets and, when told to, refuses non-blockable ones. */
export class RecordingMirror extends HmmMirror {
  readonly updates: HmmUpdate[] = [];
  releases = 0;
  refuseNonblocking = false;

  constructor(name = 'recorder') {
    super(
      {
        *sync_cpu_device_pagetables(m, update) {
          const self = m as RecordingMirror;
          self.updates.push(update);
          return !update.blockable && self.refuseNonblocking ? -EAGAIN : 0;
        },
        *release(m) {
          (m as RecordingMirror).releases++;
        },
      },
      name,
    );
  }
}
