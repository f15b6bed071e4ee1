/**
 * Interrupt context, as far as the model has it: `local_irq_save/restore`,
 * `local_irq_disable/enable`, and `irq_enter/irq_exit` around a hard interrupt handler's body.
 * Inside a handler (and with interrupts off) the context is atomic: a sleeping call is
 * "sleeping function called from invalid context", and `dma_fence_begin_signalling` annotates
 * nothing (it relies on that check instead, as in the kernel).
 *
 * The context is tracked even with lockdep off: it changes how rwlock readers wait.
 *
 * Lockdep tracks irq-safe / irq-unsafe usage from these (lockdep/irq-usage.ts).
 *
 * Not modelled yet (issue 15, visibly unfinished): handlers the explorer injects wherever the
 * interrupted task has interrupts enabled. A handler today is a device task that calls
 * irq_enter/irq_exit (or softirq_enter/exit) itself.
 */
import { currentKernel } from './kernel.js';

/** `local_irq_disable()`. */
export function local_irq_disable(): void {
  const k = currentKernel();
  k.lockdep.irqDisable(k.current.id);
}

/** `local_irq_enable()`. */
export function local_irq_enable(): void {
  const k = currentKernel();
  k.lockdep.irqEnable(k.current.id, k.validating ? k.where : undefined);
}

/** `local_irq_save()`: disables interrupts; returns the flags for `local_irq_restore`. */
export function local_irq_save(): number {
  local_irq_disable();
  return 1;
}

/** `local_irq_restore(flags)`. */
export function local_irq_restore(_flags: number): void {
  local_irq_enable();
}

/** `irq_enter()`: the running task now executes a hard interrupt handler. */
export function irq_enter(): void {
  const k = currentKernel();
  k.lockdep.hardirqEnter(k.current.id);
}

/** `irq_exit()`: the handler returns. */
export function irq_exit(): void {
  const k = currentKernel();
  k.lockdep.hardirqExit(k.current.id);
}

/** `in_hardirq()`. */
export function in_hardirq(): boolean {
  const k = currentKernel();
  return k.lockdep.inHardirq(k.current.id);
}

/** `in_atomic()`: a spinlock is held, preemption is off, or we are in a handler. */
export function in_atomic(): boolean {
  const k = currentKernel();
  return k.lockdep.inAtomic(k.current.id);
}

/** `local_bh_disable()`: softirqs off (atomic, like preemption off). */
export function local_bh_disable(): void {
  const k = currentKernel();
  k.lockdep.bhDisable(k.current.id);
}

/** `local_bh_enable()`. */
export function local_bh_enable(): void {
  const k = currentKernel();
  k.lockdep.bhEnable(k.current.id, k.validating ? k.where : undefined);
}

/** Enters softirq context: the running task now executes a softirq handler. */
export function softirq_enter(): void {
  const k = currentKernel();
  k.lockdep.softirqEnter(k.current.id);
}

/** Leaves softirq context. */
export function softirq_exit(): void {
  const k = currentKernel();
  k.lockdep.softirqExit(k.current.id);
}

/** `in_interrupt()`: in a hard or soft irq handler. */
export function in_interrupt(): boolean {
  const k = currentKernel();
  return k.lockdep.inInterrupt(k.current.id);
}
