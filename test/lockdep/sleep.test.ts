/**
 * Sleep-context checks (spec §14).
 */
import { describe, expect, it } from 'vitest';
import { GFP_ATOMIC, GFP_KERNEL, type SleepReport } from '../../src/lockdep/index.ts';
import { Driver } from './helpers.ts';

/** What the locking layer's mutex_lock does: might_sleep, then acquire. */
function mutexLock(d: Driver, task: number, name: string, site: string): void {
  d.ld.mightSleep(task, d.w(task, site, 'mutex_lock'));
  d.ld.acquire(task, d.lock(name, 'sleep'), undefined, d.w(task, site, 'mutex_lock'));
}

describe('might_sleep', () => {
  it('a mutex taken inside a non_block section → sleep-in-atomic; outside → none', () => {
    const d = new Driver();
    d.ld.nonBlockStart(0);
    mutexLock(d, 0, '&drv->mutex', 'drv_invalidate_nonblock');
    d.ld.nonBlockEnd(0, d.w());
    expect(d.kinds()).toEqual(['sleep-in-atomic']);
    const r = d.ld.reports[0] as SleepReport;
    expect(r.nonBlock).toBe(1);
    expect(r.inAtomic).toBe(false);
    expect(r.site).toBe('mutex_lock');
    // Sleep reports do not switch lockdep off.
    expect(d.ld.enabled).toBe(true);

    const ok = new Driver();
    mutexLock(ok, 0, '&drv->mutex', 'drv_invalidate');
    expect(ok.ld.reports).toEqual([]);
  });

  it('a spinning lock held makes the context atomic until released', () => {
    const d = new Driver();
    d.acq(0, '&drv->spin');
    expect(d.ld.mightSleep(0, d.w(0, 'site-1'))).toBe(true);
    d.rel(0, '&drv->spin');
    expect(d.ld.mightSleep(0, d.w(0, 'site-2'))).toBe(false);
    const r = d.ld.reports[0] as SleepReport;
    expect(r.inAtomic).toBe(true);
    expect(r.spinLocks).toEqual(['&drv->spin']);
    expect(d.ld.reports).toHaveLength(1);
  });

  it('sleeping locks and fake maps do not make the context atomic', () => {
    const d = new Driver();
    d.ld.acquire(0, d.lock('m', 'sleep'), undefined, d.w());
    d.ld.acquire(0, d.lock('fake', 'none'), undefined, d.w());
    expect(d.ld.mightSleep(0, d.w())).toBe(false);
  });

  it('preempt_disable and irq-disable count; one report per call site per run', () => {
    const d = new Driver();
    d.ld.preemptDisable(0);
    d.ld.mightSleep(0, d.w(0, 'a'));
    d.ld.mightSleep(0, d.w(0, 'a'));
    d.ld.preemptEnable(0);
    d.ld.irqDisable(0);
    d.ld.mightSleep(0, d.w(0, 'b'));
    d.ld.irqEnable(0);
    d.ld.mightSleep(0, d.w(0, 'c'));
    expect(d.ld.reports.map((r) => r.place)).toEqual(['a', 'b']);
    expect((d.ld.reports[1] as SleepReport).irqsDisabled).toBe(true);
  });

  it('still works after lockdep switched off (spin accounting is independent)', () => {
    const d = new Driver();
    d.rel(0, 'never-held');
    expect(d.ld.enabled).toBe(false);
    d.acq(0, 'spin');
    d.ld.mightSleep(0, d.w(0, 'x'));
    const r = d.ld.reports.at(-1) as SleepReport;
    expect(r.kind).toBe('sleep-in-atomic');
    expect(r.heldTracked).toBe(false);
  });

  it('might_alloc: GFP_KERNEL under a spinlock sleeps, GFP_ATOMIC does not', () => {
    const d = new Driver();
    d.acq(0, 'spin');
    d.ld.mightAlloc(0, GFP_ATOMIC, d.w(0, 'kmalloc-atomic'));
    expect(d.ld.reports).toEqual([]);
    d.ld.mightAlloc(0, GFP_KERNEL, d.w(0, 'kmalloc'));
    expect(d.kinds()).toEqual(['sleep-in-atomic']);
  });

  it('per-task: another task is not affected', () => {
    const d = new Driver();
    d.ld.nonBlockStart(0);
    expect(d.ld.mightSleep(1, d.w(1))).toBe(false);
  });

  it('non_block_end without start → non-block-imbalance warning', () => {
    const d = new Driver();
    d.ld.nonBlockEnd(0, d.w(0, 'oops'));
    expect(d.kinds()).toEqual(['non-block-imbalance']);
    expect(d.ld.enabled).toBe(true);
  });
});
