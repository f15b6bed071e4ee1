/**
 * A GPU driver's userptr buffer objects, as amdgpu and xe do them: process memory the GPU
 * accesses directly, kept coherent by an interval notifier whose invalidate waits for the jobs
 * (fences) that use the buffer.
 *
 *     command submission (ioctl)                 invalidate(sub, range, cur_seq)
 *     seq = mmu_interval_read_begin(sub)           if (!blockable) return false
 *     look the pages up (mmap read lock)           mutex_lock(notifier_lock)
 *     ww_acquire_init; dma_resv_lock each BO       mmu_interval_set_seq(sub, cur_seq)
 *       (-EDEADLK: unlock all, lock_slow, again)   dma_resv_wait_timeout(bo, BOOKKEEP)  <- fences
 *     dma_resv_reserve_fences; allocate the job    zap the GPU's mapping
 *     mutex_lock(notifier_lock)                    mutex_unlock(notifier_lock)
 *     read_retry(sub, seq)? unlock all, -EAGAIN
 *     program the GPU page table; publish the fence (dma_resv_add_fence)
 *     cookie = dma_fence_begin_signalling()       GPU: runs the job and raises its interrupt;
 *     mutex_unlock(notifier_lock)                      the handler, on some CPU, signals the fence
 *     push the job to the ring; dma_fence_end_signalling(cookie); unlock the BOs
 *
 * The notifier lock is held from the sequence check until the fence is published, so an
 * invalidation either sees the published fence and waits for it, or the submission sees the new
 * sequence and retries. Once the fence is published, nothing the job needs before it can signal
 * may wait for a fence. Variants break that:
 * - `alloc-in-signalling`: allocates the job with GFP_KERNEL inside the signalling section:
 *   reclaim may run this very invalidate, which waits for the fence (fs_reclaim cycle);
 * - `notifier-lock-in-signalling`: publishes the fence first and takes the notifier lock inside
 *   the section: an invalidation holding it waits for a fence that needs it (a real deadlock);
 * - `wait-in-nonblock`: invalidate ignores a non-blockable range (the OOM reaper) and sleeps on the
 *   lock and the fences there.
 */
import { GFP_KERNEL, kmalloc } from '../locking/alloc.js';
import {
  DmaFence,
  dma_fence_begin_signalling,
  dma_fence_context_alloc,
  dma_fence_end_signalling,
  dma_fence_init,
  dma_fence_set_error,
  dma_fence_signal,
  MAX_SCHEDULE_TIMEOUT,
  type DmaFenceOps,
} from '../locking/dma-fence.js';
import {
  DMA_RESV_USAGE_BOOKKEEP,
  DmaResv,
  dma_resv_add_fence,
  dma_resv_lock,
  dma_resv_lock_slow,
  dma_resv_reserve_fences,
  dma_resv_unlock,
  dma_resv_wait_timeout,
  reservation_ww_class,
} from '../locking/dma-resv.js';
import { EAGAIN, EDEADLK, EFAULT, ENOMEM } from '../locking/errno.js';
import { raise_irq, request_irq, type IrqLine } from '../locking/irq.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { Mutex, mutex_lock, mutex_unlock } from '../locking/mutex.js';
import { Spinlock } from '../locking/spinlock.js';
import { wait_event } from '../locking/wait.js';
import { WwAcquireCtx, ww_acquire_done, ww_acquire_fini, ww_acquire_init } from '../locking/ww-mutex.js';
import { Access } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { device_map, device_shadow_create, device_unmap_range, type DeviceShadow } from '../notifier/coherence.js';
import {
  MmuIntervalNotifier,
  mmu_interval_notifier_insert,
  mmu_interval_read_begin,
  mmu_interval_read_retry,
  mmu_interval_set_seq,
  type MmuIntervalNotifierOps,
} from '../notifier/interval.js';
import type { MmStruct } from '../notifier/mm.js';
import { mmu_notifier_range_blockable } from '../notifier/range.js';

/** Which driver. */
export type GpuUserptrVariant = 'correct' | 'alloc-in-signalling' | 'notifier-lock-in-signalling' | 'wait-in-nonblock';

const PAGE = 4096;

const fenceOps: DmaFenceOps = {
  get_driver_name: () => 'gpu-userptr',
  get_timeline_name: () => 'gfx ring',
};

const ops: MmuIntervalNotifierOps = {
  *invalidate(sub, range, curSeq) {
    const bo = (sub as UserptrNotifier).bo;
    const dev = bo.dev;
    if (!mmu_notifier_range_blockable(range) && dev.variant !== 'wait-in-nonblock') return false;
    yield* mutex_lock(dev.notifierLock);
    mmu_interval_set_seq(sub, curSeq);
    yield* dma_resv_wait_timeout(bo.resv, DMA_RESV_USAGE_BOOKKEEP, false, MAX_SCHEDULE_TIMEOUT);
    device_unmap_range(bo.pt, Math.max(range.start, bo.start), Math.min(range.end, bo.start + bo.length));
    yield* mutex_unlock(dev.notifierLock);
    return true;
  },
};

/** The interval subscription of one userptr BO. */
export class UserptrNotifier extends MmuIntervalNotifier {
  constructor(
    readonly bo: GpuBo,
    name: string,
  ) {
    super(ops, name);
  }
}

/** A buffer object: its reservation, and for a userptr BO the process range it maps. */
export class GpuBo {
  readonly resv: DmaResv;
  /** The interval notifier (userptr BOs only). */
  readonly notifier: UserptrNotifier | null;
  /** The GPU's page table for this BO's range (userptr BOs only). */
  readonly pt: DeviceShadow;
  start = 0;
  length = 0;

  constructor(
    world: World,
    readonly dev: GpuUserptrDevice,
    readonly name: string,
    userptr: boolean,
  ) {
    this.resv = new DmaResv(world, name);
    this.notifier = userptr ? new UserptrNotifier(this, `${name}->notifier`) : null;
    this.pt = device_shadow_create(dev.mm, `${dev.name}:${name}`, 'mirror', this.notifier);
  }
}

/** A job on the GPU's ring. */
interface Job {
  readonly fence: DmaFence;
}

/** The device: its notifier lock, its ring, and the fences of its jobs. */
export class GpuUserptrDevice {
  readonly notifierLock: Mutex;
  readonly fenceLock: Spinlock;
  readonly ring: Job[] = [];
  readonly ringObject = { name: 'gfx ring' };
  readonly ringWq: WaitQueue;
  /** Jobs the hardware completed (their fences signalled). */
  completed = 0;
  /** Jobs done by the hardware whose fences the interrupt handler has not signalled yet. */
  private readonly done: Job[] = [];
  /** The completion interrupt, delivered on the CPU of task `irqCpu`. */
  readonly irq: IrqLine;
  /** Submissions that gave up with -EFAULT (nothing mapped at the address). */
  faults = 0;
  /** submit() calls that returned (the hardware stops once all it waits for did and the ring is empty). */
  submitsReturned = 0;
  private fenceContext = -1;
  private seqno = 0;

  constructor(
    readonly world: World,
    readonly mm: MmStruct,
    readonly variant: GpuUserptrVariant = 'correct',
    readonly name = 'gpu',
    /** The task whose CPU takes the completion interrupt. */
    irqCpu = 'cs0',
  ) {
    this.notifierLock = new Mutex(world, `${name}->notifier_lock`, 'adev->notifier_lock');
    this.fenceLock = new Spinlock(world, `${name}->fence_lock`, 'ring->fence_lock');
    this.ringWq = world.waitQueue(`${name} ring`, this.ringObject);
    this.irq = request_irq(world, name, () => this.irqHandler(), irqCpu);
  }

  /** The completion interrupt handler: signals the fences of every job the hardware finished. */
  private *irqHandler(): Generator<unknown, void, unknown> {
    yield this.world.point(`${this.name} irq reads the done list`, this.ringObject, Access.Write);
    const jobs = this.done.splice(0);
    for (const job of jobs) {
      yield* dma_fence_signal(job.fence);
      this.completed++;
    }
  }

  /** A new buffer object (a userptr BO if `userptr`). */
  bo(name: string, userptr: boolean): GpuBo {
    return new GpuBo(this.world, this, name, userptr);
  }

  /** Creates a userptr BO over [start, start + length) of the process: inserts its interval notifier. */
  *userptr(bo: GpuBo, start: number, length: number): Generator<unknown, number, unknown> {
    bo.start = start;
    bo.length = length;
    return yield* mmu_interval_notifier_insert(bo.notifier!, this.mm, start, length);
  }

  /** Locks every BO through one acquire context, backing off on -EDEADLK as drivers do. */
  private *lockBos(bos: readonly GpuBo[], ctx: WwAcquireCtx): Generator<unknown, void, unknown> {
    ww_acquire_init(ctx, reservation_ww_class);
    let contended: GpuBo | null = null;
    for (;;) {
      if (contended !== null) yield* dma_resv_lock_slow(contended.resv, ctx);
      const held: GpuBo[] = contended !== null ? [contended] : [];
      let failed: GpuBo | null = null;
      for (const bo of bos) {
        if (bo === contended) continue;
        if ((yield* dma_resv_lock(bo.resv, ctx)) === -EDEADLK) {
          failed = bo;
          break;
        }
        held.push(bo);
      }
      if (failed === null) break;
      for (const bo of held) yield* dma_resv_unlock(bo.resv);
      contended = failed;
    }
    ww_acquire_done(ctx);
  }

  private *unlockBos(bos: readonly GpuBo[], ctx: WwAcquireCtx): Generator<unknown, void, unknown> {
    for (const bo of bos) yield* dma_resv_unlock(bo.resv);
    ww_acquire_fini(ctx);
  }

  /** The pages of a userptr BO as the CPU maps them now (the get_user_pages step), or null. */
  private *userPages(bo: GpuBo, write: boolean): Generator<unknown, { addr: number; pfn: number }[] | null, unknown> {
    yield* mmap_read_lock(this.mm);
    const pages: { addr: number; pfn: number }[] = [];
    let ok = true;
    for (let a = bo.start; a < bo.start + bo.length; a += PAGE) {
      const m = this.mm.cpuView?.lookup(a) ?? null;
      if (m === null || (write && !m.write)) ok = false;
      else pages.push({ addr: a, pfn: m.pfn });
    }
    yield* mmap_read_unlock(this.mm);
    return ok ? pages : null;
  }

  private newFence(): DmaFence {
    if (this.fenceContext < 0) this.fenceContext = dma_fence_context_alloc(1);
    const f = new DmaFence(this.world, `${this.name}:fence#${++this.seqno}`);
    dma_fence_init(f, fenceOps, this.fenceLock, this.fenceContext, this.seqno);
    return f;
  }

  /**
   * The command-submission ioctl over `bos` (userptr BOs among them are checked against their
   * notifier). 0 when the job is on the ring; -EFAULT if a userptr range is not mapped; -ENOMEM.
   * A sequence change before the fence is published restarts the ioctl, as libdrm does on -EAGAIN.
   */
  *submit(bos: readonly GpuBo[]): Generator<unknown, number, unknown> {
    const r = yield* this.submitOnce(bos);
    yield this.world.point(`${this.name} submit returns`, this.ringObject, Access.Write);
    this.submitsReturned++;
    this.ringWq.wakeAll();
    return r;
  }

  private *submitOnce(bos: readonly GpuBo[]): Generator<unknown, number, unknown> {
    const userptrs = bos.filter((b) => b.notifier !== null);
    for (;;) {
      const seqs: number[] = [];
      const pages: { addr: number; pfn: number }[][] = [];
      for (const bo of userptrs) {
        seqs.push(yield* mmu_interval_read_begin(bo.notifier!));
        const p = yield* this.userPages(bo, true);
        if (p === null) {
          this.faults++;
          return -EFAULT;
        }
        pages.push(p);
      }
      const ctx = new WwAcquireCtx();
      yield* this.lockBos(bos, ctx);
      for (const bo of bos) {
        if ((yield* dma_resv_reserve_fences(bo.resv, 1)) !== 0) {
          yield* this.unlockBos(bos, ctx);
          return -ENOMEM;
        }
      }
      const r =
        this.variant === 'notifier-lock-in-signalling'
          ? yield* this.publishThenCheck(bos, userptrs, seqs, pages)
          : yield* this.checkThenPublish(bos, userptrs, seqs, pages);
      yield* this.unlockBos(bos, ctx);
      if (r === -EAGAIN) continue;
      return r;
    }
  }

  /** The correct order (and `alloc-in-signalling`, which only moves the allocation). */
  private *checkThenPublish(bos: readonly GpuBo[], userptrs: readonly GpuBo[], seqs: number[], pages: { addr: number; pfn: number }[][]): Generator<unknown, number, unknown> {
    if (this.variant !== 'alloc-in-signalling' && (yield* kmalloc(256, GFP_KERNEL)) === null) return -ENOMEM;
    const fence = this.newFence();
    yield* mutex_lock(this.notifierLock);
    for (let i = 0; i < userptrs.length; i++) {
      if (yield* mmu_interval_read_retry(userptrs[i]!.notifier!, seqs[i]!)) {
        yield* mutex_unlock(this.notifierLock);
        return -EAGAIN;
      }
    }
    this.program(userptrs, pages);
    for (const bo of bos) yield* dma_resv_add_fence(bo.resv, fence, DMA_RESV_USAGE_BOOKKEEP);
    // From here the fence is public: everything until the job is on the ring is signalling path.
    const cookie = dma_fence_begin_signalling();
    yield* mutex_unlock(this.notifierLock);
    if (this.variant === 'alloc-in-signalling') yield* kmalloc(256, GFP_KERNEL);
    yield* this.push(fence);
    dma_fence_end_signalling(cookie);
    return 0;
  }

  /** `notifier-lock-in-signalling`: the fence is published before the notifier lock is taken. */
  private *publishThenCheck(bos: readonly GpuBo[], userptrs: readonly GpuBo[], seqs: number[], pages: { addr: number; pfn: number }[][]): Generator<unknown, number, unknown> {
    if ((yield* kmalloc(256, GFP_KERNEL)) === null) return -ENOMEM;
    const fence = this.newFence();
    for (const bo of bos) yield* dma_resv_add_fence(bo.resv, fence, DMA_RESV_USAGE_BOOKKEEP);
    const cookie = dma_fence_begin_signalling();
    yield* mutex_lock(this.notifierLock);
    let stale = false;
    for (let i = 0; i < userptrs.length; i++) if (yield* mmu_interval_read_retry(userptrs[i]!.notifier!, seqs[i]!)) stale = true;
    // Too late to back off: the fence is public. The job runs with an error and maps nothing.
    if (stale) dma_fence_set_error(fence, -EAGAIN);
    else this.program(userptrs, pages);
    yield* this.push(fence);
    yield* mutex_unlock(this.notifierLock);
    dma_fence_end_signalling(cookie);
    return 0;
  }

  private program(userptrs: readonly GpuBo[], pages: { addr: number; pfn: number }[][]): void {
    for (let i = 0; i < userptrs.length; i++) for (const p of pages[i]!) device_map(userptrs[i]!.pt, p.addr, p.pfn, true);
  }

  private *push(fence: DmaFence): Generator<unknown, void, unknown> {
    yield this.world.point(`push ${fence.name} to the ring`, this.ringObject, Access.Write);
    this.ring.push({ fence });
    this.ringWq.wakeAll();
  }

  /**
   * The GPU: runs the ring's jobs in order until `submits` submit() calls have returned and the
   * ring is empty; each completion raises the interrupt, whose handler signals the job's fence in
   * hard-irq context on the interrupted CPU.
   */
  *hardware(submits: number): Generator<unknown, void, unknown> {
    for (;;) {
      yield* wait_event(this.ringWq, () => this.ring.length > 0 || this.submitsReturned >= submits);
      if (this.ring.length === 0) return;
      yield this.world.point(`${this.name} runs a job`, this.ringObject, Access.Write);
      this.done.push(this.ring.shift()!);
      yield* raise_irq(this.irq);
    }
  }
}
