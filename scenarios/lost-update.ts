/** The textbook race: two tasks increment a shared counter with a load and a store. */
import { Access, defineScenario, type World } from '../src/index.js';

interface State {
  counter: { name: string; value: number };
}

function* increment(s: State, w: World) {
  yield w.point('load counter', s.counter, Access.Read);
  const v = s.counter.value;
  yield w.point('store counter', s.counter, Access.Write);
  s.counter.value = v + 1;
}

export default defineScenario<State>({
  name: 'lost-update',
  description: 'two tasks increment a counter without a lock; an update is lost when both load before either stores',
  setup: () => ({ counter: { name: 'counter', value: 0 } }),
  tasks: { inc0: increment, inc1: increment },
  check(s, ctx) {
    if (s.counter.value !== 2) ctx.fail(`lost update: counter is ${s.counter.value} after two increments`, 'lost-update', 'counter');
  },
  expect: ['lost-update'],
});
