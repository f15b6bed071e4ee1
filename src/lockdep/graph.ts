/**
 * The dependency graph (spec §4, §7, §8): edges between lock classes, each
 * carrying a bitmask of edge kinds, and the strong-path search that decides
 * whether a new edge closes a deadlock cycle.
 */
import type { WhereSnapshot } from './where.ts';

/** Edge kind: from a reader to a recursive reader. */
export const DEP_SR = 1;
/** Edge kind: from an exclusive holder to a recursive reader. */
export const DEP_ER = 2;
/** Edge kind: from a reader to an exclusive or non-recursive-read acquisition. */
export const DEP_SN = 4;
/** Edge kind: from an exclusive holder to an exclusive or non-recursive-read acquisition. */
export const DEP_EN = 8;

const S_KINDS = DEP_SR | DEP_SN;
const N_KINDS = DEP_SN | DEP_EN;

/** The kind of edge recorded for "holding prev (mode prevRead), acquiring next (mode nextRead)". */
export function depKind(prevRead: number, nextRead: number): number {
  if (prevRead === 0) return nextRead === 2 ? DEP_ER : DEP_EN;
  return nextRead === 2 ? DEP_SR : DEP_SN;
}

/** Names of the kinds in a mask, for reports ("EN", "SR", …). */
export function kindNames(mask: number): string[] {
  const out: string[] = [];
  if (mask & DEP_EN) out.push('EN');
  if (mask & DEP_ER) out.push('ER');
  if (mask & DEP_SN) out.push('SN');
  if (mask & DEP_SR) out.push('SR');
  return out;
}

/** A dependency "some task acquired `to` while holding `from`". */
export interface DepEdge {
  /** Class held. */
  readonly from: number;
  /** Class acquired while `from` was held. */
  readonly to: number;
  /** Union of the kinds observed (spec §4 step 3.4: later observations OR in). */
  kinds: number;
  /** Where the edge was first recorded (task, step, stack, run label). */
  readonly established: WhereSnapshot;
}

/** A path found by {@link DepGraph.strongPath}: its edges, in order from the source. */
export type DepPath = DepEdge[];

/** Edges between classes plus scratch space for allocation-light searches. */
export class DepGraph {
  /** Outgoing edges per class id. */
  readonly after: DepEdge[][] = [];
  /** Incoming edges per class id. */
  readonly before: DepEdge[][] = [];
  private readonly index = new Map<number, DepEdge>();
  private edges = 0;
  // BFS state: one slot per (class, onlyRecursiveSoFar) pair.
  private stamp = new Int32Array(64);
  private parentState = new Int32Array(64);
  private parentEdge: (DepEdge | null)[] = [];
  private queue = new Int32Array(64);
  private searchGen = 0;
  /** Number of strong-path searches run (a cost indicator). */
  searches = 0;

  /** Number of distinct (from, to) edges. */
  get size(): number {
    return this.edges;
  }

  /** The edge from → to, if recorded. */
  find(from: number, to: number): DepEdge | undefined {
    return this.index.get(from * 0x4000000 + to);
  }

  /** Records a new edge (caller checked it does not exist). */
  add(from: number, to: number, kinds: number, established: WhereSnapshot): DepEdge {
    this.ensure(Math.max(from, to) + 1);
    const e: DepEdge = { from, to, kinds, established };
    this.after[from]!.push(e);
    this.before[to]!.push(e);
    this.index.set(from * 0x4000000 + to, e);
    this.edges++;
    return e;
  }

  /** Forgets every edge. */
  clear(): void {
    this.after.length = 0;
    this.before.length = 0;
    this.index.clear();
    this.edges = 0;
    this.searches = 0;
  }

  /**
   * Shortest strong path src → … → dst, or null (spec §7, §8). `srcRead` is the
   * mode of the acquisition that would add dst → src (a recursive read there
   * forbids leaving src through a reader-started edge); `dstRead` is the mode
   * in which dst is held (a reader dst may only be reached by a path whose last
   * edge does not end in a recursive read).
   *
   * The search is exact over (class, onlyRecursiveSoFar) states instead of the
   * kernel's per-entry approximation: it finds a strong path whenever one
   * exists, which keeps every selftest verdict.
   */
  strongPath(src: number, srcRead: number, dst: number, dstRead: number): DepPath | null {
    this.searches++;
    this.ensure(Math.max(src, dst) + 1);
    const gen = ++this.searchGen;
    const stamp = this.stamp;
    const queue = this.queue;
    const start = src * 2 + (srcRead === 2 ? 1 : 0);
    stamp[start] = gen;
    this.parentEdge[start] = null;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    while (head < tail) {
      const s = queue[head++]!;
      const cls = s >> 1;
      const onlyR = (s & 1) === 1;
      if (cls === dst && (dstRead === 0 || !onlyR)) return this.pathTo(s);
      const out = this.after[cls];
      if (out === undefined) continue;
      for (let i = 0; i < out.length; i++) {
        const e = out[i]!;
        let k = e.kinds;
        // A recursive read followed by a reader-started edge cannot block.
        if (onlyR) k &= ~S_KINDS;
        if (k === 0) continue;
        const next = e.to * 2 + ((k & N_KINDS) === 0 ? 1 : 0);
        if (stamp[next] === gen) continue;
        stamp[next] = gen;
        this.parentState[next] = s;
        this.parentEdge[next] = e;
        queue[tail++] = next;
      }
    }
    return null;
  }

  private pathTo(state: number): DepPath {
    const path: DepPath = [];
    for (let s = state; this.parentEdge[s] !== null; s = this.parentState[s]!) {
      path.push(this.parentEdge[s]!);
    }
    path.reverse();
    return path;
  }

  private ensure(classes: number): void {
    while (this.after.length < classes) {
      this.after.push([]);
      this.before.push([]);
    }
    const states = classes * 2;
    if (this.stamp.length < states) {
      let n = this.stamp.length;
      while (n < states) n *= 2;
      const st = new Int32Array(n);
      st.set(this.stamp);
      this.stamp = st;
      this.parentState = new Int32Array(n);
      this.queue = new Int32Array(n);
    }
    while (this.parentEdge.length < this.stamp.length) this.parentEdge.push(null);
  }
}
