/**
 * What the notifier layer needs of an mm: a name, the user counts, the mmap_lock, the notifier
 * state, and (for the coherence oracle) a view of what the CPU maps. The full address space of
 * `mm/` is such an mm; scenarios that drive invalidations by hand use `mm_alloc`.
 */
import { mmapLockInit } from '../locking/mmap-lock.js';
import type { RwSemaphore } from '../locking/rwsem.js';
import type { World } from '../sim/world.js';
import type { MmuNotifierSubscriptions } from './subscriptions.js';

/** The CPU's mapping of one page, as the coherence oracle compares it with a device's. */
export interface CpuMapping {
  readonly pfn: number;
  readonly write: boolean;
}

/**
 * Answers "what does the CPU map at this address right now?" (null: nothing). Callers read it
 * from steps whose point names something else, so an implementation calls
 * `world.touchUndeclared()` (the explorer must not take such a step for independent).
 */
export interface CpuView {
  lookup(addr: number): CpuMapping | null;
  /**
   * True while the CPU entry at `addr` is in flux (a migration entry: the page is locked and the
   * entry will be replaced, which reports the change again). A device mapping is not judged then.
   */
  inFlux?(addr: number): boolean;
}

/** The notifier layer's view of an mm_struct. */
export interface MmStruct {
  readonly name: string;
  readonly world: World;
  readonly mmap_lock: RwSemaphore;
  /** Users of the address space (mmget/mmput). 0 once exit has started. */
  mm_users: number;
  /** Users of the structure itself (mmgrab/mmdrop). */
  mm_count: number;
  /** Created by the first registration; null before. */
  notifier_subscriptions: MmuNotifierSubscriptions | null;
  /** What the CPU maps, for the coherence oracle; null when nothing models the CPU side. */
  cpuView: CpuView | null;
}

/** A bare mm for scenarios that call the notifier API directly. */
export function mm_alloc(world: World, name = 'mm'): MmStruct {
  return { name, world, mmap_lock: mmapLockInit(world, name), mm_users: 1, mm_count: 1, notifier_subscriptions: null, cpuView: null };
}
