/**
 * The reference HMM driver (src/devices/hmm-mirror.ts) on the real address space: its device
 * fault (hmm_range_fault under the documented loop) and its migrations race the CPU's munmap,
 * mprotect, fork, reclaim, its own migration, and a CPU fault on a device-private page. The
 * correct driver is clean everywhere; each known-bug variant shows its finding:
 *
 *     no-read-retry                 stale-device-mapping (programmed from a snapshot munmap undid)
 *     ebusy-fatal                   device-fault-error (a collision returned to the device as an error)
 *     ebusy-no-read-begin           step-budget-exceeded (-EBUSY for ever: a livelock)
 *     dmirror                       stale-device-mapping (lib/test_hmm.c's own-MIGRATE filter: a
 *                                   device fault that walked before the migration's collect
 *                                   passes read_retry and maps the old page)
 *     filter-migrate-no-teardown    device-maps-migrated-page (INV-H5: its mapping outlives
 *                                   migrate_to_ram)
 */
import { check_coherence } from '../../src/notifier/coherence.js';
import {
  defineScenario,
  HmmMirror,
  type HmmMirrorVariant,
  type KernelContract,
  type World,
} from '../../src/index.js';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  mm_check,
  mm_create,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  read32,
  sys_fork,
  sys_mmap,
  sys_mprotect,
  sys_munmap,
  write32,
  type Mm,
} from '../../src/mm/index.ts';
import { MM_SCENARIO_RUNS } from '../budget.js';

const P = PAGE_SIZE;
const RW = PROT_READ | PROT_WRITE;

interface State {
  mm: Mm;
  dev: HmmMirror;
  a: number;
  child: Mm | null;
}

/** Kernels without interval notifiers have no hmm_range_fault (v5.5 brought both). */
const onlyWithIntervals = (kinds: readonly string[]) => (v: KernelContract) => (v.intervalNotifiers ? kinds : ['api-unavailable']);

/** Finding kind of the ebusy-fatal check: the device saw -EBUSY as a fault error. */
export const DEVICE_FAULT_ERROR = 'device-fault-error';

interface Spec {
  name: string;
  description: string;
  variant: HmmMirrorVariant;
  pages?: number;
  memoryLimitPages?: number;
  /** Migrate the range to device memory during init. */
  onDevice?: boolean;
  tasks: Record<string, (s: State, w: World) => Generator<unknown, unknown, unknown>>;
  expect: readonly string[];
  allow?: readonly string[];
  maxSteps?: number;
}

function mirrorScenario(spec: Spec) {
  const pages = spec.pages ?? 2;
  return defineScenario<State>({
    name: spec.name,
    description: spec.description,
    setup: (w) => {
      const mm = mm_create(w, { name: 'proc', ...(spec.memoryLimitPages === undefined ? {} : { memoryLimitPages: spec.memoryLimitPages }) });
      return { mm, dev: new HmmMirror(w, mm, spec.variant, 'dmirror', 4), a: 0, child: null };
    },
    *init(s) {
      s.a = yield* sys_mmap(s.mm, 0, pages * P, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      for (let i = 0; i < pages; i++) yield* write32(s.mm, s.a + i * P, 100 + i);
      yield* s.dev.insert(s.a, pages * P);
      if (spec.onDevice === true) yield* s.dev.migrateToDevice(s.a, s.a + pages * P);
    },
    tasks: spec.tasks,
    check(s, ctx) {
      if (s.dev.faultErrors.includes(-16)) ctx.fail('the device fault returned -EBUSY: a collision means restart from read_begin, not fail', DEVICE_FAULT_ERROR, 'dmirror:ebusy');
      check_coherence(ctx.world);
      mm_check(ctx.world);
    },
    expect: onlyWithIntervals(spec.expect),
    allow: spec.allow ?? [],
    ...(spec.maxSteps === undefined ? {} : { maxSteps: spec.maxSteps }),
    runs: MM_SCENARIO_RUNS,
  });
}


const deviceFault = (write: boolean) =>
  function* device_fault(s: State) {
    yield* s.dev.fault(s.a, s.a + 2 * P, write);
  };

export const hmmMirrorMunmap = mirrorScenario({
  name: 'hmm-mirror-munmap',
  description: 'reference HMM driver: a device write fault races munmap of half its range; clean',
  variant: 'correct',
  tasks: {
    device_fault: deviceFault(true),
    *cpu_munmap(s) {
      yield* sys_munmap(s.mm, s.a + P, P);
    },
  },
  expect: [],
});

export const hmmMirrorMprotect = mirrorScenario({
  name: 'hmm-mirror-mprotect',
  description: 'reference HMM driver: a device write fault races mprotect(PROT_READ); the device never keeps write access; clean',
  variant: 'correct',
  tasks: {
    device_fault: deviceFault(true),
    *cpu_mprotect(s) {
      yield* sys_mprotect(s.mm, s.a, 2 * P, PROT_READ);
    },
  },
  expect: [],
});

export const hmmMirrorFork = mirrorScenario({
  name: 'hmm-mirror-fork',
  description: 'reference HMM driver: a device write fault races fork (COW write-protects the parent); clean',
  variant: 'correct',
  tasks: {
    device_fault: deviceFault(true),
    *cpu_fork(s) {
      s.child = (yield* sys_fork(s.mm)) as Mm;
      yield* write32(s.child, s.a, 7);
    },
  },
  expect: [],
});

export const hmmMirrorReclaim = mirrorScenario({
  name: 'hmm-mirror-reclaim',
  description: 'reference HMM driver: a device read fault races a CPU write that reclaims its pages to swap; clean',
  variant: 'correct',
  pages: 3,
  memoryLimitPages: 3,
  tasks: {
    device_fault: deviceFault(false),
    *cpu_pressure(s) {
      const b = yield* sys_mmap(s.mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(s.mm, b, 1);
    },
  },
  expect: [],
});

export const hmmMirrorMigrate = mirrorScenario({
  name: 'hmm-mirror-migrate',
  description: 'reference HMM driver: a device fault races its own migration of the range into device memory; clean',
  variant: 'correct',
  tasks: {
    device_fault: deviceFault(true),
    *migrate(s) {
      yield* s.dev.migrateToDevice(s.a, s.a + 2 * P);
    },
  },
  expect: [],
});

export const hmmMirrorMigrateDmirror = mirrorScenario({
  name: 'hmm-mirror-migrate-dmirror',
  description:
    "reference HMM driver, variant dmirror (lib/test_hmm.c, v5.9+): its own MIGRATE invalidation returns before set_seq, so a device fault that walked before the migration maps the old page",
  variant: 'dmirror',
  tasks: {
    device_fault: deviceFault(true),
    *migrate(s) {
      yield* s.dev.migrateToDevice(s.a, s.a + 2 * P);
    },
  },
  expect: ['stale-device-mapping'],
  allow: ['device-maps-freed-page', 'device-maps-migrated-page'],
});

const cpuVsDevice = (variant: HmmMirrorVariant, expect: readonly string[], allow: readonly string[] = []) =>
  mirrorScenario({
    name: variant === 'correct' ? 'hmm-cpu-vs-device-fault' : `hmm-cpu-vs-device-fault-${variant}`,
    description:
      variant === 'correct'
        ? 'device-private page: a CPU fault (migrate_to_ram) races the device\'s own fault on the same page; clean'
        : `device-private page, driver variant ${variant}: its mapping outlives migrate_to_ram (INV-H5)`,
    variant,
    onDevice: true,
    tasks: {
      device_fault: deviceFault(true),
      *cpu_read(s) {
        const v = yield* read32(s.mm, s.a);
        if (v !== 100) throw new Error(`CPU read ${v} after migrate_to_ram, expected 100`);
      },
    },
    expect,
    allow,
  });

export const hmmCpuVsDevice = cpuVsDevice('correct', []);
export const hmmCpuVsDeviceNoTeardown = cpuVsDevice('filter-migrate-no-teardown', ['device-maps-migrated-page'], ['stale-device-mapping', 'device-maps-freed-page']);

export const hmmMirrorNoReadRetry = mirrorScenario({
  name: 'hmm-mirror-no-read-retry',
  description: 'reference HMM driver, variant no-read-retry: programs the device from a snapshot munmap already undid',
  variant: 'no-read-retry',
  tasks: {
    device_fault: deviceFault(true),
    *cpu_munmap(s) {
      yield* sys_munmap(s.mm, s.a + P, P);
    },
  },
  expect: ['stale-device-mapping'],
  allow: ['device-maps-freed-page'],
});

export const hmmMirrorEbusyFatal = mirrorScenario({
  name: 'hmm-mirror-ebusy-fatal',
  description: 'reference HMM driver, variant ebusy-fatal: a collision with munmap is returned to the device as an error',
  variant: 'ebusy-fatal',
  tasks: {
    device_fault: deviceFault(true),
    *cpu_munmap(s) {
      yield* sys_munmap(s.mm, s.a + P, P);
    },
  },
  expect: [DEVICE_FAULT_ERROR],
});

export const hmmMirrorEbusyNoReadBegin = mirrorScenario({
  name: 'hmm-mirror-ebusy-no-read-begin',
  description: 'reference HMM driver, variant ebusy-no-read-begin: retries -EBUSY with the old sequence, for ever',
  variant: 'ebusy-no-read-begin',
  tasks: {
    device_fault: deviceFault(true),
    *cpu_munmap(s) {
      yield* sys_munmap(s.mm, s.a + P, P);
    },
  },
  expect: ['step-budget-exceeded'],
  maxSteps: 1000,
});

export default [
  hmmMirrorMunmap,
  hmmMirrorMprotect,
  hmmMirrorFork,
  hmmMirrorReclaim,
  hmmMirrorMigrate,
  hmmMirrorMigrateDmirror,
  hmmCpuVsDevice,
  hmmCpuVsDeviceNoTeardown,
  hmmMirrorNoReadRetry,
  hmmMirrorEbusyFatal,
  hmmMirrorEbusyNoReadBegin,
];
