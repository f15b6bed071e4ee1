/**
 * Benchmark: hmmsim's typed-array interval tree against @flatten-js/interval-tree
 * and node-interval-tree, on the same data in the same run.
 *
 * Workload: 100,000 page-aligned intervals [start, last] spread over a 47-bit
 * address space, sizes log-uniform from 1 page to 4 MiB, from an inline seeded
 * PRNG (mulberry32), so every run and every library sees identical data.
 * Operations timed per library: insert all; 100,000 overlap queries with ranges
 * of the same size distribution ("query"); 20,000 queries of 64 GiB each, which
 * return about 50 hits apiece ("query-64G"); remove all in a shuffled order. Hits are
 * counted (and cross-checked between libraries) so no work can be optimised
 * away. Each library is warmed up, then timed over several rounds; the median
 * round is reported.
 *
 * Run: `npx tsx bench/interval-tree.ts`. `main()` is exported for bench/run.ts.
 * Output: one line per (library, operation) with ops/s.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import FlattenIntervalTree from '@flatten-js/interval-tree';
import { IntervalTree as NodeIntervalTree } from 'node-interval-tree';
import { IntervalTree, NO_NODE } from '../src/notifier/interval-tree.ts';

const PAGE = 4096;
const ADDRESS_BITS = 47;

/** One benchmark measurement. */
export interface BenchResult {
  library: string;
  operation: string;
  /** Operations per second (median round). */
  opsPerSec: number;
  /** Total overlap hits for query operations (per round). */
  hits?: number;
}

/** Options for {@link main}. */
export interface BenchOptions {
  intervals?: number;
  queries?: number;
  /** Number of 64 GiB queries (default 20,000). */
  wideQueries?: number;
  rounds?: number;
  warmupRounds?: number;
  seed?: number;
  /** Print the table to stdout (default true). */
  print?: boolean;
}

function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Workload {
  starts: Float64Array;
  lasts: Float64Array;
  qStarts: Float64Array;
  qLasts: Float64Array;
  wStarts: Float64Array;
  wLasts: Float64Array;
  /** Permutation of 0..n-1: the removal order. */
  removeOrder: Int32Array;
}

function makeRanges(rnd: () => number, n: number, fixedBytes: number | null): [Float64Array, Float64Array] {
  const pagesInSpace = 2 ** (ADDRESS_BITS - 12);
  const starts = new Float64Array(n);
  const lasts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const pages = fixedBytes === null ? Math.floor(2 ** (rnd() * 10)) : fixedBytes / PAGE; // 1 page .. 4 MiB
    // 35 bits of page index from two draws (one draw has only 32 bits).
    const idx = (Math.floor(rnd() * 2 ** 32) + Math.floor(rnd() * 8) * 2 ** 32) % (pagesInSpace - pages);
    starts[i] = idx * PAGE;
    lasts[i] = (idx + pages) * PAGE - 1;
  }
  return [starts, lasts];
}

function makeWorkload(n: number, q: number, wq: number, seed: number): Workload {
  const rnd = mulberry32(seed);
  const [starts, lasts] = makeRanges(rnd, n, null);
  const [qStarts, qLasts] = makeRanges(rnd, q, null);
  const [wStarts, wLasts] = makeRanges(rnd, wq, 64 * 2 ** 30);
  const removeOrder = new Int32Array(n);
  for (let i = 0; i < n; i++) removeOrder[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = removeOrder[i]!;
    removeOrder[i] = removeOrder[j]!;
    removeOrder[j] = t;
  }
  return { starts, lasts, qStarts, qLasts, wStarts, wLasts, removeOrder };
}

/** One library under test: a fresh instance per round. */
interface Subject {
  name: string;
  reset(): void;
  insertAll(w: Workload): void;
  query(s: Float64Array, l: Float64Array): number;
  removeAll(w: Workload): void;
}

function oursSubject(n: number): Subject {
  let t = new IntervalTree(n);
  const ids = new Int32Array(n);
  return {
    name: 'hmmsim IntervalTree',
    reset() {
      t = new IntervalTree(n);
    },
    insertAll(w) {
      const { starts, lasts } = w;
      for (let i = 0; i < n; i++) ids[i] = t.insert(starts[i]!, lasts[i]!, i);
    },
    query(s, l) {
      let hits = 0;
      for (let i = 0; i < s.length; i++) {
        const qs = s[i]!;
        const ql = l[i]!;
        for (let id = t.iterFirst(qs, ql); id !== NO_NODE; id = t.iterNext(id, qs, ql)) hits++;
      }
      return hits;
    },
    removeAll(w) {
      const order = w.removeOrder;
      for (let i = 0; i < n; i++) t.remove(ids[order[i]!]!);
      if (t.size !== 0) throw new Error('hmmsim tree not empty after removal');
    },
  };
}

function flattenSubject(n: number): Subject {
  let t = new FlattenIntervalTree<number>();
  return {
    name: '@flatten-js/interval-tree',
    reset() {
      t = new FlattenIntervalTree<number>();
    },
    insertAll(w) {
      const { starts, lasts } = w;
      // Values are i + 1: the library treats a stored value specially only when absent.
      for (let i = 0; i < n; i++) t.insert([starts[i]!, lasts[i]!], i + 1);
    },
    query(s, l) {
      let hits = 0;
      for (let i = 0; i < s.length; i++) hits += t.search([s[i]!, l[i]!]).length;
      return hits;
    },
    removeAll(w) {
      const { starts, lasts, removeOrder } = w;
      for (let i = 0; i < n; i++) {
        const k = removeOrder[i]!;
        t.remove([starts[k]!, lasts[k]!], k + 1);
      }
      if (t.size !== 0) throw new Error('flatten tree not empty after removal');
    },
  };
}

interface Rec {
  low: number;
  high: number;
  id: number;
}

function nodeIntervalSubject(n: number, w0: Workload): Subject {
  let t = new NodeIntervalTree<Rec>();
  // The records are the data set, built once outside the timed region.
  const recs: Rec[] = [];
  for (let i = 0; i < n; i++) recs.push({ low: w0.starts[i]!, high: w0.lasts[i]!, id: i });
  return {
    name: 'node-interval-tree',
    reset() {
      t = new NodeIntervalTree<Rec>();
    },
    insertAll() {
      for (let i = 0; i < n; i++) t.insert(recs[i]!);
    },
    query(s, l) {
      let hits = 0;
      for (let i = 0; i < s.length; i++) hits += t.search(s[i]!, l[i]!).length;
      return hits;
    },
    removeAll(w) {
      const order = w.removeOrder;
      for (let i = 0; i < n; i++) t.remove(recs[order[i]!]!);
      if (t.count !== 0) throw new Error('node-interval-tree not empty after removal');
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Time one round of every operation; returns seconds per operation kind and hits. */
function round(sub: Subject, w: Workload): { t: Record<string, number>; hits: Record<string, number> } {
  sub.reset();
  const t0 = performance.now();
  sub.insertAll(w);
  const t1 = performance.now();
  const qh = sub.query(w.qStarts, w.qLasts);
  const t2 = performance.now();
  const wh = sub.query(w.wStarts, w.wLasts);
  const t3 = performance.now();
  sub.removeAll(w);
  const t4 = performance.now();
  return {
    t: { insert: (t1 - t0) / 1000, query: (t2 - t1) / 1000, 'query-64G': (t3 - t2) / 1000, remove: (t4 - t3) / 1000 },
    hits: { query: qh, 'query-64G': wh },
  };
}

/** Run the benchmark; prints a table (unless print: false) and returns the results. */
export function main(opts: BenchOptions = {}): BenchResult[] {
  const n = opts.intervals ?? 100_000;
  const q = opts.queries ?? 100_000;
  const wq = opts.wideQueries ?? 20_000;
  const rounds = opts.rounds ?? 3;
  const warmup = opts.warmupRounds ?? 1;
  const print = opts.print ?? true;
  const w = makeWorkload(n, q, wq, opts.seed ?? 0x5eed);
  const subjects = [oursSubject(n), flattenSubject(n), nodeIntervalSubject(n, w)];
  const counts: Record<string, number> = { insert: n, query: q, 'query-64G': wq, remove: n };
  const results: BenchResult[] = [];
  const hitsSeen = new Map<string, number>();
  for (const sub of subjects) {
    for (let i = 0; i < warmup; i++) round(sub, w);
    const times: Record<string, number[]> = { insert: [], query: [], 'query-64G': [], remove: [] };
    let hits: Record<string, number> = {};
    for (let i = 0; i < rounds; i++) {
      const r = round(sub, w);
      for (const k of Object.keys(times)) times[k]!.push(r.t[k]!);
      hits = r.hits;
    }
    for (const op of Object.keys(times)) {
      const res: BenchResult = { library: sub.name, operation: op, opsPerSec: counts[op]! / median(times[op]!) };
      const h = hits[op];
      if (h !== undefined) {
        res.hits = h;
        const prev = hitsSeen.get(op);
        if (prev !== undefined && prev !== h) {
          throw new Error(`${sub.name} found ${h} hits for ${op}, another library found ${prev}`);
        }
        hitsSeen.set(op, h);
      }
      results.push(res);
    }
  }
  if (print) {
    console.log(`interval tree: ${n} intervals (1 page..4 MiB, ${ADDRESS_BITS}-bit space), ${q} queries + ${wq} 64 GiB queries, median of ${rounds} rounds after ${warmup} warm-up`);
    console.log(`${'library'.padEnd(28)}${'operation'.padEnd(12)}${'ops/s'.padStart(14)}${'hits'.padStart(12)}`);
    for (const r of results) {
      const ops = Math.round(r.opsPerSec).toLocaleString('en-US');
      const hits = r.hits === undefined ? '' : String(r.hits);
      console.log(`${r.library.padEnd(28)}${r.operation.padEnd(12)}${ops.padStart(14)}${hits.padStart(12)}`);
    }
    for (const op of ['insert', 'query', 'query-64G', 'remove']) {
      const ours = results.find((r) => r.operation === op && r.library === subjects[0]!.name)!.opsPerSec;
      const best = Math.max(...results.filter((r) => r.operation === op && r.library !== subjects[0]!.name).map((r) => r.opsPerSec));
      console.log(`speed-up of hmmsim over the faster other library, ${op}: ${(ours / best).toFixed(2)}x`);
    }
  }
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
