/**
 * mmap of a dmirror device file (dmirror_fops_mmap, dmirror §1.1; added with the VM_MIXEDMAP
 * support of hmm_range_fault, v5.16): every page of the new VMA gets a freshly zeroed kernel
 * page, put in by vm_insert_page (which makes the VMA VM_MIXEDMAP), and the driver drops its
 * allocation reference, so the mapping holds the only one.
 *
 *     for each page of the VMA: page := alloc_page(GFP_KERNEL | __GFP_ZERO) (-ENOMEM);
 *       vm_insert_page(vma, addr, page) (on error: free the page, return it); put_page(page)
 *
 * The pages are not the device's memory and not in the mirror's page table; only the CPU maps
 * them. A private mapping maps them read-only (copy-on-write), which SNAPSHOT reports as READ.
 */
import { ENOMEM } from '../../locking/errno.js';
import { PAGE_SIZE } from '../../mm/constants.ts';
import { vm_insert_page } from '../../mm/device-file.ts';
import type { Mm } from '../../mm/mm-struct.ts';
import { alloc_user_page } from '../../mm/reclaim.ts';
import type { Vma } from '../../mm/vma.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** `dmirror_fops_mmap(file, vma)` for a VMA of `mm`. @returns 0 or a negative errno. */
export function* dmirror_fops_mmap(mm: Mm, vma: Vma): Gen<number> {
  for (let addr = vma.start; addr < vma.end; addr += PAGE_SIZE) {
    const page = yield* alloc_user_page(mm);
    if (page < 0) return -ENOMEM;
    const ret = yield* vm_insert_page(mm, vma, addr, page);
    if (ret !== 0) {
      mm.sys.putPage(page);
      return ret;
    }
    mm.sys.putPage(page);
  }
  return 0;
}
