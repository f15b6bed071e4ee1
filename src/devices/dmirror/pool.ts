/**
 * The device memory pool of one dmirror device (dmirror §1.7):
 *
 *     chunk        256 MiB of device memory (65,536 pages), a pagemap of its own, owned by the
 *                  device; the chunk array grows 16 slots at a time, without a fixed maximum.
 *                  A device-coherent device's chunk is its one special-purpose range (the
 *                  spm_addr_dev module parameter): it can have only one chunk at a time, and a
 *                  second one cannot be added (the range is taken)
 *     free lists   LIFO of idle device pages (one at init: the whole first chunk), and (v6.19+,
 *                  device-private only) LIFO of idle PMD-sized folios, from chunks added for a
 *                  large request
 *     alloc        (private) a backing system page first (a coherent page is its own backing);
 *                  then pop a free page, or add a chunk and take from it; failure frees the
 *                  backing page and returns null
 *     free         (pagemap page_free, last reference gone) free the backing page; back on the
 *                  free list unless its chunk is being removed
 *     remove all   (RELEASE, close) for each chunk: mark it, take its idle pages off the list,
 *                  evict its in-use pages to system memory, drop the chunk
 *
 * Locks: the device mutex guards the chunk array (add, remove); the device spinlock guards the
 * free list and the statistics counters. page_free runs under neither the mutex nor a sleeping
 * context: it takes only the spinlock's data, as the kernel's does.
 *
 * The free list is kept lazily: a chunk's never-used pages are handed out from a cursor instead
 * of being pushed one by one, which is the same LIFO list without 65,536 pushes per run.
 */
import { Mutex, mutex_lock, mutex_unlock } from '../../locking/mutex.js';
import { Spinlock, spin_lock, spin_unlock } from '../../locking/spinlock.js';
import { Access } from '../../sim/point.js';
import type { World } from '../../sim/world.js';
import { DevPagemap, MEMORY_DEVICE_COHERENT, MEMORY_DEVICE_PRIVATE, memremap_pages, type DevPagemapOps } from '../../mm/device-private.ts';
import { memoryOf, type MemorySystem } from '../../mm/memory.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER } from '../../mm/compound-frames.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Pages in one chunk: 256 MiB of 4 KiB pages. */
export const DEVMEM_CHUNK_PAGES = 65_536;
/** The chunk array grows by this many slots. */
export const DEVMEM_CHUNKS_RESERVE = 16;

/** One chunk of device memory. */
export class DevmemChunk {
  /** First never-handed-out page; pages from here to the end are idle and on no list. */
  cursor: number;
  /** Set while the chunk is being removed: freed pages do not go back on the free list. */
  removing = false;
  constructor(
    readonly pgmap: DevPagemap,
    readonly first: number,
    readonly npages: number,
  ) {
    this.cursor = first;
  }

  /** Heads of the chunk's PMD-sized folios never handed out (a chunk added for a large request). */
  folioCursor = 0;

  /** True if `pfn` belongs to this chunk. */
  contains(pfn: number): boolean {
    return pfn >= this.first && pfn < this.first + this.npages;
  }
}

/** What the pool knows about a page in use: its backing page and the mirror it serves. */
export interface DevmemPageInfo {
  /** Backing system page (device-private), or the device page itself (coherent). */
  backing: number;
  /** The mirror that migrated data into it (zone_device_data), for migrate_to_ram. */
  owner: unknown;
}

/** The pool of one device. */
export class DevmemPool {
  readonly chunks: DevmemChunk[] = [];
  /** Slots of the chunk array (grows by DEVMEM_CHUNKS_RESERVE). */
  capacity = 0;
  /** Idle device pages freed back (LIFO), before any chunk cursor. */
  private readonly freeList: number[] = [];
  /** Idle PMD-sized device folios (heads) freed back (LIFO), v6.19+. */
  private readonly freeFolios: number[] = [];
  /** In-use device pages and what they carry. */
  readonly inUse = new Map<number, DevmemPageInfo>();
  /** Statistics: pages allocated and freed (no command shows them). */
  calloc = 0;
  cfree = 0;
  readonly mutex: Mutex;
  readonly lock: Spinlock;
  private readonly sys: MemorySystem;

  constructor(
    readonly world: World,
    readonly name: string,
    /** The pagemap owner (the device). */
    readonly owner: object,
    private readonly ops: DevPagemapOps,
    readonly chunkPages = DEVMEM_CHUNK_PAGES,
    /** MEMORY_DEVICE_PRIVATE or MEMORY_DEVICE_COHERENT. */
    readonly pgmapType = MEMORY_DEVICE_PRIVATE,
  ) {
    this.mutex = new Mutex(world, `${name}->devmem_lock`, 'dmirror_device->devmem_lock');
    this.lock = new Spinlock(world, `${name}->lock`, 'dmirror_device->lock');
    const sys = memoryOf(world);
    if (sys === undefined) throw new Error(`${name}: the run has no memory; make an mm (mm_create) before loading dmirror`);
    this.sys = sys;
  }

  /** True for a device-coherent device's pool. */
  get coherent(): boolean {
    return this.pgmapType === MEMORY_DEVICE_COHERENT;
  }

  /**
   * Adds a chunk (dmirror_allocate_chunk, without the allocation that follows). Mutex held. A
   * chunk for a large request (v6.19+, device-private only) is carved into PMD-sized folios; one
   * for a small request into pages.
   * @returns the chunk, or null: a coherent device's one range is already in use, a large chunk
   *   was asked of a coherent device, or memremap_pages refused the pagemap.
   */
  addChunk(large = false): DevmemChunk | null {
    if (this.coherent && (large || this.chunks.length > 0)) return null;
    if (this.chunks.length === this.capacity) this.capacity += DEVMEM_CHUNKS_RESERVE;
    const pgmap = new DevPagemap(`${this.name}->chunk${this.chunks.length}`);
    pgmap.type = this.pgmapType;
    pgmap.owner = this.owner;
    pgmap.ops = this.ops;
    if (large) pgmap.folioOrder = HPAGE_PMD_ORDER;
    const first = memremap_pages(this.world, pgmap, this.chunkPages);
    if (first < 0) return null;
    const c = new DevmemChunk(pgmap, first, large ? pgmap.npages : this.chunkPages);
    if (large) c.cursor = first + pgmap.npages; // no small pages in it
    this.chunks.push(c);
    return c;
  }

  /** Pops an idle PMD-sized folio, spinlock held. @returns its head, or -1. */
  private popFreeFolio(): number {
    const p = this.freeFolios.pop();
    if (p !== undefined) return p;
    for (const c of this.chunks) {
      const heads = c.pgmap.folios;
      if (!c.removing && c.folioCursor < heads.length) return heads[c.folioCursor++]!;
    }
    return -1;
  }

  /**
   * One idle PMD-sized device folio (adding a large chunk if none is free). The caller
   * initialises it. @returns its head pfn, or -1 if no chunk can be added.
   */
  *allocFolio(): Gen<number> {
    yield* spin_lock(this.lock);
    let p = this.popFreeFolio();
    if (p >= 0) this.calloc += HPAGE_PMD_NR;
    yield* spin_unlock(this.lock);
    if (p >= 0) return p;
    yield* mutex_lock(this.mutex);
    yield this.world.point(`${this.name}: add a chunk`, this, Access.Write);
    this.addChunk(true);
    yield* mutex_unlock(this.mutex);
    yield* spin_lock(this.lock);
    p = this.popFreeFolio();
    if (p >= 0) this.calloc += HPAGE_PMD_NR;
    yield* spin_unlock(this.lock);
    return p;
  }

  /**
   * The pagemap's folio_split (v6.19+): the device folio at `head` became `nr` pages; its
   * backing folio is split the same way and every page gets its own record.
   */
  folioSplit(head: number, nr: number): void {
    const info = this.inUse.get(head);
    if (info === undefined) return;
    const f = this.sys.frames;
    if (info.backing !== head && f.folioOrder(info.backing) > 0) {
      f.getN(info.backing, nr - 1);
      f.splitCompound(info.backing, true);
    }
    for (let k = 1; k < nr; k++) this.inUse.set(head + k, { backing: info.backing === head ? head + k : info.backing + k, owner: info.owner });
  }

  /** The chunk holding `pfn`, if it is ours. */
  chunkOf(pfn: number): DevmemChunk | undefined {
    return this.chunks.find((c) => c.contains(pfn));
  }

  /** Pops an idle page, spinlock held. @returns -1 when every list is empty. */
  private popFree(): number {
    const p = this.freeList.pop();
    if (p !== undefined) return p;
    for (const c of this.chunks) {
      if (!c.removing && c.cursor < c.first + c.npages) return c.cursor++;
    }
    return -1;
  }

  /**
   * One idle device page, taken off the free list (adding a chunk if it is empty). The caller
   * initialises it. @returns the pfn, or -1 if no chunk can be added.
   */
  *allocPage(): Gen<number> {
    yield* spin_lock(this.lock);
    let p = this.popFree();
    if (p >= 0) this.calloc++;
    yield* spin_unlock(this.lock);
    if (p >= 0) return p;
    yield* mutex_lock(this.mutex);
    yield this.world.point(`${this.name}: add a chunk`, this, Access.Write);
    const added = this.addChunk();
    yield* mutex_unlock(this.mutex);
    if (added === null) return -1;
    yield* spin_lock(this.lock);
    p = this.popFree();
    if (p >= 0) this.calloc++;
    yield* spin_unlock(this.lock);
    return p;
  }

  /**
   * The pagemap's page_free: the page is idle again. Frees its backing page; back on the free
   * list unless its chunk is being removed. Does not sleep.
   */
  pageFree(pfn: number): void {
    const info = this.inUse.get(pfn);
    this.inUse.delete(pfn);
    if (info !== undefined && info.backing !== pfn) this.sys.putPage(info.backing);
    const c = this.chunkOf(pfn);
    if (c === undefined || c.removing) return;
    // A folio still whole goes back on the large list; pages of a split one on the small list.
    if (this.sys.frames.folioOrder(pfn) > 0) {
      this.freeFolios.push(pfn);
      this.cfree += HPAGE_PMD_NR;
      return;
    }
    this.freeList.push(pfn);
    this.cfree++;
  }

  /** Takes a removing chunk's idle pages off the free list (spinlock held by the caller). */
  dropFreePagesOf(c: DevmemChunk): void {
    let w = 0;
    for (let r = 0; r < this.freeList.length; r++) {
      const p = this.freeList[r]!;
      if (!c.contains(p)) this.freeList[w++] = p;
    }
    this.freeList.length = w;
    w = 0;
    for (let r = 0; r < this.freeFolios.length; r++) {
      const p = this.freeFolios[r]!;
      if (!c.contains(p)) this.freeFolios[w++] = p;
    }
    this.freeFolios.length = w;
    c.cursor = c.first + c.npages;
    c.folioCursor = c.pgmap.folios.length;
  }

  /** In-use pages of `c`, ascending. */
  inUsePagesOf(c: DevmemChunk): number[] {
    const out: number[] = [];
    for (const p of this.inUse.keys()) if (c.contains(p)) out.push(p);
    return out.sort((a, b) => a - b);
  }

  /** Removes `c` from the array (after eviction). Mutex held. */
  dropChunk(c: DevmemChunk): void {
    const i = this.chunks.indexOf(c);
    if (i >= 0) this.chunks.splice(i, 1);
    c.pgmap.dead = true;
  }
}
