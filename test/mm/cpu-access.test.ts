/** CPU loads and stores: values, errors, the dirty bit, and what their points name. */
import { describe, expect, it } from 'vitest';
import { EFAULT } from '../../src/mm/mm-errno.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { pteDirty } from '../../src/mm/pte.ts';
import { Trace } from '../../src/sim/trace.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { run1 } from './helpers.ts';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { Spinlock, spin_lock, spin_unlock } from '../../src/locking/spinlock.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';

describe('read32 / write32', () => {
  it('stores unsigned words, rejects unaligned addresses, and sets the dirty bit on the first store', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* read32(mm, a);
      const cleanBefore = pteDirty(mm.pt.get(a));
      yield* write32(mm, a + 8, -1);
      yield* write32(mm, a + 8, 0xffffffff + 3);
      return { cleanBefore, dirty: pteDirty(mm.pt.get(a)), v: yield* read32(mm, a + 8), bad: [yield* read32(mm, a + 2), yield* write32(mm, -4, 1)] };
    });
    expect(value).toEqual({ cleanBefore: false, dirty: true, v: 2, bad: [-EFAULT, -EFAULT] });
  });

  it('names the split page-table lock of the address in its scheduling point (read: R, write: W)', () => {
    const { w } = run1(function* (w) {
      w.trace = new Trace();
      const mm = mm_create(w, { name: 'm' });
      const a = yield* sys_mmap(mm, 0x400000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | 0x10);
      yield* write32(mm, a, 1);
      yield* read32(mm, a);
      return 0;
    });
    const lines = w.trace!.format(w.tasks.map((t) => t.name)).split('\n');
    expect(lines.some((l) => l.includes('write32 m:0x400000') && l.includes('[m->ptl@0x400000 W]'))).toBe(true);
    expect(lines.some((l) => l.includes('read32 m:0x400000') && l.includes('[m->ptl@0x400000 R]'))).toBe(true);
  });
});

describe('might_fault', () => {
  it('a user copy under a lock the fault path nests inside is a lockdep cycle, even when the page is present', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const m = new Mutex(w, 'drv->lock');
      const a = yield* sys_mmap(mm, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 7); // present from here on: the copy below never faults
      yield* mmap_read_lock(mm);
      yield* mutex_lock(m); // mmap_lock -> drv->lock, as a driver's fault path takes it
      yield* mutex_unlock(m);
      yield* mmap_read_unlock(mm);
      yield* mutex_lock(m);
      const v = yield* read32(mm, a); // copy_from_user under drv->lock: drv->lock -> mmap_lock
      yield* mutex_unlock(m);
      return v;
    });
    expect(value).toBe(7);
    expect(w.findings.map((f) => f.kind)).toEqual(['lockdep-circular']);
  });

  it('a user copy under a spinlock is sleeping in atomic context', () => {
    const { w } = run1(function* (w) {
      const mm = mm_create(w);
      const l = new Spinlock(w, 'drv->spin');
      const a = yield* sys_mmap(mm, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, a, 7);
      yield* spin_lock(l);
      yield* read32(mm, a);
      yield* spin_unlock(l);
    });
    // Lockdep's wait-context check (v5.7+) also sees the mmap lock, a sleeping lock, under a spinlock.
    expect(w.findings.map((f) => f.kind)).toContain('sleep-in-atomic');
  });
});
