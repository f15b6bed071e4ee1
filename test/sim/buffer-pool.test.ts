import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/sim/buffer-pool.js';
import { World } from '../../src/sim/world.js';

describe('BufferPool', () => {
  it('lends zeroed buffers, takes them back at reclaim and lends them again zeroed', () => {
    const pool = new BufferPool();
    const a = pool.take(64);
    new Int32Array(a).fill(7);
    expect(pool.take(64)).not.toBe(a); // still lent: a second one
    pool.reclaim();
    const again = [pool.take(64), pool.take(64)];
    expect(again).toContain(a);
    for (const b of again) expect([...new Int32Array(b)].every((x) => x === 0)).toBe(true);
    expect(pool.take(128).byteLength).toBe(128); // sizes are kept apart
  });

  it("a world's buffers come back at reset", () => {
    const w = new World();
    w.reset(1);
    const b = w.allocateBuffer(3072);
    w.reset(2);
    expect(w.allocateBuffer(3072)).toBe(b);
  });
});
