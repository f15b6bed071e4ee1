/**
 * The command interface (dmirror_fops_unlocked_ioctl, dmirror §1.3):
 *
 *     copy the record in; EINVAL if addr is not page aligned, if addr + npages pages wraps or
 *     equals addr (npages == 0), or for an unknown command; cpages = faults = 0;
 *     run the command; on failure return its error and copy nothing back (neither the record
 *     nor the data buffer); on success copy the data, then the record, back to the caller
 *
 * The record the caller passes is only written on success, as copy_to_user is skipped on error.
 */
import { EFAULT, EINVAL } from '../../locking/errno.js';
import { Access } from '../../sim/point.js';
import { PAGE_SIZE, WORDS_PER_PAGE } from '../../mm/constants.ts';
import { dmirror_device_remove_chunks } from './device.ts';
import { dmirror_check_atomic, dmirror_exclusive } from './exclusive.ts';
import type { Dmirror } from './mirror.ts';
import { dmirror_migrate_to_device, dmirror_migrate_to_system } from './migrate.ts';
import { bounceFor, dmirror_read, dmirror_write } from './read-write.ts';
import { dmirror_snapshot } from './snapshot.ts';
import {
  HMM_DMIRROR_CHECK_EXCLUSIVE,
  HMM_DMIRROR_EXCLUSIVE,
  HMM_DMIRROR_FLAGS,
  HMM_DMIRROR_MIGRATE_TO_DEV,
  HMM_DMIRROR_MIGRATE_TO_SYS,
  HMM_DMIRROR_NAMES,
  HMM_DMIRROR_READ,
  HMM_DMIRROR_RELEASE,
  HMM_DMIRROR_SNAPSHOT,
  HMM_DMIRROR_WRITE,
  type HmmDmirrorCmd,
} from './uapi.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Copies words out to the user buffer. @returns false (EFAULT) if it is too short. */
function copyWordsToUser(ptr: ArrayBuffer, words: Uint32Array): boolean {
  if (ptr.byteLength < words.byteLength) return false;
  new Uint32Array(ptr, 0, words.length).set(words);
  return true;
}

/**
 * `ioctl(fd, HMM_DMIRROR_<cmd>, &record)`. @returns 0 or a negative errno; on 0 the record's
 * cpages and faults, and the buffer at `ptr`, hold the results.
 */
export function* dmirror_fops_unlocked_ioctl(dmirror: Dmirror, command: number, user: HmmDmirrorCmd): Gen<number> {
  const world = dmirror.world;
  yield world.point(`${dmirror.name}: ioctl ${HMM_DMIRROR_NAMES[command] ?? `0x${command.toString(16)}`}`, dmirror, Access.None);
  const cmd: HmmDmirrorCmd = { ...user };
  if (!Number.isSafeInteger(cmd.addr) || cmd.addr < 0 || cmd.addr % PAGE_SIZE !== 0) return -EINVAL;
  // addr + npages pages must not wrap (u64) or equal addr: npages == 0 is EINVAL.
  const end = cmd.addr + cmd.npages * PAGE_SIZE;
  if (!Number.isSafeInteger(cmd.npages) || cmd.npages <= 0 || end >= 2 ** 64) return -EINVAL;
  cmd.cpages = 0;
  cmd.faults = 0;
  let ret: number;
  let out: Uint32Array | Uint8Array | null = null;
  switch (command) {
    case HMM_DMIRROR_READ: {
      const b = bounceFor(cmd.addr, cmd.npages);
      ret = yield* dmirror_read(dmirror, cmd, b);
      out = b.words;
      break;
    }
    case HMM_DMIRROR_WRITE: {
      const b = bounceFor(cmd.addr, cmd.npages);
      if (cmd.ptr.byteLength < b.words.byteLength) return -EFAULT;
      b.words.set(new Uint32Array(cmd.ptr, 0, cmd.npages * WORDS_PER_PAGE));
      ret = yield* dmirror_write(dmirror, cmd, b);
      break;
    }
    case HMM_DMIRROR_MIGRATE_TO_DEV: {
      const b = bounceFor(cmd.addr, cmd.npages);
      ret = yield* dmirror_migrate_to_device(dmirror, cmd, b);
      out = b.words;
      break;
    }
    case HMM_DMIRROR_MIGRATE_TO_SYS:
      ret = yield* dmirror_migrate_to_system(dmirror, cmd);
      break;
    case HMM_DMIRROR_EXCLUSIVE: {
      const b = bounceFor(cmd.addr, cmd.npages);
      ret = yield* dmirror_exclusive(dmirror, cmd, b);
      out = b.words;
      break;
    }
    case HMM_DMIRROR_CHECK_EXCLUSIVE:
      ret = yield* dmirror_check_atomic(dmirror, cmd);
      break;
    case HMM_DMIRROR_SNAPSHOT: {
      const perm = new Uint8Array(cmd.npages);
      ret = yield* dmirror_snapshot(dmirror, cmd, perm);
      out = perm;
      break;
    }
    case HMM_DMIRROR_RELEASE:
      yield* dmirror_device_remove_chunks(dmirror.mdevice);
      ret = 0;
      break;
    case HMM_DMIRROR_FLAGS:
      dmirror.flags = cmd.npages;
      ret = 0;
      break;
    default:
      return -EINVAL;
  }
  if (ret !== 0) return ret;
  if (out instanceof Uint32Array && !copyWordsToUser(cmd.ptr, out)) return -EFAULT;
  if (out instanceof Uint8Array) {
    if (cmd.ptr.byteLength < out.length) return -EFAULT;
    new Uint8Array(cmd.ptr, 0, out.length).set(out);
  }
  user.cpages = cmd.cpages;
  user.faults = cmd.faults;
  return 0;
}
