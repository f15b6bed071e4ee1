/**
 * The command generator and the runner of the model-based mm tests: one task applies a command
 * sequence to a fresh world and the reference model, stopping at the first disagreement.
 */
import fc from 'fast-check';
import { drop_caches, file_create } from '../../src/mm/files.ts';
import { memory_system, mm_create } from '../../src/mm/mm-struct.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { mmu_interval_notifier_remove } from '../../src/notifier/interval.js';
import { NonPreemptiveStrategy } from '../../src/sim/strategies/non-preemptive.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import { World } from '../../src/sim/world.js';
import { setKernelContract } from '../../src/locking/version.js';
import { Driver, type Cmd } from './model-driver.ts';
import type { ThpMode } from '../../src/mm/huge-memory.ts';
import { RefFile, RefProc } from './ref-model.ts';
import { MEMORY_DEVICE_PRIVATE } from '../../src/mm/device-private.ts';

const proc = fc.nat(3);
const sel = fc.nat(1000);
const pages = fc.integer({ min: 1, max: 4 });
const prot = fc.constantFrom(0, 1, 3);
const word = fc.nat(2);

/** One random command. */
export const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mmap' as const), proc, kind: fc.nat(3), pages, prot: fc.constantFrom(1, 3, 3, 3), file: fc.nat(1), fileOff: fc.nat(2), fixed: fc.boolean(), sel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('munmap' as const, 'dontneed' as const, 'free' as const), proc, sel, pages }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mprotect' as const), proc, sel, pages, prot }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mremap' as const), proc, sel, pages, newPages: pages }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('fork' as const, 'exit' as const), proc }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('read' as const), proc, sel, word }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('write' as const), proc, sel, word, value: fc.integer({ min: 1, max: 0xffff }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pwrite' as const), file: fc.nat(1), page: fc.nat(3), word, value: fc.integer({ min: 1, max: 0xffff }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pread' as const), file: fc.nat(1), page: fc.nat(3), word }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reclaim' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('todevice' as const, 'toram' as const, 'snapshot' as const), proc, sel, pages }) },
);

/** The commands of the device-exclusive extension: device atomics, FOLL_PIN pins, unpins. */
export const exclCmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: cmdArb },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('excl' as const), proc, sel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pin' as const), proc, sel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unpin' as const) }) },
);

/** The commands of the device-coherent runs: the ordinary ones (migrations included) and pins, short- and long-term. */
export const coherentCmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 10, arbitrary: cmdArb },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('todevice' as const, 'toram' as const), proc, sel, pages }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pin' as const), proc, sel, longterm: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unpin' as const) }) },
);

/** Commands of the huge-page runs: the ordinary ones plus 2 MiB mappings, MADV_HUGEPAGE/NOHUGEPAGE, MADV_COLLAPSE and khugepaged. */
export const thpCmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 12, arbitrary: cmdArb },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mmapHuge' as const), proc, n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('hugepage' as const), proc, sel, pages, on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('collapse' as const, 'khugepaged' as const), proc, sel }) },
);

/** Commands of the device THP migration runs: the huge-page ones plus whole-PMD migrations both ways. */
export const thpMigrateCmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: thpCmdArb },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('migrateHuge' as const), proc, sel, toDevice: fc.boolean() }) },
);

/**
 * Commands of the hugetlb runs: private hugetlb mappings and whole-huge-page munmap, mprotect and
 * MADV_DONTNEED on them, with reads, writes, fork, exit and reclaim; no other range operation
 * (their partial cuts of hugetlb mappings are -EINVAL, which the reference does not model).
 */
export const hugetlbCmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mmapHugetlb' as const), proc, n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('hugetlbOp' as const), what: fc.constantFrom('munmap' as const, 'mprotect' as const, 'dontneed' as const), proc, sel, prot }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('fork' as const, 'exit' as const), proc }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('read' as const), proc, sel, word }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('write' as const), proc, sel, word, value: fc.integer({ min: 1, max: 0xffff }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reclaim' as const), n: fc.integer({ min: 1, max: 3 }) }) },
);

/** The prologue of the hugetlb runs: one 2 MiB hugetlb mapping, written at both ends. */
export const HUGETLB_PROLOGUE: readonly Cmd[] = [
  { op: 'mmapHugetlb', proc: 0, n: 1 },
  { op: 'write', proc: 0, sel: 0, word: 0, value: 0x300 },
  { op: 'write', proc: 0, sel: 600, word: 2, value: 0x301 },
];

/** The prologue of the huge-page runs: the ordinary one, then a 2 MiB mapping written at both ends. */
export const THP_PROLOGUE: readonly Cmd[] = [
  { op: 'mmapHuge', proc: 0, n: 1 },
  { op: 'write', proc: 0, sel: 0, word: 0, value: 0x200 },
  { op: 'write', proc: 0, sel: 600, word: 2, value: 0x201 },
];

/**
 * What every sequence starts with, so random commands find memory to work on: private anonymous,
 * private file and shared anonymous mappings, each written once.
 */
export const PROLOGUE: readonly Cmd[] = [
  { op: 'mmap', proc: 0, kind: 0, pages: 4, prot: 3, file: 0, fileOff: 0, fixed: false, sel: 0 },
  { op: 'mmap', proc: 0, kind: 2, pages: 3, prot: 3, file: 0, fileOff: 0, fixed: false, sel: 0 },
  { op: 'mmap', proc: 0, kind: 1, pages: 2, prot: 3, file: 0, fileOff: 0, fixed: false, sel: 0 },
  ...[0, 1, 2, 3, 4, 5, 6, 7, 8].map((i): Cmd => ({ op: 'write', proc: 0, sel: i, word: i % 3, value: 0x100 + i })),
];

/**
 * Runs the prologue and each command list in its own task, each task with its own processes,
 * files and reference model, all sharing one memory of `limit` pages. One list runs alone,
 * without preemption, and checks everything after every command. Several run under a random
 * schedule (seed `seed`); then exact invalidation lists are not checked (another task's reclaim
 * may unmap a page at any time), nor the counts until everything is quiet. Either way every
 * process exits at the end and every frame and swap slot must be free.
 * @returns the first disagreement, or null.
 */
export function runModel(lists: Cmd[][], limit: number, seed = 1, thp?: ThpMode, hugetlbPages = 0, kernel?: string, gpuMemory = MEMORY_DEVICE_PRIVATE, deviceFolios = 0): string | null {
  const w = new World();
  w.reset(seed);
  if (kernel !== undefined) setKernelContract(w, kernel);
  w.maxSteps = 10_000_000;
  const alone = lists.length === 1;
  const drivers: Driver[] = [];
  for (let t = 0; t < lists.length; t++) {
    // With huge pages, splits and collapses add invalidations the exact lists do not foresee:
    // the coherence oracle still checks that every PTE change is covered by one.
    const d = new Driver(w, `t${t}p`, alone && thp === undefined && hugetlbPages === 0, gpuMemory, deviceFolios);
    for (const size of [3 * 4096, 4096]) d.files.push({ id: file_create(w, size), ref: new RefFile(size) });
    drivers.push(d);
  }
  memory_system(w, { memoryLimitPages: limit, hugetlbPages, ...(thp === undefined ? {} : { thp }) });
  const tasks = lists.map((cmds, t) =>
    w.spawn(`driver${t}`, function* () {
      const d = drivers[t]!;
      yield w.point('start');
      yield* d.attach(mm_create(w, { name: d.newName() }), new RefProc());
      for (const c of [...PROLOGUE, ...(thp === undefined ? [] : THP_PROLOGUE), ...(hugetlbPages === 0 ? [] : HUGETLB_PROLOGUE), ...cmds]) {
        yield* d.resync();
        yield* d.step(c);
        d.checkAll(alone);
        if (d.failure !== null) return;
      }
    }),
  );
  let leftover = '';
  w.spawn('teardown', function* () {
    yield w.point('teardown');
    for (const t of tasks) yield* w.join(t);
    if (drivers.some((d) => d.failure !== null)) return;
    for (const d of drivers) d.checkAll(d === drivers[0]);
    if (drivers.some((d) => d.failure !== null)) return;
    for (const d of drivers) {
      d.unpinAll();
      for (const p of d.procs.slice()) {
        yield* sys_exit(p.mm);
        yield* mmu_interval_notifier_remove(p.sub);
      }
      d.procs.length = 0;
    }
    drop_caches(w);
    const sys = drivers[0]!.sys;
    if (sys.frames.ramInUse !== sys.hugetlb.pages || sys.swap.inUse !== 0 || sys.frames.deviceInUse !== 0) {
      leftover = `${sys.frames.ramInUse - sys.hugetlb.pages} frames, ${sys.frames.deviceInUse} device pages and ${sys.swap.inUse} swap slots still in use after every process exited`;
    }
  });
  w.run(alone ? new NonPreemptiveStrategy() : randomStrategy(seed));
  for (const h of w.endOfRunChecks) h();
  const first = drivers.find((d) => d.failure !== null);
  if (first !== undefined) return first.failure;
  for (const f of w.findings) return `finding [${f.kind}] ${f.message}`;
  return leftover === '' ? null : leftover;
}

function randomStrategy(seed: number): RandomStrategy {
  const s = new RandomStrategy();
  s.beginRun(0, seed);
  return s;
}
