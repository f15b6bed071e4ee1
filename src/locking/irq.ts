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
 * Hard interrupts: `request_irq` names the handler and the task whose CPU it interrupts;
 * `raise_irq` (from a device task) makes it pending. The handler then runs as a task of its own,
 * at whatever point the explorer chooses while that task has interrupts enabled (or at once if
 * the CPU is idle: the task sleeps or has finished); the interrupted task is suspended until the
 * handler returns, and lockdep sees the handler's locks on its CPU's held stack, in hardirq
 * context. A handler spinning on a lock its CPU holds is then a real deadlock as well as a
 * lockdep report.
 *
 * Not modelled: softirqs raised from handlers (a softirq body is a task calling softirq_enter/exit
 * itself), nested interrupts (handlers run with interrupts off), threaded handlers.
 */
import { Access, type SimObject } from '../sim/point.js';
import { resumeTask, suspendTask } from '../sim/suspend.js';
import { TaskState, type Task } from '../sim/task.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { currentKernel, kernelOf } from './kernel.js';

/** `local_irq_disable()`. */
export function local_irq_disable(): void {
  const k = currentKernel();
  k.lockdep.irqDisable(k.current.id);
}

/** `local_irq_enable()`. */
export function local_irq_enable(): void {
  const k = currentKernel();
  const id = k.current.id;
  k.lockdep.irqEnable(id, k.validating ? k.where : undefined);
  // A pending interrupt for this CPU is delivered now.
  const q = pendingQueues(k.world).get(id);
  if (q !== undefined && q.waiters.length > 0 && k.lockdep.irqsEnabled(id)) q.wakeAll();
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

/** A hard interrupt line: its handler and the task whose CPU it interrupts. */
export class IrqLine implements SimObject {
  constructor(
    readonly world: World,
    readonly name: string,
    readonly handler: (line: IrqLine) => Generator<unknown, void, unknown>,
    /** Name of the task whose CPU the interrupt is delivered to. */
    readonly cpu: string,
  ) {}
  /** Interrupts delivered so far. */
  delivered = 0;
}

const PENDING_KEY = 'irq.pending';

/** Per task id: where interrupts wait for that CPU to enable interrupts. */
function pendingQueues(world: World): Map<number, WaitQueue> {
  let m = world.locals.get(PENDING_KEY) as Map<number, WaitQueue> | undefined;
  if (m === undefined) {
    m = new Map();
    world.locals.set(PENDING_KEY, m);
  }
  return m;
}

function pendingQueue(world: World, t: Task): WaitQueue {
  const m = pendingQueues(world);
  let q = m.get(t.id);
  if (q === undefined) {
    q = world.waitQueue(`interrupts off on ${t.name}`);
    q.holder = () => t.name;
    m.set(t.id, q);
  }
  return q;
}

/** `request_irq`: a line whose `handler` interrupts the CPU of task `cpu`. */
export function request_irq(world: World, name: string, handler: (line: IrqLine) => Generator<unknown, void, unknown>, cpu: string): IrqLine {
  return new IrqLine(world, name, handler, cpu);
}

/** The device raises the interrupt: its handler will run on the line's CPU (see the protocol above). */
export function* raise_irq(line: IrqLine): Generator<unknown, void, unknown> {
  const w = line.world;
  yield w.point(`raise irq ${line.name}`, line, Access.Write);
  w.spawn(`irq ${line.name}`, deliver(line));
}

function* deliver(line: IrqLine): Generator<unknown, void, unknown> {
  const w = line.world;
  yield w.point(`irq ${line.name} arrives`, line, Access.Write);
  // Reading the interrupted task's state reaches past this step's point.
  w.touchUndeclared();
  const k = kernelOf(w);
  const me = k.current;
  let victim: Task | null = null;
  for (;;) {
    const v = w.tasks.find((t) => t.name === line.cpu && t !== me);
    if (v === undefined || v.state !== TaskState.Runnable) break; // the CPU is idle or asleep
    if (k.lockdep.irqsEnabled(v.id)) {
      victim = v;
      break;
    }
    yield pendingQueue(w, v).block();
  }
  const q = victim === null ? null : w.waitQueue(`interrupted by irq ${line.name}`, line);
  const at = victim === null || q === null ? null : suspendTask(w, victim, q);
  if (q !== null) q.holder = () => me.name;
  if (victim !== null && at !== null) k.lockdep.alias(me.id, victim.id);
  k.lockdep.irqDisable(me.id);
  k.lockdep.hardirqEnter(me.id, true);
  line.delivered++;
  try {
    yield* line.handler(line);
  } finally {
    k.lockdep.hardirqExit(me.id);
    k.lockdep.irqEnable(me.id);
    if (victim !== null && at !== null && q !== null) {
      k.lockdep.unalias(me.id);
      resumeTask(w, victim, q, at);
    }
  }
}
