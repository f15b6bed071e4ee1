/**
 * The nouveau-like GPU SVM driver (src/devices/gpu-svm.ts), one run at a time; the catalogue
 * (scenarios/hmm/gpu-svm.ts) explores it against the CPU side under many interleavings.
 */
import { describe, expect, it } from 'vitest';
import { EBUSY } from '../../src/locking/errno.js';
import { setKernelContract } from '../../src/locking/version.js';
import { GpuSvm, gpu_svm_atomic_fault, LIVELOCK, STARVED_BY_SELF_INVALIDATION, type GpuSvmVariant } from '../../src/devices/gpu-svm.js';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { PG_LOCKED } from '../../src/mm/frame-flags.ts';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { isDeviceExclusiveEntry, ptePfn } from '../../src/mm/pte.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { consistency, kinds, run1 } from '../mm/helpers.ts';

const V = 0x400000;

describe('GPU SVM atomic fault', () => {
  for (const kernel of ['v5.14', 'v6.15']) {
    it(`${kernel}: the correct driver gets atomic access, leaves the folio unlocked, and its process-wide notifier revokes it when the CPU takes the page back`, () => {
      const { value, w } = run1(function* (w) {
        setKernelContract(w, kernel);
        const mm = mm_create(w);
        yield* sys_mmap(mm, V, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        yield* write32(mm, V, 42);
        const g = new GpuSvm(w, mm);
        yield* g.register();
        const ret = yield* gpu_svm_atomic_fault(g, V);
        const pfn = ptePfn(mm.pt.get(V));
        const during = { ret, exclusive: isDeviceExclusiveEntry(mm.pt.get(V)), atomic: g.gpu.entries.get(V) === pfn, locked: mm.sys.frames.testFlags(pfn, PG_LOCKED) };
        const v = yield* read32(mm, V);
        return { during, v, atomicAfter: g.gpu.entries.size, inconsistent: consistency(w) };
      });
      expect(value).toEqual({ during: { ret: 0, exclusive: true, atomic: true, locked: false }, v: 42, atomicAfter: 0, inconsistent: [] });
      expect(kinds(w)).toEqual([]);
    });
  }

  it('no-owner-filter: its own conversion bumps its sequence every time: -EBUSY and a livelock finding', () => {
    const { value, w } = run1(function* (w) {
      setKernelContract(w, 'v6.15');
      const mm = mm_create(w);
      yield* sys_mmap(mm, V, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, V, 42);
      const g = new GpuSvm(w, mm, 'no-owner-filter');
      yield* g.register();
      return yield* gpu_svm_atomic_fault(g, V);
    });
    expect(value).toBe(-EBUSY);
    expect(kinds(w)).toEqual([LIVELOCK]);
    expect(w.findings[0]!.message).toMatch(/does not ignore its own EXCLUSIVE event/);
  });

  /** Two atomic faults on one page in a row under `kernel`, with driver `variant`. */
  function twice(kernel: string, variant: GpuSvmVariant) {
    return run1(function* (w) {
      setKernelContract(w, kernel);
      const mm = mm_create(w);
      yield* sys_mmap(mm, V, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(mm, V, 42);
      const g = new GpuSvm(w, mm, variant);
      yield* g.register();
      const rets = [yield* gpu_svm_atomic_fault(g, V), yield* gpu_svm_atomic_fault(g, V)];
      return { rets, retries: g.retries, v: yield* read32(mm, V), inconsistent: consistency(w) };
    });
  }

  for (const [kernel, event] of [
    ['v5.14', 'EXCLUSIVE'],
    ['v6.15', 'CLEAR'],
  ] as const) {
    it(`${kernel}: correct driver, second fault on a page it already holds: each attempt's GUP undoes the entry under an owner-null ${event} its notifier must honour, so it gives up with -EBUSY: info-starved-by-self-invalidation, not a livelock`, () => {
      const { value, w } = twice(kernel, 'correct');
      expect(value).toEqual({ rets: [0, -EBUSY], retries: 4, v: 42, inconsistent: [] });
      expect(kinds(w)).toEqual([STARVED_BY_SELF_INVALIDATION]);
      expect(w.findings[0]!.message).toMatch(new RegExp(`gave up after 4 attempts \\(-EBUSY.*its own GUP's ${event} \\(owner null\\).*owner-null ${event} invalidation`));
    });

    it(`${kernel}: no-unlock-on-retry (nouveau before b3fefbb30a16): the retry keeps the folio locked, and the next attempt's GUP sleeps on it for ever`, () => {
      const { w } = twice(kernel, 'no-unlock-on-retry');
      expect(kinds(w)).toContain('deadlock');
      expect(kinds(w)).not.toContain(STARVED_BY_SELF_INVALIDATION);
    });

    it(`${kernel}: what-if-filter-own-restore: the second fault ignores what its own GUP raises and finishes without a retry`, () => {
      const { value, w } = twice(kernel, 'what-if-filter-own-restore');
      expect(value).toEqual({ rets: [0, 0], retries: 0, v: 42, inconsistent: [] });
      expect(kinds(w)).toEqual([]);
    });
  }
});
