/**
 * dma_resv: a buffer object's reservation: a ww_mutex of the global `reservation_ww_class`
 * (wait-die) and the fences of the jobs that use the buffer.
 *
 * Protocol (drivers/dma-buf/dma-resv.c), as a command submission uses it:
 *
 *     ww_acquire_init(&ctx, reservation_ww_class)
 *     for each bo: dma_resv_lock(bo, &ctx); on -EDEADLK unlock all, dma_resv_lock_slow(bo, &ctx),
 *                  and start over
 *     dma_resv_reserve_fences(bo, n)      allocates (GFP_KERNEL): do it before publishing a fence
 *     dma_resv_add_fence(bo, fence, usage) publishes the job's fence (needs a reserved slot)
 *     dma_resv_unlock(bo)...; ww_acquire_fini(&ctx)
 *
 * Anyone may wait for a reservation's fences without the lock: dma_resv_wait_timeout,
 * dma_resv_test_signaled. `dma_resv_lockdep()` is the kernel's boot-time priming (v5.9+): it
 * teaches lockdep that the mmap lock nests outside reservations, reservations outside reclaim,
 * and that reclaim and MMU notifier callbacks may wait for fences, so that a single test run
 * exposes a driver breaking those rules.
 */
import { MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP } from '../lockdep/fake-maps.js';
import { GFP_KERNEL } from '../lockdep/gfp.js';
import { LockdepMap } from '../lockdep/map.js';
import { Access, type SimObject } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { kmalloc } from './alloc.js';
import { DmaFence, dma_fence_wait_timeout, __dma_fence_might_wait } from './dma-fence.js';
import { ENOMEM } from './errno.js';
import { currentKernel, kernelOf, type Kernel } from './kernel.js';
import { contractOf } from './version.js';
import {
  DEFINE_WD_CLASS,
  WwAcquireCtx,
  WwMutex,
  ww_acquire_fini,
  ww_acquire_init,
  ww_mutex_lock,
  ww_mutex_lock_interruptible,
  ww_mutex_lock_slow,
  ww_mutex_lock_slow_interruptible,
  ww_mutex_trylock,
  ww_mutex_unlock,
} from './ww-mutex.js';

/** The ww class of every reservation object (wait-die, as in the kernel). */
export const reservation_ww_class = DEFINE_WD_CLASS('reservation_ww_class');

/** `enum dma_resv_usage`: what a fence's job does with the buffer; a wait for usage U waits for every fence of usage <= U. */
export const DMA_RESV_USAGE_KERNEL = 0;
export const DMA_RESV_USAGE_WRITE = 1;
export const DMA_RESV_USAGE_READ = 2;
export const DMA_RESV_USAGE_BOOKKEEP = 3;

interface ResvEntry {
  fence: DmaFence;
  usage: number;
}

/** A `struct dma_resv`. */
export class DmaResv implements SimObject {
  readonly lock: WwMutex;
  readonly fences: ResvEntry[] = [];
  /** Fence slots reserved by dma_resv_reserve_fences. */
  maxFences = 0;
  readonly k: Kernel;

  constructor(
    world: World,
    readonly name: string,
  ) {
    this.k = kernelOf(world);
    this.lock = new WwMutex(world, `${name}->lock`, reservation_ww_class);
  }
}

/** `dma_resv_init`: a new reservation object (the TS constructor). */
export function dma_resv_init(world: World, name: string): DmaResv {
  return new DmaResv(world, name);
}

/** `dma_resv_lock(obj, ctx)`: 0, -EALREADY or -EDEADLK, as ww_mutex_lock. */
export function dma_resv_lock(obj: DmaResv, ctx: WwAcquireCtx | null): Generator<unknown, number, unknown> {
  return ww_mutex_lock(obj.lock, ctx);
}

/** `dma_resv_lock_interruptible(obj, ctx)`. */
export function dma_resv_lock_interruptible(obj: DmaResv, ctx: WwAcquireCtx | null): Generator<unknown, number, unknown> {
  return ww_mutex_lock_interruptible(obj.lock, ctx);
}

/** `dma_resv_lock_slow(obj, ctx)`: after -EDEADLK. */
export function dma_resv_lock_slow(obj: DmaResv, ctx: WwAcquireCtx): Generator<unknown, void, unknown> {
  return ww_mutex_lock_slow(obj.lock, ctx);
}

/** `dma_resv_lock_slow_interruptible(obj, ctx)`. */
export function dma_resv_lock_slow_interruptible(obj: DmaResv, ctx: WwAcquireCtx): Generator<unknown, number, unknown> {
  return ww_mutex_lock_slow_interruptible(obj.lock, ctx);
}

/** `dma_resv_trylock(obj)`: 1 if taken. */
export function dma_resv_trylock(obj: DmaResv): Generator<unknown, number, unknown> {
  return ww_mutex_trylock(obj.lock, null);
}

/** `dma_resv_unlock(obj)`. */
export function dma_resv_unlock(obj: DmaResv): Generator<unknown, void, unknown> {
  return ww_mutex_unlock(obj.lock);
}

/** `dma_resv_is_locked(obj)`. */
export function dma_resv_is_locked(obj: DmaResv): boolean {
  return obj.lock.owner !== null;
}

/** `dma_resv_locking_ctx(obj)`. */
export function dma_resv_locking_ctx(obj: DmaResv): WwAcquireCtx | null {
  return obj.lock.ctx;
}

/** `dma_resv_assert_held(obj)`: a WARN finding unless the running task holds the reservation. */
export function dma_resv_assert_held(obj: DmaResv): void {
  const k = obj.k;
  if (!k.validating) return;
  if (!k.lockdep.isHeld(k.current.id, obj.lock.dep)) {
    k.world.report('warn', `dma_resv_assert_held(${obj.name}) failed in ${k.current.name}`, `dma_resv_assert_held:${obj.name}`);
  }
}

function unsignaled(e: ResvEntry): boolean {
  return !e.fence.signaled;
}

/**
 * `dma_resv_reserve_fences(obj, num)`: makes room for `num` more fences; allocates with
 * GFP_KERNEL, so call it before a fence is published. 0 or -ENOMEM.
 */
export function* dma_resv_reserve_fences(obj: DmaResv, num: number): Generator<unknown, number, unknown> {
  dma_resv_assert_held(obj);
  const live = obj.fences.filter(unsignaled).length;
  if (live + num <= obj.maxFences) return 0;
  const a = yield* kmalloc(16 * Math.max(4, live + num), GFP_KERNEL);
  if (a === null) return -ENOMEM;
  yield obj.k.world.point(`dma_resv_reserve_fences(${obj.name})`, obj, Access.Write);
  // Signalled fences are dropped when the list is reallocated.
  const keep = obj.fences.filter(unsignaled);
  obj.fences.length = 0;
  obj.fences.push(...keep);
  obj.maxFences = Math.max(4, live + num, obj.maxFences * 2);
  return 0;
}

/**
 * `dma_resv_add_fence(obj, fence, usage)`: publishes `fence`, replacing a fence of the same
 * context with a usage at least as strong, or a signalled one. Without a reserved slot it is a
 * BUG, as in the kernel.
 */
export function* dma_resv_add_fence(obj: DmaResv, fence: DmaFence, usage: number): Generator<unknown, void, unknown> {
  const k = obj.k;
  yield k.world.point(`dma_resv_add_fence(${obj.name}, ${fence.name})`, obj, Access.Write);
  dma_resv_assert_held(obj);
  for (const e of obj.fences) {
    if ((e.fence.context === fence.context && e.usage >= usage) || e.fence.signaled) {
      e.fence = fence;
      e.usage = usage;
      return;
    }
  }
  if (obj.fences.length >= obj.maxFences) {
    k.world.report('bug', `dma_resv_add_fence(${obj.name}): no fence slot reserved (call dma_resv_reserve_fences first)`, `dma_resv_add_fence:no-slot:${obj.name}`, true);
    return;
  }
  obj.fences.push({ fence, usage });
}

/**
 * `dma_resv_wait_timeout(obj, usage, intr, timeout)`: waits for every unsignalled fence of
 * usage <= `usage`. >0 when all signalled, 0 on timeout. Needs no lock.
 */
export function* dma_resv_wait_timeout(obj: DmaResv, usage: number, intr: boolean, timeout: number): Generator<unknown, number, unknown> {
  const k = obj.k;
  yield k.world.point(`dma_resv_wait_timeout(${obj.name})`, obj, Access.Read);
  let ret = timeout === 0 ? 1 : timeout;
  const pending = obj.fences.filter((e) => e.usage <= usage && !e.fence.signaled).map((e) => e.fence);
  for (const f of pending) {
    ret = yield* dma_fence_wait_timeout(f, intr, ret);
    if (ret <= 0) return ret;
  }
  return ret;
}

/** `dma_resv_test_signaled(obj, usage)`: true if every fence of usage <= `usage` has signalled. */
export function* dma_resv_test_signaled(obj: DmaResv, usage: number): Generator<unknown, boolean, unknown> {
  yield obj.k.world.point(`dma_resv_test_signaled(${obj.name})`, obj, Access.Read);
  return obj.fences.every((e) => e.usage > usage || e.fence.signaled);
}

const PRIMED_SLOT = 'dma_resv.primed';
const PRIME_MMAP_LOCK = new LockdepMap('dma_resv_lockdep.mm->mmap_lock', { key: '&mm->mmap_lock', wait: 'sleep' });

/**
 * `dma_resv_lockdep()`: the kernel's boot-time priming (a subsys_initcall), v5.9+: under the
 * mmap lock (read) it locks a reservation, enters reclaim and, inside it, an MMU notifier
 * callback that waits for a fence. Call it once at the start of a scenario that uses fences (the
 * driver models do); it runs once per world and is a no-op before v5.9.
 */
export function* dma_resv_lockdep(): Generator<unknown, void, unknown> {
  const k = currentKernel();
  if (!k.validating || !contractOf(k.world).dmaFenceAnnotations) return;
  if (k.world.locals.has(PRIMED_SLOT)) return;
  k.world.locals.set(PRIMED_SLOT, true);
  const id = k.current.id;
  const ld = k.lockdep;
  const obj = new DmaResv(k.world, 'dma_resv_lockdep.obj');
  const ctx = new WwAcquireCtx();
  ld.lockAcquire(id, PRIME_MMAP_LOCK, 0, false, 1, true, null, k.where);
  ww_acquire_init(ctx, reservation_ww_class);
  const r = yield* dma_resv_lock(obj, ctx);
  if (r !== 0) throw new Error(`dma_resv_lockdep: locking a fresh reservation returned ${r}`);
  ld.fsReclaimAcquire(id, GFP_KERNEL, k.where);
  ld.lockMapAcquire(id, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP, k.where);
  __dma_fence_might_wait();
  ld.lockMapRelease(id, MMU_NOTIFIER_INVALIDATE_RANGE_START_MAP, k.where);
  ld.fsReclaimRelease(id, GFP_KERNEL, k.where);
  yield* dma_resv_unlock(obj);
  ww_acquire_fini(ctx);
  ld.release(id, PRIME_MMAP_LOCK, k.where);
}

