/**
 * S-HMM-RACE-1 (seed 001, the race 04ec32fbc2b2 describes): the 2019 API's boolean `valid` misses
 * a whole invalidation that starts and ends between a driver's snapshot and its validity check.
 *
 *     device (mydevice_prefault)              CPU
 *     register, wait_until_valid: true
 *     hmm_range_fault: pfn P1
 *     up_read(mmap_sem)
 *                                             madvise(DONTNEED): start: valid = false,
 *                                               sync zaps the device (nothing mapped yet)
 *                                             P1 unmapped and freed
 *                                             end: notifiers 0, valid = true
 *                                             write: fault maps P2
 *     lock; hmm_range_valid: true (!)
 *     program P1                              -> the device maps a freed page the CPU replaced
 *
 * Under v5.2 and v5.3 the seed's correct driver does exactly this: stale-device-mapping. From
 * v5.5 the driver of its kernel uses an interval notifier (read_begin / read_retry under the
 * device lock): the CPU's invalidation moves the sequence, the driver retries and maps P2: clean.
 * v4.19 and v5.4 have neither API as modelled: api-unavailable. `s-hmm-race-1-reclaim` is the same
 * race with reclaim (swap-out, swap-in) as the CPU side.
 */
import { defineScenario, GFP_KERNEL, IntervalMirror, LegacyMirror, type World } from '../../src/index.js';
import { contractOf } from '../../src/locking/version.js';
import { MADV_DONTNEED, mm_create, PAGE_SIZE, read32, sys_madvise, try_to_free_pages, write32, type Mm } from '../../src/mm/index.ts';
import { populated } from './populated.js';
import { MM_SCENARIO_RUNS } from '../budget.js';

interface RaceState {
  mm: Mm;
  addr: number;
  legacy: LegacyMirror | null;
  interval: IntervalMirror | null;
}

/** Which driver a kernel version gets: the interval one where interval notifiers exist, else the 2019 one. */
function driverFor(w: World, mm: Mm): Pick<RaceState, 'legacy' | 'interval'> {
  const c = contractOf(w);
  if (c.legacyHmm === undefined && c.intervalNotifiers) return { legacy: null, interval: new IntervalMirror(w, mm, 'correct', 'mydevice') };
  return { legacy: new LegacyMirror(w, mm, 'correct', 'mydevice'), interval: null };
}

export const sHmmRace1 = defineScenario<RaceState>({
  name: 's-hmm-race-1',
  description: "S-HMM-RACE-1: the 2019 API's boolean valid misses a whole zap-and-refault of the page (MADV_DONTNEED, CPU write); the interval API's sequence catches it",
  setup(w: World) {
    const mm = mm_create(w, { name: 'mm' });
    return { mm, addr: 0, ...driverFor(w, mm) };
  },
  *init(s) {
    s.addr = yield* populated(s.mm, 1);
    if (s.legacy !== null) yield* s.legacy.register();
    else yield* s.interval!.insert(s.addr, PAGE_SIZE);
  },
  tasks: {
    *device_fault(s) {
      if (s.legacy !== null) yield* s.legacy.prefault(s.addr, s.addr + PAGE_SIZE, true);
      else yield* s.interval!.fault(s.addr, true);
    },
    *cpu_replace(s) {
      yield* sys_madvise(s.mm, s.addr, PAGE_SIZE, MADV_DONTNEED);
      yield* write32(s.mm, s.addr, 2);
    },
  },
  expect: (v) => (v.legacyHmm !== undefined ? ['stale-device-mapping'] : v.intervalNotifiers ? [] : ['api-unavailable']),
  // When the device is programmed inside the CPU's window, the CPU then frees the page under it.
  allow: (v) => (v.legacyHmm !== undefined ? ['device-maps-freed-page'] : []),
  runs: MM_SCENARIO_RUNS,
});

/**
 * The same race with reclaim as the CPU side: no mmap lock at all, the page is swapped out
 * (CLEAR under the rmap and folio locks) and read back in to a new frame.
 */
export const sHmmRace1Reclaim = defineScenario<RaceState>({
  name: 's-hmm-race-1-reclaim',
  description: 'S-HMM-RACE-1 with reclaim: the page is swapped out and back in between the snapshot and the valid check',
  setup(w: World) {
    const mm = mm_create(w, { name: 'mm', swapPages: 4 });
    return { mm, addr: 0, ...driverFor(w, mm) };
  },
  init: sHmmRace1.definition.init as RaceScenarioInit,
  tasks: {
    device_fault: sHmmRace1.definition.tasks['device_fault'] as RaceTask,
    *cpu_reclaim(s) {
      yield* try_to_free_pages(s.mm.sys, GFP_KERNEL);
      yield* read32(s.mm, s.addr);
    },
  },
  expect: (v) => (v.legacyHmm !== undefined ? ['stale-device-mapping'] : v.intervalNotifiers ? [] : ['api-unavailable']),
  allow: (v) => (v.legacyHmm !== undefined ? ['device-maps-freed-page'] : []),
  runs: MM_SCENARIO_RUNS,
});

type RaceScenarioInit = (s: RaceState, w: World) => Generator<unknown, void, unknown>;
type RaceTask = (s: RaceState, w: World) => Generator<unknown, void, unknown>;

export default [sHmmRace1, sHmmRace1Reclaim];
