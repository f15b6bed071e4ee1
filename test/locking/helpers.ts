/** Runs small task sets through the real checker and returns the finding kinds. */
import { checkScenario } from '../../src/check/run.js';
import type { ScenarioReport } from '../../src/check/report-model.js';
import { defineScenario, type ScenarioTask } from '../../src/check/scenario.js';
import type { StrategySpec } from '../../src/check/strategies.js';
import type { World } from '../../src/sim/world.js';

export const EXHAUSTIVE: StrategySpec = { name: 'dfs', preemptionBound: Infinity };

/** Explores `tasks` over the state `setup` builds; `check` may fail the run. */
export function explore<S>(
  setup: (w: World) => S,
  tasks: Record<string, ScenarioTask<S>>,
  options: { legs?: StrategySpec[]; runs?: number; check?: (s: S) => string | null } = {},
): ScenarioReport {
  const sc = defineScenario<S>({
    name: 'test',
    description: '',
    setup,
    tasks,
    ...(options.check === undefined
      ? {}
      : {
          check: (s: S, ctx) => {
            const msg = options.check!(s);
            if (msg !== null) ctx.fail(msg);
          },
        }),
  });
  return checkScenario(sc, { legs: options.legs ?? [EXHAUSTIVE], seed: 1, runs: options.runs ?? 100_000 });
}

/** The distinct finding kinds of a report, sorted. */
export function kinds(r: ScenarioReport): string[] {
  return [...new Set(r.problems.map((p) => p.kind))].sort();
}
