/**
 * The classic missed wake-up: the consumer checks the buffer, and only in a later step goes to
 * sleep. A producer that fills the buffer and wakes the queue in between wakes nobody, and the
 * consumer sleeps forever.
 */
import { Access, defineScenario, type WaitQueue, type World } from '../src/index.js';

interface State {
  buffer: { name: string; items: number[] };
  wq: WaitQueue;
  consumed: number;
}

export default defineScenario<State>({
  name: 'missed-wakeup',
  description: 'a consumer that checks the condition before queueing itself misses the wake-up and sleeps forever',
  setup: (w: World) => {
    const buffer = { name: 'buffer', items: [] as number[] };
    return { buffer, wq: w.waitQueue('buffer_wq', buffer), consumed: 0 };
  },
  tasks: {
    *producer(s, w) {
      yield w.point('put item', s.buffer, Access.Write);
      s.buffer.items.push(1);
      s.wq.wakeAll();
    },
    *consumer(s, w) {
      for (;;) {
        yield w.point('check buffer', s.buffer, Access.Write);
        if (s.buffer.items.shift() !== undefined) break;
        yield w.point('go to sleep', s.buffer, Access.Write); // BUG: the check and the sleep are two steps
        yield s.wq.block();
      }
      s.consumed++;
    },
  },
  expect: ['deadlock'],
});
