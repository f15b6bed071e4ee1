/**
 * A stand-in for the CPU side, for scenarios that exercise the notifier layer without the full
 * address space of mm/: a map of address -> (pfn, write), and CPU operations that invalidate the
 * way the kernel's call sites do (blocking start, change the PTEs, end; or the OOM reaper's
 * non-blocking start that skips the range on failure). It feeds the coherence oracle.
 */
import { mmap_read_lock, mmap_read_trylock, mmap_read_unlock, mmap_write_lock, mmap_write_unlock } from '../locking/mmap-lock.js';
import { Access, type SimObject } from '../sim/point.js';
import { cpu_mapping_changed, page_freed } from './coherence.js';
import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_UNMAP } from './events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start, mmu_notifier_invalidate_range_start_nonblock } from './invalidate.js';
import type { CpuMapping, CpuView, MmStruct } from './mm.js';
import { MmuNotifierRange, mmu_notifier_range_init } from './range.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** Page size of the stand-in. */
export const STUB_PAGE = 4096;

/** The CPU page table of one mm, as a map. */
export class CpuStub implements CpuView, SimObject {
  readonly ptes = new Map<number, CpuMapping>();
  private nextPfn = 100;
  readonly name: string;

  constructor(readonly mm: MmStruct) {
    this.name = `${mm.name} page table`;
  }

  lookup(addr: number): CpuMapping | null {
    this.mm.world.touchUndeclared(); // callers read the table from steps named after other objects
    return this.ptes.get(addr) ?? null;
  }

  /** Maps fresh pages over [start, end) (set-up time; no notifier involved). */
  populate(start: number, end: number, write = true): void {
    for (let a = start; a < end; a += STUB_PAGE) this.ptes.set(a, { pfn: this.nextPfn++, write });
  }

  /** A new page frame number. */
  allocPfn(): number {
    return this.nextPfn++;
  }
}

/** Gives `mm` a stand-in CPU page table and returns it. */
export function cpu_stub_attach(mm: MmStruct): CpuStub {
  const s = new CpuStub(mm);
  mm.cpuView = s;
  return s;
}

function* zap(stub: CpuStub, start: number, end: number): Gen<void> {
  yield stub.mm.world.point(`zap [0x${start.toString(16)}, 0x${end.toString(16)})`, stub, Access.Write);
  const freed: number[] = [];
  for (let a = start; a < end; a += STUB_PAGE) {
    const m = stub.ptes.get(a);
    if (m === undefined) continue;
    stub.ptes.delete(a);
    cpu_mapping_changed(stub.mm, a);
    freed.push(m.pfn);
  }
  for (const pfn of freed) page_freed(stub.mm.world, pfn);
}

/** munmap of [start, end): UNMAP invalidation under the mmap lock held for write; pages freed. */
export function* cpu_stub_munmap(stub: CpuStub, start: number, end: number): Gen<void> {
  const mm = stub.mm;
  yield* mmap_write_lock(mm);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, start, end);
  yield* mmu_notifier_invalidate_range_start(range);
  yield* zap(stub, start, end);
  yield* mmu_notifier_invalidate_range_end(range);
  yield* mmap_write_unlock(mm);
}

/** Migration of one page: CLEAR invalidation, the page replaced by a new one, the old one freed. */
export function* cpu_stub_migrate(stub: CpuStub, addr: number): Gen<void> {
  const mm = stub.mm;
  yield* mmap_read_lock(mm);
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, addr, addr + STUB_PAGE);
  yield* mmu_notifier_invalidate_range_start(range);
  yield mm.world.point(`migrate 0x${addr.toString(16)}`, stub, Access.Write);
  const old = stub.ptes.get(addr);
  if (old !== undefined) {
    stub.ptes.set(addr, { pfn: stub.allocPfn(), write: old.write });
    cpu_mapping_changed(mm, addr);
    page_freed(mm.world, old.pfn);
  }
  yield* mmu_notifier_invalidate_range_end(range);
  yield* mmap_read_unlock(mm);
}

/**
 * The OOM reaper over [start, end): under a try-locked mmap read lock, a non-blocking UNMAP; if
 * the start fails the range is skipped (no zap, no end), as the kernel does. Returns whether the
 * range was reaped.
 */
export function* cpu_stub_oom_reap(stub: CpuStub, start: number, end: number): Gen<boolean> {
  const mm = stub.mm;
  // The reaper only try-locks the mmap lock: it must not wait for the victim.
  if (!(yield* mmap_read_trylock(mm))) return false;
  const range = new MmuNotifierRange();
  mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, start, end);
  const ret = yield* mmu_notifier_invalidate_range_start_nonblock(range);
  if (ret === 0) {
    yield* zap(stub, start, end);
    yield* mmu_notifier_invalidate_range_end(range);
  }
  yield* mmap_read_unlock(mm);
  return ret === 0;
}
