/** hmm on huge mappings: map orders in hmm_range_fault, and migrate_vma splitting a THP first. */
import { describe, expect, it } from 'vitest';
import { HMM_PFN_REQ_FAULT, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_map_order } from '../../src/hmm/hmm-pfn.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { MAP_HUGETLB, MAP_HUGE_1GB } from '../../src/mm/hugetlb.ts';
import { thpStats } from '../../src/mm/huge-memory.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, kinds, recordInvalidations, run1 } from '../mm/helpers.ts';
import { P, plainNotifier, snapshot } from './helpers.ts';

const H = 2 * 1024 * 1024;
const G = 1024 * 1024 * 1024;
const A = 0x40000000;
const RW = PROT_READ | PROT_WRITE;

describe('hmm_range_fault on huge mappings (spec §4.2, §4.3)', () => {
  it('reports order 9 on every page of a PMD-mapped THP and 18 on a 1 GiB hugetlb page, with the same flags', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { thp: 'always', hugetlbGiganticPages: 1 });
      yield* sys_mmap(mm, A, H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
      yield* sys_mmap(mm, 2 * G, G, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_HUGETLB | MAP_HUGE_1GB);
      const sub = yield* plainNotifier(mm);
      const thp = yield* snapshot(mm, sub, A, A + H, { default_flags: HMM_PFN_REQ_FAULT | HMM_PFN_WRITE });
      const gig = yield* snapshot(mm, sub, 2 * G + 5 * P, 2 * G + 9 * P, { default_flags: HMM_PFN_REQ_FAULT });
      return { thp: [...thp.pfns], gig: [...gig.pfns], rets: [thp.ret, gig.ret] };
    });
    expect(value.rets).toEqual([0, 0]);
    expect(value.thp.every((v) => hmm_pfn_to_map_order(v) === 9 && (v & HMM_PFN_VALID) !== 0n && (v & HMM_PFN_WRITE) !== 0n)).toBe(true);
    expect(value.gig.map(hmm_pfn_to_map_order)).toEqual([18, 18, 18, 18]);
    expect(consistency(w)).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });
});

describe('migrate_vma of a THP', () => {
  it('splits the folio first (its CLEARs nested in the MIGRATE), then moves the pages and back; contents survive', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w, { thp: 'always' });
      const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 8);
      yield* sys_mmap(mm, A, H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
      yield* write32(mm, A + P, 7);
      yield* dev.insert(A, H);
      const seen = yield* recordInvalidations(mm);
      const r = yield* dev.migrateToDevice(A, A + 4 * P);
      const events = seen.filter((s) => s.op === 'start').map((s) => `${s.event}:${(s.start - A) / P}-${(s.end - A) / P}`);
      const back = yield* dev.migrateToRam(A, A + 4 * P);
      return { r, back, events, split: thpStats(mm.sys).splitPage, v: yield* read32(mm, A + P) };
    });
    expect([value.r, value.back, value.split, value.v]).toEqual([0, 0, 1, 7]);
    // MIGRATE over the 4 pages, the PMD split and the folio-span CLEARs inside it
    expect(value.events.slice(0, 3)).toEqual(['6:0-4', '1:0-512', '1:0-512']);
    expect(consistency(w)).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });
});
