/**
 * Allocation context (spec §12.2): GFP bits, memalloc scopes, and the decision
 * whether an allocation annotates `fs_reclaim` and the MMU-notifier map. Pure
 * functions over numbers; the map operations live in `alloc.ts`.
 */
import { PF_MEMALLOC, PF_MEMALLOC_NOFS, PF_MEMALLOC_NOIO } from './task-state.ts';

/** May use emergency reserves (part of GFP_ATOMIC). */
export const __GFP_HIGH = 0x20;
/** May start physical I/O. */
export const __GFP_IO = 0x40;
/** May call into the filesystem layer. */
export const __GFP_FS = 0x80;
/** Zero the allocation (irrelevant to lockdep; offered for the mm layer). */
export const __GFP_ZERO = 0x100;
/** May enter direct reclaim, i.e. may block. */
export const __GFP_DIRECT_RECLAIM = 0x400;
/** May wake kswapd. */
export const __GFP_KSWAPD_RECLAIM = 0x800;
/** Suppress allocation-failure warnings (irrelevant to lockdep). */
export const __GFP_NOWARN = 0x2000;
/** Opt this allocation out of the lockdep reclaim annotation. */
export const __GFP_NOLOCKDEP = 0x8000000;
/** Both reclaim bits. */
export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

/** Normal sleeping allocation. */
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
/** Sleeping allocation that must not recurse into filesystems. */
export const GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
/** Sleeping allocation that must not start I/O. */
export const GFP_NOIO = __GFP_RECLAIM;
/** Non-sleeping allocation (wakes kswapd only). */
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
/** Non-sleeping high-priority allocation. */
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;

/** Decision bit: the allocation acquires and releases `fs_reclaim`. */
export const RECLAIM_TAKES_FS_RECLAIM = 1;
/** Decision bit: the allocation acquires and releases the MMU-notifier start map. */
export const RECLAIM_PRIMES_NOTIFIER = 2;

/** Applies the task's memalloc scopes to a mask (`current_gfp_context`). */
export function currentGfpContext(memallocFlags: number, gfp: number): number {
  if (memallocFlags & PF_MEMALLOC_NOIO) return gfp & ~(__GFP_IO | __GFP_FS);
  if (memallocFlags & PF_MEMALLOC_NOFS) return gfp & ~__GFP_FS;
  return gfp;
}

/** True if the mask allows blocking (`gfpflags_allow_blocking`). */
export function gfpAllowsBlocking(gfp: number): boolean {
  return (gfp & __GFP_DIRECT_RECLAIM) !== 0;
}

/**
 * What `fs_reclaim_acquire(gfp)` does for a task with these scope flags, as
 * RECLAIM_* bits (0 = nothing): no direct reclaim, PF_MEMALLOC or NOLOCKDEP
 * mean no annotation at all; otherwise the notifier map is always touched
 * (reclaim can unmap user pages even for NOFS/NOIO) and `fs_reclaim` is taken
 * only if __GFP_FS survives the scopes.
 */
export function reclaimDecision(memallocFlags: number, gfp: number): number {
  const eff = currentGfpContext(memallocFlags, gfp);
  if ((eff & __GFP_DIRECT_RECLAIM) === 0) return 0;
  if (memallocFlags & PF_MEMALLOC) return 0;
  if (eff & __GFP_NOLOCKDEP) return 0;
  return (eff & __GFP_FS ? RECLAIM_TAKES_FS_RECLAIM : 0) | RECLAIM_PRIMES_NOTIFIER;
}

const NAMED: readonly [number, string][] = [
  [GFP_KERNEL, 'GFP_KERNEL'],
  [GFP_NOFS, 'GFP_NOFS'],
  [GFP_NOIO, 'GFP_NOIO'],
  [GFP_ATOMIC, 'GFP_ATOMIC'],
  [GFP_NOWAIT, 'GFP_NOWAIT'],
];
const BITS: readonly [number, string][] = [
  [__GFP_HIGH, '__GFP_HIGH'],
  [__GFP_IO, '__GFP_IO'],
  [__GFP_FS, '__GFP_FS'],
  [__GFP_ZERO, '__GFP_ZERO'],
  [__GFP_DIRECT_RECLAIM, '__GFP_DIRECT_RECLAIM'],
  [__GFP_KSWAPD_RECLAIM, '__GFP_KSWAPD_RECLAIM'],
  [__GFP_NOWARN, '__GFP_NOWARN'],
  [__GFP_NOLOCKDEP, '__GFP_NOLOCKDEP'],
];

/** Renders a mask as the kernel would name it: a named mask plus leftover bits. */
export function gfpToString(gfp: number): string {
  for (const [base, name] of NAMED) {
    if ((gfp & base) === base && (gfp & ~base & (__GFP_IO | __GFP_FS | __GFP_RECLAIM | __GFP_HIGH)) === 0) {
      const rest = bitsToString(gfp & ~base);
      return rest === '' ? name : `${name}|${rest}`;
    }
  }
  return bitsToString(gfp) || '0';
}

function bitsToString(gfp: number): string {
  const parts: string[] = [];
  let left = gfp;
  for (const [bit, name] of BITS) {
    if (gfp & bit) {
      parts.push(name);
      left &= ~bit;
    }
  }
  if (left !== 0) parts.push(`0x${left.toString(16)}`);
  return parts.join('|');
}

/** Names of the active memalloc scopes. */
export function memallocScopeNames(flags: number): string[] {
  const out: string[] = [];
  if (flags & PF_MEMALLOC) out.push('memalloc_noreclaim');
  if (flags & PF_MEMALLOC_NOIO) out.push('memalloc_noio');
  if (flags & PF_MEMALLOC_NOFS) out.push('memalloc_nofs');
  return out;
}
