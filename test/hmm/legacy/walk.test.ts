/**
 * hmm_range_snapshot and hmm_range_fault(range, block) of v5.2/v5.3 on the real address space:
 * what each entry reads as, what is faulted in, the return codes (page count, -EAGAIN with and
 * without dropping the mmap lock, -EBUSY, -EFAULT, -EPERM), and the temporary helpers
 * hmm_vma_fault / hmm_vma_range_done with the seed's return-value mapping.
 */
import { describe, expect, it } from 'vitest';
import { EAGAIN, EBUSY, EFAULT, EINVAL, EPERM } from '../../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../../src/locking/mmap-lock.js';
import { rwsem_is_held } from '../../../src/locking/rwsem.js';
import { MMU_NOTIFY_CLEAR } from '../../../src/notifier/events.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../../src/notifier/invalidate.js';
import { MmuNotifierRange, mmu_notifier_range_init } from '../../../src/notifier/range.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, mm_create, PROT_NONE, PROT_READ, read32, sys_mmap, sys_mprotect, type Mm } from '../../../src/mm/index.ts';
import { PTE_KIND_BITS, PTE_KIND_PRESENT, ptePfn } from '../../../src/mm/pte.ts';
import { mm_get_hmm } from '../../../src/hmm/legacy/hmm.js';
import {
  HMM_DEFAULT_FLAGS,
  HMM_DEFAULT_VALUES,
  HMM_PFN_NONE,
  HMM_PFN_SPECIAL,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  HmmRange,
  hmm_device_entry_to_pfn,
  hmm_range_register,
  hmm_range_unregister,
} from '../../../src/hmm/legacy/range.js';
import { hmm_range_fault, hmm_range_snapshot } from '../../../src/hmm/legacy/walk.js';
import { hmm_vma_fault, hmm_vma_range_done } from '../../../src/hmm/legacy/vma-helpers.js';
import type { World } from '../../../src/sim/world.js';
import { hmm_mirror_register } from '../../../src/hmm/legacy/mirror.js';
import { explore, kinds, LEGACY, mapAnon, P, RecordingMirror, reportKinds, run, type Gen } from './helpers.js';

const VALID = HMM_DEFAULT_FLAGS[HMM_PFN_VALID]!;
const WRITE = HMM_DEFAULT_FLAGS[HMM_PFN_WRITE]!;
const NONE = HMM_DEFAULT_VALUES[HMM_PFN_NONE]!;
const SPECIAL = HMM_DEFAULT_VALUES[HMM_PFN_SPECIAL]!;

interface St {
  mm: Mm;
  addr: number;
  range: HmmRange;
  log: unknown[];
}

const setup = (w: World): St => ({ mm: mm_create(w, { name: 'mm' }), addr: 0, range: new HmmRange('r'), log: [] });

/** A registered range over `pages` pages at `addr`, asking for `request` on every page. */
function* registered(s: St, pages: number, request = 0): Gen<void> {
  s.range.pfns = new Array<number>(pages).fill(0);
  s.range.default_flags = request;
  s.range.pfn_flags_mask = 0;
  const ret = yield* hmm_range_register(s.range, s.mm, s.addr, s.addr + pages * P);
  if (ret !== 0) throw new Error(`register: ${ret}`);
}

function cpuPfn(mm: Mm, addr: number): number {
  const pte = mm.pt.get(addr);
  return (pte & PTE_KIND_BITS) === PTE_KIND_PRESENT ? ptePfn(pte) : -1;
}

function* stuckInvalidation(mm: Mm, start: number, end: number): Gen<MmuNotifierRange> {
  const r = new MmuNotifierRange();
  mmu_notifier_range_init(r, MMU_NOTIFY_CLEAR, 0, mm, start, end);
  yield* mmu_notifier_invalidate_range_start(r);
  return r;
}

describe.each(LEGACY)('hmm_range_snapshot (%s)', (kernel) => {
  it('reports present pages (pfn, VALID, WRITE) and unpopulated ones as NONE, faulting nothing; returns the pages walked', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 3, 2);
        yield* registered(s, 3, VALID | WRITE);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_snapshot(s.range));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(s.range);
      },
    });
    const [e0, e1, e2] = s.range.pfns;
    expect(s.log).toEqual([3]);
    expect(hmm_device_entry_to_pfn(s.range, e0!)).toBe(cpuPfn(s.mm, s.addr));
    expect(hmm_device_entry_to_pfn(s.range, e1!)).toBe(cpuPfn(s.mm, s.addr + P));
    expect(e0! % 256).toBe(VALID | WRITE);
    expect(e2).toBe(NONE);
    expect(cpuPfn(s.mm, s.addr + 2 * P)).toBe(-1);
    expect(kinds(w)).toEqual([]);
  });

  it('the zero page reads as SPECIAL (v5.2 has no zero-page exception) and the count stops there', () => {
    const { s } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 2, 1);
        yield* read32(s.mm, s.addr + P); // maps the shared zero page
        yield* registered(s, 2);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_snapshot(s.range));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([1]);
    expect(s.range.pfns[1]).toBe(SPECIAL);
  });

  it('-EAGAIN when the range is invalid, with the mmap lock still held; -EFAULT with no VMA; -EPERM on PROT_NONE', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 2);
        yield* registered(s, 1);
        const r = yield* stuckInvalidation(s.mm, s.addr, s.addr + P);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_snapshot(s.range), rwsem_is_held(s.mm.mmap_lock));
        yield* mmap_read_unlock(s.mm);
        yield* mmu_notifier_invalidate_range_end(r);
        yield* hmm_range_unregister(s.range);
        const far = new HmmRange('far');
        far.pfns = [0];
        yield* hmm_range_register(far, s.mm, s.addr + 16 * P, s.addr + 17 * P);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_snapshot(far));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(far);
        yield* sys_mprotect(s.mm, s.addr + P, P, PROT_NONE);
        const ro = new HmmRange('noaccess');
        ro.pfns = [0];
        yield* hmm_range_register(ro, s.mm, s.addr + P, s.addr + 2 * P);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_snapshot(ro), ro.pfns[0]);
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(ro);
      },
    });
    expect(s.log).toEqual([-EAGAIN, true, -EFAULT, -EPERM, NONE]);
    expect(kinds(w)).toEqual([]);
  });

  it('a pfns array shorter than the range is a BUG finding that stops the run (the kernel would write past it)', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 2);
        yield* registered(s, 2);
        s.range.pfns = [0];
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_snapshot(s.range));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([-EINVAL]);
    expect(w.findings[0]!.kind).toBe('bug');
    expect(w.findings[0]!.message).toMatch(/range->pfns has 1 entries for 2 pages/);
    expect(w.isStopped).toBe(true);
  });

  it('without the mmap lock held the walk is a WARN (mmap_assert_locked)', () => {
    const { w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        yield* registered(s, 1);
        yield* hmm_range_snapshot(s.range);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(kinds(w)).toEqual(['warn']);
  });
});

describe.each(LEGACY)('hmm_range_fault (%s)', (kernel) => {
  it('faults in what is asked (write: a new writable page) and reports it', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 2, 0);
        yield* registered(s, 2, VALID | WRITE);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_fault(s.range, true), rwsem_is_held(s.mm.mmap_lock));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([2, true]);
    for (let i = 0; i < 2; i++) {
      expect(cpuPfn(s.mm, s.addr + i * P)).toBeGreaterThan(0);
      expect(hmm_device_entry_to_pfn(s.range, s.range.pfns[i]!)).toBe(cpuPfn(s.mm, s.addr + i * P));
      expect(s.range.pfns[i]! % 256).toBe(VALID | WRITE);
    }
    expect(kinds(w)).toEqual([]);
  });

  it('per-page requests through pfn_flags_mask: a hole is faulted from its start to the end of the chunk', () => {
    const { s } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 3, 0);
        yield* registered(s, 3);
        s.range.pfn_flags_mask = -1;
        // Only the second page asks; with no page table yet the whole chunk is one hole, and
        // v5.2 faults every page of it with the strongest request it saw.
        s.range.pfns = [0, VALID | WRITE, 0];
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_fault(s.range, true));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([3]);
    for (let i = 0; i < 3; i++) expect(hmm_device_entry_to_pfn(s.range, s.range.pfns[i]!)).toBe(cpuPfn(s.mm, s.addr + i * P));
    expect(s.range.pfns[1]! % 256).toBe(VALID | WRITE);
  });

  it('a read fault maps the zero page, which v5.2 then reports as SPECIAL: -EFAULT', () => {
    const { s } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1, 0);
        yield* registered(s, 1, VALID);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_fault(s.range, true));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([-EFAULT]);
  });

  it('an invalid range: -EAGAIN with the mmap lock dropped (v5.2 semantics)', () => {
    const { s, w } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* mapAnon(s.mm, 1);
        yield* registered(s, 1, VALID);
        const r = yield* stuckInvalidation(s.mm, s.addr, s.addr + P);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_fault(s.range, true), rwsem_is_held(s.mm.mmap_lock));
        yield* mmu_notifier_invalidate_range_end(r);
        yield* hmm_range_unregister(s.range);
      },
    });
    expect(s.log).toEqual([-EAGAIN, false]);
    expect(kinds(w)).toEqual([]);
  });

  it('-EPERM for a write request on a read-only VMA; -EFAULT past the mapping, entries from there on NONE', () => {
    const { s } = run(kernel, setup, {
      *t(s) {
        s.addr = yield* sys_mmap(s.mm, 0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
        yield* registered(s, 1, VALID | WRITE);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_fault(s.range, true));
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(s.range);
        const wide = new HmmRange('wide');
        wide.pfns = [0, 0];
        wide.default_flags = VALID;
        yield* hmm_range_register(wide, s.mm, s.addr, s.addr + 2 * P);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_range_fault(wide, true), wide.pfns[1]);
        yield* mmap_read_unlock(s.mm);
        yield* hmm_range_unregister(wide);
      },
    });
    expect(s.log).toEqual([-EPERM, -EFAULT, NONE]);
  });

  it('an invalidation that hits the range during the walk: -EBUSY with the lock held, in some interleaving', () => {
    const seen = new Set<string>();
    const r = explore(kernel, {
      setup: (w: World) => ({ ...setup(w), ret: 0, held: false }),
      *init(s) {
        s.addr = yield* mapAnon(s.mm, 1, 0);
        yield* registered(s, 1, VALID | WRITE);
      },
      tasks: {
        *device(s) {
          yield* mmap_read_lock(s.mm);
          s.ret = yield* hmm_range_fault(s.range, true);
          s.held = rwsem_is_held(s.mm.mmap_lock);
          if (s.held) yield* mmap_read_unlock(s.mm);
          yield* hmm_range_unregister(s.range);
        },
        *cpu(s) {
          const r = yield* stuckInvalidation(s.mm, s.addr, s.addr + P);
          yield* mmu_notifier_invalidate_range_end(r);
        },
      },
      check: (s) => void seen.add(`${s.ret} held=${s.held}`),
      legs: [{ name: 'dfs', preemptionBound: 2 }],
    });
    expect(reportKinds(r)).toEqual([]);
    expect([...seen].sort()).toEqual([`${-EAGAIN} held=false`, `${-EBUSY} held=true`, '1 held=true'].sort());
  });
});

describe.each(LEGACY)("hmm_vma_fault / hmm_vma_range_done: the seed's mapping (%s)", (kernel) => {
  interface V extends St {
    held: boolean;
  }
  const vsetup = (w: World): V => ({ ...setup(w), held: false });

  function* prepare(s: V, pages: number, written: number, request: number[]): Gen<void> {
    s.addr = yield* mapAnon(s.mm, pages, written);
    // A mirror first, as drivers have: registering a range would otherwise make the hmm, whose
    // notifier registration takes the mmap lock for write, under the caller's read hold.
    yield* hmm_mirror_register(new RecordingMirror(), s.mm);
    s.range.vma = s.mm.vmas.find(s.addr)!;
    s.range.start = s.addr;
    s.range.end = s.addr + request.length * P;
    s.range.pfns = request.slice();
  }

  it('pages filled in: 0, the range stays registered; hmm_vma_range_done then says valid and unregisters', () => {
    const { s, w } = run(kernel, vsetup, {
      *t(s) {
        yield* prepare(s, 1, 0, [VALID | WRITE]);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_vma_fault(s.range, true), rwsem_is_held(s.mm.mmap_lock), s.range.state);
        yield* mmap_read_unlock(s.mm);
        s.log.push(yield* hmm_vma_range_done(s.range), s.range.state);
      },
    });
    expect(s.log).toEqual([0, true, 'registered', true, 'unregistered']);
    expect(s.range.default_flags).toBe(0);
    expect(s.range.pfn_flags_mask).toBe(-1);
    expect(kinds(w)).toEqual([]);
  });

  it('hmm_range_fault says 0 pages: -EBUSY, the mmap lock dropped, the range unregistered', () => {
    const { s, w } = run(kernel, vsetup, {
      *t(s) {
        // Nothing asked, nothing mapped: the walk stops at the hole's start and counts 0 pages.
        yield* prepare(s, 1, 0, [0]);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_vma_fault(s.range, true), rwsem_is_held(s.mm.mmap_lock), s.range.state);
      },
    });
    expect(s.log).toEqual([-EBUSY, false, 'unregistered']);
    expect(kinds(w)).toEqual([]);
  });

  it('hmm_range_fault fails (-EFAULT): that error, the mmap lock still held, the range unregistered', () => {
    const { s, w } = run(kernel, vsetup, {
      *t(s) {
        yield* prepare(s, 1, 1, [VALID, VALID]);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_vma_fault(s.range, true), rwsem_is_held(s.mm.mmap_lock), s.range.state);
        yield* mmap_read_unlock(s.mm);
      },
    });
    expect(s.log).toEqual([-EFAULT, true, 'unregistered']);
    expect(kinds(w)).toEqual([]);
  });

  it('against a concurrent invalidation: 0 (registered, lock held) or -EBUSY (unregistered, lock dropped), never a lock imbalance', () => {
    const seen = new Set<string>();
    const r = explore(kernel, {
      setup: (w: World) => ({ ...vsetup(w), ret: 99 }),
      *init(s) {
        yield* prepare(s, 1, 0, [VALID | WRITE]);
      },
      tasks: {
        *device(s) {
          yield* mmap_read_lock(s.mm);
          s.ret = yield* hmm_vma_fault(s.range, true);
          s.held = rwsem_is_held(s.mm.mmap_lock);
          if (s.held) yield* mmap_read_unlock(s.mm);
          if (s.ret === 0) yield* hmm_vma_range_done(s.range);
        },
        *cpu(s) {
          const r = yield* stuckInvalidation(s.mm, s.addr, s.addr + P);
          yield* mmu_notifier_invalidate_range_end(r);
        },
      },
      check: (s) => void seen.add(`${s.ret} held=${s.held} ${s.range.state}`),
      legs: [{ name: 'dfs', preemptionBound: 2 }],
    });
    expect(reportKinds(r)).toEqual([]);
    expect([...seen].sort()).toEqual([`${-EBUSY} held=false unregistered`, '0 held=true unregistered'].sort());
  });

  it('wait_until_valid times out: -EAGAIN, the mmap lock dropped, the range left registered (as in the seed)', () => {
    const { s, w } = run(kernel, vsetup, {
      *t(s, w) {
        yield* prepare(s, 1, 1, [VALID]);
        // The hmm exists and counts an invalidation that never ends.
        const keep = new HmmRange('keep');
        yield* hmm_range_register(keep, s.mm, s.addr, s.addr + P);
        yield* stuckInvalidation(s.mm, s.addr, s.addr + P);
        yield* mmap_read_lock(s.mm);
        s.log.push(yield* hmm_vma_fault(s.range, true), rwsem_is_held(s.mm.mmap_lock), s.range.state, w.now);
        s.log.push(mm_get_hmm(s.mm)!.notifiers);
      },
    });
    expect(s.log).toEqual([-EAGAIN, false, 'registered', 1000, 1]);
    expect(kinds(w)).toContain('hmm-range-unbalanced');
  });
});
