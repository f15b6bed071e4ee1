/**
 * Chain cache (spec §9): an acquisition sequence that has been validated once
 * is never validated again. This is what keeps the validator cheap in the
 * explorer's hot path, so lookups are allocation-free: a numeric rolling hash
 * selects a bucket and the exact id sequence is compared, so a hash collision
 * can never hide a problem.
 */

/** Chain key of an empty held stack. */
export const CHAIN_KEY_INIT = 0x2545f491 | 0;

/**
 * Per-acquisition chain id. Beyond class and read mode (what the kernel
 * hashes) we fold in trylock, check and "has nest lock": those change which
 * edges validation adds, and keeping them apart makes the cache exact (the
 * verdicts with and without it are identical, which the tests check).
 */
export function chainId(cls: number, read: number, trylock: boolean, check: boolean, nest: boolean, irqCtx = 0): number {
  return (cls << 7) | (irqCtx << 5) | (nest ? 16 : 0) | (check ? 8 : 0) | (trylock ? 4 : 0) | read;
}

/** Folds one id into a running chain key (32-bit multiplicative mix). */
export function chainKeyStep(key: number, id: number): number {
  let h = Math.imul(key ^ id, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  return (h ^ (h >>> 13)) | 0;
}

class ChainNode {
  constructor(
    readonly ids: Int32Array,
    public next: ChainNode | null,
  ) {}
}

/** Validated chains, keyed by chain key, verified by exact id sequence. */
export class ChainCache {
  /** Acquisitions that found their chain validated already. */
  hits = 0;
  /** Acquisitions that had to be validated. */
  misses = 0;
  private readonly buckets = new Map<number, ChainNode>();
  private count = 0;

  /** Number of distinct chains stored. */
  get size(): number {
    return this.count;
  }

  /**
   * True if the chain `held[0..depth) + newId` (whose key is `key`) was
   * validated before. Counts a hit or a miss.
   */
  lookup(key: number, held: Int32Array, depth: number, newId: number): boolean {
    for (let n: ChainNode | null | undefined = this.buckets.get(key); n != null; n = n.next) {
      if (sameChain(n.ids, held, depth, newId)) {
        this.hits++;
        return true;
      }
    }
    this.misses++;
    return false;
  }

  /** Records a validated chain (allocates: only on a miss). */
  add(key: number, held: Int32Array, depth: number, newId: number): void {
    const ids = new Int32Array(depth + 1);
    ids.set(held.subarray(0, depth));
    ids[depth] = newId;
    this.buckets.set(key, new ChainNode(ids, this.buckets.get(key) ?? null));
    this.count++;
  }

  /** Forgets every chain and zeroes the counters. */
  clear(): void {
    this.buckets.clear();
    this.count = 0;
    this.hits = 0;
    this.misses = 0;
  }
}

function sameChain(ids: Int32Array, held: Int32Array, depth: number, newId: number): boolean {
  if (ids.length !== depth + 1 || ids[depth] !== newId) return false;
  for (let i = 0; i < depth; i++) if (ids[i] !== held[i]) return false;
  return true;
}
