/**
 * Device reads and writes through the mirror's page table, and the fault helper that fills it
 * (dmirror §1.3 READ, WRITE, fault helper):
 *
 *     READ/WRITE   loop: mutex; walk the pt from start, stop at the first missing (WRITE: or not
 *                  writable) entry; unlock. Complete? done. Else start := addr + cpages pages,
 *                  fault [start, end), faults += 1, walk again.
 *     fault        mmget_not_zero (dead mm: quietly 0); per window of 32 pages:
 *                    again: seq := read_begin; mmap_read_lock; hmm_range_fault(FAULT (| WRITE),
 *                    owner = device); mmap_read_unlock; -EBUSY: again; error: return it;
 *                    mutex; read_retry(seq)? unlock, again; store every page (WRITE tag iff the
 *                    pfn is writable); unlock
 *                  overall timeout 1000 ms (virtual; one tick is one millisecond): -EBUSY
 *
 * `faults` counts fault-helper calls, not pages. The `no-read-retry` variant skips the
 * read_retry test and stores a snapshot an invalidation may already have made stale.
 */
import { EBUSY, EFAULT, ENOENT } from '../../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../locking/mmap-lock.js';
import { mutex_lock, mutex_unlock } from '../../locking/mutex.js';
import { mmu_interval_read_begin, mmu_interval_read_retry } from '../../notifier/interval.js';
import { Access } from '../../sim/point.js';
import { PAGE_SIZE, WORDS_PER_PAGE } from '../../mm/constants.ts';
import { mmput } from '../../mm/exit.ts';
import { mmget_not_zero } from '../../mm/mm-struct.ts';
import { HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_page } from '../../hmm/hmm-pfn.ts';
import { hmm_range_fault } from '../../hmm/hmm-range-fault.ts';
import { HmmRange } from '../../hmm/range.ts';
import { DPT_READ, DPT_WRITE, vpn } from './device-pt.ts';
import type { Dmirror } from './mirror.ts';
import type { HmmDmirrorCmd } from './uapi.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Pages per hmm_range_fault window (older drivers used 64; no visible difference). */
export const DMIRROR_RANGE_FAULT_PAGES = 32;
/** The fault helper's overall timeout, in milliseconds (virtual ticks). */
export const HMM_RANGE_DEFAULT_TIMEOUT = 1000;

/** The kernel-side bounce buffer of a command. */
export interface Bounce {
  /** The command's first address. */
  readonly addr: number;
  /** npages * 1024 words. */
  readonly words: Uint32Array;
  cpages: number;
}

/** A bounce buffer for `npages` pages at `addr`. */
export function bounceFor(addr: number, npages: number): Bounce {
  return { addr, words: new Uint32Array(npages * WORDS_PER_PAGE), cpages: 0 };
}

/** Pages a device read copies between two scheduling points. */
const READ_POINT_PAGES = 8192;

/**
 * Copies [start, end) from the pt into the bounce buffer (dmirror_do_read). Mutex held.
 * @returns 0, or -ENOENT at the first missing entry.
 */
export function* dmirror_do_read(dmirror: Dmirror, start: number, end: number, bounce: Bounce): Gen<number> {
  yield dmirror.world.point(`${dmirror.name}: device reads [0x${start.toString(16)}, 0x${end.toString(16)})`, dmirror.pt, Access.Read);
  const frames = dmirror.mm.sys.frames;
  for (let p = vpn(start); p < vpn(end); p++) {
    // A read of hundreds of MiB (the THP benchmark's 256 MiB read-back) is seconds of host time:
    // a point every 32 MiB keeps the task stepping (the mutex stays held; nothing else changes).
    if (p !== vpn(start) && (p - vpn(start)) % READ_POINT_PAGES === 0) yield dmirror.world.point(`${dmirror.name}: device reads on`, dmirror.pt, Access.Read);
    const e = dmirror.pt.load(p);
    if (e === undefined) return -ENOENT;
    const data = frames.peekContents(e.page);
    const at = (p * PAGE_SIZE - bounce.addr) / 4;
    if (data === null) bounce.words.fill(0, at, at + WORDS_PER_PAGE);
    else bounce.words.set(data, at);
    bounce.cpages++;
  }
  return 0;
}

/**
 * Copies the bounce buffer into [start, end) through the pt (dmirror_do_write). Mutex held.
 * @returns 0, or -ENOENT at the first missing or read-only entry.
 */
export function* dmirror_do_write(dmirror: Dmirror, start: number, end: number, bounce: Bounce): Gen<number> {
  yield dmirror.world.point(`${dmirror.name}: device writes [0x${start.toString(16)}, 0x${end.toString(16)})`, dmirror.pt, Access.Write);
  const frames = dmirror.mm.sys.frames;
  dmirror.world.touchUndeclared(); // the data pages are shared with the CPU
  for (let p = vpn(start); p < vpn(end); p++) {
    const e = dmirror.pt.load(p);
    if (e === undefined || e.tag !== DPT_WRITE) return -ENOENT;
    const at = (p * PAGE_SIZE - bounce.addr) / 4;
    frames.loadContents(e.page, bounce.words.slice(at, at + WORDS_PER_PAGE));
    bounce.cpages++;
  }
  return 0;
}

/** One window of the sequence loop (dmirror_range_fault). @returns 0 or an errno. */
function* dmirror_range_fault(dmirror: Dmirror, range: HmmRange): Gen<number> {
  const mm = dmirror.mm;
  const world = dmirror.world;
  const deadline = world.now + HMM_RANGE_DEFAULT_TIMEOUT;
  for (;;) {
    if (world.now > deadline) return -EBUSY;
    range.notifier_seq = yield* mmu_interval_read_begin(dmirror.notifier);
    yield* mmap_read_lock(mm);
    const ret = yield* hmm_range_fault(range);
    yield* mmap_read_unlock(mm);
    if (ret === -EBUSY) continue;
    if (ret !== 0) return ret;
    yield* mutex_lock(dmirror.mutex);
    if (dmirror.mdevice.variant !== 'no-read-retry' && (yield* mmu_interval_read_retry(dmirror.notifier, range.notifier_seq))) {
      yield* mutex_unlock(dmirror.mutex);
      continue;
    }
    break;
  }
  const r = dmirror_do_fault(dmirror, range);
  yield* mutex_unlock(dmirror.mutex);
  return r;
}

/** Stores hmm_range_fault's result into the pt (dmirror_do_fault). Mutex held. */
function dmirror_do_fault(dmirror: Dmirror, range: HmmRange): number {
  const first = vpn(range.start);
  const n = (range.end - range.start) / PAGE_SIZE;
  for (let i = 0; i < n; i++) {
    const w = range.hmm_pfns[i]!;
    if ((w & HMM_PFN_VALID) === 0n) {
      dmirror.world.report('warn', `WARNING: ${dmirror.name}: hmm_range_fault returned 0 with a page that is not valid`, `${dmirror.name}:fault-invalid`);
      return -EFAULT;
    }
    const page = hmm_pfn_to_page(w);
    let tag = DPT_READ;
    if ((w & HMM_PFN_WRITE) !== 0n) tag = DPT_WRITE;
    else if ((range.default_flags & HMM_PFN_REQ_WRITE) !== 0n) return -EFAULT;
    dmirror.pt.store(first + i, page, tag);
  }
  return 0;
}

/** The fault helper (dmirror_fault) over [start, end). @returns 0 or an errno. */
export function* dmirror_fault(dmirror: Dmirror, start: number, end: number, write: boolean): Gen<number> {
  const mm = dmirror.mm;
  if (!(yield* mmget_not_zero(mm))) return 0;
  let ret = 0;
  for (let addr = start; addr < end; ) {
    const next = Math.min(addr + DMIRROR_RANGE_FAULT_PAGES * PAGE_SIZE, end);
    const range = new HmmRange({
      notifier: dmirror.notifier,
      start: addr,
      end: next,
      hmm_pfns: new BigUint64Array((next - addr) / PAGE_SIZE),
      default_flags: HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0n),
      dev_private_owner: dmirror.mdevice,
    });
    ret = yield* dmirror_range_fault(dmirror, range);
    if (ret !== 0) break;
    addr = next;
  }
  yield* mmput(mm);
  return ret;
}

/** HMM_DMIRROR_READ (dmirror_read). On success the bounce buffer holds the data. */
export function* dmirror_read(dmirror: Dmirror, cmd: HmmDmirrorCmd, bounce: Bounce): Gen<number> {
  const end = cmd.addr + cmd.npages * PAGE_SIZE;
  let start = cmd.addr;
  let ret: number;
  for (;;) {
    yield* mutex_lock(dmirror.mutex);
    ret = yield* dmirror_do_read(dmirror, start, end, bounce);
    yield* mutex_unlock(dmirror.mutex);
    if (ret !== -ENOENT) break;
    start = cmd.addr + bounce.cpages * PAGE_SIZE;
    ret = yield* dmirror_fault(dmirror, start, end, false);
    if (ret !== 0) break;
    cmd.faults++;
  }
  cmd.cpages = bounce.cpages;
  return ret;
}

/** HMM_DMIRROR_WRITE (dmirror_write). The bounce buffer holds the user's data. */
export function* dmirror_write(dmirror: Dmirror, cmd: HmmDmirrorCmd, bounce: Bounce): Gen<number> {
  const end = cmd.addr + cmd.npages * PAGE_SIZE;
  let start = cmd.addr;
  let ret: number;
  for (;;) {
    yield* mutex_lock(dmirror.mutex);
    ret = yield* dmirror_do_write(dmirror, start, end, bounce);
    yield* mutex_unlock(dmirror.mutex);
    if (ret !== -ENOENT) break;
    start = cmd.addr + bounce.cpages * PAGE_SIZE;
    ret = yield* dmirror_fault(dmirror, start, end, true);
    if (ret !== 0) break;
    cmd.faults++;
  }
  cmd.cpages = bounce.cpages;
  return ret;
}
