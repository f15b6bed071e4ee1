/**
 * Lockdep maps: the validator-facing handle the locking layer embeds in every
 * lock instance (spec §1, §2). Instance identity is object identity; the class
 * is derived from (key, subclass).
 */

/**
 * A class key. Strings are interned by value (every map initialised with the
 * same string shares a class, like one init call site); objects by identity.
 */
export type LockClassKey = string | object;

/**
 * What the lock does to its holder, for the sleep-context checks (§14):
 * `spin` = holding it makes the context atomic (spinlock, rwlock, raw lock);
 * `sleep` = a sleeping lock (mutex, rwsem); `none` = a fake map, no real lock.
 */
export type WaitType = 'spin' | 'sleep' | 'none';

/** Wait types (spec §11), ordered: a lock may only be taken where its outer type is <= the context's inner type. */
export const LD_WAIT_INV = 0;
/** Lock-free (RCU-like): may be taken anywhere. */
export const LD_WAIT_FREE = 1;
/** Spins with preemption and interrupts off even on PREEMPT_RT: raw_spinlock_t. */
export const LD_WAIT_SPIN = 2;
/** Spins, but sleeps on PREEMPT_RT: spinlock_t, rwlock_t (modelled with raw-lock nesting checks on). */
export const LD_WAIT_CONFIG = 3;
/** Sleeps: mutex, rw_semaphore. */
export const LD_WAIT_SLEEP = 4;
/** No restriction (process context). */
export const LD_WAIT_MAX = 5;

/** Options for a new map. */
export interface LockdepMapOptions {
  /** Class key; defaults to the name string (one class per distinct name). */
  key?: LockClassKey;
  /** Default subclass 0..7 used when an acquisition does not name one. */
  subclass?: number;
  /** Defaults to `none`. */
  wait?: WaitType;
  /** For fake maps: one line saying what "holding" this map means, printed in reports. */
  fakeNote?: string;
  /** Inner wait type (what may be taken inside); default from `wait`: sleep -> SLEEP, spin -> CONFIG, none -> INV (unchecked). */
  waitInner?: number;
  /** Outer wait type (where it may be taken); default: the inner type. */
  waitOuter?: number;
  /** A per-CPU local_lock (LD_LOCK_PERCPU): skipped by the irq-inversion searches. */
  percpu?: boolean;
}

/** Key whose maps are tracked on the held stack but never validated (spec §2.5). */
export const LOCKDEP_NO_VALIDATE: LockClassKey = Object.freeze({ lockdep: 'no-validate' });
/** Key whose maps are ignored by lockdep entirely (spec §2.5). */
export const LOCKDEP_NO_TRACK: LockClassKey = Object.freeze({ lockdep: 'no-track' });

/** Number of subclasses a key has; larger subclasses are a lockdep bug (§2.2). */
export const MAX_LOCKDEP_SUBCLASSES = 8;


/** A lockdep map: one per lock instance, or a bare fake lock. */
export class LockdepMap {
  /** Printed to tell two instances of a class apart; numbered per run by the class table. */
  id = 0;
  /** @internal Which run of which class table numbered `id`. */
  _idStamp = 0;
  /** Printable instance name (usually the lock expression, e.g. `&mm->mmap_lock`). */
  name: string;
  /** Class key (see {@link LockClassKey}). */
  key: LockClassKey;
  /** Default subclass. */
  subclass: number;
  /** Holder context effect (sleep checks). */
  wait: WaitType;
  /** Meaning of a fake map, for reports; undefined for real locks. */
  fakeNote: string | undefined;
  /** Inner wait type (LD_WAIT_*; 0 = not checked). */
  waitInner: number;
  /** Outer wait type (0 = same as inner). */
  waitOuter: number;
  /** A per-CPU local_lock. */
  percpu: boolean;
  /**
   * Class cache: the class id of (key, subclass) in the graph generation
   * `_gen`. Avoids a Map lookup per acquisition; any graph reset bumps the
   * generation so stale ids are never used.
   * @internal
   */
  _gen = 0;
  /** @internal */
  _cls = -1;

  constructor(name: string, opts: LockdepMapOptions = {}) {
    this.name = name;
    this.key = opts.key ?? name;
    this.subclass = opts.subclass ?? 0;
    this.wait = opts.wait ?? 'none';
    this.fakeNote = opts.fakeNote;
    this.waitInner = opts.waitInner ?? (this.wait === 'sleep' ? LD_WAIT_SLEEP : this.wait === 'spin' ? LD_WAIT_CONFIG : LD_WAIT_INV);
    this.waitOuter = opts.waitOuter ?? 0;
    this.percpu = opts.percpu ?? false;
  }
}

/** Re-keys a map (`lockdep_set_class[_and_name]`); the next acquisition uses the new class. */
export function lockdepSetClass(map: LockdepMap, key: LockClassKey, name?: string): void {
  map.key = key;
  if (name !== undefined) map.name = name;
  map._gen = 0;
}

/** Changes the default subclass, keeping name and key (`lockdep_set_subclass`). */
export function lockdepSetSubclass(map: LockdepMap, subclass: number): void {
  map.subclass = subclass;
  map._gen = 0;
}

/**
 * A fresh object key for one "init call site": all maps created with it share
 * one class even if their instance names differ.
 */
export function lockClassKey(label: string): LockClassKey {
  return { lockClassKey: label };
}
