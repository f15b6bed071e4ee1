/**
 * S-SEQ-1 on a transparent huge page: a mirror of one 4 KiB page inside a PMD-mapped 2 MiB
 * folio, against CPU operations that split the PMD. The split raises its own CLEAR over the
 * whole 2 MiB region: at a VMA split (munmap of the page) before the UNMAP, and nested inside
 * the CLEAR of MADV_DONTNEED. The documented driver loop stays clean either way; without
 * read_retry the device keeps a page the CPU no longer maps.
 *
 * - s-seq-1-thp-munmap / -no-retry: munmap of the mirrored page (split outside, then UNMAP).
 * - s-seq-1-thp-dontneed: MADV_DONTNEED of it (split nested inside the CLEAR).
 * - s-seq-1-hugetlb-munmap / -no-retry: the page lies in a 2 MiB hugetlb page instead; munmap of
 *   the whole huge page raises UNMAP with __unmap_hugepage_range's own UNMAP nested inside.
 */
import { defineScenario, IntervalMirror, Mutex, type IntervalMirrorVariant, type World } from '../../src/index.js';
import { MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, MADV_DONTNEED, mm_create, PAGE_SIZE, PROT_READ, PROT_WRITE, sys_madvise, sys_mmap, sys_munmap, write32, type Mm } from '../../src/mm/index.ts';
import { MM_SCENARIO_RUNS } from '../budget.js';

const HPAGE = 2 * 1024 * 1024;

interface State {
  mm: Mm;
  base: number;
  addr: number;
  mirror: IntervalMirror;
}

function thpSeq(name: string, description: string, variant: IntervalMirrorVariant, op: 'munmap' | 'dontneed' | 'hugetlb', expectBug: string[], allowBug: string[] = []) {
  return defineScenario<State>({
    name,
    description,
    setup(w: World) {
      const mm = mm_create(w, op === 'hugetlb' ? { name: 'mm', hugetlbPages: 1 } : { name: 'mm', thp: 'always' });
      return { mm, base: 0, addr: 0, mirror: new IntervalMirror(w, mm, variant, 'mirror', new Mutex(w, 'driver_lock', 'mirror->lock')) };
    },
    *init(s) {
      const flags = MAP_PRIVATE | MAP_ANONYMOUS | (op === 'hugetlb' ? MAP_HUGETLB : 0);
      const base = yield* sys_mmap(s.mm, 0, HPAGE, PROT_READ | PROT_WRITE, flags);
      if (base < 0) throw new Error(`mmap failed: ${base}`);
      yield* write32(s.mm, base, 1); // one PMD fault maps the whole 2 MiB
      if (s.mm.pt.hugePmdCount !== 1) throw new Error('the mapping is not PMD-mapped');
      s.base = base;
      s.addr = base + 5 * PAGE_SIZE;
      yield* s.mirror.insert(s.addr, PAGE_SIZE);
    },
    tasks: {
      *device_fault(s) {
        yield* s.mirror.fault(s.addr, true);
      },
      *cpu(s) {
        if (op === 'munmap') yield* sys_munmap(s.mm, s.addr, PAGE_SIZE);
        else if (op === 'dontneed') yield* sys_madvise(s.mm, s.addr, PAGE_SIZE, MADV_DONTNEED);
        else yield* sys_munmap(s.mm, s.base, HPAGE);
      },
    },
    expect: (v) => (v.intervalNotifiers ? expectBug : ['api-unavailable']),
    allow: allowBug,
    runs: MM_SCENARIO_RUNS,
  });
}

export const sSeq1ThpMunmap = thpSeq('s-seq-1-thp-munmap', 'S-SEQ-1 on a huge page: munmap of one page splits the PMD, then unmaps: clean', 'correct', 'munmap', []);
export const sSeq1ThpMunmapNoRetry = thpSeq(
  's-seq-1-thp-munmap-no-retry',
  'S-SEQ-1 on a huge page without read_retry: the device keeps the page munmap took away',
  'no-read-retry',
  'munmap',
  ['stale-device-mapping'],
  ['device-maps-freed-page'],
);
export const sSeq1ThpDontneed = thpSeq(
  's-seq-1-thp-dontneed',
  'S-SEQ-1 on a huge page: MADV_DONTNEED of one page splits the PMD inside its own CLEAR (nested): clean',
  'correct',
  'dontneed',
  [],
);

export const sSeq1HugetlbMunmap = thpSeq(
  's-seq-1-hugetlb-munmap',
  'S-SEQ-1 on a hugetlb page: munmap raises UNMAP with the hugetlb UNMAP nested inside: clean',
  'correct',
  'hugetlb',
  [],
);
export const sSeq1HugetlbMunmapNoRetry = thpSeq(
  's-seq-1-hugetlb-munmap-no-retry',
  'S-SEQ-1 on a hugetlb page without read_retry: the device keeps the page munmap took away',
  'no-read-retry',
  'hugetlb',
  ['stale-device-mapping'],
  ['device-maps-freed-page'],
);

export default [sSeq1ThpMunmap, sSeq1ThpMunmapNoRetry, sSeq1ThpDontneed, sSeq1HugetlbMunmap, sSeq1HugetlbMunmapNoRetry];
