/**
 * S-SEQ-1 and S-SEQ-2 (seed 001/002): the canonical interval-notifier driver against a CPU that
 * unmaps the page it mirrors, and how it breaks.
 *
 * - `s-seq-1`: read_begin, snapshot, driver lock, read_retry, program: clean in every interleaving.
 * - `s-seq-1-no-retry`: programs without read_retry; a whole munmap can fall between snapshot and
 *   programming, leaving the device mapping a freed page: stale-device-mapping.
 * - `s-seq-2`: read_begin called holding the driver lock, with two intervals of one device under
 *   one invalidation: deadlock when the first callback ran and the second waits for the lock;
 *   lockdep reports the cycle through the invalidate-start map in any run.
 * - `s-seq-2-fixed`: read_begin before the lock: clean.
 */
import { defineScenario, IntervalMirror, mm_alloc, Mutex, type IntervalMirrorVariant, type MmStruct, type World } from '../../src/index.js';
import { cpu_stub_attach, cpu_stub_munmap, type CpuStub } from '../../src/testing.js';

const PAGE = 4096;
const ADDR = 0x200000;

interface Seq1State {
  mm: MmStruct;
  cpu: CpuStub;
  dev: IntervalMirror;
}

function seq1(name: string, description: string, variant: IntervalMirrorVariant, expectBug: string[], allowBug: string[] = []) {
  return defineScenario<Seq1State>({
    name,
    description,
    setup(w: World) {
      const mm = mm_alloc(w, 'mm');
      const cpu = cpu_stub_attach(mm);
      cpu.populate(ADDR, ADDR + PAGE);
      return { mm, cpu, dev: new IntervalMirror(w, mm, variant, 'mirror') };
    },
    *init(s) {
      yield* s.dev.insert(ADDR, PAGE);
    },
    tasks: {
      *device_fault(s) {
        yield* s.dev.fault(ADDR, true);
      },
      *cpu_munmap(s) {
        yield* cpu_stub_munmap(s.cpu, ADDR, ADDR + PAGE);
      },
    },
    expect: (v) => (v.intervalNotifiers ? expectBug : ['api-unavailable']),
    allow: allowBug,
  });
}

export const sSeq1 = seq1('s-seq-1', 'S-SEQ-1: the documented interval-notifier driver loop against munmap: clean', 'correct', []);
export const sSeq1NoRetry = seq1(
  's-seq-1-no-retry',
  'S-SEQ-1 without read_retry: the device is programmed from a snapshot munmap already invalidated',
  'no-read-retry',
  ['stale-device-mapping'],
  // When the device is programmed while munmap's invalidation is still open, the CPU then frees the page under it.
  ['device-maps-freed-page'],
);

interface Seq2State {
  mm: MmStruct;
  cpu: CpuStub;
  first: IntervalMirror;
  second: IntervalMirror;
}

function seq2(name: string, description: string, variant: IntervalMirrorVariant, expectBug: string[]) {
  return defineScenario<Seq2State>({
    name,
    description,
    setup(w: World) {
      const mm = mm_alloc(w, 'mm');
      const cpu = cpu_stub_attach(mm);
      cpu.populate(ADDR, ADDR + 2 * PAGE);
      const lock = new Mutex(w, 'driver_lock', 'mirror->lock');
      return {
        mm,
        cpu,
        first: new IntervalMirror(w, mm, variant, 'mirror0', lock),
        second: new IntervalMirror(w, mm, variant, 'mirror1', lock),
      };
    },
    *init(s) {
      yield* s.first.insert(ADDR, PAGE);
      yield* s.second.insert(ADDR + PAGE, PAGE);
    },
    tasks: {
      *device_fault(s) {
        yield* s.first.fault(ADDR, true);
      },
      *cpu_munmap(s) {
        yield* cpu_stub_munmap(s.cpu, ADDR, ADDR + 2 * PAGE);
      },
    },
    expect: (v) => (v.intervalNotifiers ? expectBug : ['api-unavailable']),
  });
}

export const sSeq2 = seq2(
  's-seq-2',
  'S-SEQ-2: read_begin under the driver lock deadlocks against an invalidation; lockdep sees the cycle through the start map',
  'read-begin-under-lock',
  ['deadlock', 'lockdep-circular'],
);
export const sSeq2Fixed = seq2('s-seq-2-fixed', 'S-SEQ-2 fixed: read_begin before taking the driver lock: clean', 'correct', []);

export default [sSeq1, sSeq1NoRetry, sSeq2, sSeq2Fixed];
