/**
 * hmm_range_fault across kernel versions: map orders (v5.10+) and VM_MIXEDMAP VMAs (v5.16+).
 */
import { describe, expect, it } from 'vitest';
import { EFAULT } from '../../src/locking/errno.js';
import { setKernelContract } from '../../src/locking/version.js';
import { HMM_PFN_ERROR, HMM_PFN_REQ_FAULT, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_map_order, hmm_pfn_to_page } from '../../src/hmm/hmm-pfn.ts';
import { device_file_create, vm_insert_page } from '../../src/mm/device-file.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { MAP_HUGETLB } from '../../src/mm/hugetlb.ts';
import { ptePfn } from '../../src/mm/pte.ts';
import { alloc_user_page } from '../../src/mm/reclaim.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { kinds, run1 } from '../mm/helpers.ts';
import { P, plainNotifier, snapshot } from './helpers.ts';

const H = 2 * 1024 * 1024;
const A = 0x40000000;
const RW = PROT_READ | PROT_WRITE;

function hugetlbOrders(kernel: string): number[] {
  const { value, w } = run1(function* (w) {
    setKernelContract(w, kernel);
    const mm = mm_create(w, { hugetlbPages: 1 });
    yield* sys_mmap(mm, A, H, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_HUGETLB);
    const sub = yield* plainNotifier(mm);
    const r = yield* snapshot(mm, sub, A, A + 4 * P, { default_flags: HMM_PFN_REQ_FAULT | HMM_PFN_WRITE });
    return [r.ret, ...[...r.pfns].map(hmm_pfn_to_map_order)];
  });
  expect(kinds(w)).toEqual([]);
  return value;
}

describe('hmm_range_fault map orders by kernel version', () => {
  it('a hugetlb page reports order 9 from v5.10 (the v5.14 contract) and 0 before (v5.9)', () => {
    expect(hugetlbOrders('v5.14')).toEqual([0, 9, 9, 9, 9]);
    expect(hugetlbOrders('current')).toEqual([0, 9, 9, 9, 9]);
    expect(hugetlbOrders('v5.9')).toEqual([0, 0, 0, 0, 0]);
  });
});

/** A device file mapping of 2 pages with one inserted page; snapshot and fault over it. */
function mixedMap(kernel: string): { snap: bigint[]; fault: number; page: number } {
  const { value, w } = run1(function* (w) {
    setKernelContract(w, kernel);
    const mm = mm_create(w);
    const file = device_file_create(w, {
      name: 'dev',
      *mmap(mm, vma) {
        const page = yield* alloc_user_page(mm);
        const r = yield* vm_insert_page(mm, vma, vma.start, page);
        mm.sys.putPage(page);
        return r;
      },
    });
    const a = yield* sys_mmap(mm, 0, 2 * P, RW, MAP_PRIVATE, file, 0);
    const sub = yield* plainNotifier(mm);
    const snap = yield* snapshot(mm, sub, a, a + P);
    const fault = yield* snapshot(mm, sub, a, a + P, { default_flags: HMM_PFN_REQ_FAULT });
    return { snap: [...snap.pfns, BigInt(snap.ret)], fault: fault.ret, page: ptePfn(mm.pt.get(a)) };
  });
  expect(kinds(w)).toEqual([]);
  return value;
}

describe('hmm_range_fault on a VM_MIXEDMAP VMA', () => {
  it('v5.16+ (the v6.15 contract): the inserted page is reported, read-only in a private mapping, and a read fault succeeds', () => {
    for (const k of ['v6.15', 'current']) {
      const r = mixedMap(k);
      const [w, ret] = r.snap as [bigint, bigint];
      expect(ret, k).toBe(0n);
      expect(w & HMM_PFN_VALID, k).toBe(HMM_PFN_VALID);
      expect(w & (HMM_PFN_WRITE | HMM_PFN_ERROR), k).toBe(0n);
      expect(hmm_pfn_to_page(w), k).toBe(r.page);
      expect(r.fault, k).toBe(0);
    }
  });

  it('before (v5.14): the VMA is refused as VM_PFNMAP is: ERROR without a fault request, -EFAULT with one', () => {
    const r = mixedMap('v5.14');
    expect(r.snap).toEqual([HMM_PFN_ERROR, 0n]);
    expect(r.fault).toBe(-EFAULT);
  });
});
