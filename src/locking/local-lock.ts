/**
 * local_lock_t: a per-CPU lock. On a non-RT kernel it only disables preemption (or interrupts,
 * for the _irq forms) on the local CPU; lockdep still tracks it as a lock, of the per-CPU kind
 * (wait type CONFIG), which the irq-inversion searches skip: a local lock cannot be on an
 * interrupt-inversion path (see lockdep/irq-usage.ts).
 */
import { LD_WAIT_CONFIG, LockdepMap } from '../lockdep/map.js';
import { currentKernel } from './kernel.js';
import { local_irq_restore, local_irq_save } from './irq.js';

/** A local_lock_t. */
export class LocalLock {
  readonly dep: LockdepMap;

  constructor(readonly name: string, key: string = name) {
    this.dep = new LockdepMap(name, { key, wait: 'spin', waitInner: LD_WAIT_CONFIG, percpu: true });
  }
}

/** `local_lock(l)`: preemption off, lockdep acquire. Not a scheduling point: nothing is shared. */
export function local_lock(l: LocalLock): void {
  const k = currentKernel();
  if (!k.validating) return;
  k.lockdep.preemptDisable(k.current.id);
  k.lockdep.lockAcquire(k.current.id, l.dep, 0, false, 0, true, null, k.where);
}

/** `local_unlock(l)`. */
export function local_unlock(l: LocalLock): void {
  const k = currentKernel();
  if (!k.validating) return;
  k.lockdep.release(k.current.id, l.dep, k.where);
  k.lockdep.preemptEnable(k.current.id);
}

/** `local_lock_irqsave(l)`: returns the flags for local_unlock_irqrestore. */
export function local_lock_irqsave(l: LocalLock): number {
  const flags = local_irq_save();
  local_lock(l);
  return flags;
}

/** `local_unlock_irqrestore(l, flags)`. */
export function local_unlock_irqrestore(l: LocalLock, flags: number): void {
  local_unlock(l);
  local_irq_restore(flags);
}
