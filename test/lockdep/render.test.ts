/**
 * Kernel-shaped text (spec §15, §16).
 */
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP as NOTIFIER, renderReport } from '../../src/lockdep/index.ts';
import { Driver } from './helpers.ts';

function text(d: Driver, i = 0): string {
  return renderReport(d.ld.reports[i]!);
}

describe('renderReport', () => {
  it('circular, two locks: title, both stacks, scenario table in order', () => {
    const d = new Driver({}); // default: off for the rest of the run
    d.acq(0, 'A');
    d.ld.acquire(0, d.lock('B'), undefined, d.w(0, 'path_one', 'lock B'));
    d.rel(0, 'B');
    d.rel(0, 'A');
    d.acq(1, 'B');
    d.ld.acquire(1, d.lock('A'), undefined, d.w(1, 'path_two', 'lock A'));
    const s = text(d);
    const lines = s.split('\n');
    expect(lines[0]).toMatch(/^=+$/);
    expect(lines[1]).toBe('WARNING: possible circular locking dependency detected');
    expect(lines[3]).toMatch(/^-+$/);
    expect(s).toContain('T1/1 is trying to acquire lock:');
    expect(s).toContain('but task is already holding lock:');
    expect(s).toContain('which lock already depends on the new lock.');
    // #1: B, first taken while holding A (path_one); #0: A, taken now while holding B.
    expect(s).toMatch(/-> #1 \(B\)\{EN\}:\n.*holding A.*\n {7}lock B\n {7}path_one/);
    expect(s).toMatch(/-> #0 \(A\)\{EN\}:\n.*acquired now while holding B.*\n {7}lock A\n {7}path_two/);
    expect(s).not.toContain('Chain exists of:');
    // Both sides' stacks are shown.
    expect(s).toContain('path_one');
    expect(s).toContain('path_two');
    const scenario = s.slice(s.indexOf(' Possible unsafe locking scenario:'));
    expect(scenario).toMatch(/CPU0 +CPU1\n +---- +----\n  lock\(B\);\n {31}lock\(A\);\n {31}lock\(B\);\n  lock\(A\);\n\n \*\*\* DEADLOCK \*\*\*/);
    expect(s).toContain('note: first lockdep problem of run "run-1"');
  });

  it('circular through fake maps: chain line, notes, hint, allocation mask', () => {
    const d = new Driver();
    d.ld.lockMapAcquire(0, NOTIFIER, d.w(0, 'invalidate_range_start'));
    d.acq(0, 'D');
    d.rel(0, 'D');
    d.ld.lockMapRelease(0, NOTIFIER, d.w(0));
    d.acq(1, 'D');
    d.ld.mightAlloc(1, GFP_KERNEL, d.w(1, 'kmalloc'));
    const s = text(d);
    expect(s).toContain('Chain exists of:\n  mmu_notifier_invalidate_range_start --> D --> fs_reclaim');
    expect(s).toContain('note: fs_reclaim = memory reclaim');
    expect(s).toContain('note: mmu_notifier_invalidate_range_start = inside an MMU notifier invalidation callback');
    expect(s).toContain('hint: D is taken inside an MMU notifier invalidation');
    expect(s).toContain('(for an allocation with GFP_KERNEL)');
    expect(s).toContain('2 locks held by T1/1:');
    expect(s).toContain('note: first lockdep problem; lock validation is off until the validator is reset.');
  });

  it('shared acquisitions print as rlock in the scenario', () => {
    const d = new Driver();
    d.acq(0, 'A', 1);
    d.acq(0, 'B');
    d.rel(0, 'B');
    d.rel(0, 'A');
    d.acq(0, 'B');
    d.acq(0, 'A', 1);
    expect(text(d)).toMatch(/  lock\(B\);\n {31}rlock\(A\);\n {31}lock\(B\);\n  rlock\(A\);/);
  });

  it('recursive, bad unlock, held freed, held at exit, sleep', () => {
    const rec = new Driver();
    rec.acq(0, 'A');
    rec.acq(0, 'A');
    expect(text(rec)).toContain('WARNING: possible recursive locking detected');
    expect(text(rec)).toContain(' May be due to missing lock nesting notation');
    expect(text(rec)).toMatch(/CPU0\n +----\n  lock\(A\);\n  lock\(A\);/);

    const bad = new Driver();
    bad.ld.release(0, bad.lock('A'), bad.w(0, 'foo_unlock'));
    expect(text(bad)).toContain('WARNING: bad unlock balance detected!');
    expect(text(bad)).toContain('T0/0 is trying to release lock (A) at:\nfoo_unlock\nbut there are no more locks to release!');

    const freed = new Driver();
    freed.acq(0, 'A');
    freed.ld.freeMaps(0, freed.lock('A'), freed.w(0, 'kfree'));
    expect(text(freed)).toContain('WARNING: held lock freed!');

    const exit = new Driver();
    exit.acq(0, 'A');
    exit.ld.taskExit(0, exit.w(0, 'do_exit'));
    expect(text(exit)).toContain('WARNING: T0/0 still has locks held!');

    const sl = new Driver();
    sl.ld.nonBlockStart(0);
    sl.ld.mightSleep(0, sl.w(0, 'drv_cb', 'mutex_lock'));
    const s = text(sl);
    expect(s.split('\n')[0]).toBe('BUG: sleeping function called from invalid context at mutex_lock');
    expect(s).toContain('in_atomic(): 0, irqs_disabled(): 0, non_block: 1, pid: 0, name: T0');
    expect(s).not.toContain('note: first lockdep problem');
  });
});
