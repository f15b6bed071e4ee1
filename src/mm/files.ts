/**
 * Files over the in-memory page cache: create, pwrite/pread of 32-bit words, and dropping clean
 * cached pages. Writes through the cache are seen by every shared mapping of the file, and by
 * private mappings of pages they have not copied yet, as in the kernel.
 *
 * A cache miss allocates a frame; when memory is short it reclaims first, like any allocation.
 */
import { PAGE_SIZE } from './constants.ts';
import { PG_DIRTY } from './frame-flags.ts';
import { memory_system } from './mm-struct.ts';
import { try_to_free_pages } from './reclaim.ts';
import { GFP_KERNEL, might_alloc } from '../locking/alloc.js';
import { EBADF, EFAULT, ENOMEM } from './mm-errno.ts';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** Creates a file of `size` bytes of zeros. @returns its id (the `file` argument of mmap). */
export function file_create(world: World, size = 0): number {
  return memory_system(world).cache.createFile(size);
}

function badFile(world: World, file: number): boolean {
  return !Number.isInteger(file) || file < 0 || file >= memory_system(world).cache.fileCount;
}

/** `pwrite` of one word at byte `offset` (4-aligned); grows the file. @returns 0 or -errno. */
export function* sys_pwrite32(world: World, file: number, offset: number, value: number): Gen<number> {
  if (badFile(world, file)) return -EBADF;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) return -EFAULT;
  const sys = memory_system(world);
  for (;;) {
    yield world.point(`pwrite32 file#${file}+0x${offset.toString(16)}`, sys.fileObject(file), Access.Write);
    const pgoff = Math.floor(offset / PAGE_SIZE);
    might_alloc(GFP_KERNEL);
    const pfn = sys.cacheGrab(file, pgoff);
    if (pfn >= 0) {
      sys.cache.pwrite32(file, offset, value >>> 0);
      sys.frames.setFlags(pfn, PG_DIRTY);
      return 0;
    }
    if ((yield* try_to_free_pages(sys, GFP_KERNEL)) === 0) return -ENOMEM;
  }
}

/** `pread` of one word at byte `offset` (4-aligned). @returns the value (0 past the end) or -errno. */
export function* sys_pread32(world: World, file: number, offset: number): Gen<number> {
  if (badFile(world, file)) return -EBADF;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) return -EFAULT;
  const sys = memory_system(world);
  for (;;) {
    yield world.point(`pread32 file#${file}+0x${offset.toString(16)}`, sys.fileObject(file), Access.Read);
    if (offset >= sys.cache.fileSize(file)) return 0;
    might_alloc(GFP_KERNEL);
    const pfn = sys.cacheGrab(file, Math.floor(offset / PAGE_SIZE));
    if (pfn >= 0) return sys.frames.read32(pfn, offset % PAGE_SIZE);
    if ((yield* try_to_free_pages(sys, GFP_KERNEL)) === 0) return -ENOMEM;
  }
}

/**
 * `echo 1 > /proc/sys/vm/drop_caches` plus a sync: every cached page no one maps or holds is
 * written back if dirty and dropped. Not a task operation (no scheduling point): for setup and
 * end-of-run accounting. @returns the number of pages dropped.
 */
export function drop_caches(world: World): number {
  const sys = memory_system(world);
  const f = sys.frames;
  let dropped = 0;
  for (let file = 0; file < sys.cache.fileCount; file++) {
    for (let p = sys.cache.nextCached(file, 0, Infinity); p >= 0; p = sys.cache.nextCached(file, p + 1, Infinity)) {
      const pfn = sys.cache.lookup(file, p);
      if (f.mapcount(pfn) !== 0 || f.refcount(pfn) !== 1) continue;
      if (f.testFlags(pfn, PG_DIRTY)) sys.cache.writeback(file, p);
      sys.cacheRemove(file, p);
      dropped++;
    }
  }
  return dropped;
}
