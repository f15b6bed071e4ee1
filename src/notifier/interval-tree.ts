/**
 * Interval tree for interval notifiers (one tree per mm).
 *
 * Each entry covers the closed interval [start, last] of virtual addresses
 * (last = start + length - 1, as an interval subscription stores it) and
 * carries an Int32 payload: the index of the caller's subscription object in a
 * caller-owned JS array. Duplicate intervals are allowed.
 *
 * Implementation: an AVL tree augmented with the maximum `last` of each
 * subtree, stored structure-of-arrays in typed arrays (see design.md, "Scale").
 * A node id is an index into those arrays; freed ids go on a free list and are
 * reused (most recently freed first). Index 0 is a sentinel standing for "no
 * node" inside the tree (its subtree max is -Infinity and its height is 0), so
 * the hot loops need no null checks; the public API reports "no node" as -1.
 * The tree is deterministic: no randomness, and equal starts keep insertion
 * order (a new interval goes after every stored interval with the same start).
 *
 * KEY REPRESENTATION. Keys are byte addresses held as integer-valued doubles in
 * Float64Array. A double is exact for every integer up to 2^53, so stored
 * `start` and `last` must be safe integers in [0, 2^53 - 1]
 * ({@link INTERVAL_TREE_MAX_KEY}); insert() rejects anything else. 2^53 bytes is
 * 8 PiB, which covers the 47-bit (128 TiB) user address space of 4-level
 * paging with room to spare; it does NOT cover a full 56/57-bit 5-level address
 * space. We chose byte addresses over page-frame numbers because an interval
 * notifier's range need not be page-aligned and its `last` is never
 * page-aligned (start + length - 1), so byte keys keep the kernel's [start,
 * last] arithmetic exact and callers never convert. Query bounds are only
 * compared, never stored, so they may exceed 2^53 (for example the release-time
 * invalidation of the whole address space may pass `Infinity` or 2^64 - 1 as
 * its last address).
 *
 * Overlap iteration is allocation-free and visits matches in ascending start
 * order in O(log n + k): {@link IntervalTree.iterFirst} then
 * {@link IntervalTree.iterNext}, the same shape as the kernel's iter_first /
 * iter_next pair. The tree must not be modified while an iteration is in
 * progress (the notifier core defers changes while a walk runs).
 */

/** Largest key (start or last) the tree stores exactly: 2^53 - 1. */
export const INTERVAL_TREE_MAX_KEY = Number.MAX_SAFE_INTEGER;

/** Value returned by the iteration functions when there is no (further) match. */
export const NO_NODE = -1;

const NIL = 0;

/** Interval tree over closed intervals [start, last], with an Int32 payload per entry. */
export class IntervalTree {
  private startA: Float64Array;
  private lastA: Float64Array;
  /** Max of `last` over the node's subtree; -Infinity for the sentinel. */
  private maxA: Float64Array;
  private leftA: Int32Array;
  private rightA: Int32Array;
  private parentA: Int32Array;
  /** AVL height: 1 for a leaf, 0 for the sentinel and for free ids. */
  private heightA: Int8Array;
  private payloadA: Int32Array;

  private root = NIL;
  private count = 0;
  /** Lowest id never handed out yet. */
  private nextUnused = 1;
  /** Head of the free list (linked through leftA), NIL when empty. */
  private freeHead = NIL;

  /**
   * Create an empty tree.
   * @param initialCapacity number of nodes to reserve room for; the arrays
   *   double when full.
   */
  constructor(initialCapacity = 16) {
    const cap = Math.max(2, Math.floor(initialCapacity) + 1);
    this.startA = new Float64Array(cap);
    this.lastA = new Float64Array(cap);
    this.maxA = new Float64Array(cap);
    this.leftA = new Int32Array(cap);
    this.rightA = new Int32Array(cap);
    this.parentA = new Int32Array(cap);
    this.heightA = new Int8Array(cap);
    this.payloadA = new Int32Array(cap);
    this.maxA[NIL] = -Infinity;
  }

  /** Number of intervals currently stored. */
  get size(): number {
    return this.count;
  }

  /** Remove every interval. All previously returned node ids become invalid. */
  clear(): void {
    this.heightA.fill(0);
    this.leftA.fill(0);
    this.rightA.fill(0);
    this.parentA.fill(0);
    this.root = NIL;
    this.count = 0;
    this.nextUnused = 1;
    this.freeHead = NIL;
  }

  /**
   * Insert the closed interval [start, last] with the given payload and return
   * its node id (a positive integer, stable until the node is removed).
   * @throws Error if start or last is not a safe integer in [0, 2^53 - 1], if
   *   last < start (empty or inverted interval), or if payload is not an int32.
   */
  insert(start: number, last: number, payload: number): number {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(last) || last < 0) {
      throw new Error(
        `IntervalTree.insert: start=${String(start)} and last=${String(last)} must be integers in [0, 2^53 - 1]`,
      );
    }
    if (last < start) {
      throw new Error(
        `IntervalTree.insert: empty or inverted interval [start=${fmt(start)}, last=${fmt(last)}]: last < start`,
      );
    }
    if ((payload | 0) !== payload) {
      throw new Error(`IntervalTree.insert: payload=${String(payload)} is not an int32`);
    }
    const id = this.allocate();
    const startA = this.startA;
    const leftA = this.leftA;
    const rightA = this.rightA;
    startA[id] = start;
    this.lastA[id] = last;
    this.maxA[id] = last;
    leftA[id] = NIL;
    rightA[id] = NIL;
    this.heightA[id] = 1;
    this.payloadA[id] = payload;
    this.count++;

    let p = NIL;
    let n = this.root;
    let goLeft = false;
    while (n !== NIL) {
      p = n;
      goLeft = start < startA[n]!;
      n = goLeft ? leftA[n]! : rightA[n]!;
    }
    this.parentA[id] = p;
    if (p === NIL) {
      this.root = id;
      return id;
    }
    if (goLeft) leftA[p] = id;
    else rightA[p] = id;
    this.retrace(p, true);
    return id;
  }

  /**
   * Remove the interval with the given node id. The id goes on the free list
   * and may be returned by a later insert().
   * @throws Error if nodeId is not a live node of this tree.
   */
  remove(nodeId: number): void {
    this.checkLive(nodeId, 'remove');
    const leftA = this.leftA;
    const rightA = this.rightA;
    const parentA = this.parentA;
    const z = nodeId;
    const zl = leftA[z]!;
    const zr = rightA[z]!;
    let fixFrom: number;
    if (zl === NIL || zr === NIL) {
      const child = zl === NIL ? zr : zl;
      fixFrom = parentA[z]!;
      this.replaceChild(z, child);
    } else {
      // Two children: relink z's in-order successor s into z's place (node ids
      // are handles held by callers, so we move nodes, never their contents).
      let s = zr;
      while (leftA[s] !== NIL) s = leftA[s]!;
      if (s === zr) {
        fixFrom = s;
      } else {
        fixFrom = parentA[s]!;
        const sr = rightA[s]!;
        leftA[fixFrom] = sr;
        if (sr !== NIL) parentA[sr] = fixFrom;
        rightA[s] = zr;
        parentA[zr] = s;
      }
      leftA[s] = zl;
      parentA[zl] = s;
      this.replaceChild(z, s);
    }
    this.retrace(fixFrom, false);
    this.heightA[z] = 0;
    this.rightA[z] = NIL;
    this.parentA[z] = NIL;
    this.leftA[z] = this.freeHead;
    this.freeHead = z;
    this.count--;
  }

  /** Start address of a live node. */
  startOf(nodeId: number): number {
    this.checkLive(nodeId, 'startOf');
    return this.startA[nodeId]!;
  }

  /** Last (inclusive) address of a live node. */
  lastOf(nodeId: number): number {
    this.checkLive(nodeId, 'lastOf');
    return this.lastA[nodeId]!;
  }

  /** Payload (caller's object-table index) of a live node. */
  payloadOf(nodeId: number): number {
    this.checkLive(nodeId, 'payloadOf');
    return this.payloadA[nodeId]!;
  }

  /** True if nodeId currently names an interval in this tree. */
  has(nodeId: number): boolean {
    return nodeId > 0 && nodeId < this.nextUnused && this.heightA[nodeId] !== 0;
  }

  /**
   * First interval (lowest start; among equal starts, earliest inserted) that
   * overlaps the closed query range [start, last], or -1. Allocation-free.
   * @throws Error if start is not finite or last < start (NaN included).
   *   `last` may be Infinity or exceed 2^53.
   */
  iterFirst(start: number, last: number): number {
    if (!(start <= last) || !Number.isFinite(start)) {
      throw new Error(
        `IntervalTree.iterFirst: bad query range [start=${fmt(start)}, last=${fmt(last)}]: need finite start <= last`,
      );
    }
    const root = this.root;
    if (this.maxA[root]! < start) return NO_NODE; // also covers the empty tree
    return this.subtreeSearch(root, start, last);
  }

  /**
   * Next interval after `nodeId` (in iteration order) overlapping [start,
   * last], or -1. `nodeId` must be the previous result of iterFirst/iterNext
   * for the same query, and the tree must not have changed since.
   */
  iterNext(nodeId: number, start: number, last: number): number {
    this.checkLive(nodeId, 'iterNext');
    const maxA = this.maxA;
    const rightA = this.rightA;
    const parentA = this.parentA;
    let n = nodeId;
    let r = rightA[n]!;
    for (;;) {
      // Everything up to and including n has been visited.
      if (maxA[r]! >= start) return this.subtreeSearch(r, start, last);
      // Climb to the next in-order ancestor (the first one reached from its left).
      let c = n;
      n = parentA[n]!;
      while (n !== NIL && rightA[n] === c) {
        c = n;
        n = parentA[n]!;
      }
      if (n === NIL || this.startA[n]! > last) return NO_NODE;
      if (this.lastA[n]! >= start) return n;
      r = rightA[n]!;
    }
  }

  /**
   * Call fn(nodeId, payload) for every interval overlapping [start, last], in
   * ascending start order. fn must not modify the tree.
   */
  forEachOverlap(start: number, last: number, fn: (nodeId: number, payload: number) => void): void {
    for (let n = this.iterFirst(start, last); n !== NO_NODE; n = this.iterNext(n, start, last)) {
      fn(n, this.payloadA[n]!);
    }
  }

  /** Node ids of every interval overlapping [start, last], in ascending start order (allocates; for tests). */
  overlaps(start: number, last: number): number[] {
    const out: number[] = [];
    for (let n = this.iterFirst(start, last); n !== NO_NODE; n = this.iterNext(n, start, last)) {
      out.push(n);
    }
    return out;
  }

  /**
   * Verify every structural invariant and throw an Error describing the first
   * violation: parent/child links, in-order sorted starts, start <= last, AVL
   * heights and balance (|h(left) - h(right)| <= 1), the subtree-max
   * augmentation, the node count, and the free list. O(n); for tests.
   */
  checkInvariants(): void {
    const { startA, lastA, maxA, leftA, rightA, parentA, heightA } = this;
    if (maxA[NIL] !== -Infinity || heightA[NIL] !== 0) throw new Error('sentinel node was modified');
    if (this.root !== NIL && parentA[this.root] !== NIL) throw new Error(`root ${this.root} has a parent`);
    let seen = 0;
    let prevStart = -Infinity;
    const visit = (n: number, depth: number): number => {
      if (n === NIL) return 0;
      if (depth > 64) throw new Error('tree too deep (cycle?)');
      if (n < 0 || n >= this.nextUnused) throw new Error(`node id ${n} out of range`);
      if (heightA[n] === 0) throw new Error(`free node ${n} is linked into the tree`);
      const l = leftA[n]!;
      const r = rightA[n]!;
      if (l !== NIL && parentA[l] !== n) throw new Error(`left child ${l} of ${n} has parent ${parentA[l]}`);
      if (r !== NIL && parentA[r] !== n) throw new Error(`right child ${r} of ${n} has parent ${parentA[r]}`);
      const hl = visit(l, depth + 1);
      if (startA[n]! < prevStart) throw new Error(`order violated at node ${n}: start ${startA[n]} < ${prevStart}`);
      prevStart = startA[n]!;
      if (!(startA[n]! <= lastA[n]!)) throw new Error(`node ${n} has last < start`);
      seen++;
      const hr = visit(r, depth + 1);
      if (Math.abs(hl - hr) > 1) throw new Error(`node ${n} unbalanced: heights ${hl} / ${hr}`);
      const h = Math.max(hl, hr) + 1;
      if (heightA[n] !== h) throw new Error(`node ${n} height ${heightA[n]}, expected ${h}`);
      const m = Math.max(lastA[n]!, maxA[l]!, maxA[r]!);
      if (maxA[n] !== m) throw new Error(`node ${n} subtree max ${maxA[n]}, expected ${m}`);
      return h;
    };
    visit(this.root, 0);
    if (seen !== this.count) throw new Error(`size ${this.count} but ${seen} nodes reachable`);
    let free = 0;
    for (let f = this.freeHead; f !== NIL; f = leftA[f]!) {
      if (f < 0 || f >= this.nextUnused) throw new Error(`free list entry ${f} out of range`);
      if (heightA[f] !== 0) throw new Error(`free list entry ${f} is live`);
      if (++free > this.nextUnused) throw new Error('free list has a cycle');
    }
    if (free + this.count !== this.nextUnused - 1) {
      throw new Error(`${this.count} live + ${free} free != ${this.nextUnused - 1} ids handed out`);
    }
  }

  // ---- internals ----

  /**
   * Descend from n (not NIL, subtree max >= qs) to the first node of its
   * subtree overlapping [qs, ql], or return -1. If the left subtree holds some
   * interval ending at or after qs, the answer is there or nowhere: either that
   * interval overlaps, or it starts after ql and so does everything after it.
   */
  private subtreeSearch(n: number, qs: number, ql: number): number {
    const { startA, lastA, maxA, leftA, rightA } = this;
    for (;;) {
      const l = leftA[n]!;
      if (maxA[l]! >= qs) {
        n = l;
        continue;
      }
      if (startA[n]! > ql) return NO_NODE;
      if (lastA[n]! >= qs) return n;
      n = rightA[n]!;
      if (maxA[n]! < qs) return NO_NODE; // includes n === NIL
    }
  }

  private checkLive(nodeId: number, op: string): void {
    if (!(nodeId > 0 && nodeId < this.nextUnused && this.heightA[nodeId] !== 0)) {
      throw new Error(`IntervalTree.${op}: node id ${String(nodeId)} is not live`);
    }
  }

  private allocate(): number {
    const f = this.freeHead;
    if (f !== NIL) {
      this.freeHead = this.leftA[f]!;
      return f;
    }
    if (this.nextUnused === this.startA.length) this.grow();
    return this.nextUnused++;
  }

  private grow(): void {
    const cap = this.startA.length * 2;
    if (cap > 0x7fffffff) throw new Error('IntervalTree: capacity exceeded');
    this.startA = growF64(this.startA, cap);
    this.lastA = growF64(this.lastA, cap);
    this.maxA = growF64(this.maxA, cap);
    this.leftA = growI32(this.leftA, cap);
    this.rightA = growI32(this.rightA, cap);
    this.parentA = growI32(this.parentA, cap);
    const h = new Int8Array(cap);
    h.set(this.heightA);
    this.heightA = h;
    this.payloadA = growI32(this.payloadA, cap);
  }

  /** Put `child` (possibly NIL) where `old` hangs from its parent. */
  private replaceChild(old: number, child: number): void {
    const p = this.parentA[old]!;
    if (child !== NIL) this.parentA[child] = p;
    if (p === NIL) this.root = child;
    else if (this.leftA[p] === old) this.leftA[p] = child;
    else this.rightA[p] = child;
  }

  /** Recompute height and subtree max of n from its children. */
  private update(n: number): void {
    const l = this.leftA[n]!;
    const r = this.rightA[n]!;
    const hl = this.heightA[l]!;
    const hr = this.heightA[r]!;
    this.heightA[n] = (hl > hr ? hl : hr) + 1;
    const maxA = this.maxA;
    let m = this.lastA[n]!;
    if (maxA[l]! > m) m = maxA[l]!;
    if (maxA[r]! > m) m = maxA[r]!;
    maxA[n] = m;
  }

  /**
   * Walk from n to the root, restoring heights, subtree maxima and AVL balance.
   * With stopEarly (insert only), stop at the first node whose height and max
   * did not change without a rotation: nothing above it can change either.
   */
  private retrace(n: number, stopEarly: boolean): void {
    const { leftA, rightA, parentA, heightA, maxA, lastA } = this;
    while (n !== NIL) {
      const p = parentA[n]!;
      const l = leftA[n]!;
      const r = rightA[n]!;
      const hl = heightA[l]!;
      const hr = heightA[r]!;
      if (hl - hr > 1) {
        if (heightA[leftA[l]!]! < heightA[rightA[l]!]!) this.rotateLeft(l);
        this.rotateRight(n);
      } else if (hr - hl > 1) {
        if (heightA[rightA[r]!]! < heightA[leftA[r]!]!) this.rotateRight(r);
        this.rotateLeft(n);
      } else {
        const h = (hl > hr ? hl : hr) + 1;
        let m = lastA[n]!;
        if (maxA[l]! > m) m = maxA[l]!;
        if (maxA[r]! > m) m = maxA[r]!;
        if (stopEarly && h === heightA[n] && m === maxA[n]) return;
        heightA[n] = h;
        maxA[n] = m;
      }
      n = p;
    }
  }

  private rotateLeft(x: number): void {
    const { leftA, rightA, parentA } = this;
    const y = rightA[x]!;
    const b = leftA[y]!;
    rightA[x] = b;
    if (b !== NIL) parentA[b] = x;
    this.replaceChild(x, y);
    leftA[y] = x;
    parentA[x] = y;
    this.update(x);
    this.update(y);
  }

  private rotateRight(x: number): void {
    const { leftA, rightA, parentA } = this;
    const y = leftA[x]!;
    const b = rightA[y]!;
    leftA[x] = b;
    if (b !== NIL) parentA[b] = x;
    this.replaceChild(x, y);
    rightA[y] = x;
    parentA[x] = y;
    this.update(x);
    this.update(y);
  }
}

function growF64(a: Float64Array, cap: number): Float64Array {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

function growI32(a: Int32Array, cap: number): Int32Array {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

function fmt(v: number): string {
  return Number.isSafeInteger(v) && v >= 0 ? `${v} (0x${v.toString(16)})` : String(v);
}
