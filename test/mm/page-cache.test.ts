import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PAGE_SIZE } from '../../src/mm/constants.ts';
import { FrameTable, PG_ANON, PG_DIRTY, PG_UPTODATE } from '../../src/mm/frames.ts';
import { PageCache } from '../../src/mm/page-cache.ts';

describe('PageCache: index', () => {
  it('files get dense ids and sizes', () => {
    const frames = new FrameTable();
    const pc = new PageCache(frames);
    expect(pc.createFile(10_000)).toBe(0);
    expect(pc.createFile()).toBe(1);
    expect(pc.fileCount).toBe(2);
    expect(pc.fileSize(0)).toBe(10_000);
    expect(pc.filePages(0)).toBe(3);
    pc.setFileSize(1, 5 * PAGE_SIZE);
    expect(pc.filePages(1)).toBe(5);
    expect(() => pc.fileSize(7)).toThrow(/no file/);
    expect(() => pc.createFile(-1)).toThrow(/size/);
  });

  it('insert takes a cache reference and sets owner/index; remove drops both', () => {
    const frames = new FrameTable();
    const pc = new PageCache(frames);
    const f = pc.createFile(PAGE_SIZE * 4);
    const pfn = frames.alloc(PG_UPTODATE);
    expect(pc.insert(f, 2, pfn)).toBe(true);
    expect(frames.refcount(pfn)).toBe(2);
    expect([frames.owner(pfn), frames.index(pfn)]).toEqual([f, 2]);
    expect(pc.lookup(f, 2)).toBe(pfn);
    expect(pc.lookup(f, 3)).toBe(-1);
    expect(pc.lookup(f, 1_000_000)).toBe(-1);
    expect(pc.insert(f, 2, frames.alloc())).toBe(false); // -EEXIST
    expect(pc.cachedCount(f)).toBe(1);
    expect(pc.remove(f, 2)).toBe(pfn);
    expect(frames.refcount(pfn)).toBe(1);
    expect(frames.owner(pfn)).toBe(-1);
    expect(pc.remove(f, 2)).toBe(-1);
    expect(pc.totalCached).toBe(0);
    frames.put(pfn);
    expect(frames.isFree(pfn)).toBe(true);
  });

  it('the index grows for pgoffs beyond its initial capacity; nextCached iterates ascending', () => {
    const frames = new FrameTable();
    const pc = new PageCache(frames);
    const f = pc.createFile(0);
    for (const p of [100, 3, 5000]) expect(pc.grab(f, p)).toBeGreaterThan(0);
    const seen: number[] = [];
    for (let p = pc.nextCached(f, 0, 1e9); p >= 0; p = pc.nextCached(f, p + 1, 1e9)) seen.push(p);
    expect(seen).toEqual([3, 100, 5000]);
    expect(pc.nextCached(f, 4, 100)).toBe(-1);
  });
});

describe('PageCache: data', () => {
  it('pwrite/pread go through frames, allocate on demand, dirty the page and grow the file', () => {
    const frames = new FrameTable();
    const pc = new PageCache(frames);
    const f = pc.createFile(0);
    expect(pc.pread32(f, 0)).toBe(0); // beyond EOF: nothing cached
    expect(pc.cachedCount(f)).toBe(0);
    expect(pc.pwrite32(f, PAGE_SIZE + 8, 0xabcd)).toBe(true);
    expect(pc.fileSize(f)).toBe(PAGE_SIZE + 12);
    const pfn = pc.lookup(f, 1);
    expect(frames.testFlags(pfn, PG_DIRTY | PG_UPTODATE)).toBe(true);
    expect(frames.refcount(pfn)).toBe(1);
    expect(frames.read32(pfn, 8)).toBe(0xabcd);
    expect(pc.pread32(f, PAGE_SIZE + 8)).toBe(0xabcd);
    expect(pc.pread32(f, 0)).toBe(0); // a hole inside the file reads zeros and is cached
    expect(pc.cachedCount(f)).toBe(2);
    expect(() => pc.pwrite32(f, 2, 1)).toThrow(RangeError);
  });

  it('contents survive eviction only after writeback', () => {
    const frames = new FrameTable();
    const pc = new PageCache(frames);
    const f = pc.createFile(PAGE_SIZE);
    pc.pwrite32(f, 16, 7);
    expect(pc.readBacking32(f, 16)).toBe(0);
    expect(pc.writeback(f, 0)).toBe(true);
    expect(frames.testFlags(pc.lookup(f, 0), PG_DIRTY)).toBe(false);
    expect(pc.readBacking32(f, 16)).toBe(7);
    pc.pwrite32(f, 16, 8); // dirty again, then dropped without writeback: the write is lost
    const old = pc.remove(f, 0);
    expect(frames.isFree(old)).toBe(true);
    expect(pc.pread32(f, 16)).toBe(7);
    expect(pc.writeback(f, 3)).toBe(false);
  });

  it('out of frames: pwrite and pread report failure', () => {
    const frames = new FrameTable({ limit: 1 });
    const pc = new PageCache(frames);
    const f = pc.createFile(2 * PAGE_SIZE);
    expect(pc.pwrite32(f, 0, 1)).toBe(true);
    expect(pc.pwrite32(f, PAGE_SIZE, 1)).toBe(false);
    expect(pc.pread32(f, PAGE_SIZE)).toBe(-1);
    expect(pc.pread32(f, 0)).toBe(1);
    expect(pc.grab(f, 1)).toBe(-1);
  });

  it('truncate removes pages beyond the end and zeroes the partial tail, cached and written back', () => {
    const frames = new FrameTable();
    const pc = new PageCache(frames);
    const f = pc.createFile(0);
    for (let i = 0; i < 3 * PAGE_SIZE; i += 512) pc.pwrite32(f, i, i + 1);
    pc.writeback(f, 0);
    pc.writeback(f, 1);
    const held = pc.lookup(f, 2);
    frames.get(held); // a mapper's reference keeps the page alive after it leaves the cache
    expect(pc.truncate(f, PAGE_SIZE + 1024)).toBe(1);
    expect(frames.refcount(held)).toBe(1);
    expect(frames.owner(held)).toBe(-1);
    expect(pc.fileSize(f)).toBe(PAGE_SIZE + 1024);
    expect(pc.pread32(f, PAGE_SIZE + 512)).toBe(PAGE_SIZE + 513);
    pc.setFileSize(f, 3 * PAGE_SIZE); // extend again: everything past the old end reads zero
    expect(pc.pread32(f, PAGE_SIZE + 1024)).toBe(0);
    expect(pc.pread32(f, PAGE_SIZE + 2048)).toBe(0);
    expect(pc.pread32(f, 2 * PAGE_SIZE)).toBe(0);
    pc.remove(f, 1);
    expect(pc.pread32(f, PAGE_SIZE + 2048)).toBe(0); // also zeroed in the backing store
    expect(pc.pread32(f, PAGE_SIZE + 512)).toBe(PAGE_SIZE + 513);
  });

  it('random pwrite/pread/writeback/evict sequences match a byte-array model with a disk', () => {
    const opArb = fc.oneof(
      fc.record({ op: fc.constant('w' as const), word: fc.nat(3 * 1024 - 1), v: fc.nat({ max: 0xffffffff }) }),
      fc.record({ op: fc.constant('r' as const), word: fc.nat(3 * 1024 - 1) }),
      fc.record({ op: fc.constant('wb' as const), page: fc.nat(2) }),
      fc.record({ op: fc.constant('evict' as const), page: fc.nat(2) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const frames = new FrameTable({ limit: 8 });
        const pc = new PageCache(frames);
        const f = pc.createFile(3 * PAGE_SIZE);
        const cache = new Map<number, Map<number, number>>(); // page -> words (cached view)
        const disk = new Map<number, number>(); // word -> value
        const view = (page: number): Map<number, number> => {
          let m = cache.get(page);
          if (!m) {
            m = new Map([...disk].filter(([w]) => Math.floor(w / 1024) === page));
            cache.set(page, m);
          }
          return m;
        };
        for (const o of ops) {
          if (o.op === 'w') {
            expect(pc.pwrite32(f, o.word * 4, o.v)).toBe(true);
            view(Math.floor(o.word / 1024)).set(o.word, o.v);
          } else if (o.op === 'r') {
            expect(pc.pread32(f, o.word * 4)).toBe(view(Math.floor(o.word / 1024)).get(o.word) ?? 0);
          } else if (o.op === 'wb') {
            const m = cache.get(o.page);
            expect(pc.writeback(f, o.page)).toBe(m !== undefined);
            if (m) {
              for (const w of [...disk.keys()]) if (Math.floor(w / 1024) === o.page) disk.delete(w);
              for (const [w, v] of m) disk.set(w, v);
            }
          } else {
            expect(pc.remove(f, o.page) >= 0).toBe(cache.has(o.page));
            cache.delete(o.page);
          }
        }
        expect(frames.ramInUse).toBe(cache.size);
        frames.checkInvariants();
        expect(frames.problems).toEqual([]);
      }),
    );
  });
});

describe('PageCache: frames it did not allocate', () => {
  it('insert of an anon-flagged frame still records file ownership (caller decides flags)', () => {
    const frames = new FrameTable();
    const pc = new PageCache(frames);
    const f = pc.createFile(PAGE_SIZE);
    const p = frames.alloc(PG_ANON);
    pc.insert(f, 0, p);
    expect(frames.owner(p)).toBe(f);
  });
});
