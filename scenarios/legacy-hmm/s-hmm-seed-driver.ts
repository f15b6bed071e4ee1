/**
 * The seed's mydevice_prefault (seed 001) and the variants its comments warn against, each
 * against a CPU that cannot trip the boolean race itself, so the correct driver comes out clean
 * and every finding belongs to the variant:
 *
 * - `s-hmm-seed-driver` (correct) and its variants `-no-valid-check` and `-no-wait`: the CPU
 *   calls madvise(MADV_FREE) on the page, an invalidation over the range under the mmap read lock
 *   that leaves the page mapped, writable, only clean. Without the valid check the device is programmed while hmm is
 *   between its start and end for the range: map-in-invalidation-window. Without waiting, a
 *   driver that registered during the invalidation spins on -EAGAIN for as long as it lasts:
 *   under a schedule that keeps running it, for ever (step-budget-exceeded).
 * - `s-hmm-seed-driver-error` (correct) and `-no-unregister`: the driver prefaults two pages of
 *   which only the first is mapped, so hmm_range_fault fails with -EFAULT; the variant returns
 *   without unregistering its range: hmm-range-unbalanced at the end of the run.
 *
 * Under kernel versions without the 2019 API every variant is api-unavailable.
 */
import { defineScenario, LegacyMirror, type KernelContract, type LegacyMirrorVariant, type World } from '../../src/index.js';
import { MADV_FREE, mm_create, PAGE_SIZE, sys_madvise, type Mm } from '../../src/mm/index.ts';
import { populated } from './populated.js';

interface DriverState {
  mm: Mm;
  addr: number;
  dev: LegacyMirror;
}

function legacyOnly(kinds: string[]): (v: KernelContract) => string[] {
  return (v) => (v.legacyHmm !== undefined ? kinds : ['api-unavailable']);
}

function protectRace(name: string, description: string, variant: LegacyMirrorVariant, expectBug: string[], maxSteps?: number) {
  return defineScenario<DriverState>({
    name,
    description,
    setup: (w: World) => {
      const mm = mm_create(w, { name: 'mm' });
      return { mm, addr: 0, dev: new LegacyMirror(w, mm, variant, 'mydevice') };
    },
    *init(s) {
      s.addr = yield* populated(s.mm, 1);
      yield* s.dev.register();
    },
    tasks: {
      *device_prefault(s) {
        yield* s.dev.prefault(s.addr, s.addr + PAGE_SIZE, true);
      },
      *cpu_madv_free(s) {
        yield* sys_madvise(s.mm, s.addr, PAGE_SIZE, MADV_FREE);
      },
    },
    expect: legacyOnly(expectBug),
    ...(maxSteps === undefined ? {} : { maxSteps }),
  });
}

function errorPath(name: string, description: string, variant: LegacyMirrorVariant, expectBug: string[]) {
  return defineScenario<DriverState>({
    name,
    description,
    setup: (w: World) => {
      const mm = mm_create(w, { name: 'mm' });
      return { mm, addr: 0, dev: new LegacyMirror(w, mm, variant, 'mydevice') };
    },
    *init(s) {
      s.addr = yield* populated(s.mm, 1);
      yield* s.dev.register();
    },
    tasks: {
      *device_prefault(s) {
        // The second page has no VMA (the mapping is one page): hmm_range_fault says -EFAULT.
        yield* s.dev.prefault(s.addr, s.addr + 2 * PAGE_SIZE, false);
      },
      *cpu_madv_free(s) {
        yield* sys_madvise(s.mm, s.addr, PAGE_SIZE, MADV_FREE);
      },
    },
    expect: legacyOnly(expectBug),
  });
}

export const sHmmSeedDriver = protectRace('s-hmm-seed-driver', "seed 001's mydevice_prefault against madvise(MADV_FREE) of its page: clean", 'correct', []);
export const sHmmSeedDriverNoValidCheck = protectRace(
  's-hmm-seed-driver-no-valid-check',
  'mydevice_prefault without hmm_range_valid under the device lock: programs inside an invalidation',
  'no-valid-check',
  ['map-in-invalidation-window'],
);
export const sHmmSeedDriverNoWait = protectRace(
  's-hmm-seed-driver-no-wait',
  'mydevice_prefault without hmm_range_wait_until_valid: spins on -EAGAIN while an invalidation lasts',
  'no-wait',
  ['step-budget-exceeded'],
  1500,
);
export const sHmmSeedDriverSnapshot = protectRace(
  's-hmm-seed-driver-snapshot',
  "mydevice_prefault with hmm_range_snapshot, as the seed's pseudo-code allows: its -EAGAIN kept the mmap lock, so the retry locks it twice",
  'snapshot-literal',
  ['lockdep-recursive'],
);
export const sHmmSeedDriverError = errorPath('s-hmm-seed-driver-error', 'mydevice_prefault over a range hmm_range_fault refuses: unregisters on the error path, clean', 'correct', []);
export const sHmmSeedDriverNoUnregister = errorPath(
  's-hmm-seed-driver-no-unregister',
  'mydevice_prefault returning an hmm_range_fault error without hmm_range_unregister: the range leaks',
  'no-unregister-on-error',
  ['hmm-range-unbalanced'],
);

export default [sHmmSeedDriver, sHmmSeedDriverNoValidCheck, sHmmSeedDriverNoWait, sHmmSeedDriverSnapshot, sHmmSeedDriverError, sHmmSeedDriverNoUnregister];
