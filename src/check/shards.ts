/**
 * Exploration past one machine: `hmmsim check --shard K/N --out FILE` explores a deterministic
 * share of the work and writes it as a shard result; `hmmsim merge FILES...` combines the N
 * results into one report.
 *
 * The partition (see DfsStrategy and explore's seed stride): DFS subtrees are owned by the
 * shard their prefix hashes to; random and PCT runs i*N+K belong to shard K; so the N shards
 * together make exactly the runs of one unsharded check of the same budget, and never the same
 * run twice. The merge:
 * - sums runs, takes the union of findings (de-duplicated by kind and place, hits summed, each
 *   first hit labelled with its shard);
 * - calls the space exhausted (or complete) only when every shard exhausted (completed) its part,
 *   and the completed preemption bound is the lowest any shard completed;
 * - puts every shard's lockdep dependencies into one graph, so a cycle whose halves were learned
 *   on different machines is found.
 */
import type { FoundProblem } from '../sim/explore.js';
import { KNOWN_KINDS, unknownKindHint, unreportableLine } from './known-kinds.js';
import type { SharedDependency } from './lockdep-merge.js';
import { mergeResults, type LegResult, type ScenarioReport } from './report-model.js';
import type { StrategySpec } from './strategies.js';

/** A shard of the work: `index` in 0..count-1 (shown 1-based, as `--shard 1/4`). */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** Parses `K/N` (1 <= K <= N) as given to `--shard`; null when malformed. */
export function parseShard(text: string): ShardSpec | null {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (m === null) return null;
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (!(n >= 1 && k >= 1 && k <= n && n <= 1_000_000)) return null;
  return { index: k - 1, count: n };
}

/** How a shard is shown: `K/N`, 1-based. */
export function shardName(s: ShardSpec): string {
  return `${s.index + 1}/${s.count}`;
}

/** Shard `s`'s share of `runs`: the shares of all N shards add up to `runs`. */
export function shardRuns(runs: number, s: ShardSpec): number {
  return Math.floor(runs / s.count) + (s.index < runs % s.count ? 1 : 0);
}

/** The settings every shard of one check must share. */
export interface ShardSettings {
  readonly seed: number;
  readonly runs: number;
  readonly timeSeconds: number;
  readonly legs: readonly StrategySpec[];
  readonly kernel: string | null;
}

/** One scenario's part of a shard result. */
export interface ShardScenario {
  readonly name: string;
  /** The word that names it on a replay line (a built-in name or `file#name`). */
  readonly source: string;
  readonly expected: readonly string[];
  readonly allow: readonly string[];
  /**
   * The expected kinds no layer reports that the scenario's code names (reports itself), so
   * merge refuses an impossible expectation as check does. Absent in results of older versions:
   * then merge cannot tell and does not judge.
   */
  readonly selfReported?: readonly string[];
  readonly wallMs: number;
  readonly legs: readonly LegResult[];
}

/** The file `hmmsim check --out` writes and `hmmsim merge` reads. */
export interface ShardDocument {
  readonly tool: 'hmmsim';
  readonly format: 'shard-result';
  readonly version: 1;
  readonly shard: ShardSpec;
  readonly settings: ShardSettings;
  readonly scenarios: readonly ShardScenario[];
}

/** A shard result that cannot be merged: names the file and what is wrong. */
export class ShardError extends Error {}

/** The document as JSON text. JSON has no Infinity: a complete DFS's bound is written 'unbounded'. */
export function shardToJson(doc: ShardDocument): string {
  return JSON.stringify(doc, (_k, v: unknown) => (v === Infinity ? 'unbounded' : v));
}

/** Reads a shard result written by `shardToJson`; `file` names it in errors. */
export function shardFromJson(text: string, file: string): ShardDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text, (_k, v: unknown) => (v === 'unbounded' ? Infinity : v));
  } catch (e) {
    throw new ShardError(`hmmsim merge: ${file} is not JSON (${e instanceof Error ? e.message : String(e)}); give the files written by 'hmmsim check --shard K/N --out FILE'`);
  }
  const d = doc as Partial<ShardDocument> | null;
  if (d === null || typeof d !== 'object' || d.tool !== 'hmmsim' || d.format !== 'shard-result') {
    throw new ShardError(`hmmsim merge: ${file} is not a shard result; give the files written by 'hmmsim check --shard K/N --out FILE'`);
  }
  if (d.version !== 1) throw new ShardError(`hmmsim merge: ${file} has shard-result version ${String(d.version)}, this hmmsim reads version 1`);
  return d as ShardDocument;
}

/** Combines the shard results of one sharded check into one report per scenario. */
export function mergeShards(docs: readonly { doc: ShardDocument; file: string }[]): ScenarioReport[] {
  if (docs.length === 0) throw new ShardError('hmmsim merge: no shard results given; e.g. hmmsim merge results/*.json');
  const first = docs[0]!;
  const n = first.doc.shard.count;
  const byIndex = new Map<number, string>();
  for (const { doc, file } of docs) {
    if (doc.shard.count !== n) throw new ShardError(`hmmsim merge: ${file} is shard ${shardName(doc.shard)} but ${first.file} is of ${n} shards; merge the results of one sharded check`);
    if (JSON.stringify(doc.settings) !== JSON.stringify(first.doc.settings)) {
      throw new ShardError(`hmmsim merge: ${file} was explored with other settings than ${first.file} (seed, runs, time, strategy or kernel); run every shard with the same options`);
    }
    const dup = byIndex.get(doc.shard.index);
    if (dup !== undefined) throw new ShardError(`hmmsim merge: ${dup} and ${file} are both shard ${shardName(doc.shard)}`);
    byIndex.set(doc.shard.index, file);
  }
  const missing = [...Array(n).keys()].filter((i) => !byIndex.has(i)).map((i) => shardName({ index: i, count: n }));
  if (missing.length > 0) throw new ShardError(`hmmsim merge: shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')} missing; the merge needs all ${n} shards' results to call anything exhausted`);
  for (const sc of first.doc.scenarios) {
    if (sc.selfReported === undefined) continue;
    const bad = sc.expected
      .filter((k) => !KNOWN_KINDS.has(k) && !sc.selfReported!.includes(k))
      .map((k) => unknownKindHint(k));
    if (bad.length > 0) throw new ShardError(unreportableLine('merge', sc.name, bad));
  }
  const sorted = [...docs].sort((a, b) => a.doc.shard.index - b.doc.shard.index);
  return first.doc.scenarios.map((sc) => mergeScenario(sc, sorted.map(({ doc, file }) => {
    const part = doc.scenarios.find((s) => s.name === sc.name);
    if (part === undefined) throw new ShardError(`hmmsim merge: ${file} has no result for scenario ${sc.name}; run every shard on the same scenarios`);
    return { part, shard: doc.shard };
  })));
}

function mergeScenario(sc: ShardScenario, parts: readonly { part: ShardScenario; shard: ShardSpec }[]): ScenarioReport {
  const legs: LegResult[] = [];
  for (const { part, shard } of parts) {
    const tag = `shard ${shardName(shard)}`;
    for (const leg of part.legs) {
      legs.push({
        ...leg,
        problems: leg.problems.map((p): FoundProblem => ({ ...p, firstHits: p.firstHits.map((h) => ({ ...h, strategy: `${h.strategy}, ${tag}` })) })),
        dependencies: (leg.dependencies ?? []).map((d): SharedDependency => ({ ...d, origin: `${d.origin}, ${tag}` })),
      });
    }
  }
  const wallMs = Math.max(...parts.map((p) => p.part.wallMs));
  const merged = mergeResults(sc.name, sc.expected, legs, wallMs, sc.allow);
  // Coverage per leg: exhausted (complete) only if every shard's part of that leg is.
  const strategies: string[] = [];
  let exhausted = false;
  let complete = false;
  let completedBound: number | null = null;
  for (let i = 0; i < sc.legs.length; i++) {
    const shards = parts.map((p) => p.part.legs[i]!);
    const runs = shards.reduce((sum, l) => sum + l.runs, 0);
    const legExhausted = shards.every((l) => l.exhausted);
    const legComplete = shards.every((l) => l.complete);
    const bounds = shards.map((l) => l.completedBound);
    const legBound = bounds.includes(null) ? null : Math.min(...(bounds as number[]));
    exhausted ||= legExhausted;
    complete ||= legComplete;
    if (legBound !== null && (completedBound === null || legBound > completedBound)) completedBound = legBound;
    const name = sc.legs[i]!.strategy.split(' ')[0]!;
    const coverage =
      name === 'dfs'
        ? legComplete
        ? '; every shard explored its whole part: the verdict is complete'
        : legExhausted
          ? `; every shard exhausted its part${legBound === null ? '' : ` (preemption bound ${legBound})`}`
          : legBound !== null
            ? `; every shard completed preemption bound ${legBound}`
            : '; not every shard exhausted its part'
      : '';
    strategies.push(`${name} over ${parts.length} shard${parts.length === 1 ? '' : 's'}: ${runs} runs${coverage}`);
  }
  return { ...merged, strategies, exhausted, complete, completedBound };
}
