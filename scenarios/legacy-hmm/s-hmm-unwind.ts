/**
 * What v5.3 fixed in hmm's own start (5a136b4ae327 "mm/hmm: Fix error flows in
 * hmm_invalidate_range_start"), on the OOM reaper's non-blockable invalidation:
 *
 * - `s-hmm-unwind-sync`: the device is busy (another path holds its lock) when the reaper runs.
 *   The mirror's sync_cpu_device_pagetables answers -EAGAIN. v5.2 loses that answer: hmm's start
 *   returns 0, the reaper frees the page while the device still maps it
 *   (device-maps-freed-page, and a stale mapping at the end). v5.3 returns -EAGAIN and takes its
 *   counter back down; the reaper skips the VMA, retries later and succeeds: clean.
 * - `s-hmm-unwind-mirrors-sem`: a second device registers its mirror (mirrors_sem held for write)
 *   while the reaper runs. hmm's start has already raised `notifiers` when its mirrors_sem
 *   trylock fails; v5.2 returns -EAGAIN with the count still raised, and since no end follows a
 *   failed non-blockable start, no range of this mm can ever become valid again (quiescence).
 *   v5.3 unwinds: clean.
 */
import { defineScenario, LegacyMirror, mutex_lock, mutex_unlock, out_of_memory, type World } from '../../src/index.js';
import { mm_create, PAGE_SIZE, type Mm } from '../../src/mm/index.ts';
import { populated } from './populated.js';

interface UnwindState {
  victim: Mm;
  addr: number;
  dev: LegacyMirror;
  other: LegacyMirror;
}

function setup(w: World): UnwindState {
  const victim = mm_create(w, { name: 'victim' });
  return { victim, addr: 0, dev: new LegacyMirror(w, victim, 'correct', 'mydevice'), other: new LegacyMirror(w, victim, 'correct', 'otherdevice') };
}

function* mirrored(s: UnwindState): Generator<unknown, void, unknown> {
  s.addr = yield* populated(s.victim, 1);
  yield* s.dev.register();
  yield* s.dev.prefault(s.addr, s.addr + PAGE_SIZE, true);
}

export const sHmmUnwindSync = defineScenario<UnwindState>({
  name: 's-hmm-unwind-sync',
  description: "the OOM reaper meets a busy mirror: v5.2's hmm loses the mirror's -EAGAIN and the page is freed under the device; v5.3 returns it",
  setup,
  init: mirrored,
  tasks: {
    *device_busy(s) {
      yield* mutex_lock(s.dev.lock);
      yield* mutex_unlock(s.dev.lock);
    },
    *oom(s) {
      yield* out_of_memory(s.victim.sys);
    },
  },
  expect: (v) => (v.legacyHmm === undefined ? ['api-unavailable'] : v.legacyHmm.unwindsFailedStart ? [] : ['device-maps-freed-page', 'stale-device-mapping']),
});

export const sHmmUnwindMirrorsSem = defineScenario<UnwindState>({
  name: 's-hmm-unwind-mirrors-sem',
  description: "the OOM reaper's start fails on hmm's mirrors_sem: v5.2 leaves hmm's notifiers count raised for good; v5.3 unwinds it",
  setup,
  init: mirrored,
  tasks: {
    *register_other(s) {
      yield* s.other.register();
    },
    *oom(s) {
      yield* out_of_memory(s.victim.sys);
    },
  },
  expect: (v) => (v.legacyHmm === undefined ? ['api-unavailable'] : v.legacyHmm.unwindsFailedStart ? [] : ['quiescence']),
});

export default [sHmmUnwindSync, sHmmUnwindMirrorsSem];
