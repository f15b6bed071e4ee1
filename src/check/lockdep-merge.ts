/**
 * One lockdep graph across a portfolio's workers and a sharded check's machines.
 *
 * Each strategy leg explores in its own world, and lockdep's graph in a world lasts the whole
 * exploration, as a kernel's lasts a boot. A lock-order cycle whose halves were learned in two
 * different worlds (two workers, two shards) is in neither graph. So every leg exports the
 * dependencies it learned, each with the schedule that established it, and the merge puts them
 * into one graph (classes matched by name) and looks for cycles there:
 *
 *     worker 1 learned  A -> B  (schedule s1)        merged: A -> B -> A, a cycle no worker saw;
 *     worker 2 learned  B -> A  (schedule s2)        reported naming s1 and s2.
 *
 * A leg's own graph never holds a cycle (lockdep reports the dependency that would close one
 * instead of recording it), so every cycle found here spans legs; one a leg already reported
 * (same classes) is not reported again.
 */
import { DepGraph, DEP_EN, DEP_ER, DEP_SN, kindNames, type DepEdge } from '../lockdep/graph.js';
import type { WhereSnapshot } from '../lockdep/where.js';
import { explorationLockdep } from '../locking/kernel.js';
import type { FoundProblem } from '../sim/explore.js';
import type { World } from '../sim/world.js';

/** A dependency "`to` was acquired while holding `from`", as one leg learned it. */
export interface SharedDependency {
  readonly from: string;
  readonly to: string;
  /** Bitmask of edge kinds (DEP_EN, DEP_ER, DEP_SN, DEP_SR). */
  readonly kinds: number;
  /** Where and in which run (schedule and seed) it was first recorded. */
  readonly established: WhereSnapshot;
  /** Which leg learned it: its strategy, and the shard when sharded. */
  readonly origin: string;
}

/** The dependencies lockdep learned during an exploration in `world`, labelled with `origin`. */
export function exportDependencies(world: World, origin: string): SharedDependency[] {
  const ld = explorationLockdep(world);
  if (ld === undefined) return [];
  const out: SharedDependency[] = [];
  const names = ld.classes.list;
  for (const edges of ld.graph.after) {
    for (const e of edges) out.push({ from: names[e.from]!.name, to: names[e.to]!.name, kinds: e.kinds, established: e.established, origin });
  }
  return out;
}

/** The finding kind lockdep uses for a cycle. */
const CIRCULAR = 'lockdep-circular';

/** The (held, acquired) read modes an edge kind stands for (0 exclusive, 1 read, 2 recursive read). */
function modesOf(kind: number): [number, number] {
  if (kind === DEP_EN) return [0, 0];
  if (kind === DEP_ER) return [0, 2];
  if (kind === DEP_SN) return [1, 0];
  return [1, 2];
}

/**
 * Cycles in the union of the legs' dependencies that no leg reported: one `lockdep-circular`
 * problem per set of classes, naming the leg and the schedule that established each dependency.
 * `reported` holds the places of lockdep-circular problems the legs already found.
 */
export function crossLegCycles(legs: readonly (readonly SharedDependency[])[], reported: ReadonlySet<string>): FoundProblem[] {
  const ids = new Map<string, number>();
  const names: string[] = [];
  const id = (name: string): number => {
    let i = ids.get(name);
    if (i === undefined) {
      i = names.length;
      ids.set(name, i);
      names.push(name);
    }
    return i;
  };
  const graph = new DepGraph();
  const origin = new Map<DepEdge, string>();
  for (const deps of legs) {
    for (const d of deps) {
      const from = id(d.from);
      const to = id(d.to);
      if (from === to) continue;
      const e = graph.find(from, to);
      if (e !== undefined) e.kinds |= d.kinds;
      else origin.set(graph.add(from, to, d.kinds, d.established), d.origin);
    }
  }
  const found: FoundProblem[] = [];
  const seen = new Set(reported);
  for (const edges of graph.after) {
    for (const e of edges) {
      for (let kind = 1; kind <= DEP_EN; kind <<= 1) {
        if ((e.kinds & kind) === 0) continue;
        const [heldRead, takenRead] = modesOf(kind);
        // Closing edge e (from -> to): a cycle needs a strong path back from `to` to `from`.
        const path = graph.strongPath(e.to, takenRead, e.from, heldRead);
        if (path === null || path.length === 0) continue;
        const cycle = [e, ...path];
        const place = [...new Set(cycle.flatMap((c) => [names[c.from]!, names[c.to]!]))].sort().join(' | ');
        if (seen.has(place)) break;
        seen.add(place);
        found.push(cycleProblem(cycle, names, origin, place));
        break;
      }
    }
  }
  return found;
}

function cycleProblem(cycle: readonly DepEdge[], names: readonly string[], origin: ReadonlyMap<DepEdge, string>, place: string): FoundProblem {
  const lines = [
    '======================================================',
    'WARNING: possible circular locking dependency detected',
    'hmmsim lockdep: a cycle whose dependencies were learned by different workers or shards',
    '------------------------------------------------------',
    'the dependencies, each with the run that established it:',
  ];
  for (const e of cycle) {
    const w = e.established;
    lines.push(`  ${names[e.from]} --> ${names[e.to]} [${kindNames(e.kinds).join(',')}] learned by ${origin.get(e) ?? '?'}`);
    lines.push(`    task ${w.taskName} at step ${w.step}, run "${w.runLabel}"${w.stack.length > 0 ? `, after ${w.stack.join(' -> ')}` : ''}`);
  }
  lines.push('', ' Possible unsafe locking scenario: each dependency above can happen in some run; together they can deadlock.');
  // The closing dependency's run is the one to replay; the cycle itself needs all of them.
  const run = /schedule (\S+) --seed (\d+)/.exec(cycle[0]!.established.runLabel);
  const schedule = run?.[1] ?? '';
  return {
    kind: CIRCULAR,
    place,
    message: lines.join('\n'),
    hits: 1,
    seed: run === null ? 0 : Number(run[2]),
    schedule,
    originalSchedule: schedule,
    preemptions: 0,
    steps: 0,
    strategy: 'lockdep (merged graph)',
    firstHits: [],
    reproducible: false,
  };
}
