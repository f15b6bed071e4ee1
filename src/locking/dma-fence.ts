/**
 * dma_fence: a one-shot "this DMA job has finished" event, shared between drivers.
 *
 * Protocol (drivers/dma-buf/dma-fence.c):
 *
 *     producer                                   consumer
 *     fence = new DmaFence; dma_fence_init        dma_fence_wait[_timeout](fence)
 *     publish it (dma_resv_add_fence, ...)          sleeps until signalled (or timeout)
 *     cookie = dma_fence_begin_signalling()       dma_fence_add_callback(fence, cb, fn)
 *       ...everything the fence needs to signal:    fn runs at signal time, in the
 *       push the job to the hardware ...           signaller's (often atomic) context
 *     dma_fence_end_signalling(cookie)
 *     later, often from an interrupt: dma_fence_signal(fence)
 *
 * Once a fence is published, whatever its signalling depends on must never wait for a fence:
 * no GFP_KERNEL allocation (reclaim may wait for fences, through shrinkers and MMU notifiers),
 * no lock that anyone holds while waiting for a fence. From v5.9 lockdep proves it: the
 * signalling section read-holds (non-recursively) the global `dma_fence_map`, every wait
 * acquires and releases it exclusively, and dma_resv_lockdep primes at boot that reclaim and
 * MMU notifier callbacks may wait for fences. A lock or allocation inside a section then closes
 * a cycle with any fence wait under that lock or in reclaim. Sections nest (an inner begin
 * returns a cookie that makes its end a no-op), and in atomic context (interrupt handlers,
 * spinlocks held) begin annotates nothing: there the sleep checks already forbid blocking.
 *
 * Before v5.9 (contract `dmaFenceAnnotations` false) the same code runs without any of these
 * annotations, as on those kernels.
 */
import { DMA_FENCE_MAP } from '../lockdep/fake-maps.js';
import { Access, type SimObject } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { EINVAL, ENOENT } from './errno.js';
import { currentKernel, kernelOf, type Kernel } from './kernel.js';
import { Spinlock, spin_lock_irqsave, spin_unlock_irqrestore } from './spinlock.js';
import { contractOf } from './version.js';

export { DMA_FENCE_MAP } from '../lockdep/fake-maps.js';

/** `MAX_SCHEDULE_TIMEOUT`: wait without a timeout. */
export const MAX_SCHEDULE_TIMEOUT = Number.MAX_SAFE_INTEGER;

/** `struct dma_fence_ops`, reduced to what the model uses. */
export interface DmaFenceOps {
  get_driver_name(fence: DmaFence): string;
  get_timeline_name(fence: DmaFence): string;
}

/** A `struct dma_fence_cb`: `func` runs once, when the fence signals. */
export class DmaFenceCb {
  func: ((fence: DmaFence, cb: DmaFenceCb) => void) | null = null;
  /** The fence it is queued on, or null. */
  queuedOn: DmaFence | null = null;
}

/** A `struct dma_fence`. Create it, then `dma_fence_init` it. */
export class DmaFence implements SimObject {
  ops: DmaFenceOps | null = null;
  lock: Spinlock | null = null;
  context = 0;
  seqno = 0;
  /** DMA_FENCE_FLAG_SIGNALED_BIT. */
  signaled = false;
  error = 0;
  /** Virtual time of the signal. */
  timestamp = -1;
  readonly cbs: DmaFenceCb[] = [];
  readonly queue: WaitQueue;
  readonly k: Kernel;
  readonly waitLabel: string;
  readonly signalLabel: string;

  constructor(
    world: World,
    readonly name: string,
  ) {
    this.k = kernelOf(world);
    this.queue = world.waitQueue(name, this);
    this.waitLabel = `dma_fence_wait(${name})`;
    this.signalLabel = `dma_fence_signal(${name})`;
  }
}

const CONTEXT_SLOT = 'dma_fence.context';

/** `dma_fence_context_alloc(num)`: the first of `num` new fence contexts (timelines), per run. */
export function dma_fence_context_alloc(num: number): number {
  const k = currentKernel();
  const first = ((k.world.locals.get(CONTEXT_SLOT) as number | undefined) ?? 1);
  k.world.locals.set(CONTEXT_SLOT, first + num);
  return first;
}

/** `dma_fence_init(fence, ops, lock, context, seqno)`. */
export function dma_fence_init(fence: DmaFence, ops: DmaFenceOps, lock: Spinlock, context: number, seqno: number): void {
  fence.ops = ops;
  fence.lock = lock;
  fence.context = context;
  fence.seqno = seqno;
  fence.signaled = false;
  fence.error = 0;
  fence.timestamp = -1;
  fence.cbs.length = 0;
}

/** `dma_fence_get`: the model has no refcounts on fences; returns the fence. */
export function dma_fence_get<F extends DmaFence | null>(fence: F): F {
  return fence;
}

/** `dma_fence_put`: no-op (see dma_fence_get). */
export function dma_fence_put(_fence: DmaFence | null): void {}

function annotated(k: Kernel): boolean {
  return k.validating && contractOf(k.world).dmaFenceAnnotations;
}

/**
 * `dma_fence_begin_signalling()`: start of a critical section that a published fence needs to
 * signal. Returns the cookie for `dma_fence_end_signalling`.
 */
export function dma_fence_begin_signalling(): boolean {
  const k = currentKernel();
  if (!annotated(k)) return true;
  const id = k.current.id;
  if (k.lockdep.isHeldType(id, DMA_FENCE_MAP, 1)) return true; // nested: the outer section covers it
  if (k.lockdep.inAtomic(id)) return true; // the sleep checks cover atomic context
  k.lockdep.lockAcquire(id, DMA_FENCE_MAP, 0, false, 1, true, null, k.where);
  return false;
}

/** `dma_fence_end_signalling(cookie)`. */
export function dma_fence_end_signalling(cookie: boolean): void {
  if (cookie) return;
  const k = currentKernel();
  if (k.validating) k.lockdep.release(k.current.id, DMA_FENCE_MAP, k.where);
}

/** `__dma_fence_might_wait()`: tells lockdep this path may wait for a fence (even if it does not now). */
export function __dma_fence_might_wait(): void {
  const k = currentKernel();
  if (annotated(k)) mightWait(k);
}

function mightWait(k: Kernel): void {
  const id = k.current.id;
  const ld = k.lockdep;
  // A wait inside a signalling section is itself checked against the locks held outside it.
  const inSection = ld.enabled && ld.isHeldType(id, DMA_FENCE_MAP, 1);
  if (inSection) ld.release(id, DMA_FENCE_MAP, k.where);
  ld.lockMapAcquire(id, DMA_FENCE_MAP, k.where);
  ld.lockMapRelease(id, DMA_FENCE_MAP, k.where);
  if (inSection) ld.lockAcquire(id, DMA_FENCE_MAP, 0, false, 1, true, null, k.where);
}

/** `dma_fence_is_signaled(fence)`: a lockless read of the signalled flag. */
export function dma_fence_is_signaled(fence: DmaFence): boolean {
  fence.k.world.touchUndeclared();
  return fence.signaled;
}

/** `dma_fence_set_error(fence, error)`: record a (negative) error before signalling. */
export function dma_fence_set_error(fence: DmaFence, error: number): void {
  const k = fence.k;
  if (fence.signaled || error >= 0 || error < -4095) {
    k.world.report('warn', `dma_fence_set_error(${fence.name}, ${error}): ${fence.signaled ? 'the fence already signalled' : 'not a negative errno'}`, `dma_fence_set_error:${fence.name}`);
    return;
  }
  k.world.touchUndeclared();
  fence.error = error;
}

/**
 * `dma_fence_signal_locked(fence)`: with `fence->lock` held. Runs the callbacks in the caller's
 * context and wakes the waiters. -EINVAL if it had already signalled.
 */
export function dma_fence_signal_locked(fence: DmaFence): number {
  const k = fence.k;
  if (k.validating && fence.lock !== null && !k.lockdep.isHeld(k.current.id, fence.lock.dep)) {
    k.world.report('warn', `lockdep_assert_held(${fence.lock.name}) failed in dma_fence_signal_locked(${fence.name})`, `dma_fence_signal_locked:${fence.name}`);
  }
  if (fence.signaled) return -EINVAL;
  fence.signaled = true;
  fence.timestamp = k.world.now;
  const cbs = fence.cbs.splice(0);
  for (const cb of cbs) {
    cb.queuedOn = null;
    cb.func?.(fence, cb);
  }
  fence.queue.wakeAll();
  return 0;
}

/** `dma_fence_signal(fence)`: 0, or -EINVAL if it had already signalled. The signal is a signalling section itself. */
export function* dma_fence_signal(fence: DmaFence): Generator<unknown, number, unknown> {
  const k = fence.k;
  yield k.world.point(fence.signalLabel, fence, Access.Write);
  if (fence.lock === null) {
    k.world.report('bug', `dma_fence_signal(${fence.name}) on a fence that was never dma_fence_init'ed`, `dma_fence_signal:uninit`, true);
    return -EINVAL;
  }
  const cookie = dma_fence_begin_signalling();
  const flags = yield* spin_lock_irqsave(fence.lock);
  const ret = dma_fence_signal_locked(fence);
  yield* spin_unlock_irqrestore(fence.lock, flags);
  dma_fence_end_signalling(cookie);
  return ret;
}

/**
 * `dma_fence_wait_timeout(fence, intr, timeout)`: 0 if `timeout` ticks of virtual time passed
 * first, else the ticks left (at least 1); `MAX_SCHEDULE_TIMEOUT` waits for ever. May sleep, and
 * tells lockdep it waits for a fence. `intr` is accepted for the port; the model has no signals.
 */
export function* dma_fence_wait_timeout(fence: DmaFence, _intr: boolean, timeout: number): Generator<unknown, number, unknown> {
  const k = fence.k;
  const w = k.world;
  yield w.point(fence.waitLabel, fence, Access.Write);
  if (timeout < 0) {
    w.report('warn', `dma_fence_wait_timeout(${fence.name}) with a negative timeout`, `dma_fence_wait:negative`);
    return -EINVAL;
  }
  k.mightSleep(k.current.id, fence.waitLabel);
  if (annotated(k)) mightWait(k);
  const forever = timeout === MAX_SCHEDULE_TIMEOUT;
  const deadline = forever ? -1 : w.now + timeout;
  while (!fence.signaled) {
    if (forever) {
      yield fence.queue.block();
      continue;
    }
    if (w.now >= deadline) return 0;
    yield fence.queue.blockTimeout(deadline - w.now);
    if (k.current.timedOut && !fence.signaled) return 0;
  }
  if (forever) return timeout;
  return Math.max(1, deadline - w.now);
}

/** `dma_fence_wait(fence, intr)`: waits for ever; returns 0. */
export function* dma_fence_wait(fence: DmaFence, intr: boolean): Generator<unknown, number, unknown> {
  const r = yield* dma_fence_wait_timeout(fence, intr, MAX_SCHEDULE_TIMEOUT);
  return r < 0 ? r : 0;
}

/**
 * `dma_fence_add_callback(fence, cb, func)`: 0 if queued, -ENOENT if the fence already
 * signalled (func is then not called), -EINVAL without a func.
 */
export function* dma_fence_add_callback(fence: DmaFence, cb: DmaFenceCb, func: (fence: DmaFence, cb: DmaFenceCb) => void): Generator<unknown, number, unknown> {
  const k = fence.k;
  yield k.world.point(`dma_fence_add_callback(${fence.name})`, fence, Access.Write);
  if (fence.signaled) return -ENOENT;
  if (fence.lock === null) return -EINVAL;
  const flags = yield* spin_lock_irqsave(fence.lock);
  let ret = 0;
  if (fence.signaled) ret = -ENOENT;
  else {
    cb.func = func;
    cb.queuedOn = fence;
    fence.cbs.push(cb);
  }
  yield* spin_unlock_irqrestore(fence.lock, flags);
  return ret;
}

/** `dma_fence_remove_callback(fence, cb)`: true if it was still queued. */
export function* dma_fence_remove_callback(fence: DmaFence, cb: DmaFenceCb): Generator<unknown, boolean, unknown> {
  if (fence.lock === null) return false;
  const flags = yield* spin_lock_irqsave(fence.lock);
  const i = fence.cbs.indexOf(cb);
  if (i >= 0) {
    fence.cbs.splice(i, 1);
    cb.queuedOn = null;
  }
  yield* spin_unlock_irqrestore(fence.lock, flags);
  return i >= 0;
}
