/**
 * IRQ usage states (spec §10): which lock classes are taken inside interrupt handlers
 * ("irq-safe": USED_IN_*) and which are taken with that interrupt enabled ("irq-unsafe":
 * ENABLED_*), per interrupt kind (hard, soft) and per mode (write, read). A deadlock needs a CPU
 * holding a lock with the interrupt enabled while its handler wants it, directly or through a
 * chain of dependencies. Three reports, as in the kernel:
 *
 * - "inconsistent lock state": one class both used in an interrupt and taken with it enabled
 *   (read and read only conflict through the dependency search below, not here);
 * - "possible irq lock inversion dependency detected": a class gains a usage bit that conflicts
 *   with a class it already depends on (or that depends on it);
 * - "<X>-safe -> <X>-unsafe lock order detected": a new dependency links an irq-safe class,
 *   backwards, to an irq-unsafe one, forwards.
 *
 * Searches follow strong paths only (spec §8), with the kernel's rule for readers: where the path
 * so far ends in a recursive reader (forwards) or starts from a reader (backwards), only the
 * write usage bits count. Per-CPU local_lock classes are skipped: they cannot be on an
 * interrupt-inversion path.
 */
import type { LockdepCore } from './core.ts';
import type { LockdepMap } from './map.ts';
import { heldDesc, heldList, mapDesc } from './reports.ts';
import { HELD_CHECK, type TaskState } from './task-state.ts';
import type { WhereArg } from './where.ts';

/** Usage bits: (state << 2) | (enabled ? 2 : 0) | (read ? 1 : 0); state 0 = hardirq, 1 = softirq. */
export const USED_IN_HARDIRQ = 0;
export const USED_IN_HARDIRQ_READ = 1;
export const ENABLED_HARDIRQ = 2;
export const ENABLED_HARDIRQ_READ = 3;
export const USED_IN_SOFTIRQ = 4;
export const USED_IN_SOFTIRQ_READ = 5;
export const ENABLED_SOFTIRQ = 6;
export const ENABLED_SOFTIRQ_READ = 7;
/** The class was used at all. */
export const LOCK_USED = 8;

const READ = 1;
const DIR = 2;
/** Write-mode bits of every state and direction. */
const LOCKF_IRQ = 0x55;
const LOCKF_USED_IN_IRQ_ALL = 0x33;
const LOCKF_ENABLED_IRQ_ALL = 0xcc;

const S_KINDS = 1 | 4; // SR | SN
const R_KINDS = 1 | 2; // SR | ER
const N_KINDS = 4 | 8; // SN | EN
const E_KINDS = 2 | 8; // ER | EN

const USAGE_STR = ['IN-HARDIRQ-W', 'IN-HARDIRQ-R', 'HARDIRQ-ON-W', 'HARDIRQ-ON-R', 'IN-SOFTIRQ-W', 'IN-SOFTIRQ-R', 'SOFTIRQ-ON-W', 'SOFTIRQ-ON-R'];
const STATE = ['HARDIRQ', 'SOFTIRQ'];

/** The opposite-direction, write-mode bit of `bit`. */
function exclusiveBit(bit: number): number {
  return (bit & ~(READ | DIR)) | ((bit & DIR) ^ DIR);
}

/** For each bit, the conflicting bits of the other direction (write and read). */
function exclusiveMask(mask: number): number {
  let out = 0;
  for (let b = 0; b < 8; b++) if (mask & (1 << b)) out |= (1 << exclusiveBit(b)) | (1 << (exclusiveBit(b) | READ));
  return out;
}

/** The bits whose exclusive mask contains `mask`'s bits (the inverse of exclusiveMask). */
function originalMask(mask: number): number {
  return exclusiveMask(mask);
}

/** Per-graph usage state of every class. */
export class IrqUsage {
  /** Usage bits per class id (grown on demand; read through `usage`). */
  bits = new Int32Array(64);
  /** Per-CPU local_lock classes, skipped by the usage searches. */
  readonly percpu: boolean[] = [];
  private stamp = new Int32Array(64);
  private queue = new Int32Array(64);
  private gen = 0;

  clear(): void {
    this.bits.fill(0);
    this.percpu.length = 0;
  }

  /** Usage bits of class `cls` (0 if never marked). */
  usage(cls: number): number {
    return cls < this.bits.length ? this.bits[cls]! : 0;
  }

  /** Sets bits on class `cls`. */
  set(cls: number, bits: number): void {
    if (cls >= this.bits.length) {
      let n = this.bits.length;
      while (n <= cls) n *= 2;
      const b = new Int32Array(n);
      b.set(this.bits);
      this.bits = b;
    }
    this.bits[cls] = this.bits[cls]! | bits;
  }

  /**
   * Strong-path BFS over (class, onlyXr) states from `src`, forwards (along `after`) or
   * backwards (along `before`). With `accumulate` it ORs the usage it may count into the
   * result; otherwise it returns the first class whose countable usage meets `mask`, or -1.
   */
  search(ld: LockdepCore, src: number, srcOnlyXr: boolean, mask: number, forwards: boolean, accumulate: boolean): number {
    const n = ld.classes.list.length;
    if (this.stamp.length < n * 2) {
      let m = this.stamp.length;
      while (m < n * 2) m *= 2;
      this.stamp = new Int32Array(m);
      this.queue = new Int32Array(m);
    }
    const gen = ++this.gen;
    let acc = 0;
    let head = 0;
    let tail = 0;
    const start = src * 2 + (srcOnlyXr ? 1 : 0);
    this.stamp[start] = gen;
    this.queue[tail++] = start;
    while (head < tail) {
      const s = this.queue[head++]!;
      const cls = s >> 1;
      const onlyXr = (s & 1) === 1;
      if (this.percpu[cls] === true) continue;
      const u = this.usage(cls) & (onlyXr ? LOCKF_IRQ : 0xff);
      if (accumulate) acc |= u;
      else if (u & mask) return cls;
      const edges = forwards ? ld.graph.after[cls] : ld.graph.before[cls];
      if (edges === undefined) continue;
      for (let i = 0; i < edges.length; i++) {
        const e = edges[i]!;
        let k = e.kinds;
        // Forwards: after a recursive-read end, no reader-started edge; backwards: before a
        // reader start, no edge that ends in a recursive read.
        if (onlyXr) k &= forwards ? ~S_KINDS : ~R_KINDS;
        if (k === 0) continue;
        const nextOnly = forwards ? (k & N_KINDS) === 0 : (k & E_KINDS) === 0;
        const next = (forwards ? e.to : e.from) * 2 + (nextOnly ? 1 : 0);
        if (this.stamp[next] === gen) continue;
        this.stamp[next] = gen;
        this.queue[tail++] = next;
      }
    }
    return accumulate ? acc : -1;
  }
}

/** The bits an acquisition marks now (mark_usage), given the task's context. */
export function usageBits(t: TaskState, read: number, trylock: boolean): number {
  let m = 1 << LOCK_USED;
  const r = read !== 0 ? READ : 0;
  if (!trylock) {
    if (t.hardirq > 0) m |= 1 << (USED_IN_HARDIRQ | r);
    if (t.softirq > 0) m |= 1 << (USED_IN_SOFTIRQ | r);
  }
  if (t.irqOff === 0 && t.hardirq === 0) {
    m |= 1 << (ENABLED_HARDIRQ | r);
    if (softirqsEnabled(t)) m |= 1 << (ENABLED_SOFTIRQ | r);
  }
  return m;
}

/** Softirqs may run on this task now. */
export function softirqsEnabled(t: TaskState): boolean {
  return t.bhOff === 0 && t.softirq === 0;
}

/**
 * Marks `bits` on class `cls` (acquired by `t` in mode `read` as `map`); new irq bits are checked.
 * Returns false if a report was made.
 */
export function markUsage(ld: LockdepCore, t: TaskState, map: LockdepMap, cls: number, read: number, bits: number, where: WhereArg, step: number): boolean {
  const u = ld.irq;
  if ((u.usage(cls) & bits) === bits) return true;
  if (map.percpu) u.percpu[cls] = true;
  for (let b = 0; b < 8; b++) {
    if ((bits & (1 << b)) === 0 || (u.usage(cls) & (1 << b)) !== 0) continue;
    u.set(cls, 1 << b);
    if (!markLockIrq(ld, t, map, cls, read, b, where, step)) return false;
  }
  u.set(cls, bits);
  return true;
}

function markLockIrq(ld: LockdepCore, t: TaskState, map: LockdepMap, cls: number, read: number, bit: number, where: WhereArg, step: number): boolean {
  const excl = exclusiveBit(bit);
  const have = ld.irq.usage(cls);
  if (have & (1 << excl)) return usageBug(ld, t, map, cls, read, excl, bit, where, step);
  if ((bit & READ) === 0 && have & (1 << (excl | READ))) return usageBug(ld, t, map, cls, read, excl | READ, bit, where, step);
  const mask = (1 << excl) | (1 << (excl | READ));
  const enabled = (bit & DIR) !== 0;
  // ENABLED looks back for a class used in the interrupt; USED_IN looks forward for one taken with it enabled.
  const other = enabled ? ld.irq.search(ld, cls, read !== 0, mask, false, false) : ld.irq.search(ld, cls, read === 2, mask, true, false);
  if (other < 0) return true;
  const otherBits = ld.irq.usage(other);
  const snap = ld.snap(t, where);
  const trying = mapDesc(ld.classes, map, cls, read, step);
  const otherName = ld.classes.list[other]!.name;
  ld.emit({
    kind: 'lockdep-irq-inversion',
    title: 'WARNING: possible irq lock inversion dependency detected',
    place: [trying.className, otherName].sort().join(' | '),
    where: snap,
    heldLocks: heldList(ld.classes, t),
    validationOff: ld.offMode(),
    trying,
    message: enabled
      ? `${trying.className} just became {${USAGE_STR[bit]}}, but ${otherName} {${usageNames(otherBits & mask).join(',')}} takes it (directly or through other locks): ` +
        `an interrupt wanting ${otherName} can arrive while ${trying.className} is held with that interrupt enabled`
      : `${trying.className} just became {${USAGE_STR[bit]}}, but it takes ${otherName} (directly or through other locks), which is {${usageNames(otherBits & mask).join(',')}}: ` +
        `the interrupt that takes ${trying.className} can arrive while ${otherName} is held with it enabled`,
    irqClass: STATE[bit >> 2]!,
  });
  return false;
}

function usageNames(mask: number): string[] {
  const out: string[] = [];
  for (let b = 0; b < 8; b++) if (mask & (1 << b)) out.push(USAGE_STR[b]!);
  return out;
}

function usageBug(ld: LockdepCore, t: TaskState, map: LockdepMap, cls: number, read: number, prevBit: number, newBit: number, where: WhereArg, step: number): boolean {
  const snap = ld.snap(t, where);
  const trying = mapDesc(ld.classes, map, cls, read, step);
  ld.emit({
    kind: 'lockdep-inconsistent',
    title: 'WARNING: inconsistent lock state',
    place: trying.className,
    where: snap,
    heldLocks: heldList(ld.classes, t),
    validationOff: ld.offMode(),
    trying,
    message: `inconsistent {${USAGE_STR[prevBit]}} -> {${USAGE_STR[newBit]}} usage: ${trying.className} is taken both inside the ${STATE[newBit >> 2]!.toLowerCase()} handler and with that interrupt enabled`,
    irqClass: STATE[newBit >> 2]!,
  });
  return false;
}

/**
 * `check_irq_usage` for a new dependency held[i] -> (cls, read): an irq-safe class reaching
 * `prev` backwards must not meet an irq-unsafe class reaching forwards from the new lock.
 * Returns false if a report was made.
 */
export function checkIrqUsage(ld: LockdepCore, t: TaskState, i: number, map: LockdepMap, cls: number, read: number, where: WhereArg, step: number): boolean {
  const u = ld.irq;
  const prev = t.cls[i]!;
  const prevRead = t.read[i]!;
  const used = u.search(ld, prev, prevRead !== 0, 0, false, true) & LOCKF_USED_IN_IRQ_ALL;
  if (used === 0) return true;
  const unsafe = u.search(ld, cls, read === 2, exclusiveMask(used), true, false);
  if (unsafe < 0) return true;
  const safe = u.search(ld, prev, prevRead !== 0, originalMask(u.usage(unsafe) & LOCKF_ENABLED_IRQ_ALL), false, false);
  if (safe < 0) return true;
  const safeBits = u.usage(safe) & used;
  const state = STATE[(safeBits & 0x0f) !== 0 ? 0 : 1]!;
  const snap = ld.snap(t, where);
  const trying = mapDesc(ld.classes, map, cls, read, step);
  const holding = heldDesc(ld.classes, t, i);
  const safeName = ld.classes.list[safe]!.name;
  const unsafeName = ld.classes.list[unsafe]!.name;
  ld.emit({
    kind: 'lockdep-irq-safe-unsafe',
    title: `WARNING: ${state}-safe -> ${state}-unsafe lock order detected`,
    place: `${safeName} -> ${unsafeName}`,
    where: snap,
    heldLocks: heldList(ld.classes, t),
    validationOff: ld.offMode(),
    trying,
    message:
      `${t.name} is trying to acquire ${trying.className} while holding ${holding.className}: ${safeName} {${usageNames(u.usage(safe) & LOCKF_USED_IN_IRQ_ALL).join(',')}} ` +
      `leads to ${holding.className} -> ${trying.className}, which leads to ${unsafeName} {${usageNames(u.usage(unsafe) & LOCKF_ENABLED_IRQ_ALL).join(',')}}: ` +
      `an interrupt wanting ${safeName} can arrive while ${unsafeName} is held with it enabled`,
    irqClass: state,
  });
  return false;
}

/** Marks every validated held lock with `base` (ENABLED_HARDIRQ or ENABLED_SOFTIRQ) when the interrupt is re-enabled. */
export function markHeldLocks(ld: LockdepCore, t: TaskState, base: number, where: WhereArg): void {
  for (let i = 0; i < t.depth && ld.enabled; i++) {
    if ((t.flags[i]! & HELD_CHECK) === 0) continue;
    const bit = base | (t.read[i] !== 0 ? READ : 0);
    if (!markUsage(ld, t, t.maps[i]!, t.cls[i]!, t.read[i]!, 1 << bit, where, t.step[i]!)) return;
  }
}
