/** Two tasks take two locks in opposite orders: deadlock in some interleavings only. */
import { defineScenario, type World } from '../src/index.js';
import { MiniMutex } from './mini-mutex.js';

interface State {
  a: MiniMutex;
  b: MiniMutex;
}

export default defineScenario<State>({
  name: 'abba-deadlock',
  description: 'task 1 takes A then B, task 2 takes B then A; when each holds its first lock, both sleep forever',
  setup: (w: World) => ({ a: new MiniMutex(w, 'A'), b: new MiniMutex(w, 'B') }),
  tasks: {
    *ab(s) {
      yield* s.a.lock();
      yield* s.b.lock();
      yield* s.b.unlock();
      yield* s.a.unlock();
    },
    *ba(s) {
      yield* s.b.lock();
      yield* s.a.lock();
      yield* s.a.unlock();
      yield* s.b.unlock();
    },
  },
  expect: ['deadlock'],
});
