/**
 * A lock-order inversion no single run contains: each run takes the two locks in one order,
 * chosen by the run's seed. Lockdep's graph lasts the whole exploration, as a kernel's lasts a
 * boot, so the cycle is reported from two runs, each named by its schedule and seed.
 */
import { defineScenario, Mutex, mutex_lock, mutex_unlock, type World } from '../src/index.js';

interface State {
  a: Mutex;
  b: Mutex;
  aFirst: boolean;
}

export default defineScenario<State>({
  name: 'lockdep-cross-run',
  description: 'each run takes A,B or B,A (by seed); no run deadlocks or has both orders, lockdep still reports the cycle across runs',
  setup: (w: World) => ({ a: new Mutex(w, 'lock_A'), b: new Mutex(w, 'lock_B'), aFirst: w.rng.below(2) === 0 }),
  tasks: {
    *worker(s) {
      const [first, second] = s.aFirst ? [s.a, s.b] : [s.b, s.a];
      yield* mutex_lock(first);
      yield* mutex_lock(second);
      yield* mutex_unlock(second);
      yield* mutex_unlock(first);
    },
  },
  expect: ['lockdep-circular'],
});
