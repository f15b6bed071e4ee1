import { describe, expect, it } from 'vitest';
import { mmProblem } from '../../src/mm/problems.ts';

describe('mmProblem', () => {
  it('fills every field so records compare structurally', () => {
    expect(mmProblem('zero-page-write', 'm')).toEqual({ kind: 'zero-page-write', message: 'm', pfn: -1, generation: -1, slot: -1 });
    expect(mmProblem('swap-slot-free', 'x', -1, -1, 4).slot).toBe(4);
    expect(mmProblem('frame-put-on-free', 'y', 3, 2)).toMatchObject({ pfn: 3, generation: 2 });
  });
});
