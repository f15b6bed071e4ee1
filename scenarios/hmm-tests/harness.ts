/**
 * The kselftest harness of tools/testing/selftests/mm/hmm-tests.c, as the port needs it
 * (dmirror.md §2.1, §2.2): fixtures and variants, the command helper, the buffer record,
 * ASSERT/EXPECT/SKIP, and the user-space loops that fill and check memory.
 *
 * Each case and variant is one scenario (one process per case, as the kernel forks one): setup
 * makes the address space and loads dmirror (with device-coherent devices 2 and 3 for the
 * coherent variants); `init` opens the fixture's devices (under a kernel before v6.0 the coherent
 * devices do not exist: the kernel's SKIP "DEVICE_COHERENT not available", decided before the
 * run); the task `test` runs the case body and the teardown (close, asserted 0).
 * A failed ASSERT is a `selftest-assert` finding and ends the case, as the kernel's aborts it;
 * a failed EXPECT is the same finding and the case goes on.
 *
 * A case that forks (`fork`) runs its child as another task on a copy-on-write copy of the
 * address space; a failed ASSERT in the child aborts the child only, and the parent sees it in
 * `waitpid` as the kernel's parent sees !WIFEXITED. SKIPs are decided before the run from the
 * same facts the kernel's case tests at run time (a free huge page, the gup_test file); a case
 * that reaches its SKIP anyway fails, saying so.
 *
 * The run has THP in `madvise` mode and one 2 MiB page in the hugetlb pool
 * (HUGETLB_SETUP_DEFAULT_PAGES(1)), whatever the run's defaults.
 *
 * User-space loops over 4 MiB of ints are done a page per step: the first word through a real
 * CPU access (which faults, COWs, or migrates a device page back), the rest of the page in the
 * same step. A store loop in C is no more atomic than that towards the device, and the explorer
 * would gain nothing from a million scheduling points per run.
 */
import { defineScenario, type Scenario } from '../../src/check/scenario.js';
import type { KernelContract } from '../../src/locking/version.js';
import type { World } from '../../src/sim/world.js';
import type { Task } from '../../src/sim/task.js';
import { PAGE_SIZE, WORDS_PER_PAGE } from '../../src/mm/constants.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { sys_pwrite32 } from '../../src/mm/files.ts';
import { memory_system, mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import type { ThpMode } from '../../src/mm/huge-memory.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { PTE_KIND_BITS, PTE_KIND_PRESENT, ptePfn } from '../../src/mm/pte.ts';
import { errnoName } from '../../src/locking/errno.js';
import {
  dmirror_fops_open,
  dmirror_fops_release,
  dmirror_fops_unlocked_ioctl,
  dmirror_module_init,
  type Dmirror,
  type DmirrorModule,
  type DmirrorVariant,
  type HmmDmirrorCmd,
} from '../../src/devices/dmirror/index.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** The finding kind of a failed ASSERT_* / EXPECT_*. */
export const SELFTEST_ASSERT = 'selftest-assert';

/** hmm-tests.c constants. */
export const NTIMES = 10;
/**
 * HUGETLB_SETUP_DEFAULT_PAGES(1): before the cases run, the file makes sure one default-size
 * (2 MiB) huge page is in the pool. The model's run starts with that pool.
 */
export const HUGETLB_SETUP_DEFAULT_PAGES = 1;
/**
 * The THP mode the port runs under (/sys/kernel/mm/transparent_hugepage/enabled): `madvise`, so
 * the regions a case marks MADV_HUGEPAGE get huge pages and every other buffer stays base pages,
 * whatever the host's default would have been.
 */
export const SELFTEST_THP_MODE = 'madvise';
export const TWOMEG = 1 << 21;
export const HMM_BUFFER_SIZE = 1024 << 12;

/** `struct hmm_buffer`. */
export interface HmmBuffer {
  ptr: number;
  mirror: ArrayBuffer;
  size: number;
  fd: number;
  cpages: number;
  faults: number;
}

/** A new buffer record with a mirror of `mirrorBytes`. */
export function hmmBuffer(size: number, mirrorBytes = size): HmmBuffer {
  return { ptr: 0, mirror: new ArrayBuffer(mirrorBytes), size, fd: -1, cpages: 0, faults: 0 };
}

/** Thrown by a failed ASSERT: ends the case (the kernel's harness aborts the child). */
class AssertAbort extends Error {}

/** What a case body gets. */
export interface TestContext {
  readonly world: World;
  readonly mm: Mm;
  readonly mod: DmirrorModule;
  /** The hmm fixture's device (hmm2: fd0). */
  readonly fd: Dmirror;
  /** hmm2 only. */
  readonly fd0: Dmirror;
  readonly fd1: Dmirror;
  /** The variant: private or coherent. */
  readonly coherent: boolean;
  ASSERT(ok: boolean, what: string): void;
  ASSERT_EQ(got: number, want: number, what: string): void;
  EXPECT_EQ(got: number, want: number, what: string): void;
  /**
   * A SKIP the kernel's case decides at run time. The port decides its SKIPs before the run
   * (CaseSpec.kernelSkip, from the same facts); reaching this means the two disagree, which is
   * reported as a failed assertion naming the reason, and ends the case.
   */
  SKIP(reason: string): never;
  /** `hmm_open(unit)` from this process: a new file bound to this process's mm, or -errno. */
  open(minor: number): Gen<Dmirror | number>;
}

/** A forked child process (`pid_t`). */
export interface ChildProcess {
  readonly mm: Mm;
  readonly task: Task;
  /** After it ended: true if it exited normally (WIFEXITED), false if an ASSERT aborted it. */
  exitedNormally: boolean;
}

/** The command helper (hmm_dmirror_cmd): record in, counters out on success. @returns 0 or -errno. */
export function* hmm_dmirror_cmd(fd: Dmirror, request: number, buffer: HmmBuffer, npages: number): Gen<number> {
  const cmd: HmmDmirrorCmd = { addr: buffer.ptr, ptr: buffer.mirror, npages, cpages: 0, faults: 0 };
  const ret = yield* dmirror_fops_unlocked_ioctl(fd, request, cmd);
  if (ret !== 0) return ret;
  buffer.cpages = cmd.cpages;
  buffer.faults = cmd.faults;
  return 0;
}

/** The PTE's page at `page` if it is present (the CPU just touched it). */
function presentPfn(mm: Mm, page: number): number {
  const pte = mm.pt.get(page);
  return (pte & PTE_KIND_BITS) === PTE_KIND_PRESENT ? ptePfn(pte) : -1;
}

/**
 * CPU stores: int k of [from, to) at `addr` gets value(k). A page per step: one real store
 * (faulting as needed), then the rest of the page. @returns 0 or the fault's -errno.
 */
export function* cpuFillInts(mm: Mm, addr: number, from: number, to: number, value: (k: number) => number): Gen<number> {
  const frames = mm.sys.frames;
  for (let k = from; k < to; ) {
    const a = addr + k * 4;
    const page = a - (a % PAGE_SIZE);
    const last = Math.min(to, k + (page + PAGE_SIZE - a) / 4);
    const r = yield* write32(mm, a, value(k));
    if (r < 0) return r;
    const pfn = presentPfn(mm, page);
    const buf = frames.saveContents(pfn) ?? new Uint32Array(WORDS_PER_PAGE);
    const base = (page - addr) / 4;
    for (let j = k; j < last; j++) buf[j - base] = value(j) >>> 0;
    frames.loadContents(pfn, buf);
    k = last;
  }
  return 0;
}

/**
 * CPU loads: the first k of [from, to) whose int differs from want(k), or -1 when all match;
 * a fault's -errno is returned as { error }. A page per step, as cpuFillInts.
 */
export function* cpuCheckInts(mm: Mm, addr: number, from: number, to: number, want: (k: number) => number): Gen<number | { error: number }> {
  const frames = mm.sys.frames;
  for (let k = from; k < to; ) {
    const a = addr + k * 4;
    const page = a - (a % PAGE_SIZE);
    const last = Math.min(to, k + (page + PAGE_SIZE - a) / 4);
    const v = yield* read32(mm, a);
    if (v < 0) return { error: v };
    const buf = frames.saveContents(presentPfn(mm, page));
    const base = (page - addr) / 4;
    for (let j = k; j < last; j++) {
      const got = buf === null ? 0 : buf[j - base]!;
      if (got !== want(j) >>> 0) return j;
    }
    k = last;
  }
  return -1;
}

/** PROT_READ | PROT_WRITE, the selftest's usual buffer protection. */
export const RW = PROT_READ | PROT_WRITE;
/** MAP_PRIVATE | MAP_ANONYMOUS, the selftest's usual buffer mapping. */
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** mmap a HMM_BUFFER_SIZE buffer (`prot`, `flags`), asserting success. */
export function* mapAnon(t: TestContext, prot = RW, flags = ANON): Gen<HmmBuffer> {
  const b = hmmBuffer(HMM_BUFFER_SIZE);
  b.ptr = yield* sys_mmap(t.mm, 0, b.size, prot, flags);
  t.ASSERT(b.ptr >= 0, 'buffer->ptr != MAP_FAILED');
  return b;
}

/** hmm_buffer_free: unmap the buffer if it was mapped. */
export function* hmm_buffer_free(t: TestContext, b: HmmBuffer): Gen<void> {
  if (b.ptr !== 0) yield* sys_munmap(t.mm, b.ptr, b.size);
}

/** Asserts the CPU reads want(k) at ints [from, to) of the buffer. */
export function* assertCpu(t: TestContext, b: HmmBuffer, from: number, to: number, want: (k: number) => number, what: string): Gen<void> {
  const r = yield* cpuCheckInts(t.mm, b.ptr, from, to, want);
  if (typeof r === 'object') t.ASSERT_EQ(r.error, 0, `${what}: CPU access`);
  else t.ASSERT_EQ(r, -1, `${what}: first int that differs`);
}

/** pwrite of ints [from, to) with value(k) to `file` at byte 0, a page per step. */
export function* filePwriteInts(mm: Mm, file: number, from: number, to: number, value: (k: number) => number): Gen<number> {
  const sys = mm.sys;
  for (let k = from; k < to; ) {
    const last = Math.min(to, (Math.floor(k / WORDS_PER_PAGE) + 1) * WORDS_PER_PAGE);
    const r = yield* sys_pwrite32(mm.world, file, k * 4, value(k));
    if (r < 0) return r;
    for (let j = k + 1; j < last; j++) sys.cache.pwrite32(file, j * 4, value(j) >>> 0);
    k = last;
  }
  return (to - from) * 4;
}

/** The first int k < n of `buf` not equal to want(k) (as signed/unsigned 32-bit), or -1. */
export function mirrorMismatch(buf: ArrayBuffer, n: number, want: (k: number) => number): number {
  const w = new Uint32Array(buf, 0, n);
  for (let k = 0; k < n; k++) if (w[k] !== want(k) >>> 0) return k;
  return -1;
}

/** Fills ints [0, n) of `buf` with value(k). */
export function mirrorFill(buf: ArrayBuffer, n: number, value: (k: number) => number): void {
  const w = new Uint32Array(buf, 0, n);
  for (let k = 0; k < n; k++) w[k] = value(k) >>> 0;
}

/** The fixtures. */
export type FixtureName = 'hmm' | 'hmm2';

/** A case of hmm-tests.c. */
export interface CaseSpec {
  readonly fixture: FixtureName;
  readonly name: string;
  /** The body; `t` has the open devices. */
  readonly body: (t: TestContext) => Gen<void>;
  /**
   * Why the model cannot run this case (a feature it lacks), or null. Checked after the
   * kernel's own skips, so a coherent variant still says DEVICE_COHERENT.
   */
  readonly modelLacks?: ((kernel: KernelContract) => string | null) | string;
  /** Kernel versions: the case needs device-exclusive access (v5.14+). */
  readonly needsExclusive?: boolean;
  /**
   * The case's own SKIPs and the kernel features it needs, for `kernel`: the kernel's SKIP text
   * where its case skips (a missing debugfs file, no free huge page), or the feature and the
   * release that brought it; null when the case runs.
   */
  readonly kernelSkip?: (kernel: KernelContract) => string | null;
  /** More than one task (threads or processes): explore; otherwise one run covers it. */
  readonly concurrent?: boolean;
  /** Step budget per run. */
  readonly maxSteps?: number;
  /** The THP mode of the run (the test machine's sysfs `enabled`); default: the model's default. */
  readonly thp?: ThpMode;
}

/** The variants of a fixture: [variant name, coherent?]. */
const VARIANTS: Record<FixtureName, readonly [string, boolean][]> = {
  hmm: [
    ['hmm_device_private', false],
    ['hmm_device_coherent', true],
  ],
  hmm2: [
    ['hmm2_device_private', false],
    ['hmm2_device_coherent', true],
  ],
};

/** Why a case cannot run under `kernel`, the kernel's reasons first. */
function skipReason(spec: CaseSpec, coherent: boolean, kernel: KernelContract): string | null {
  if (!kernel.intervalNotifiers) return `test_hmm needs interval notifiers and hmm_range_fault (kernel ${kernel.name} predates them; v5.5+)`;
  // Before v6.0 test_hmm has no device-coherent devices: hmm_dmirror2/3 do not exist, and the
  // fixture's open fails as the kernel's does.
  if (coherent && !kernel.deviceCoherent) return `DEVICE_COHERENT not available (kernel ${kernel.name} has no MEMORY_DEVICE_COHERENT; v6.0+)`;
  if (spec.needsExclusive === true && kernel.deviceExclusiveApi === 'none') {
    return `HMM_DMIRROR_EXCLUSIVE needs make_device_exclusive_range (v5.14+); kernel ${kernel.name} has none`;
  }
  const own = spec.kernelSkip?.(kernel) ?? null;
  if (own !== null) return own;
  const lacks = typeof spec.modelLacks === 'function' ? spec.modelLacks(kernel) : spec.modelLacks ?? null;
  return lacks;
}

/** Per-run state of a case. */
interface CaseState {
  mm: Mm;
  mod: DmirrorModule;
  fds: Dmirror[];
  /** Files the case's body opened in this process (closed at its exit if it did not). */
  opened?: Dmirror[];
}

/** The scenarios of one case: one per variant of its fixture. */
export function defineCase(spec: CaseSpec, variant: DmirrorVariant = 'correct'): Scenario[] {
  return VARIANTS[spec.fixture].map(([vname, coherent]) => {
    const suffix = variant === 'correct' ? '' : `.${variant}`;
    return defineScenario<CaseState>({
      name: `${spec.fixture}.${vname}.${spec.name}${suffix}`,
      description: `hmm-tests.c ${spec.fixture}.${vname}.${spec.name}${variant === 'correct' ? '' : ` on the ${variant} dmirror`}`,
      skip: (kernel) => skipReason(spec, coherent, kernel),
      ...(spec.concurrent === true ? {} : { maxRuns: 1 }),
      maxSteps: spec.maxSteps ?? 200_000,
      setup(world) {
        memory_system(world, { thp: spec.thp ?? SELFTEST_THP_MODE, hugetlbPages: HUGETLB_SETUP_DEFAULT_PAGES });
        const mm = mm_create(world, { name: 'selftest' });
        // The coherent variants load the module with special-purpose memory for devices 2 and 3
        // (spm_addr_dev0/1), as the kernel's test script does for them.
        return { mm, mod: dmirror_module_init(world, { variant, coherent }), fds: [] };
      },
      *init(s, world) {
        const minors = spec.fixture === 'hmm' ? [coherent ? 2 : 0] : coherent ? [2, 3] : [0, 1];
        for (const m of minors) {
          const fd = yield* dmirror_fops_open(s.mod, m, s.mm);
          if (typeof fd === 'number') {
            world.report(SELFTEST_ASSERT, `${spec.fixture} setup: open hmm_dmirror${m} failed: ${errnoName(fd)}`, 'setup');
            s.fds.length = 0;
            return;
          }
          s.fds.push(fd);
        }
      },
      tasks: {
        *test(s, world) {
          yield world.point('test starts');
          if (s.fds.length === 0) return;
          const t = makeContext(world, s, s.mm, coherent, '');
          try {
            yield* spec.body(t);
          } catch (e) {
            if (!(e instanceof AssertAbort)) throw e;
            return;
          }
          for (const fd of s.fds) {
            const r = yield* dmirror_fops_release(fd);
            if (r !== 0) t.ASSERT_EQ(r, 0, 'teardown: close');
          }
        },
      },
    });
  });
}

/** The context of one process of a case (`who` prefixes its messages: '' or 'child: '). */
function makeContext(world: World, s: CaseState, mm: Mm, coherent: boolean, who: string): TestContext {
  const fail = (what: string): void => world.report(SELFTEST_ASSERT, `${who}${what}`, `${who}${what}`);
  return {
    world,
    mm,
    mod: s.mod,
    fd: s.fds[0]!,
    fd0: s.fds[0]!,
    fd1: s.fds[1] ?? s.fds[0]!,
    coherent,
    ASSERT(ok, what) {
      if (ok) return;
      fail(`ASSERT failed: ${what}`);
      throw new AssertAbort(what);
    },
    ASSERT_EQ(got, want, what) {
      if (got === want) return;
      fail(`ASSERT_EQ failed: ${what}: got ${fmt(got)}, want ${fmt(want)}`);
      throw new AssertAbort(what);
    },
    EXPECT_EQ(got, want, what) {
      if (got !== want) fail(`EXPECT_EQ failed: ${what}: got ${fmt(got)}, want ${fmt(want)}`);
    },
    SKIP(reason) {
      fail(`the kernel's case would SKIP here ("${reason}"), which the port decided would not happen`);
      throw new AssertAbort(reason);
    },
    *open(minor) {
      const f = yield* dmirror_fops_open(s.mod, minor, mm);
      if (typeof f !== 'number') (s.opened ??= []).push(f);
      return f;
    },
  };
}

/**
 * `fork()`: the child is a new process on a copy-on-write copy of the caller's address space; it
 * inherits the caller's open files (which still mirror the caller's mm). `child` is its code
 * after fork returned 0; it ends in `_exit(0)`, or aborts on a failed ASSERT. Its mm goes when it
 * exits. @returns the child, or the -errno fork failed with.
 */
export function* fork(t: TestContext, child: (c: TestContext) => Gen<void>): Gen<ChildProcess | number> {
  const mm = yield* sys_fork(t.mm, `${t.mm.name}-child`);
  if (typeof mm === 'number') return mm;
  const world = t.world;
  const s: CaseState = { mm, mod: t.mod, fds: [t.fd0, t.fd1], opened: [] };
  const c = makeContext(world, s, mm, t.coherent, 'child: ');
  const proc: { mm: Mm; task: Task | null; exitedNormally: boolean } = { mm, task: null, exitedNormally: false };
  proc.task = world.spawn(`${mm.name}`, function* () {
    yield world.point(`${mm.name} starts`);
    try {
      yield* child(c);
      proc.exitedNormally = true;
    } catch (e) {
      if (!(e instanceof AssertAbort)) throw e;
    }
    // exit closes the files the child opened and did not close (its inherited ones stay open in the parent).
    for (const f of s.opened!) yield* dmirror_fops_release(f);
    yield* sys_exit(mm);
  });
  return proc as ChildProcess;
}

/** `waitpid(pid, &status, 0)`. @returns WIFEXITED(status). */
export function* waitpid(t: TestContext, child: ChildProcess): Gen<boolean> {
  yield* t.world.join(child.task);
  return child.exitedNormally;
}

function fmt(n: number): string {
  return n < 0 && n > -200 ? `${n} (${errnoName(n)})` : String(n);
}
