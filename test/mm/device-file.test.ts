/** mmap of a device file and vm_insert_page (device-file.ts). */
import { describe, expect, it } from 'vitest';
import { EBUSY, EFAULT, EINVAL, ENOMEM } from '../../src/locking/errno.js';
import { mmap_write_lock, mmap_write_unlock } from '../../src/locking/mmap-lock.js';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { device_file_create, vm_insert_page } from '../../src/mm/device-file.ts';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { PTE_WRITE, ptePfn } from '../../src/mm/pte.ts';
import { alloc_user_page } from '../../src/mm/reclaim.ts';
import { VM_MIXEDMAP, VM_PFNMAP } from '../../src/mm/vma-flags.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import type { Vma } from '../../src/mm/vma.ts';
import { consistency, kinds, run1 } from './helpers.ts';

const P = 4096;
const RW = PROT_READ | PROT_WRITE;

/** A driver whose mmap inserts a fresh page at every page of the VMA (as dmirror's does). */
function* insertAll(mm: Mm, vma: Vma): Generator<unknown, number, unknown> {
  for (let a = vma.start; a < vma.end; a += P) {
    const page = yield* alloc_user_page(mm);
    mm.sys.frames.write32(page, 0, 0xd0 + (a - vma.start) / P);
    const r = yield* vm_insert_page(mm, vma, a, page);
    mm.sys.putPage(page);
    if (r !== 0) return r;
  }
  return 0;
}

describe('mmap of a device file', () => {
  it('runs the driver mmap on the new VMA: VM_MIXEDMAP, read-only in a private mapping, writable in a shared one; munmap frees the pages', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const file = device_file_create(w, { name: 'dev', mmap: insertAll });
      const priv = yield* sys_mmap(mm, 0, 2 * P, RW, MAP_PRIVATE, file, 0);
      const shared = yield* sys_mmap(mm, 0, P, RW, MAP_SHARED, file, 0);
      const pte = mm.pt.get(priv + P);
      const page = ptePfn(pte);
      const out = {
        mixed: (mm.vmas.find(priv)!.flags & VM_MIXEDMAP) !== 0,
        privWritable: (pte & PTE_WRITE) !== 0,
        sharedWritable: (mm.pt.get(shared) & PTE_WRITE) !== 0,
        data: yield* read32(mm, priv + P),
        refs: [mm.sys.frames.refcount(page), mm.sys.frames.mapcount(page)],
        freed: false,
      };
      yield* sys_munmap(mm, priv, 2 * P);
      out.freed = mm.sys.frames.isFree(page);
      return out;
    });
    expect(value).toEqual({ mixed: true, privWritable: false, sharedWritable: true, data: 0xd1, refs: [1, 1], freed: true });
    expect(kinds(w)).toEqual([]);
    expect(consistency(w)).toEqual([]);
  });

  it('a CPU write to an inserted page of a private mapping copies it (COW); a fault where nothing was inserted is SIGBUS', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const file = device_file_create(w, {
        name: 'dev',
        *mmap(mm, vma) {
          const page = yield* alloc_user_page(mm);
          const r = yield* vm_insert_page(mm, vma, vma.start, page); // only the first page
          mm.sys.putPage(page);
          return r;
        },
      });
      const a = yield* sys_mmap(mm, 0, 2 * P, RW, MAP_PRIVATE, file, 0);
      const inserted = ptePfn(mm.pt.get(a));
      const wr = yield* write32(mm, a, 5);
      return { wr, copied: ptePfn(mm.pt.get(a)) !== inserted, v: yield* read32(mm, a), hole: yield* read32(mm, a + P) };
    });
    expect(value).toEqual({ wr: 0, copied: true, v: 5, hole: -EFAULT });
    expect(kinds(w)).toEqual([]);
  });

  it('a failing driver mmap fails mmap and leaves no VMA', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const file = device_file_create(w, {
        name: 'dev',
        *mmap() {
          yield w.point('driver');
          return -ENOMEM;
        },
      });
      const r = yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE, file, 0);
      return { r, vmas: mm.vmas.toArray().length };
    });
    expect(value).toEqual({ r: -ENOMEM, vmas: 0 });
  });
});

describe('vm_insert_page', () => {
  it('refuses an address outside the VMA (-EFAULT), an occupied entry (-EBUSY) and an anonymous page (-EINVAL)', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const out: number[] = [];
      const file = device_file_create(w, {
        name: 'dev',
        *mmap(mm, vma) {
          const page = yield* alloc_user_page(mm);
          out.push(yield* vm_insert_page(mm, vma, vma.end, page));
          out.push(yield* vm_insert_page(mm, vma, vma.start, page));
          out.push(yield* vm_insert_page(mm, vma, vma.start, page));
          mm.sys.putPage(page);
          return 0;
        },
      });
      yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE, file, 0);
      const anon = yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, anon, 1);
      const anonPage = ptePfn(mm.pt.get(anon));
      const dev = mm.vmas.toArray().find((v) => !v.isAnon)!;
      out.push(yield* vm_insert_page(mm, dev, dev.start, anonPage));
      return out;
    });
    expect(value).toEqual([-EFAULT, 0, -EBUSY, -EINVAL]);
    expect(kinds(w)).toEqual([]);
  });

  it('the first insert changes vm_flags: without the mmap write lock it is a WARN, into a VM_PFNMAP VMA a BUG', () => {
    const unlocked = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      const vma = mm.vmas.find(a)!;
      const page = yield* alloc_user_page(mm);
      const r = yield* vm_insert_page(mm, vma, a, page);
      mm.sys.putPage(page);
      return r;
    });
    expect(unlocked.value).toBe(0);
    expect(kinds(unlocked.w)).toEqual(['warn']);
    const pfnmap = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      const vma = mm.vmas.find(a)!;
      vma.flags |= VM_PFNMAP;
      const page = yield* alloc_user_page(mm);
      yield* mmap_write_lock(mm);
      const r = yield* vm_insert_page(mm, vma, a, page);
      yield* mmap_write_unlock(mm);
      mm.sys.putPage(page);
      return r;
    });
    expect(pfnmap.value).toBe(-EINVAL);
    expect(kinds(pfnmap.w)).toEqual(['bug']);
  });
});
