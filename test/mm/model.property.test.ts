/**
 * The mm layer against a reference model (model-driver.ts, ref-model.ts): random command
 * sequences over mmap, munmap, mprotect, madvise, mremap, fork, reads, writes, file I/O, reclaim
 * and exit, under a memory limit small enough that faults reclaim and swap all the time.
 *
 * After every command: loads return what the reference says (contents survive COW, swap, fork,
 * mremap); every tracked word of every process, inspected without faulting, agrees; refcounts,
 * mapcounts and swap counts match the page tables; the invalidations raised are the ones the
 * command should raise, and cover every PTE that changed (the mirroring device would otherwise
 * report a stale mapping). After the last command every process exits and every frame and swap
 * slot is free.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cmdArb, coherentCmdArb, exclCmdArb, hugetlbCmdArb, runModel, thpCmdArb, thpMigrateCmdArb } from './model-run.ts';
import { MEMORY_DEVICE_COHERENT, MEMORY_DEVICE_PRIVATE } from '../../src/mm/device-private.ts';

describe('mm layer against the reference model', () => {
  it('agrees on every command sequence, with reclaim under a tight memory limit', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 40 }), (cmds) => {
        const failure = runModel([cmds], 6);
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with no memory pressure at all', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 40 }), (cmds) => {
        const failure = runModel([cmds], 1 << 20);
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 150 },
    );
  });

  it('agrees with transparent huge pages (always or madvise): faults, splits, COW, swap, collapse', () => {
    fc.assert(
      fc.property(fc.array(thpCmdArb, { minLength: 1, maxLength: 30 }), fc.constantFrom('always' as const, 'madvise' as const), fc.constantFrom(1100, 1 << 20), (cmds, thp, limit) => {
        const failure = runModel([cmds], limit, 1, thp);
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 60 },
    );
  });

  for (const kernel of ['v6.15', 'current']) {
    it(`${kernel}: agrees with THP migration round trips to a device with PMD-sized folios (whole PMDs and parts, faults back, fork, munmap, mprotect among them)`, () => {
      fc.assert(
        fc.property(fc.array(thpMigrateCmdArb, { minLength: 1, maxLength: 25 }), fc.constantFrom(1100, 1 << 20), (cmds, limit) => {
          const failure = runModel([cmds], limit, 1, 'always', 0, kernel, MEMORY_DEVICE_PRIVATE, 2);
          if (failure !== null) throw new Error(failure);
        }),
        { numRuns: 30 },
      );
    });
  }

  it('agrees when two processes with huge pages run concurrently and reclaim splits each other\'s', () => {
    const list = fc.array(thpCmdArb, { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(fc.tuple(list, list), fc.nat(1000), (lists, seed) => {
        const failure = runModel(lists, 1500, seed, 'always');
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 10 },
    );
  });

  it('agrees with hugetlb mappings: pool pages, copy-on-write after fork, whole-page munmap, mprotect and DONTNEED', () => {
    fc.assert(
      fc.property(fc.array(hugetlbCmdArb, { minLength: 1, maxLength: 20 }), (cmds) => {
        const failure = runModel([cmds], 1 << 20, 1, undefined, 256);
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 25 },
    );
  });

  it('agrees when three processes run concurrently and reclaim each other\'s pages', () => {
    const list = fc.array(cmdArb, { minLength: 1, maxLength: 25 });
    fc.assert(
      fc.property(fc.tuple(list, list, list), fc.nat(1000), (lists, seed) => {
        const failure = runModel(lists, 12, seed);
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 100 },
    );
  });

  it('a migration into coherent memory over a PROT_NONE range leaves the device unmapped there (found by the property below, seed 1056866270)', () => {
    const cmds = [
      { op: 'mprotect', proc: 0, sel: 251, pages: 3, prot: 0 },
      { op: 'todevice', proc: 0, sel: 393, pages: 1 },
      { op: 'write', proc: 0, sel: 0, word: 0, value: 1 },
    ] as unknown as Parameters<typeof runModel>[0][number];
    expect(runModel([cmds], 8, 1, undefined, 0, undefined, MEMORY_DEVICE_COHERENT)).toBeNull();
  });

  it('agrees when the devices migrate into device-coherent memory (v6.0+): CPU access in place, COW after fork, long-term pins migrating out, reclaim leaving it alone', () => {
    fc.assert(
      fc.property(fc.array(coherentCmdArb, { minLength: 1, maxLength: 40 }), (cmds) => {
        const failure = runModel([cmds], 8, 1, undefined, 0, undefined, MEMORY_DEVICE_COHERENT);
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 80 },
    );
  });

  it('agrees when two processes with device-coherent devices run concurrently: migrations, pins and reclaim interleaved', () => {
    const list = fc.array(coherentCmdArb, { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(fc.tuple(list, list), fc.nat(1000), (lists, seed) => {
        const failure = runModel(lists, 12, seed, undefined, 0, undefined, MEMORY_DEVICE_COHERENT);
        if (failure !== null) throw new Error(failure);
      }),
      { numRuns: 40 },
    );
  });

  for (const kernel of ['v5.14', 'v6.15']) {
    it(`${kernel}: agrees with device atomics (make_device_exclusive), FOLL_PIN pins and fork among them: contents kept, INV-EXCL and INV-EXCL-FORK hold, mapcounts as this generation has them`, () => {
      fc.assert(
        fc.property(fc.array(exclCmdArb, { minLength: 1, maxLength: 40 }), (cmds) => {
          const failure = runModel([cmds], 8, 1, undefined, 0, kernel);
          if (failure !== null) throw new Error(failure);
        }),
        { numRuns: 60 },
      );
    });
  }
});
