/**
 * Files of character devices that a process can mmap (a driver's `f_op->mmap`), and the call a
 * driver fills such a mapping with, `vm_insert_page` (mm/memory.c):
 *
 *     device_file_create(world, fops)   a file id for mmap: mmap's mmap_region calls fops.mmap
 *                                       on the new VMA, holding the mmap lock for write; an
 *                                       error unmaps the VMA again and is mmap's result
 *     vm_insert_page(mm, vma, addr, page)
 *         addr outside the VMA                  -EFAULT
 *         first insert: the VMA becomes VM_MIXEDMAP, which changes vm_flags: the caller must
 *           hold the mmap lock for write (the kernel BUGs if it could trylock it for read) and
 *           the VMA must not be VM_PFNMAP (BUG)
 *         an anonymous page                     -EINVAL (validate_page_before_insert)
 *         PTL; an entry already there           -EBUSY
 *         a reference and a mapping for the PTE, set to the page with the VMA's vm_page_prot:
 *           writable only in a shared writable mapping (a private one is copy-on-write)
 *
 * The driver keeps or drops its own reference (dmirror puts its allocation reference, so the
 * mapping's is the only one and munmap frees the page).
 *
 * The file has no page cache and no fault handler (the VMA's vm_ops are the dummy ones): a CPU
 * fault where nothing was inserted is SIGBUS (-EFAULT). It is modelled as a page-cache file of
 * size 0, which the fault path already refuses, plus the operations kept here by file id.
 */
import { mmap_assert_write_locked } from '../locking/mmap-lock.js';
import { spin_lock, spin_unlock } from '../locking/spinlock.js';
import { FindingKind } from '../sim/finding.js';
import type { World } from '../sim/world.js';
import { cpu_mapping_changed } from '../notifier/coherence.js';
import { PG_ANON } from './frame-flags.ts';
import { memory_system, type Mm } from './mm-struct.ts';
import { EBUSY } from '../locking/errno.js';
import { EFAULT, EINVAL } from './mm-errno.ts';
import { PTE_WRITE, pfnPte } from './pte.ts';
import { VM_MIXEDMAP, VM_PFNMAP, VM_SHARED, VM_WRITE } from './vma-flags.ts';
import { protBits } from './vma-ops.ts';
import type { Vma } from './vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** What a device file offers mmap (the part of `struct file_operations` the model runs). */
export interface DeviceFileOperations {
  /** For reports: the device node, e.g. `hmm_dmirror0`. */
  readonly name: string;
  /** `f_op->mmap(file, vma)`: fill or set up the new VMA. @returns 0 or a negative errno. */
  mmap(mm: Mm, vma: Vma): Gen<number>;
}

const REGISTRY_KEY = 'mm.deviceFiles';

function registry(world: World): Map<number, DeviceFileOperations> {
  let r = world.locals.get(REGISTRY_KEY) as Map<number, DeviceFileOperations> | undefined;
  if (r === undefined) {
    r = new Map();
    world.locals.set(REGISTRY_KEY, r);
  }
  return r;
}

/** Opens a device file with `fops` in this run. @returns its file id (the `file` argument of mmap). */
export function device_file_create(world: World, fops: DeviceFileOperations): number {
  const file = memory_system(world).cache.createFile(0);
  registry(world).set(file, fops);
  return file;
}

/** The operations of `file` if it is a device file. */
export function deviceFileOps(world: World, file: number): DeviceFileOperations | undefined {
  return (world.locals.get(REGISTRY_KEY) as Map<number, DeviceFileOperations> | undefined)?.get(file);
}

/** `vm_insert_page(vma, addr, page)` in `mm`. @returns 0, -EFAULT, -EINVAL or -EBUSY. */
export function* vm_insert_page(mm: Mm, vma: Vma, addr: number, page: number): Gen<number> {
  const world = mm.world;
  if (addr < vma.start || addr >= vma.end) return -EFAULT;
  if ((vma.flags & VM_MIXEDMAP) === 0) {
    mmap_assert_write_locked(mm);
    if ((vma.flags & VM_PFNMAP) !== 0) {
      world.report(FindingKind.Bug, `kernel BUG: vm_insert_page into a VM_PFNMAP VMA ${vma.toString()}`, 'vm_insert_page:pfnmap');
      return -EINVAL;
    }
    vma.flags |= VM_MIXEDMAP;
  }
  const frames = mm.sys.frames;
  if (frames.testFlags(page, PG_ANON)) return -EINVAL;
  const ptl = mm.ptl(addr);
  yield* spin_lock(ptl);
  if (mm.pt.get(addr) !== 0) {
    yield* spin_unlock(ptl);
    return -EBUSY;
  }
  frames.get(page);
  frames.incMapcount(page);
  const writable = (vma.flags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE);
  mm.pt.set(addr, pfnPte(page, (writable ? PTE_WRITE : 0) | protBits(vma)));
  cpu_mapping_changed(mm, addr);
  yield* spin_unlock(ptl);
  return 0;
}
