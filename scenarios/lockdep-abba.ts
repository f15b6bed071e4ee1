/**
 * ABBA with real mutexes: it deadlocks only when both tasks hold their first lock at once, but
 * lockdep reports the inverted order in any run where both orders were taken — so it is found
 * even by explorations that never hit the deadlock.
 */
import { defineScenario, Mutex, mutex_lock, mutex_unlock, type World } from '../src/index.js';

interface State {
  a: Mutex;
  b: Mutex;
}

export default defineScenario<State>({
  name: 'lockdep-abba',
  description: 'two tasks take two mutexes in opposite orders: lockdep reports the cycle whether or not the deadlock happens',
  setup: (w: World) => ({ a: new Mutex(w, 'lock_A'), b: new Mutex(w, 'lock_B') }),
  tasks: {
    *ab(s) {
      yield* mutex_lock(s.a);
      yield* mutex_lock(s.b);
      yield* mutex_unlock(s.b);
      yield* mutex_unlock(s.a);
    },
    *ba(s) {
      yield* mutex_lock(s.b);
      yield* mutex_lock(s.a);
      yield* mutex_unlock(s.a);
      yield* mutex_unlock(s.b);
    },
  },
  expect: ['deadlock', 'lockdep-circular'],
});
