/**
 * Sleep-context checks (spec §14): `might_sleep` in atomic context (spinning
 * lock held, preemption or irqs disabled) or inside a non-block section.
 * These reports never switch lockdep off; one report per call site per run.
 */
import type { LockdepCore } from './core.ts';
import type { TaskState } from './task-state.ts';
import { siteOf, type WhereArg } from './where.ts';

/** Reports if `t` may not sleep here; returns true if the context was invalid. */
export function mightSleep(ld: LockdepCore, t: TaskState, where: WhereArg): boolean {
  if (t.spinDepth === 0 && t.preempt === 0 && t.irqOff === 0 && t.nonBlock === 0 && t.hardirq === 0 && t.softirq === 0 && t.bhOff === 0) return false;
  const snap = ld.snap(t, where);
  const site = siteOf(snap);
  const spinLocks: string[] = [];
  if (ld.enabled) {
    for (let i = 0; i < t.depth; i++) {
      const m = t.maps[i]!;
      if (m.wait === 'spin') spinLocks.push(ld.classes.list[t.cls[i]!]!.name);
    }
  }
  const held = ld.enabled ? ld.heldLocks(t.id) : [];
  ld.emit({
    kind: 'sleep-in-atomic',
    title: 'BUG: sleeping function called from invalid context',
    place: site,
    where: snap,
    heldLocks: held,
    validationOff: null,
    site,
    inAtomic: t.spinDepth > 0 || t.preempt > 0 || t.hardirq > 0 || t.softirq > 0 || t.bhOff > 0,
    irqsDisabled: t.irqOff > 0 || t.hardirq > 0,
    nonBlock: t.nonBlock,
    preemptCount: t.spinDepth + t.preempt,
    spinLocks,
    heldTracked: ld.enabled,
  });
  return true;
}

/** `non_block_end`: decrements, warning on underflow (which leaves the count at 0). */
export function nonBlockEnd(ld: LockdepCore, t: TaskState, where: WhereArg): void {
  if (t.nonBlock > 0) {
    t.nonBlock--;
    return;
  }
  const snap = ld.snap(t, where);
  ld.emit({
    kind: 'non-block-imbalance',
    title: 'WARNING: non_block_end() without non_block_start()',
    place: siteOf(snap),
    where: snap,
    heldLocks: ld.enabled ? ld.heldLocks(t.id) : [],
    validationOff: null,
  });
}
