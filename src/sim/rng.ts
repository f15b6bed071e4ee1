/**
 * The run's only source of randomness. Every strategy and every model decision that needs a
 * coin draws from an instance of this, seeded from the run's seed, so a seed replays exactly.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** A seeded pseudo-random generator (xoroshiro128+ from pure-rand, mutated in place). */
export class Rng {
  private gen: RandomGenerator;

  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** Re-seed in place, so a run can reuse the object. */
  reseed(seed: number): void {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** A uniform integer in [0, n). `n` must be at least 1. */
  below(n: number): number {
    if (n <= 1) return 0;
    // Unsigned 32-bit draw scaled into range; the bias for the tiny n we use is below 2^-24.
    const u = (this.gen.next() >>> 0) / 4294967296;
    return Math.floor(u * n);
  }

  /** A uniform 31-bit non-negative integer, for deriving child seeds. */
  seed31(): number {
    return this.gen.next() & 0x7fffffff;
  }
}

/** Derives the seed of run `index` of a stream from the stream's base seed (splitmix-style mix). */
export function deriveSeed(base: number, index: number): number {
  let z = (base ^ Math.imul(index + 1, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) & 0x7fffffff;
}
