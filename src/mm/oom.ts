/**
 * The OOM killer and the OOM reaper (spec §7.1).
 *
 * When reclaim frees nothing, `out_of_memory` picks the mm holding the most pages, marks it
 * killed (its task's next call returns -EINTR, as a task with SIGKILL pending would exit) and
 * queues it for the reaper, a daemon task made on the first OOM. The reaper frees the victim's
 * memory without waiting for the victim to exit, and without sleeping:
 *
 *     reaper                                   per attempt (at most 10, 100 ticks apart)
 *     mmap_read_trylock(victim) ── fails ──>   attempt failed
 *     victim already OOM-skip?  ── yes ──>     done
 *     flag it unstable
 *     for each VMA (not hugetlb/PFN map; anonymous or private):
 *        UNMAP [vm_start, vm_end), NON-blocking start
 *          -EAGAIN: skip this VMA, no zap, no end; the attempt fails
 *          0:       zap, end, free the pages
 *     mmap_read_unlock
 *   afterwards, whatever happened: flag it OOM-skip
 *
 * Allocations that triggered the kill wait in `wait_for_memory` until a page is freed or the
 * reaper gives up, then try again (and may pick the next victim).
 */
import { mmap_read_trylock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { MMU_NOTIFY_UNMAP } from '../notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start_nonblock } from '../notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../notifier/range.js';
import { Access, type SimObject } from '../sim/point.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { MemorySystem } from './memory.ts';
import type { Mm } from './mm-struct.ts';
import { VM_HUGETLB, VM_PFNMAP, VM_SHARED } from './vma-flags.ts';
import { TlbGather, zapRange } from './zap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Attempts the reaper makes per victim (the kernel's MAX_OOM_REAP_RETRIES). */
export const MAX_OOM_REAP_RETRIES = 10;
/** Ticks between attempts (the kernel sleeps HZ/10). */
export const OOM_REAP_RETRY_TICKS = 100;

/** The reaper's queue and task. */
interface OomState extends SimObject {
  readonly queue: Mm[];
  readonly wq: WaitQueue;
  readonly sleepWq: WaitQueue;
  /** Victims killed whose reaping has not finished yet. */
  pending: number;
}

function oomState(sys: MemorySystem): OomState {
  let s = sys.oom as OomState | null;
  if (s === null) {
    const obj = { name: 'oom_reaper', queue: [] as Mm[], pending: 0 } as unknown as OomState;
    (obj as { wq: WaitQueue }).wq = sys.world.waitQueue('oom_reaper_wait', obj);
    (obj as { sleepWq: WaitQueue }).sleepWq = sys.world.waitQueue('oom_reaper_sleep', obj);
    s = obj;
    sys.oom = s;
    // Deadlock reports name who the allocations waiting for memory are waiting for.
    sys.memoryWq.holder = () => (obj.pending > 0 ? `the OOM reaper, reaping ${obj.queue.map((m) => m.name).join(', ') || 'a victim'}` : null);
    sys.world.spawn('oom_reaper', () => oomReaperTask(sys, obj), { daemon: true });
  }
  return s;
}

/**
 * `out_of_memory`: kills the mm with the most pages (ties: the oldest) unless a victim is still
 * being reaped. @returns false when there is nothing left to kill.
 */
export function* out_of_memory(sys: MemorySystem): Gen<boolean> {
  yield sys.world.point('out_of_memory', sys.allocator, Access.Write);
  const s = oomState(sys);
  if (s.pending > 0) return true;
  let victim: Mm | null = null;
  for (const mm of sys.mms) {
    if (mm.dead || mm.killed || mm.oomSkip || mm.mm_users <= 0) continue;
    if (victim === null || mm.rss > victim.rss) victim = mm;
  }
  if (victim === null || victim.rss === 0) return false;
  victim.killed = true;
  sys.world.trace?.note(`Out of memory: killed ${victim.name} (${victim.rss} pages)`);
  s.pending++;
  s.queue.push(victim);
  s.wq.wakeAll();
  return true;
}

/** Sleeps until a page is freed or the reaper finishes with a victim. */
export function* wait_for_memory(sys: MemorySystem): Gen<void> {
  yield sys.memoryWq.block();
}

function* oomReaperTask(sys: MemorySystem, s: OomState): Gen<void> {
  yield sys.world.point('oom_reaper', s, Access.Write);
  for (;;) {
    while (s.queue.length === 0) yield s.wq.block();
    const mm = s.queue.shift()!;
    yield* oom_reap_task(mm, s);
    s.pending--;
    sys.memoryWq.wakeAll();
  }
}

/** `oom_reap_task`: retries a bounded number of times, then marks the mm OOM-skip either way. */
function* oom_reap_task(mm: Mm, s: OomState): Gen<void> {
  for (let attempt = 0; attempt < MAX_OOM_REAP_RETRIES; attempt++) {
    if (yield* oom_reap_task_mm(mm)) break;
    yield s.sleepWq.blockTimeout(OOM_REAP_RETRY_TICKS);
  }
  mm.oomSkip = true;
}

/** One attempt: trylock, reap, unlock. @returns true if it succeeded. */
function* oom_reap_task_mm(mm: Mm): Gen<boolean> {
  if (!(yield* mmap_read_trylock(mm))) return false;
  let ok = true;
  if (!mm.oomSkip && !mm.dead) {
    mm.unstable = true;
    ok = yield* __oom_reap_task_mm(mm);
  }
  yield* mmap_read_unlock(mm);
  return ok;
}

/**
 * `__oom_reap_task_mm`: non-blocking UNMAP per VMA; a VMA whose start fails is skipped without
 * end. The caller holds the mmap lock for read. @returns false if any VMA was skipped.
 */
export function* __oom_reap_task_mm(mm: Mm): Gen<boolean> {
  let ok = true;
  for (const vma of mm.vmas.toArray()) {
    if ((vma.flags & (VM_HUGETLB | VM_PFNMAP)) !== 0) continue;
    if (!(vma.isAnon || (vma.flags & VM_SHARED) === 0)) continue;
    const range = new MmuNotifierRange();
    mmu_notifier_range_init(range, MMU_NOTIFY_UNMAP, 0, mm, vma.start, vma.end);
    const tlb = new TlbGather(mm.sys);
    if ((yield* mmu_notifier_invalidate_range_start_nonblock(range)) !== 0) {
      tlb.finish();
      ok = false;
      continue;
    }
    yield* zapRange(mm, range.start, range.end, tlb);
    yield* mmu_notifier_invalidate_range_end(range);
    tlb.finish();
  }
  return ok;
}
