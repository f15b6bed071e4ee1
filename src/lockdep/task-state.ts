/**
 * Per-task, per-run state (spec §3, §12.2, §14): the held-lock stack, kept as
 * parallel typed arrays so pushing and popping never allocates, plus the
 * sleep-context counters and memalloc scope flags.
 */
import { CHAIN_KEY_INIT } from './chain-cache.ts';
import type { LockdepMap } from './map.ts';

/** Maximum held-lock depth per task (the kernel's MAX_LOCK_DEPTH). */
export const MAX_LOCK_DEPTH = 48;

/** Held-entry flag: acquired by a trylock. */
export const HELD_TRYLOCK = 1;
/** Held-entry flag: validated (check = 1). */
export const HELD_CHECK = 2;

/** Irq contexts of held entries. */
export const IRQ_CTX_PROCESS = 0;
export const IRQ_CTX_SOFTIRQ = 1;
export const IRQ_CTX_HARDIRQ = 2;

/** memalloc scope flag: the task is reclaim itself (PF_MEMALLOC). */
export const PF_MEMALLOC = 1;
/** memalloc scope flag: allocations behave as if without __GFP_FS. */
export const PF_MEMALLOC_NOFS = 2;
/** memalloc scope flag: allocations behave as if without __GFP_IO and __GFP_FS. */
export const PF_MEMALLOC_NOIO = 4;

/** One task's state inside one run. */
export class TaskState {
  /** Task id given by the caller. */
  readonly id: number;
  /** Run generation this state belongs to; stale states are reset lazily. */
  runGen = -1;
  /** Last display name seen for this task. */
  name = '';
  /** Number of held entries. */
  depth = 0;
  /** Chain key of the whole held stack. */
  chainKey = CHAIN_KEY_INIT;
  /** Class id per held entry. */
  readonly cls = new Int32Array(MAX_LOCK_DEPTH);
  /** Chain ids (class + mode bits) of the entries, compared by the chain cache. */
  readonly hid = new Int32Array(MAX_LOCK_DEPTH);
  /** Read mode per held entry (0, 1, 2). */
  readonly read = new Uint8Array(MAX_LOCK_DEPTH);
  /** HELD_* flags per held entry. */
  readonly flags = new Uint8Array(MAX_LOCK_DEPTH);
  /** Merged same-class acquisitions under a nest lock (0 = not merged). */
  readonly refs = new Int32Array(MAX_LOCK_DEPTH);
  /** Chain key before this entry, to rebuild the key on release. */
  readonly prevKey = new Int32Array(MAX_LOCK_DEPTH);
  /** Step of the acquisition, -1 if unknown (the caller passed a thunk). */
  readonly step = new Float64Array(MAX_LOCK_DEPTH);
  /** Instance per held entry (null above `depth`, so freed maps are not retained). */
  readonly maps: (LockdepMap | null)[] = new Array<LockdepMap | null>(MAX_LOCK_DEPTH).fill(null);
  /** Nest lock per held entry. */
  readonly nest: (LockdepMap | null)[] = new Array<LockdepMap | null>(MAX_LOCK_DEPTH).fill(null);

  /** Spinning locks held (tracked even when lockdep is off, like preempt_count). */
  spinDepth = 0;
  /** Explicit preempt_disable depth (also used for rcu_read_lock under preemptible RCU). */
  preempt = 0;
  /** local_irq_disable depth. */
  irqOff = 0;
  /** non_block_start depth. */
  nonBlock = 0;
  /** Hard interrupt handler nesting (irq_enter .. irq_exit): atomic, irqs off. */
  hardirq = 0;
  /** The hard irq handler may be force-threaded (an ordinary request_irq handler): CONFIG, not SPIN, wait context. */
  hardirqThreaded = true;
  /** Softirq handler nesting (softirq context). */
  softirq = 0;
  /** local_bh_disable depth (softirqs off). */
  bhOff = 0;
  /** Irq context per held entry (IRQ_CTX_*): dependencies never cross a context boundary. */
  readonly ictx = new Uint8Array(MAX_LOCK_DEPTH);
  /** PF_MEMALLOC* scope flags. */
  memalloc = 0;
  /** GFP mask of the allocation being annotated right now, or -1. */
  allocGfp = -1;

  constructor(id: number) {
    this.id = id;
  }

  /** Clears everything for a new run (no allocation). */
  reset(runGen: number): void {
    for (let i = 0; i < this.depth; i++) {
      this.maps[i] = null;
      this.nest[i] = null;
    }
    this.runGen = runGen;
    this.depth = 0;
    this.chainKey = CHAIN_KEY_INIT;
    this.spinDepth = 0;
    this.preempt = 0;
    this.irqOff = 0;
    this.nonBlock = 0;
    this.hardirq = 0;
    this.softirq = 0;
    this.hardirqThreaded = true;
    this.bhOff = 0;
    this.memalloc = 0;
    this.allocGfp = -1;
  }

  /** The irq context the task runs in now (IRQ_CTX_*). */
  irqContext(): number {
    return this.hardirq > 0 ? IRQ_CTX_HARDIRQ : this.softirq > 0 ? IRQ_CTX_SOFTIRQ : IRQ_CTX_PROCESS;
  }

  /** Index of the entry for `map` from the top down, by instance only; -1 if absent. */
  indexOfInstance(map: LockdepMap): number {
    for (let i = this.depth - 1; i >= 0; i--) if (this.maps[i] === map) return i;
    return -1;
  }
}
