/**
 * The run's only source of randomness. Every strategy and every model decision that needs a
 * coin draws from an instance of this, seeded from the run's seed, so a seed replays exactly.
 */
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** A seeded pseudo-random generator (xoroshiro128+ from pure-rand, mutated in place). */
export class Rng {
  private gen: RandomGenerator;
  /**
   * Draws since the last seeding. The world's own generator is part of what a run explores
   * besides the schedule: DFS may only call a space complete if no run drew from it.
   */
  draws = 0;

  constructor(seed: number) {
    this.gen = seeded(seed);
  }

  /** Re-seed in place, so a run can reuse the object. */
  reseed(seed: number): void {
    this.gen = seeded(seed);
    this.draws = 0;
  }

  /** A uniform integer in [0, n). `n` must be at least 1. */
  below(n: number): number {
    this.draws++;
    if (n <= 1) return 0;
    // Unsigned 32-bit draw scaled into range; the bias for the tiny n we use is below 2^-24.
    const u = (this.gen.next() >>> 0) / 4294967296;
    return Math.floor(u * n);
  }

  /** A uniform 31-bit non-negative integer, for deriving child seeds. */
  seed31(): number {
    this.draws++;
    return this.gen.next() & 0x7fffffff;
  }
}

/**
 * pure-rand's own seeding puts the seed in the state almost verbatim, so the first draws of
 * nearby seeds are alike (the first draw's top bit is the same for every positive seed). Spread
 * the seed over all 128 bits of state with a mixing function first.
 */
function seeded(seed: number) {
  const s0 = mix32(seed, 1);
  const s1 = mix32(seed, 2);
  const s2 = mix32(seed, 3);
  const s3 = mix32(seed, 4) | 1; // never the all-zero state
  return xoroshiro128plusFromState([s0, s1, s2, s3]);
}

function mix32(seed: number, lane: number): number {
  let z = (seed + Math.imul(lane, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}

/** Derives the seed of run `index` of a stream from the stream's base seed (splitmix-style mix). */
export function deriveSeed(base: number, index: number): number {
  let z = (base ^ Math.imul(index + 1, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) & 0x7fffffff;
}
