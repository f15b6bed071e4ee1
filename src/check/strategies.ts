/**
 * Strategy specifications: the serialisable description of a strategy (what the command line
 * and worker threads pass around), and the factory that makes one.
 */
import { DeepeningDfsStrategy } from '../sim/strategies/deepening.js';
import { DfsStrategy, type Shard } from '../sim/strategies/dfs.js';
import { PctStrategy } from '../sim/strategies/pct.js';
import { RandomStrategy } from '../sim/strategies/random.js';
import type { Strategy } from '../sim/strategy.js';

/** The strategies a user can name. `portfolio` runs several at once on worker threads. */
export const STRATEGY_NAMES = ['random', 'pct', 'dfs', 'portfolio'] as const;

/** A single (non-portfolio) strategy with its parameters. */
export type StrategySpec =
  | { readonly name: 'random' }
  | { readonly name: 'pct'; readonly depth: number }
  | { readonly name: 'dfs'; readonly preemptionBound: number; readonly deepen?: boolean };

/** Makes a fresh strategy from its spec; `shard` restricts DFS to its share of the tree. */
export function makeStrategy(spec: StrategySpec, shard: Shard | null = null): Strategy {
  switch (spec.name) {
    case 'random':
      return new RandomStrategy();
    case 'pct':
      return new PctStrategy(spec.depth);
    case 'dfs':
      return spec.deepen === true ? new DeepeningDfsStrategy(spec.preemptionBound, true, shard) : new DfsStrategy(spec.preemptionBound, Infinity, true, shard);
  }
}

/**
 * The legs of a portfolio over `workers` workers: DFS with iterative deepening from the given
 * preemption bound (it finishes small spaces exhaustively, and then the portfolio stops), PCT,
 * random, then PCT one depth lower; at least the first three, however few
 * the workers (legs beyond the workers wait for a free one).
 */
export function portfolioLegs(workers: number, pctDepth: number, preemptionBound: number): StrategySpec[] {
  const cycle: StrategySpec[] = [
    { name: 'dfs', preemptionBound, deepen: true },
    { name: 'pct', depth: pctDepth },
    { name: 'random' },
    { name: 'pct', depth: Math.max(1, pctDepth - 1) },
  ];
  const legs: StrategySpec[] = [];
  for (let i = 0; i < Math.max(workers, 3); i++) legs.push(cycle[i % cycle.length]!);
  return legs;
}
