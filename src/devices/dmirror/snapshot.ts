/**
 * HMM_DMIRROR_SNAPSHOT (dmirror §1.3, §1.4): one permission byte per page of the CPU page
 * table, without faulting and without touching the mirror's pt.
 *
 *     mmget_not_zero (-EINVAL); per window of 32 pages:
 *       insert a short-lived interval notifier over the window (its callback only bumps the
 *       sequence, under the mutex);
 *       again: seq := read_begin; mmap_read_lock; hmm_range_fault(no request bits, owner =
 *       device); unlock; -EBUSY: again; error: out; mutex; read_retry? unlock, again;
 *       a byte per pfn; unlock; remove the notifier; cpages += window pages
 *
 *     byte: ERROR 0xFF | not valid 0x00 | base (DEV_PRIVATE_LOCAL/REMOTE, DEV_COHERENT_LOCAL/
 *           REMOTE, ZERO, NONE) | WRITE or READ | PMD or PUD by the map order
 */
import { EBUSY } from '../../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../locking/mmap-lock.js';
import { mutex_lock, mutex_unlock } from '../../locking/mutex.js';
import { mmu_interval_notifier_insert, mmu_interval_notifier_remove, mmu_interval_read_begin, mmu_interval_read_retry } from '../../notifier/interval.js';
import { PAGE_SHIFT, PAGE_SIZE } from '../../mm/constants.ts';
import { is_device_coherent_page, is_device_private_page, page_pgmap } from '../../mm/device-private.ts';
import { mmput } from '../../mm/exit.ts';
import { mmget_not_zero } from '../../mm/mm-struct.ts';
import { HMM_PFN_ERROR, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_map_order, hmm_pfn_to_page } from '../../hmm/hmm-pfn.ts';
import { hmm_range_fault } from '../../hmm/hmm-range-fault.ts';
import { HmmRange } from '../../hmm/range.ts';
import { EINVAL } from '../../locking/errno.js';
import type { Dmirror } from './mirror.ts';
import { DmirrorRangeNotifier } from './notifier.ts';
import { DMIRROR_RANGE_FAULT_PAGES, HMM_RANGE_DEFAULT_TIMEOUT } from './read-write.ts';
import {
  HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
  HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE,
  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
  HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
  HMM_DMIRROR_PROT_ERROR,
  HMM_DMIRROR_PROT_NONE,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_PUD,
  HMM_DMIRROR_PROT_READ,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_PROT_ZERO,
  type HmmDmirrorCmd,
} from './uapi.ts';

type Gen<T> = Generator<unknown, T, unknown>;

const PMD_SHIFT = 21;
const PUD_SHIFT = 30;

/** The permission byte of one hmm pfn word (dmirror_mkentry). */
function mkentry(dmirror: Dmirror, w: bigint): number {
  if ((w & HMM_PFN_ERROR) !== 0n) return HMM_DMIRROR_PROT_ERROR;
  if ((w & HMM_PFN_VALID) === 0n) return HMM_DMIRROR_PROT_NONE;
  const page = hmm_pfn_to_page(w);
  const world = dmirror.world;
  let perm: number;
  if (is_device_private_page(world, page)) {
    perm = page_pgmap(world, page)?.owner === dmirror.mdevice ? HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL : HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
  } else if (is_device_coherent_page(world, page)) {
    perm = page_pgmap(world, page)?.owner === dmirror.mdevice ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL : HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
  } else if (dmirror.mm.sys.frames.isZeroPfn(page)) {
    perm = HMM_DMIRROR_PROT_ZERO;
  } else {
    perm = HMM_DMIRROR_PROT_NONE;
  }
  perm |= (w & HMM_PFN_WRITE) !== 0n ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ;
  const order = hmm_pfn_to_map_order(w);
  if (order + PAGE_SHIFT === PMD_SHIFT) perm |= HMM_DMIRROR_PROT_PMD;
  else if (order + PAGE_SHIFT === PUD_SHIFT) perm |= HMM_DMIRROR_PROT_PUD;
  return perm;
}

/** One window (dmirror_range_snapshot). @returns 0 or an errno; bytes into `perm` at `at`. */
function* rangeSnapshot(dmirror: Dmirror, range: HmmRange, perm: Uint8Array, at: number): Gen<number> {
  const mm = dmirror.mm;
  const world = dmirror.world;
  const sub = new DmirrorRangeNotifier(dmirror, `${dmirror.name}->snapshot@0x${range.start.toString(16)}`);
  let ret = yield* mmu_interval_notifier_insert(sub, mm, range.start, range.end - range.start);
  if (ret !== 0) return ret;
  range.notifier = sub;
  const deadline = world.now + HMM_RANGE_DEFAULT_TIMEOUT;
  for (;;) {
    if (world.now > deadline) {
      ret = -EBUSY;
      break;
    }
    range.notifier_seq = yield* mmu_interval_read_begin(sub);
    yield* mmap_read_lock(mm);
    ret = yield* hmm_range_fault(range);
    yield* mmap_read_unlock(mm);
    if (ret === -EBUSY) continue;
    if (ret !== 0) break;
    yield* mutex_lock(dmirror.mutex);
    if (yield* mmu_interval_read_retry(sub, range.notifier_seq)) {
      yield* mutex_unlock(dmirror.mutex);
      continue;
    }
    const n = (range.end - range.start) / PAGE_SIZE;
    for (let i = 0; i < n; i++) perm[at + i] = mkentry(dmirror, range.hmm_pfns[i]!);
    yield* mutex_unlock(dmirror.mutex);
    break;
  }
  yield* mmu_interval_notifier_remove(sub);
  return ret;
}

/** HMM_DMIRROR_SNAPSHOT. `perm` receives npages bytes. @returns 0 or an errno. */
export function* dmirror_snapshot(dmirror: Dmirror, cmd: HmmDmirrorCmd, perm: Uint8Array): Gen<number> {
  const mm = dmirror.mm;
  const start = cmd.addr;
  const end = start + cmd.npages * PAGE_SIZE;
  if (!(yield* mmget_not_zero(mm))) return -EINVAL;
  let ret = 0;
  for (let addr = start; addr < end; ) {
    const next = Math.min(addr + DMIRROR_RANGE_FAULT_PAGES * PAGE_SIZE, end);
    const n = (next - addr) / PAGE_SIZE;
    const range = new HmmRange({ start: addr, end: next, hmm_pfns: new BigUint64Array(n), dev_private_owner: dmirror.mdevice });
    ret = yield* rangeSnapshot(dmirror, range, perm, (addr - start) / PAGE_SIZE);
    if (ret !== 0) break;
    cmd.cpages += n;
    addr = next;
  }
  yield* mmput(mm);
  return ret;
}
