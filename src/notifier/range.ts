/**
 * `struct mmu_notifier_range`: what an invalidation covers and why. Half-open [start, end); may
 * be larger than what actually changes.
 */
import { MMU_NOTIFIER_RANGE_BLOCKABLE, MMU_NOTIFY_NAMES } from './events.js';
import type { MmStruct } from './mm.js';

/** One invalidation's range. Create it, then fill it with mmu_notifier_range_init. */
export class MmuNotifierRange {
  mm: MmStruct | null = null;
  start = 0;
  end = 0;
  flags = 0;
  event = 0;
  /** Opaque token (pgmap owner, exclusive owner), null unless set with the _owner form. */
  owner: unknown = null;

  toString(): string {
    return `[${hex(this.start)}, ${hex(this.end)}) ${MMU_NOTIFY_NAMES[this.event] ?? this.event}${this.flags & MMU_NOTIFIER_RANGE_BLOCKABLE ? '' : ' non-blockable'}`;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** `mmu_notifier_range_init(range, event, flags, mm, start, end)`. */
export function mmu_notifier_range_init(range: MmuNotifierRange, event: number, flags: number, mm: MmStruct, start: number, end: number): void {
  range.mm = mm;
  range.event = event;
  range.flags = flags;
  range.start = start;
  range.end = end;
  range.owner = null;
}

/** `mmu_notifier_range_init_owner(range, event, flags, mm, start, end, owner)`. */
export function mmu_notifier_range_init_owner(range: MmuNotifierRange, event: number, flags: number, mm: MmStruct, start: number, end: number, owner: unknown): void {
  mmu_notifier_range_init(range, event, flags, mm, start, end);
  range.owner = owner;
}

/** `mmu_notifier_range_blockable(range)`: may callbacks sleep? */
export function mmu_notifier_range_blockable(range: MmuNotifierRange): boolean {
  return (range.flags & MMU_NOTIFIER_RANGE_BLOCKABLE) !== 0;
}
