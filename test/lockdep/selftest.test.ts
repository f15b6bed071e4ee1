/**
 * Port of the kernel lockdep selftest cases listed in spec/lockdep-cases.md
 * (and the recursive-read block of lib/locking-selftest.c). Each case runs in
 * one task on a fresh validator with the kernel's "first problem, then off"
 * rule; the verdict is whether lockdep is still on afterwards.
 */
import { describe, expect, it } from 'vitest';
import {
  FS_RECLAIM_MAP,
  GFP_KERNEL,
  GFP_NOFS,
  type LockdepReportKind,
} from '../../src/lockdep/index.ts';
import { Driver, LOCK_TYPES, type LockType } from './helpers.ts';

type Op = readonly [op: 'L' | 'U' | 'INIT', lock: string];

/** [x,y] = lock x, lock y, unlock y, unlock x. */
function pair(x: string, y: string): Op[] {
  return [['L', x], ['L', y], ['U', y], ['U', x]];
}

/** Instance → class for the selftest names: X1/X2 share class X, etc. */
function classOf(name: string): string {
  return /^[XYZ][12]$/.test(name) ? name[0]! : name;
}

function runOps(type: LockType, ops: readonly Op[]): Driver {
  const d = new Driver();
  for (const [op, name] of ops) {
    const m = d.lock(name, type.wait, classOf(name));
    if (op === 'L') d.ld.acquire(0, m, { read: type.read }, d.w(0, `LOCK(${name})`));
    else if (op === 'U') d.ld.release(0, m, d.w(0, `UNLOCK(${name})`));
    else d.ld.initMap(0, m, d.w(0, `INIT(${name})`));
  }
  return d;
}

interface Family {
  readonly name: string;
  readonly ops: Op[];
  readonly kind: LockdepReportKind;
  /** Expected trying / holding classes of the report. */
  readonly trying: string;
  readonly holding: string;
}

const CIRCULAR_FAMILIES: Family[] = [
  { name: 'AA', ops: [['L', 'X1'], ['L', 'X2']], kind: 'lockdep-recursive', trying: 'X', holding: 'X' },
  { name: 'ABBA', ops: [...pair('A', 'B'), ...pair('B', 'A')], kind: 'lockdep-circular', trying: 'A', holding: 'B' },
  {
    name: 'ABBCCA',
    ops: [...pair('A', 'B'), ...pair('B', 'C'), ...pair('C', 'A')],
    kind: 'lockdep-circular',
    trying: 'A',
    holding: 'C',
  },
  {
    name: 'ABCABC',
    ops: [...pair('A', 'B'), ...pair('C', 'A'), ...pair('B', 'C')],
    kind: 'lockdep-circular',
    trying: 'C',
    holding: 'B',
  },
  {
    name: 'ABBCCDDA',
    ops: [...pair('A', 'B'), ...pair('B', 'C'), ...pair('C', 'D'), ...pair('D', 'A')],
    kind: 'lockdep-circular',
    trying: 'A',
    holding: 'D',
  },
  {
    name: 'ABCDBDDA',
    ops: [...pair('A', 'B'), ...pair('C', 'D'), ...pair('B', 'D'), ...pair('D', 'A')],
    kind: 'lockdep-circular',
    trying: 'A',
    holding: 'D',
  },
  {
    name: 'ABCDBCDA',
    ops: [...pair('A', 'B'), ...pair('C', 'D'), ...pair('B', 'C'), ...pair('D', 'A')],
    kind: 'lockdep-circular',
    trying: 'A',
    holding: 'D',
  },
];

describe('circular families (cases 1-7): FAILURE except for recursive read locks', () => {
  for (const fam of CIRCULAR_FAMILIES) {
    for (const type of LOCK_TYPES) {
      const expectFailure = type.name !== 'rlock';
      it(`${fam.name}_${type.name} → ${expectFailure ? 'FAILURE' : 'SUCCESS'}`, () => {
        const d = runOps(type, fam.ops);
        expect(d.ld.enabled).toBe(!expectFailure);
        if (!expectFailure) {
          expect(d.ld.reports).toEqual([]);
          return;
        }
        expect(d.kinds()).toEqual([fam.kind]);
        const r = d.ld.reports[0]!;
        if (r.kind !== 'lockdep-circular' && r.kind !== 'lockdep-recursive') throw new Error('unexpected kind');
        expect(r.trying.className).toBe(fam.trying);
        expect(r.holding.className).toBe(fam.holding);
        // The report comes from the last acquisition of the sequence.
        const lastLock = fam.ops.filter((o) => o[0] === 'L').at(-1)![1];
        expect(r.trying.instance).toBe(lastLock);
      });
    }
  }
});

describe('double unlock (case 8): FAILURE for every type', () => {
  for (const type of LOCK_TYPES) {
    it(`double_unlock_${type.name}`, () => {
      const once = runOps(type, [['L', 'A'], ['U', 'A']]);
      expect(once.ld.enabled).toBe(true);
      const d = runOps(type, [['L', 'A'], ['U', 'A'], ['U', 'A']]);
      expect(d.ld.enabled).toBe(false);
      expect(d.kinds()).toEqual(['lockdep-bad-unlock']);
    });
  }
});

describe('initialize held (case 9): FAILURE for every type', () => {
  for (const type of LOCK_TYPES) {
    it(`init_held_${type.name}`, () => {
      const ok = runOps(type, [['L', 'A'], ['U', 'A'], ['INIT', 'A']]);
      expect(ok.ld.enabled).toBe(true);
      const d = runOps(type, [['L', 'A'], ['INIT', 'A']]);
      expect(d.ld.enabled).toBe(false);
      expect(d.kinds()).toEqual(['lockdep-held-freed']);
    });
  }
});

describe('bad unlock order (case 10, historic): SUCCESS for every type', () => {
  for (const type of LOCK_TYPES.filter((t) => t.name !== 'rtmutex')) {
    it(`bad_unlock_order_${type.name}`, () => {
      const d = runOps(type, [['L', 'A'], ['L', 'B'], ['U', 'A'], ['U', 'B']]);
      expect(d.ld.enabled).toBe(true);
      expect(d.ld.reports).toEqual([]);
      expect(d.ld.heldDepth(0)).toBe(0);
    });
  }
});

/** Explicit-mode ops for the mixed read/write cases. */
type MOp = readonly [op: 'RL' | 'WL' | 'L' | 'RSL' | 'WSL' | 'ML' | 'U', lock: string];
const MODE: Record<Exclude<MOp[0], 'U'>, { read: 0 | 1 | 2; wait: 'spin' | 'sleep' }> = {
  RL: { read: 2, wait: 'spin' }, // read_lock, forced recursive
  WL: { read: 0, wait: 'spin' },
  L: { read: 0, wait: 'spin' },
  RSL: { read: 1, wait: 'sleep' }, // down_read
  WSL: { read: 0, wait: 'sleep' },
  ML: { read: 0, wait: 'sleep' },
};

function runMixed(ops: readonly MOp[]): Driver {
  const d = new Driver();
  for (const [op, name] of ops) {
    if (op === 'U') {
      d.ld.release(0, d.lock(name), d.w(0, `unlock(${name})`));
      continue;
    }
    const mode = MODE[op];
    d.ld.acquire(0, d.lock(name, mode.wait, classOf(name)), { read: mode.read }, d.w(0, `${op}(${name})`));
  }
  return d;
}

const seq = (...xs: [MOp[0], string][]): MOp[] => xs;

describe('recursive-read cases (locking-selftest "read-lock" block)', () => {
  const cases: [string, MOp[], boolean][] = [
    ['rlock_AA1', seq(['RL', 'X1'], ['RL', 'X1']), true],
    ['rlock_AA1B', seq(['RL', 'X1'], ['RL', 'X2']), true],
    ['rsem_AA1', seq(['RSL', 'X1'], ['RSL', 'X1']), false],
    ['rsem_AA1B', seq(['RSL', 'X1'], ['RSL', 'X2']), false],
    ['rlock_AA2', seq(['RL', 'X1'], ['WL', 'X2']), false],
    ['rsem_AA2', seq(['RSL', 'X1'], ['WSL', 'X2']), false],
    ['rlock_AA3', seq(['WL', 'X1'], ['RL', 'X2']), false],
    ['rsem_AA3', seq(['WSL', 'X1'], ['RSL', 'X2']), false],
    [
      'rlock_ABBA1',
      seq(['RL', 'X1'], ['L', 'Y1'], ['U', 'Y1'], ['U', 'X1'], ['L', 'Y1'], ['WL', 'X1'], ['U', 'X1'], ['U', 'Y1']),
      false,
    ],
    [
      'rwsem_ABBA1',
      seq(['RSL', 'X1'], ['ML', 'Y1'], ['U', 'Y1'], ['U', 'X1'], ['ML', 'Y1'], ['WSL', 'X1'], ['U', 'X1'], ['U', 'Y1']),
      false,
    ],
    [
      'rlock_chaincache_ABBA1',
      seq(
        ['RL', 'X1'], ['L', 'Y1'], ['U', 'Y1'], ['U', 'X1'],
        ['L', 'Y1'], ['RL', 'X1'], ['U', 'X1'], ['U', 'Y1'],
        ['L', 'Y1'], ['WL', 'X1'], ['U', 'X1'], ['U', 'Y1'],
      ),
      false,
    ],
    [
      'rlock_ABBA2',
      seq(['RL', 'X1'], ['L', 'Y1'], ['U', 'Y1'], ['U', 'X1'], ['L', 'Y1'], ['RL', 'X1'], ['U', 'X1'], ['U', 'Y1']),
      true,
    ],
    [
      'rwsem_ABBA2',
      seq(['RSL', 'X1'], ['ML', 'Y1'], ['U', 'Y1'], ['U', 'X1'], ['ML', 'Y1'], ['RSL', 'X1'], ['U', 'X1'], ['U', 'Y1']),
      false,
    ],
    [
      'rlock_ABBA3',
      seq(['WL', 'X1'], ['L', 'Y1'], ['U', 'Y1'], ['U', 'X1'], ['L', 'Y1'], ['WL', 'X1'], ['U', 'X1'], ['U', 'Y1']),
      false,
    ],
    [
      'rwsem_ABBA3',
      seq(['WSL', 'X1'], ['ML', 'Y1'], ['U', 'Y1'], ['U', 'X1'], ['ML', 'Y1'], ['WSL', 'X1'], ['U', 'X1'], ['U', 'Y1']),
      false,
    ],
  ];
  for (const [name, ops, success] of cases) {
    it(`${name} → ${success ? 'SUCCESS' : 'FAILURE'}`, () => {
      const d = runMixed(ops);
      expect(d.ld.enabled).toBe(success);
      expect(d.ld.reports.length).toBe(success ? 0 : 1);
    });
  }

  it('rlock_chaincache_ABBA1: reads and writes do not share chain-cache entries', () => {
    const d = runMixed(seq(['RL', 'X1'], ['L', 'Y1'], ['U', 'Y1'], ['U', 'X1'], ['L', 'Y1'], ['RL', 'X1'], ['U', 'X1'], ['U', 'Y1']));
    const chains = d.ld.chains.size;
    d.ld.acquire(0, d.lock('Y1'), undefined, d.w());
    d.ld.acquire(0, d.lock('X1'), { read: 0 }, d.w());
    expect(d.ld.chains.size).toBe(chains); // not cached: it reported
    expect(d.kinds()).toEqual(['lockdep-circular']);
  });
});

/** E1/E2/E3 events of the W/R permutation families, all on rwlocks X1, Y1, Z1. */
const WR_FAMILIES: [string, [MOp[], MOp[], MOp[]], boolean][] = [
  [
    'W1R2_W2R3_W3R1',
    [seq(['WL', 'X1'], ['RL', 'Y1'], ['U', 'Y1'], ['U', 'X1']), seq(['WL', 'Y1'], ['RL', 'Z1'], ['U', 'Z1'], ['U', 'Y1']), seq(['WL', 'Z1'], ['RL', 'X1'], ['U', 'X1'], ['U', 'Z1'])],
    false,
  ],
  [
    'W1W2_R2R3_W3R1',
    [seq(['WL', 'X1'], ['WL', 'Y1'], ['U', 'Y1'], ['U', 'X1']), seq(['RL', 'Y1'], ['RL', 'Z1'], ['U', 'Z1'], ['U', 'Y1']), seq(['WL', 'Z1'], ['RL', 'X1'], ['U', 'X1'], ['U', 'Z1'])],
    false,
  ],
  [
    'W1W2_R2R3_R3W1',
    [seq(['WL', 'X1'], ['WL', 'Y1'], ['U', 'Y1'], ['U', 'X1']), seq(['RL', 'Y1'], ['RL', 'Z1'], ['U', 'Z1'], ['U', 'Y1']), seq(['RL', 'Z1'], ['WL', 'X1'], ['U', 'X1'], ['U', 'Z1'])],
    true,
  ],
  [
    'W1R2_R2R3_W3W1',
    [seq(['WL', 'X1'], ['RL', 'Y1'], ['U', 'Y1'], ['U', 'X1']), seq(['RL', 'Y1'], ['RL', 'Z1'], ['U', 'Z1'], ['U', 'Y1']), seq(['WL', 'Z1'], ['WL', 'X1'], ['U', 'X1'], ['U', 'Z1'])],
    true,
  ],
];
const PERMS = ['123', '132', '213', '231', '312', '321'];

describe('rlock W/R permutation families (6 orders each)', () => {
  for (const [name, events, success] of WR_FAMILIES) {
    for (const perm of PERMS) {
      it(`${name}_${perm} → ${success ? 'SUCCESS' : 'FAILURE'}`, () => {
        const ops = [...perm].flatMap((c) => events[Number(c) - 1]!);
        const d = runMixed(ops);
        expect(d.ld.enabled).toBe(success);
        if (!success) expect(d.kinds()).toEqual(['lockdep-circular']);
      });
    }
  }
});

describe('fs_reclaim cases (case 24)', () => {
  it('correct nesting: GFP_NOFS under fs_reclaim → SUCCESS', () => {
    const d = new Driver();
    d.ld.fsReclaimAcquire(0, GFP_KERNEL, d.w(0, 'fs_reclaim_acquire'));
    d.ld.mightAlloc(0, GFP_NOFS, d.w(0, 'might_alloc'));
    d.ld.fsReclaimRelease(0, GFP_KERNEL, d.w(0, 'fs_reclaim_release'));
    expect(d.ld.enabled).toBe(true);
    expect(d.ld.reports).toEqual([]);
    expect(d.ld.heldDepth(0)).toBe(0);
  });

  it('wrong nesting: GFP_KERNEL under fs_reclaim → FAILURE (recursive fs_reclaim)', () => {
    const d = new Driver();
    d.ld.fsReclaimAcquire(0, GFP_KERNEL, d.w(0, 'fs_reclaim_acquire'));
    d.ld.mightAlloc(0, GFP_KERNEL, d.w(0, 'might_alloc'));
    d.ld.fsReclaimRelease(0, GFP_KERNEL, d.w(0, 'fs_reclaim_release'));
    expect(d.ld.enabled).toBe(false);
    expect(d.kinds()).toEqual(['lockdep-recursive']);
    const r = d.ld.reports[0]!;
    if (r.kind !== 'lockdep-recursive') throw new Error();
    expect(r.trying.className).toBe(FS_RECLAIM_MAP.name);
  });

  it('protected nesting: memalloc_nofs scope strips __GFP_FS → SUCCESS', () => {
    const d = new Driver();
    d.ld.fsReclaimAcquire(0, GFP_KERNEL, d.w(0, 'fs_reclaim_acquire'));
    const saved = d.ld.memallocNofsSave(0);
    d.ld.mightAlloc(0, GFP_KERNEL, d.w(0, 'might_alloc'));
    d.ld.memallocNofsRestore(0, saved);
    d.ld.fsReclaimRelease(0, GFP_KERNEL, d.w(0, 'fs_reclaim_release'));
    expect(d.ld.enabled).toBe(true);
    expect(d.ld.reports).toEqual([]);
  });
});
