/**
 * `struct mm_struct`: one simulated address space, with its mmap_lock, user counts, notifier
 * state, page table, VMAs and split page-table locks. It implements the notifier layer's
 * `MmStruct` and is its own `CpuView` (what the CPU maps, for the device-coherence oracle).
 *
 * Split page-table locks: the kernel keeps one spinlock per leaf page table (ptlock), all of one
 * lockdep class. Here the lock of the 2 MiB region an address lies in stands for it, made on
 * first use and kept for the run; keying by region rather than by leaf id keeps a lock's name
 * stable when a freed table is later reallocated, and lets a scheduling point name the lock of a
 * region that has no table yet (a fault about to create one).
 *
 * A scenario makes address spaces in its setup:
 *
 *     setup: (w) => ({ mm: mm_create(w, { name: 'proc', memoryLimitPages: 8 }) })
 *     *task(s) { const a = yield* sys_mmap(s.mm, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE,
 *                                            MAP_PRIVATE | MAP_ANONYMOUS); ... }
 */
import { mmapLockInit } from '../locking/mmap-lock.js';
import type { RwSemaphore } from '../locking/rwsem.js';
import { Spinlock } from '../locking/spinlock.js';
import { setAllocator } from '../locking/alloc.js';
import type { CpuMapping, CpuView, MmStruct } from '../notifier/mm.js';
import type { MmuNotifierSubscriptions } from '../notifier/subscriptions.js';
import { FindingKind } from '../sim/finding.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { PMD_SIZE, PAGE_SIZE, hexAddr } from './constants.ts';
import { createMemory, memoryOf, type MemoryOptions, type MemorySystem } from './memory.ts';
import { PageTable } from './page-table.ts';
import { PTE_KIND_BITS, PTE_KIND_DEVICE_EXCLUSIVE, PTE_KIND_DEVICE_PRIVATE, PTE_KIND_MIGRATION, PTE_KIND_PRESENT, PTE_PROTNONE, PTE_WRITE, ptePfn } from './pte.ts';
import { ReclaimingAllocator } from './reclaim.ts';
import { VmaSet } from './vma.ts';

/** Options for {@link mm_create}. */
export interface MmOptions extends MemoryOptions {
  /** Name used in traces and findings; default `mm<N>`. */
  name?: string;
}

/** One address space. */
export class Mm implements MmStruct, CpuView {
  readonly name: string;
  readonly mmap_lock: RwSemaphore;
  mm_users = 1;
  mm_count = 1;
  notifier_subscriptions: MmuNotifierSubscriptions | null = null;
  cpuView: CpuView | null;
  /** The CPU page table. */
  readonly pt: PageTable;
  /** The VMAs. */
  readonly vmas = new VmaSet();
  /** Dense number within the run. */
  readonly id: number;
  /** mm_users reached 0: exit_mmap has begun. */
  exiting = false;
  /** exit_mmap has finished: no VMAs, no page tables. */
  dead = false;
  /** Chosen by the OOM killer (its task got SIGKILL): every further call returns -EINTR. */
  killed = false;
  /** MMF_UNSTABLE: the OOM reaper has started to reap it. */
  unstable = false;
  /** MMF_OOM_SKIP: the OOM killer and reaper leave it alone. */
  oomSkip = false;
  /** MMF_HAS_PINNED: some page of this mm was pinned with FOLL_PIN (sticky, as in the kernel). */
  hasPinned = false;
  private readonly ptls = new Map<number, Spinlock>();

  constructor(
    readonly world: World,
    readonly sys: MemorySystem,
    name: string | undefined,
  ) {
    this.id = sys.newMmId();
    this.pt = new PageTable(world.allocateBuffer);
    this.name = name ?? `mm${this.id}`;
    this.mmap_lock = mmapLockInit(world, this.name);
    this.cpuView = this;
    sys.mms.push(this);
  }

  /** The split page-table lock covering `addr` (the kernel's pte_lockptr). */
  ptl(addr: number): Spinlock {
    const region = Math.floor(addr / PMD_SIZE);
    let l = this.ptls.get(region);
    if (l === undefined) {
      l = new Spinlock(this.world, `${this.name}->ptl@${hexAddr(region * PMD_SIZE)}`, 'ptlock');
      this.ptls.set(region, l);
    }
    return l;
  }

  /**
   * What the CPU side maps at `addr`, as a mirroring device should see it: a present accessible
   * entry; a device-private entry (the device page it points at, as hmm_range_fault reports it
   * to the owning device); a device-exclusive entry (the page, writable if the entry is: the
   * holder's atomic mapping is legitimate). Otherwise null: nothing, PROT_NONE, swapped out, or
   * under migration.
   */
  lookup(addr: number): CpuMapping | null {
    // Callers read the page table from steps named after other objects (a device's lock).
    this.world.touchUndeclared();
    if (this.dead) return null;
    const pte = this.pt.get(addr - (addr % PAGE_SIZE));
    const kind = pte & PTE_KIND_BITS;
    if (kind === PTE_KIND_PRESENT) {
      if ((pte & PTE_PROTNONE) !== 0) return null;
    } else if (kind !== PTE_KIND_DEVICE_PRIVATE && kind !== PTE_KIND_DEVICE_EXCLUSIVE) {
      return null;
    }
    return { pfn: ptePfn(pte), write: (pte & PTE_WRITE) !== 0 };
  }

  /** A migration entry sits at `addr`: the mapping is being replaced (see CpuView.inFlux). */
  inFlux(addr: number): boolean {
    this.world.touchUndeclared();
    if (this.dead) return false;
    return (this.pt.get(addr - (addr % PAGE_SIZE)) & PTE_KIND_BITS) === PTE_KIND_MIGRATION;
  }

  /** Pages this mm holds (present and swapped entries): the OOM killer's badness. */
  get rss(): number {
    return this.pt.entryCount + this.pt.hugePmdCount * 512 + this.pt.hugePudCount * 512 * 512;
  }

  toString(): string {
    return this.name;
  }
}

/**
 * The run's memory, made on first use with `options`; later calls apply any options they name.
 * Making it installs the reclaiming allocator, so `kmalloc` under a memory limit runs direct
 * reclaim too.
 */
export function memory_system(world: World, options: MemoryOptions = {}): MemorySystem {
  let sys = memoryOf(world);
  if (sys === undefined) {
    sys = createMemory(world, options);
    setAllocator(world, new ReclaimingAllocator(sys));
  } else {
    sys.configure(options);
  }
  return sys;
}

/** Makes an address space with no mappings (a process after exec, before any mmap). */
export function mm_create(world: World, options: MmOptions = {}): Mm {
  const sys = memory_system(world, options);
  return new Mm(world, sys, options.name);
}

/**
 * `mmget(mm)`: one more user of the address space. mm_users is shared by every holder, so the
 * change happens at a point naming the mm: the explorer orders it against the other users' gets
 * and puts, and so sees who drops the last reference (and runs the teardown).
 */
export function* mmget(mm: Mm): Generator<unknown, void, unknown> {
  yield mm.world.point(`mmget ${mm.name}`, mm, Access.Write);
  mm.mm_users++;
}

/** `mmget_not_zero(mm)`: a user reference unless the address space is already going away. */
export function* mmget_not_zero(mm: Mm): Generator<unknown, boolean, unknown> {
  yield mm.world.point(`mmget_not_zero ${mm.name}`, mm, Access.Write);
  if (mm.mm_users <= 0) return false;
  mm.mm_users++;
  return true;
}

/** `mmgrab(mm)`: pins the structure (not the address space). */
export function mmgrab(mm: Mm): void {
  mm.mm_count++;
}

/** `mmdrop(mm)`: unpins the structure; dropping below zero is a WARN finding. */
export function mmdrop(mm: Mm): void {
  if (mm.mm_count <= 0) {
    mm.world.report(FindingKind.Warn, `WARNING: mmdrop(${mm.name}) with mm_count already 0`, `mmdrop:${mm.name}`);
    return;
  }
  mm.mm_count--;
}
