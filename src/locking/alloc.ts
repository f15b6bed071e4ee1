/**
 * Memory allocation as lockdep sees it: `kmalloc(size, gfp)` and `might_alloc(gfp)` decide from
 * the GFP mask and the task's memalloc scopes whether the allocation may enter reclaim, and if so
 * acquire and release the fs_reclaim map (which, on current kernels, also takes the mmu notifier
 * start map: "reclaim may invalidate"). A reclaim-capable allocation may sleep.
 *
 * The scopes: `memalloc_nofs_save/restore`, `memalloc_noio_save/restore`,
 * `memalloc_noreclaim_save/restore`.
 *
 * Actual reclaim under memory pressure belongs to the mm layer, which installs itself as the
 * allocator of the world; without it an allocation always succeeds.
 */
import { FindingKind } from '../sim/finding.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { gfpAllowsBlocking, gfpToString } from '../lockdep/gfp.js';
import { currentKernel, type Kernel } from './kernel.js';

export { GFP_ATOMIC, GFP_KERNEL, GFP_NOFS, GFP_NOIO, GFP_NOWAIT, __GFP_DIRECT_RECLAIM, __GFP_FS, __GFP_IO } from '../lockdep/gfp.js';

/** An allocation handed out by kmalloc. */
export interface Allocation {
  readonly size: number;
  freed: boolean;
}

/** A layer that backs allocations with real memory and reclaim (the mm layer). */
export interface Allocator {
  /** Allocates `size` bytes with `gfp`; may reclaim (and so yield). null on failure. */
  alloc(size: number, gfp: number): Generator<unknown, Allocation | null, unknown>;
}

const ALLOCATOR_KEY = 'locking.allocator';
const ALLOC_OBJECT = { name: 'kmalloc' };

/** Installs the allocator of a world for this run (the mm layer calls it in setup). */
export function setAllocator(world: World, a: Allocator): void {
  world.locals.set(ALLOCATOR_KEY, a);
}

/** `might_alloc(gfp)`: the lockdep and sleep annotations of an allocation, without allocating. */
export function might_alloc(gfp: number): void {
  annotateAlloc(currentKernel(), gfp);
}

function annotateAlloc(k: Kernel, gfp: number): void {
  if (k.validating) k.lockdep.mightAlloc(k.current.id, gfp, k.where);
  if (gfpAllowsBlocking(gfp)) k.checkNonblockContract(k.current.id, `kmalloc(${gfpToString(gfp)})`);
}

/** `kmalloc(size, gfp)`: annotates, then allocates. Returns null (the kernel's NULL) on failure. */
export function* kmalloc(size: number, gfp: number): Generator<unknown, Allocation | null, unknown> {
  const k = currentKernel();
  yield k.world.point('kmalloc', ALLOC_OBJECT, Access.Write);
  if (!Number.isSafeInteger(size) || size < 0 || size > KMALLOC_MAX_SIZE) {
    // size_t: a negative size is a huge one. The kernel WARNs (unless __GFP_NOWARN) and returns NULL.
    k.world.report(
      KMALLOC_BAD_SIZE,
      `WARNING: kmalloc(${size}) by ${k.current.name}: ${size < 0 ? 'a negative size is a huge size_t' : Number.isSafeInteger(size) ? 'larger than' : 'not a byte count; the limit is'} KMALLOC_MAX_SIZE (${KMALLOC_MAX_SIZE} bytes); it returns NULL`,
      `kmalloc-bad-size:${k.current.name}`,
    );
    return null;
  }
  annotateAlloc(k, gfp);
  const a = k.world.locals.get(ALLOCATOR_KEY) as Allocator | undefined;
  if (a === undefined) return { size, freed: false };
  return yield* a.alloc(size, gfp);
}

/** The largest kmalloc the kernel serves (x86-64: 2^(MAX_PAGE_ORDER + PAGE_SHIFT) = 4 MiB). */
export const KMALLOC_MAX_SIZE = 4 << 20;

/** A kmalloc size the kernel refuses with a WARN. */
export const KMALLOC_BAD_SIZE = 'kmalloc-bad-size';

/** `kfree`. Freeing twice is a BUG-level finding. */
export function kfree(a: Allocation | null): void {
  if (a === null) return;
  if (a.freed) {
    const k = currentKernel();
    k.world.report(FindingKind.Bug, `kfree: double free of a ${a.size}-byte allocation by ${k.current.name}`, 'kfree:double-free');
    return;
  }
  a.freed = true;
}

/** `memalloc_nofs_save()`: allocations in the scope do not recurse into filesystem reclaim. */
export function memalloc_nofs_save(): number {
  const k = currentKernel();
  return k.lockdep.memallocNofsSave(k.current.id);
}
/** `memalloc_nofs_restore(flags)`. */
export function memalloc_nofs_restore(flags: number): void {
  const k = currentKernel();
  k.lockdep.memallocNofsRestore(k.current.id, flags);
}
/** `memalloc_noio_save()`. */
export function memalloc_noio_save(): number {
  const k = currentKernel();
  return k.lockdep.memallocNoioSave(k.current.id);
}
/** `memalloc_noio_restore(flags)`. */
export function memalloc_noio_restore(flags: number): void {
  const k = currentKernel();
  k.lockdep.memallocNoioRestore(k.current.id, flags);
}
/** `memalloc_noreclaim_save()`: the task is reclaim itself and never recurses into it. */
export function memalloc_noreclaim_save(): number {
  const k = currentKernel();
  return k.lockdep.memallocNoreclaimSave(k.current.id);
}
/** `memalloc_noreclaim_restore(flags)`. */
export function memalloc_noreclaim_restore(flags: number): void {
  const k = currentKernel();
  k.lockdep.memallocNoreclaimRestore(k.current.id, flags);
}
