/** get_user_pages / pin_user_pages (gup.ts) and the gup_test debugfs interface (gup-test.ts). */
import { describe, expect, it } from 'vitest';
import { EFAULT, EINVAL, ENOENT } from '../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { setKernelContract } from '../../src/locking/version.js';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { FOLL_LONGTERM, FOLL_WRITE, get_user_pages, get_user_pages_fast, pin_user_pages, pin_user_pages_fast, unpin_user_pages } from '../../src/mm/gup.ts';
import { GUP_BASIC_TEST, PIN_LONGTERM_BENCHMARK, gup_test_ioctl, gup_test_open, type GupTestFile } from '../../src/mm/gup-test.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { PTE_WRITE, ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, kinds, run1 } from './helpers.ts';

const P = 4096;
const H = 2 * 1024 * 1024;
const A = 0x40000000;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

describe('get_user_pages and pin_user_pages', () => {
  it('fault the pages in (for write: writable), take a reference or a pin, and stop at a hole', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, A, 3 * P, RW, ANON | MAP_FIXED);
      const pages: number[] = [];
      yield* mmap_read_lock(mm);
      const got = yield* get_user_pages(mm, a, 2, FOLL_WRITE, pages);
      const hole = yield* get_user_pages(mm, a + 2 * P, 2, 0, []); // page 3 has no VMA: 1 taken
      const none = yield* get_user_pages(mm, a + 3 * P, 1, 0, []);
      yield* mmap_read_unlock(mm);
      const f = mm.sys.frames;
      const refs = pages.map((p) => f.refcount(p));
      const writable = (mm.pt.get(a) & PTE_WRITE) !== 0;
      for (const p of pages) mm.sys.putPage(p);
      mm.sys.putPage(ptePfn(mm.pt.get(a + 2 * P)));
      const pins: number[] = [];
      yield* mmap_read_lock(mm);
      yield* pin_user_pages(mm, a, 1, FOLL_WRITE, pins);
      yield* mmap_read_unlock(mm);
      const pinned = [f.maybeDmaPinned(pins[0]!), mm.hasPinned];
      unpin_user_pages(w, pins, 1);
      return { got, hole, none, refs, writable, pinned, after: f.maybeDmaPinned(pins[0]!) };
    });
    expect(value).toEqual({ got: 2, hole: 1, none: -EFAULT, refs: [2, 2], writable: true, pinned: [true, true], after: false });
    expect(kinds(w)).toEqual([]);
    expect(consistency(w)).toEqual([]);
  });

  it('a write GUP of a read-only mapping is -EFAULT and faults nothing in', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, P, PROT_READ, ANON);
      yield* mmap_read_lock(mm);
      const r = yield* get_user_pages(mm, a, 1, FOLL_WRITE, []);
      yield* mmap_read_unlock(mm);
      return { r, pte: mm.pt.get(a) };
    });
    expect(value).toEqual({ r: -EFAULT, pte: 0 });
  });

  it('the fast variants take present pages without the mmap lock and fall back for the zero page (special) and holes', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 3 * P, RW, ANON);
      yield* write32(mm, a, 1);
      yield* read32(mm, a + P); // the zero page
      const pages: number[] = [];
      const n = yield* get_user_pages_fast(mm, a, 3, FOLL_WRITE, pages);
      const distinct = new Set(pages).size;
      for (const p of pages) mm.sys.putPage(p);
      const pins: number[] = [];
      const m = yield* pin_user_pages_fast(mm, a, 3, FOLL_WRITE | FOLL_LONGTERM, pins);
      const pinned = pins.every((p) => mm.sys.frames.maybeDmaPinned(p));
      unpin_user_pages(w, pins, m);
      return { n, distinct, m, pinned };
    });
    expect(value).toEqual({ n: 3, distinct: 3, m: 3, pinned: true });
    expect(kinds(w)).toEqual([]);
    expect(consistency(w)).toEqual([]);
  });

  it('a page of a PMD-mapped THP is taken as the subpage, the reference counted on the folio', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { thp: 'always' });
      const a = yield* sys_mmap(mm, A, H, RW, ANON | MAP_FIXED);
      yield* write32(mm, a, 1);
      const head = ptePfn(mm.pt.get(a));
      const pages: number[] = [];
      yield* mmap_read_lock(mm);
      yield* get_user_pages(mm, a + 5 * P, 1, 0, pages);
      yield* mmap_read_unlock(mm);
      const ref = mm.sys.frames.refcount(head);
      mm.sys.putPage(pages[0]!);
      return { sub: pages[0]! - head, ref, after: mm.sys.frames.refcount(head) };
    });
    expect(value).toEqual({ sub: 5, ref: 2, after: 1 });
    expect(kinds(w)).toEqual([]);
  });
});

describe('gup_test', () => {
  it('is there from v5.11 (the v5.14 contract on): -ENOENT before', () => {
    const { value } = run1(function* (w) {
      yield w.point('start');
      const mm = mm_create(w);
      const now = typeof gup_test_open(mm);
      setKernelContract(w, 'v5.9');
      return [now, gup_test_open(mm)];
    });
    expect(value).toEqual(['object', -ENOENT]);
  });

  it('GUP_BASIC_TEST and PIN_LONGTERM_BENCHMARK take and drop the pages, clean; size says how far it got; unknown commands are -EINVAL', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 4 * P, RW, ANON);
      const fd = gup_test_open(mm) as GupTestFile;
      const g = { get_delta_usec: 0, put_delta_usec: 0, addr: a, size: 4 * P, nr_pages_per_call: 2, gup_flags: FOLL_WRITE, test_flags: 0 };
      const r1 = yield* gup_test_ioctl(fd, GUP_BASIC_TEST, g);
      const size1 = g.size;
      const pfn = ptePfn(mm.pt.get(a + 3 * P));
      const h = { ...g, addr: a + 2 * P, size: 4 * P }; // runs past the mapping: stops after 2 pages
      const r2 = yield* gup_test_ioctl(fd, PIN_LONGTERM_BENCHMARK, h);
      return { r1, size1, r2, size2: h.size, refs: mm.sys.frames.refcount(pfn), bad: yield* gup_test_ioctl(fd, 42, g) };
    });
    expect(value).toEqual({ r1: 0, size1: 4 * P, r2: 0, size2: 2 * P, refs: 1, bad: -EINVAL });
    expect(kinds(w)).toEqual([]);
    expect(consistency(w)).toEqual([]);
  });
});
