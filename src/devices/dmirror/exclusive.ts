/**
 * HMM_DMIRROR_EXCLUSIVE and HMM_DMIRROR_CHECK_EXCLUSIVE (dmirror §1.3):
 *
 *     EXCLUSIVE        mmget_not_zero (-EINVAL); mmap_read_lock;
 *                        v6.15+: per page make_device_exclusive(mm, addr, NULL) (error: abort
 *                                with it); store it ATOMIC under the mutex; unlock and put it
 *                        v5.14–v6.14: per 64 pages make_device_exclusive_range; store them
 *                                ATOMIC only if all were converted, else -EBUSY
 *                      unlock; mmput; read the range back from the pt (cpages; -ENOENT)
 *     CHECK_EXCLUSIVE  -EPERM if any pt entry of the range is still ATOMIC; the mm untouched
 *
 * Making a page exclusive fires an EXCLUSIVE invalidation, which the mirror does not filter:
 * the old entry is erased before the ATOMIC one is stored.
 */
import { EBUSY, EINVAL, EOPNOTSUPP, EPERM } from '../../locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../locking/mmap-lock.js';
import { mutex_lock, mutex_unlock } from '../../locking/mutex.js';
import { contractOf } from '../../locking/version.js';
import { Access } from '../../sim/point.js';
import { PAGE_SIZE } from '../../mm/constants.ts';
import { mmput } from '../../mm/exit.ts';
import { folio_unlock } from '../../mm/folio-lock.ts';
import { mmget_not_zero } from '../../mm/mm-struct.ts';
import { make_device_exclusive, make_device_exclusive_range } from '../../hmm/device-exclusive.ts';
import { DPT_ATOMIC, vpn } from './device-pt.ts';
import type { Dmirror } from './mirror.ts';
import { dmirror_do_read, type Bounce } from './read-write.ts';
import type { HmmDmirrorCmd } from './uapi.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Pages per make_device_exclusive_range call (the v5.14 driver's array). */
const EXCLUSIVE_BATCH = 64;

/** Stores pages ATOMIC (dmirror_atomic_map). @returns how many were stored. */
function* atomicMap(dmirror: Dmirror, start: number, pages: readonly number[]): Gen<number> {
  yield* mutex_lock(dmirror.mutex);
  yield dmirror.world.point(`${dmirror.name}: map atomic`, dmirror.pt, Access.Write);
  let mapped = 0;
  for (let i = 0; i < pages.length; i++) {
    dmirror.pt.store(vpn(start) + i, pages[i]!, DPT_ATOMIC);
    mapped++;
  }
  yield* mutex_unlock(dmirror.mutex);
  return mapped;
}

/** HMM_DMIRROR_EXCLUSIVE. @returns 0 or an errno. */
export function* dmirror_exclusive(dmirror: Dmirror, cmd: HmmDmirrorCmd, bounce: Bounce): Gen<number> {
  const mm = dmirror.mm;
  const start = cmd.addr;
  const end = start + cmd.npages * PAGE_SIZE;
  const api = contractOf(dmirror.world).deviceExclusiveApi;
  if (api === 'none') return -EOPNOTSUPP;
  if (!(yield* mmget_not_zero(mm))) return -EINVAL;
  yield* mmap_read_lock(mm);
  let ret = 0;
  if (api === 'single') {
    for (let addr = start; ret === 0 && addr < end; addr += PAGE_SIZE) {
      const out = { folio: -1 };
      const page = yield* make_device_exclusive(mm, addr, null, out);
      if (page < 0) {
        ret = page;
        break;
      }
      const mapped = yield* atomicMap(dmirror, addr, [page]);
      ret = mapped === 1 ? 0 : -EBUSY;
      yield* folio_unlock(page);
      mm.sys.putPage(page);
    }
  } else {
    for (let addr = start; addr < end; ) {
      const next = Math.min(end, addr + EXCLUSIVE_BATCH * PAGE_SIZE);
      const n = (next - addr) / PAGE_SIZE;
      const pages: (number | null)[] = new Array<number | null>(n).fill(null);
      const got = yield* make_device_exclusive_range(mm, addr, next, pages, null);
      let mapped = 0;
      if (got === n && pages.every((p) => p !== null)) mapped = yield* atomicMap(dmirror, addr, pages as number[]);
      for (const p of pages) {
        if (p === null) continue;
        yield* folio_unlock(p);
        mm.sys.putPage(p);
      }
      if (addr + mapped * PAGE_SIZE < next) {
        ret = -EBUSY;
        break;
      }
      addr = next;
    }
  }
  yield* mmap_read_unlock(mm);
  yield* mmput(mm);
  if (ret !== 0) return ret;
  yield* mutex_lock(dmirror.mutex);
  ret = yield* dmirror_do_read(dmirror, start, end, bounce);
  yield* mutex_unlock(dmirror.mutex);
  cmd.cpages = bounce.cpages;
  return ret;
}

/** HMM_DMIRROR_CHECK_EXCLUSIVE. @returns 0, or -EPERM if an ATOMIC entry remains. */
export function* dmirror_check_atomic(dmirror: Dmirror, cmd: HmmDmirrorCmd): Gen<number> {
  yield* mutex_lock(dmirror.mutex);
  yield dmirror.world.point(`${dmirror.name}: check atomic`, dmirror.pt, Access.Read);
  let ret = 0;
  for (let p = vpn(cmd.addr); p < vpn(cmd.addr) + cmd.npages; p++) {
    if (dmirror.pt.load(p)?.tag === DPT_ATOMIC) {
      ret = -EPERM;
      break;
    }
  }
  yield* mutex_unlock(dmirror.mutex);
  return ret;
}
