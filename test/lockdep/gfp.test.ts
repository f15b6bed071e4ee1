/**
 * GFP masks, memalloc scopes and the reclaim decision (spec §12.2).
 */
import { describe, expect, it } from 'vitest';
import {
  __GFP_DIRECT_RECLAIM,
  __GFP_FS,
  __GFP_IO,
  __GFP_NOLOCKDEP,
  __GFP_ZERO,
  currentGfpContext,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  gfpAllowsBlocking,
  gfpToString,
  memallocScopeNames,
  PF_MEMALLOC,
  PF_MEMALLOC_NOFS,
  PF_MEMALLOC_NOIO,
  RECLAIM_PRIMES_NOTIFIER as NTF,
  RECLAIM_TAKES_FS_RECLAIM as FSR,
  reclaimDecision,
} from '../../src/lockdep/index.ts';

describe('masks', () => {
  it('have the documented bits', () => {
    expect(GFP_KERNEL & (__GFP_DIRECT_RECLAIM | __GFP_IO | __GFP_FS)).toBe(__GFP_DIRECT_RECLAIM | __GFP_IO | __GFP_FS);
    expect(GFP_NOFS & __GFP_FS).toBe(0);
    expect(GFP_NOIO & (__GFP_IO | __GFP_FS)).toBe(0);
    for (const m of [GFP_KERNEL, GFP_NOFS, GFP_NOIO]) expect(gfpAllowsBlocking(m)).toBe(true);
    for (const m of [GFP_ATOMIC, GFP_NOWAIT]) expect(gfpAllowsBlocking(m)).toBe(false);
  });

  it('render by name', () => {
    expect(gfpToString(GFP_KERNEL)).toBe('GFP_KERNEL');
    expect(gfpToString(GFP_NOFS)).toBe('GFP_NOFS');
    expect(gfpToString(GFP_NOIO)).toBe('GFP_NOIO');
    expect(gfpToString(GFP_ATOMIC)).toBe('GFP_ATOMIC');
    expect(gfpToString(GFP_NOWAIT)).toBe('GFP_NOWAIT');
    expect(gfpToString(GFP_KERNEL | __GFP_ZERO)).toBe('GFP_KERNEL|__GFP_ZERO');
    expect(gfpToString(__GFP_IO)).toBe('__GFP_IO');
    expect(memallocScopeNames(PF_MEMALLOC | PF_MEMALLOC_NOFS)).toEqual(['memalloc_noreclaim', 'memalloc_nofs']);
  });
});

describe('current_gfp_context and the reclaim decision', () => {
  it('scopes strip FS (nofs) or IO and FS (noio)', () => {
    expect(currentGfpContext(PF_MEMALLOC_NOFS, GFP_KERNEL)).toBe(GFP_NOFS);
    expect(currentGfpContext(PF_MEMALLOC_NOIO, GFP_KERNEL)).toBe(GFP_NOIO);
    expect(currentGfpContext(PF_MEMALLOC_NOIO | PF_MEMALLOC_NOFS, GFP_KERNEL)).toBe(GFP_NOIO);
    expect(currentGfpContext(0, GFP_KERNEL)).toBe(GFP_KERNEL);
  });

  const table: [string, number, number, number][] = [
    ['GFP_KERNEL', 0, GFP_KERNEL, FSR | NTF],
    ['GFP_NOFS', 0, GFP_NOFS, NTF],
    ['GFP_NOIO', 0, GFP_NOIO, NTF],
    ['GFP_ATOMIC', 0, GFP_ATOMIC, 0],
    ['GFP_NOWAIT', 0, GFP_NOWAIT, 0],
    ['GFP_KERNEL|__GFP_NOLOCKDEP', 0, GFP_KERNEL | __GFP_NOLOCKDEP, 0],
    ['GFP_KERNEL in nofs scope', PF_MEMALLOC_NOFS, GFP_KERNEL, NTF],
    ['GFP_KERNEL in noio scope', PF_MEMALLOC_NOIO, GFP_KERNEL, NTF],
    ['GFP_KERNEL in noreclaim scope', PF_MEMALLOC, GFP_KERNEL, 0],
  ];
  for (const [name, flags, gfp, want] of table) {
    it(`${name} → ${want === 0 ? 'nothing' : [want & FSR ? 'fs_reclaim' : '', want & NTF ? 'notifier' : ''].filter(Boolean).join(' + ')}`, () => {
      expect(reclaimDecision(flags, gfp)).toBe(want);
    });
  }
});
