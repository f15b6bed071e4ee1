/**
 * Sleep-context annotations: `might_sleep`, `non_block_start`/`non_block_end`,
 * `preempt_disable`/`preempt_enable`, `rcu_read_lock`/`rcu_read_unlock`. Sleeping where it is not
 * allowed is reported by lockdep as "BUG: sleeping function called from invalid context".
 */
import { currentKernel } from './kernel.js';

/** `might_sleep()`: reports if the running task may not sleep here. */
export function might_sleep(): void {
  const k = currentKernel();
  k.mightSleep(k.current.id, 'might_sleep()');
}

/** `non_block_start()`: from here until non_block_end, sleeping is a bug. */
export function non_block_start(): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.nonBlockStart(k.current.id);
}

/** `non_block_end()`. */
export function non_block_end(): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.nonBlockEnd(k.current.id, k.where);
}

/** `preempt_disable()`. */
export function preempt_disable(): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.preemptDisable(k.current.id);
}

/** `preempt_enable()`. */
export function preempt_enable(): void {
  const k = currentKernel();
  if (k.validating) k.lockdep.preemptEnable(k.current.id);
}

/** `rcu_read_lock()`: an RCU read section may not sleep (modelled as preemption off). */
export function rcu_read_lock(): void {
  preempt_disable();
}

/** `rcu_read_unlock()`. */
export function rcu_read_unlock(): void {
  preempt_enable();
}
