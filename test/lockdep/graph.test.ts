/**
 * Edge kinds and the strong-path search (spec §7, §8).
 */
import { describe, expect, it } from 'vitest';
import { DEP_EN, DEP_ER, DEP_SN, DEP_SR, DepGraph, depKind, kindNames } from '../../src/lockdep/graph.ts';
import type { WhereSnapshot } from '../../src/lockdep/where.ts';

const here: WhereSnapshot = { taskId: 0, taskName: 't', step: 0, runLabel: '', stack: [] };

describe('edge kinds', () => {
  it('come from the holder mode and the new mode', () => {
    expect(depKind(0, 0)).toBe(DEP_EN);
    expect(depKind(0, 1)).toBe(DEP_EN);
    expect(depKind(0, 2)).toBe(DEP_ER);
    expect(depKind(1, 0)).toBe(DEP_SN);
    expect(depKind(2, 1)).toBe(DEP_SN);
    expect(depKind(1, 2)).toBe(DEP_SR);
    expect(kindNames(DEP_EN | DEP_SR)).toEqual(['EN', 'SR']);
  });
});

describe('strongPath', () => {
  it('finds the shortest path', () => {
    const g = new DepGraph();
    g.add(0, 1, DEP_EN, here);
    g.add(1, 2, DEP_EN, here);
    g.add(2, 3, DEP_EN, here);
    g.add(0, 3, DEP_EN, here);
    expect(g.strongPath(0, 0, 3, 0)!.map((e) => [e.from, e.to])).toEqual([[0, 3]]);
    expect(g.strongPath(3, 0, 0, 0)).toBeNull();
  });

  it('an *R edge followed by an S* edge is not strong', () => {
    const g = new DepGraph();
    g.add(0, 1, DEP_ER, here); // 1 taken as recursive reader
    g.add(1, 2, DEP_SN, here); // …then 2 taken while 1 was read-held
    expect(g.strongPath(0, 0, 2, 0)).toBeNull();
    g.find(1, 2)!.kinds |= DEP_EN; // 1 also held exclusively when taking 2
    expect(g.strongPath(0, 0, 2, 0)).not.toBeNull();
  });

  it('a recursive-read source cannot leave through an S* edge', () => {
    const g = new DepGraph();
    g.add(0, 1, DEP_SN, here);
    expect(g.strongPath(0, 2, 1, 0)).toBeNull();
    expect(g.strongPath(0, 1, 1, 0)).not.toBeNull();
  });

  it('a reader target needs a path not ending in a recursive read', () => {
    const g = new DepGraph();
    g.add(0, 1, DEP_ER, here);
    expect(g.strongPath(0, 0, 1, 1)).toBeNull(); // closing 1 → 0 from a reader after *R
    expect(g.strongPath(0, 0, 1, 0)).not.toBeNull();
  });

  it('explores (class, onlyR) states: a class first reached only-R is revisited on a strong route', () => {
    // 0 →ER 1 →SN 3 is not strong; 0 →EN 2 →EN 1 →SN 3 is. A per-class visited
    // mark would reach 1 first via the *R edge and miss the strong path.
    const g = new DepGraph();
    g.add(0, 1, DEP_ER, here);
    g.add(0, 2, DEP_EN, here);
    g.add(2, 1, DEP_EN, here);
    g.add(1, 3, DEP_SN, here);
    expect(g.strongPath(0, 0, 3, 0)!.map((e) => e.to)).toEqual([2, 1, 3]);
  });

  it('counts searches and forgets everything on clear', () => {
    const g = new DepGraph();
    g.add(0, 1, DEP_EN, here);
    g.strongPath(0, 0, 1, 0);
    expect(g.searches).toBe(1);
    g.clear();
    expect([g.size, g.searches, g.find(0, 1)]).toEqual([0, 0, undefined]);
  });
});
