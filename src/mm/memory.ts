/**
 * The physical side of one run: page frames, swap, the page cache, the list of live address
 * spaces, and the rmap locks. Every mm of a run shares one `MemorySystem`, found through
 * `world.locals`, so a memory limit set by a scenario applies to all of them, and reclaim can
 * unmap a page from every mm that maps it.
 *
 * Misuse the data structures detect (FrameTable, SwapSpace) arrives here as problem records and
 * is turned into findings at once, inside the step that caused it, so the trace shows where:
 *
 *     frames.put(pfn)  ──>  FrameTable pushes {kind: 'frame-freed-while-mapped', ...}
 *                           ──>  ReportingSink.push  ──>  world.report('bad-page-state', ...)
 *
 * Freeing goes through `putPage`, which also tells the device-coherence oracle (`page_freed`)
 * and wakes allocations waiting for memory after an OOM kill.
 */
import { RwSemaphore } from '../locking/rwsem.js';
import { page_freed } from '../notifier/coherence.js';
import { FindingKind } from '../sim/finding.js';
import type { SimObject } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { FrameTable, PG_LRU } from './frames.ts';
import { PageCache } from './page-cache.ts';
import type { MmProblem } from './problems.ts';
import { SwapSpace } from './swap.ts';
import type { Mm } from './mm-struct.ts';
import { defaultThpMode, type ThpMode } from './huge-memory.ts';
import { HugetlbPools } from './hugetlb.ts';

/** Finding kind: a page was touched (read, written, mapped, counted) after it was freed. */
export const PAGE_USE_AFTER_FREE = 'page-use-after-free';
/** Finding kind: the kernel's "Bad page state" (freed while mapped or locked, count underflow). */
export const BAD_PAGE_STATE = 'bad-page-state';
/** Finding kind: a swap slot was used after it was freed, or its count underflowed. */
export const BAD_SWAP_ENTRY = 'bad-swap-entry';

/** How a run's memory is sized. */
export interface MemoryOptions {
  /** Most RAM frames in use at once (the zero page excluded); default unlimited. */
  memoryLimitPages?: number;
  /** Swap size in pages; default unlimited. */
  swapPages?: number;
  /** Pages one direct reclaim tries to free before it returns (the kernel uses 32); default 1. */
  reclaimBatch?: number;
  /** Transparent huge pages: never, madvise, always; default `defaultThpMode()` (never). */
  thp?: ThpMode;
  /** 2 MiB pages in the hugetlb pool (nr_hugepages); default 0. The pool grows, never shrinks. */
  hugetlbPages?: number;
  /** 1 GiB pages in the hugetlb pool; default 0. */
  hugetlbGiganticPages?: number;
}

/** A problem sink that reports each record as a finding the moment it is recorded. */
class ReportingSink extends Array<MmProblem> {
  world: World | null = null;

  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  override push(...items: MmProblem[]): number {
    const w = this.world;
    if (w !== null) for (const p of items) w.report(findingKind(p), p.message, p.kind);
    return super.push(...items);
  }
}

function findingKind(p: MmProblem): string {
  switch (p.kind) {
    case 'frame-use-after-free':
      return PAGE_USE_AFTER_FREE;
    case 'swap-slot-free':
    case 'swap-count-underflow':
      return BAD_SWAP_ENTRY;
    case 'zero-page-write':
      return FindingKind.Bug;
    default:
      return BAD_PAGE_STATE;
  }
}

/** Physical memory and the registries every mm of a run shares. */
export class MemorySystem {
  readonly frames: FrameTable;
  readonly swap: SwapSpace;
  readonly cache: PageCache;
  /** Live address spaces, oldest first (reclaim's rmap walk and the OOM killer look here). */
  readonly mms: Mm[] = [];
  /** What a page allocation's scheduling point names: every allocation touches the free list. */
  readonly allocator: SimObject = { name: 'page allocator' };
  /** Allocations waiting for an OOM kill to free memory sleep here; woken by every free. */
  readonly memoryWq: WaitQueue;
  /** Pages one direct reclaim tries to free. */
  reclaimBatch: number;
  /** Reclaim's clock hand over pfns: the next frame it considers. */
  clockHand = 1;
  /** Called when a device-private page's last reference goes (the pagemap's page_free). */
  onDevicePageFree: ((pfn: number) => void) | null = null;
  /**
   * Set by the device-private layer: a device-private folio at `head` was just split into `nr`
   * order-0 pages (the pagemap's folio_split, so the driver splits what backs it; v6.19+).
   */
  onDeviceFolioSplit: ((head: number, nr: number) => void) | null = null;
  /** Hook for the hmm layer: the OOM reaper and its queue live in oom.ts. */
  oom: unknown = null;
  /** The THP mode of this run (huge-memory.ts). */
  thpMode: ThpMode;
  /** Head pfn of the huge zero folio, -1 until first used. */
  hugeZero = -1;
  /** The hugetlb pools and reservations (hugetlb.ts). */
  readonly hugetlb: HugetlbPools;
  private nextAnon = 1;
  private nextMm = 0;
  private readonly anonLocks = new Map<number, RwSemaphore>();
  private readonly fileLocks = new Map<number, RwSemaphore>();
  private readonly fileObjects = new Map<number, SimObject>();

  constructor(
    readonly world: World,
    options: MemoryOptions = {},
  ) {
    const sink = new ReportingSink();
    sink.world = world;
    this.frames = new FrameTable({ problems: sink, allocate: world.allocateBuffer, ...(options.memoryLimitPages === undefined ? {} : { limit: options.memoryLimitPages }) });
    this.swap = new SwapSpace({ problems: sink, ...(options.swapPages === undefined ? {} : { limit: options.swapPages }) });
    this.frames.touched = () => world.touchUndeclared();
    this.cache = new PageCache(this.frames);
    this.memoryWq = world.waitQueue('memory', this.allocator);
    this.reclaimBatch = options.reclaimBatch ?? 1;
    this.thpMode = options.thp ?? defaultThpMode();
    this.hugetlb = new HugetlbPools(this);
    this.growHugetlb(options);
  }

  private growHugetlb(options: MemoryOptions): void {
    if (options.hugetlbPages !== undefined) this.hugetlb.pool(21).grow(options.hugetlbPages);
    if (options.hugetlbGiganticPages !== undefined) this.hugetlb.pool(30).grow(options.hugetlbGiganticPages);
  }

  /** Applies options given after creation (a later mm_create naming a limit). */
  configure(options: MemoryOptions): void {
    if (options.memoryLimitPages !== undefined) this.frames.limit = options.memoryLimitPages;
    if (options.swapPages !== undefined) this.swap.limit = options.swapPages;
    if (options.reclaimBatch !== undefined) this.reclaimBatch = options.reclaimBatch;
    if (options.thp !== undefined) this.thpMode = options.thp;
    this.growHugetlb(options);
  }

  /** A fresh anon object id (the kernel's anon_vma), for a VMA's first anonymous page. */
  newAnonId(): number {
    return this.nextAnon++;
  }

  /** A fresh mm number (names and tie-breaks). */
  newMmId(): number {
    return this.nextMm++;
  }

  /** True when every RAM frame the limit allows is in use. */
  get memoryShort(): boolean {
    return this.frames.ramInUse >= this.frames.limit;
  }

  /**
   * Drops a reference; when that frees the frame, tells the coherence oracle and wakes anyone
   * waiting for memory. Every page the mm layer frees goes through here.
   */
  putPage(pfn: number): boolean {
    if (!this.frames.put(pfn)) return false;
    const nr = this.frames.folioNrPages(pfn);
    if (nr === 1) page_freed(this.world, pfn);
    else for (let p = this.frames.folioHead(pfn), k = 0; k < nr; k++) page_freed(this.world, p + k);
    if (this.onDevicePageFree !== null && this.frames.isZoneDevice(pfn)) this.onDevicePageFree(pfn);
    if (this.memoryWq.waiters.length > 0) this.memoryWq.wakeAll();
    return true;
  }

  /**
   * Removes a page from the page cache (dropping the cache's reference) and reports its freeing
   * like `putPage`. @returns the pfn removed, or -1.
   */
  cacheRemove(file: number, pgoff: number): number {
    const pfn = this.cache.remove(file, pgoff);
    if (pfn >= 0 && this.frames.isFree(pfn)) {
      page_freed(this.world, pfn);
      if (this.memoryWq.waiters.length > 0) this.memoryWq.wakeAll();
    }
    return pfn;
  }

  /** The page cache page at `pgoff`, read in on a miss and put on the LRU; -1 if no frame. */
  cacheGrab(file: number, pgoff: number): number {
    const pfn = this.cache.grab(file, pgoff);
    if (pfn >= 0) this.frames.setFlags(pfn, PG_LRU);
    return pfn;
  }

  /** The anon_vma lock of anon object `id` (one lockdep class for all). */
  anonLock(id: number): RwSemaphore {
    let l = this.anonLocks.get(id);
    if (l === undefined) {
      l = new RwSemaphore(this.world, `anon_vma#${id}->rwsem`, '&anon_vma->rwsem');
      this.anonLocks.set(id, l);
    }
    return l;
  }

  /** The i_mmap lock of file `id` (one lockdep class for all). */
  fileLock(id: number): RwSemaphore {
    let l = this.fileLocks.get(id);
    if (l === undefined) {
      l = new RwSemaphore(this.world, `file#${id}->i_mmap_rwsem`, '&mapping->i_mmap_rwsem');
      this.fileLocks.set(id, l);
    }
    return l;
  }

  /** What pread/pwrite points name for file `id`. */
  fileObject(id: number): SimObject {
    let o = this.fileObjects.get(id);
    if (o === undefined) {
      o = { name: `file#${id}` };
      this.fileObjects.set(id, o);
    }
    return o;
  }
}

const KEY = 'mm.system';

/** The memory of this run, if one was made. */
export function memoryOf(world: World): MemorySystem | undefined {
  return world.locals.get(KEY) as MemorySystem | undefined;
}

/** Makes the run's memory (without the allocator hook; see `memory_system` in mm-struct.ts). */
export function createMemory(world: World, options: MemoryOptions): MemorySystem {
  const sys = new MemorySystem(world, options);
  world.locals.set(KEY, sys);
  return sys;
}
