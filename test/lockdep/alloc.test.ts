/**
 * Allocation context (spec §12): a driver lock that is both taken inside an
 * MMU-notifier invalidation and held across a reclaim-capable allocation.
 */
import { describe, expect, it } from 'vitest';
import {
  __GFP_NOLOCKDEP,
  FS_RECLAIM_MAP,
  GFP_ATOMIC,
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  type CircularReport,
  MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP as NOTIFIER,
} from '../../src/lockdep/index.ts';
import { Driver } from './helpers.ts';

const INV = 0; // task running the invalidate callbacks
const DRV = 1; // task running the driver's ioctl

/** Invalidate-start section taking the driver lock inside. */
function invalidate(d: Driver): void {
  d.ld.lockMapAcquire(INV, NOTIFIER, d.w(INV, 'unmap_vmas', 'mmu_notifier_invalidate_range_start'));
  d.ld.acquire(INV, d.lock('&drv->lock', 'sleep'), undefined, d.w(INV, 'drv_invalidate_start', 'mutex_lock'));
  d.ld.release(INV, d.lock('&drv->lock'), d.w(INV, 'drv_invalidate_start', 'mutex_unlock'));
  d.ld.lockMapRelease(INV, NOTIFIER, d.w(INV, 'mmu_notifier_invalidate_range_start'));
}

/** The driver lock held across an allocation with `gfp`. */
function allocUnderLock(d: Driver, gfp: number): void {
  d.ld.acquire(DRV, d.lock('&drv->lock', 'sleep'), undefined, d.w(DRV, 'drv_ioctl', 'mutex_lock'));
  d.ld.mightAlloc(DRV, gfp, d.w(DRV, 'drv_ioctl', 'kmalloc'));
  d.ld.release(DRV, d.lock('&drv->lock'), d.w(DRV, 'drv_ioctl', 'mutex_unlock'));
}

function circular(d: Driver): CircularReport {
  expect(d.kinds()).toEqual(['lockdep-circular']);
  return d.ld.reports[0] as CircularReport;
}

describe('driver lock in the invalidate callback and around an allocation', () => {
  it('GFP_KERNEL: circular dependency through fs_reclaim (invalidate first)', () => {
    const d = new Driver();
    invalidate(d);
    allocUnderLock(d, GFP_KERNEL);
    const r = circular(d);
    // fs_reclaim → notifier map is the priming edge; it closes notifier → drv → fs_reclaim.
    expect(r.trying.className).toBe(NOTIFIER.name);
    expect(r.holding.className).toBe(FS_RECLAIM_MAP.name);
    expect(r.place).toBe(['&drv->lock', 'fs_reclaim', 'mmu_notifier_invalidate_range_start'].join(' | '));
    expect(r.fakeNotes).toHaveLength(2);
    expect(r.hint).toMatch(/invalidate callback/);
    // The dependency drv → fs_reclaim remembers the allocation that created it.
    const drvToReclaim = r.links.find((l) => l.after === '&drv->lock' && l.lock === 'fs_reclaim');
    expect(drvToReclaim?.established.alloc?.gfp).toBe('GFP_KERNEL');
  });

  it('GFP_KERNEL: also reported when the allocation comes first', () => {
    const d = new Driver();
    allocUnderLock(d, GFP_KERNEL);
    invalidate(d);
    const r = circular(d);
    expect(r.trying.className).toBe('&drv->lock');
    expect(r.holding.className).toBe(NOTIFIER.name);
    expect(r.chainExists).toEqual(['&drv->lock', 'fs_reclaim', NOTIFIER.name]);
  });

  it('fixed: allocating before taking the lock → no report', () => {
    const d = new Driver();
    invalidate(d);
    d.ld.mightAlloc(DRV, GFP_KERNEL, d.w(DRV, 'drv_ioctl', 'kmalloc'));
    d.ld.acquire(DRV, d.lock('&drv->lock'), undefined, d.w(DRV, 'drv_ioctl'));
    d.ld.release(DRV, d.lock('&drv->lock'), d.w(DRV, 'drv_ioctl'));
    expect(d.ld.reports).toEqual([]);
  });

  for (const [name, gfp] of [['GFP_NOFS', GFP_NOFS], ['GFP_NOIO', GFP_NOIO]] as const) {
    it(`${name}: still circular, directly through the notifier map`, () => {
      const d = new Driver();
      invalidate(d);
      allocUnderLock(d, gfp);
      const r = circular(d);
      expect(r.place).toBe(['&drv->lock', NOTIFIER.name].join(' | '));
      expect(r.links.find((l) => l.current)?.established.alloc?.gfp).toBe(name);
    });
  }

  it('memalloc_nofs scope does not remove the notifier dependency', () => {
    const d = new Driver();
    invalidate(d);
    const saved = d.ld.memallocNofsSave(DRV);
    allocUnderLock(d, GFP_KERNEL);
    d.ld.memallocNofsRestore(DRV, saved);
    const r = circular(d);
    expect(r.links.find((l) => l.current)?.established.alloc?.scopes).toEqual(['memalloc_nofs']);
  });

  for (const [name, gfp] of [['GFP_NOWAIT', GFP_NOWAIT], ['GFP_ATOMIC', GFP_ATOMIC], ['__GFP_NOLOCKDEP', GFP_KERNEL | __GFP_NOLOCKDEP]] as const) {
    it(`${name}: no reclaim annotation → no report`, () => {
      const d = new Driver();
      invalidate(d);
      allocUnderLock(d, gfp);
      expect(d.ld.reports).toEqual([]);
      expect(d.ld.graph.size).toBe(1); // only notifier → drv
    });
  }

  it('memalloc_noreclaim scope → no report; restoring the scope brings it back', () => {
    const d = new Driver();
    invalidate(d);
    const saved = d.ld.memallocNoreclaimSave(DRV);
    allocUnderLock(d, GFP_KERNEL);
    expect(d.ld.reports).toEqual([]);
    d.ld.memallocNoreclaimRestore(DRV, saved);
    allocUnderLock(d, GFP_KERNEL);
    circular(d);
  });

  it('scopes nest: inner restore keeps the outer scope', () => {
    const d = new Driver();
    const outer = d.ld.memallocNofsSave(0);
    const inner = d.ld.memallocNofsSave(0);
    d.ld.memallocNofsRestore(0, inner);
    expect(d.ld.currentGfpContext(0, GFP_KERNEL)).toBe(GFP_NOFS);
    d.ld.memallocNofsRestore(0, outer);
    expect(d.ld.currentGfpContext(0, GFP_KERNEL)).toBe(GFP_KERNEL);
    const io = d.ld.memallocNoioSave(0);
    expect(d.ld.currentGfpContext(0, GFP_KERNEL)).toBe(GFP_NOIO);
    d.ld.memallocNoioRestore(0, io);
    expect(d.ld.memallocFlags(0)).toBe(0);
  });
});

describe('registration-time priming (spec §12.3)', () => {
  it('records mmap_lock → fs_reclaim → notifier, so a callback taking mmap_lock is caught', () => {
    const d = new Driver();
    const mmap = d.lock('&mm->mmap_lock', 'sleep');
    d.ld.acquire(0, mmap, undefined, d.w(0, 'mmu_notifier_register', 'mmap_write_lock'));
    d.ld.primeNotifierRegistration(0, d.w(0, '__mmu_notifier_register'));
    d.ld.release(0, mmap, d.w(0, 'mmap_write_unlock'));
    expect(d.ld.reports).toEqual([]);
    const fsr = d.ld.classes.peek(FS_RECLAIM_MAP, 0);
    const ntf = d.ld.classes.peek(NOTIFIER, 0);
    expect(d.ld.graph.find(fsr, ntf)).toBeDefined();
    expect(d.ld.graph.find(d.ld.classes.peek(mmap, 0), fsr)).toBeDefined();
    // A notifier callback that takes the mmap lock for read: a real deadlock pattern.
    d.ld.lockMapAcquire(1, NOTIFIER, d.w(1, 'invalidate_range_start'));
    d.ld.acquire(1, mmap, { read: 1 }, d.w(1, 'bad_callback', 'mmap_read_lock'));
    expect(d.kinds()).toEqual(['lockdep-circular']);
  });
});
