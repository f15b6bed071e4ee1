/**
 * Producer/consumer on a wait queue, done right: the consumer checks the buffer and queues
 * itself in one atomic step (what wait_event's prepare_to_wait-then-check order guarantees).
 */
import { Access, defineScenario, type WaitQueue, type World } from '../src/index.js';

const ITEMS = 3;

interface State {
  buffer: { name: string; items: number[] };
  wq: WaitQueue;
  consumed: number[];
}

export default defineScenario<State>({
  name: 'producer-consumer',
  description: 'a consumer sleeps on a wait queue until a producer fills the buffer; no lost wake-up',
  setup: (w: World) => {
    const buffer = { name: 'buffer', items: [] as number[] };
    return { buffer, wq: w.waitQueue('buffer_wq', buffer), consumed: [] };
  },
  tasks: {
    *producer(s, w) {
      for (let i = 0; i < ITEMS; i++) {
        yield w.point('put item', s.buffer, Access.Write);
        s.buffer.items.push(i);
        s.wq.wakeAll();
      }
    },
    *consumer(s, w) {
      while (s.consumed.length < ITEMS) {
        yield w.point('check buffer', s.buffer, Access.Write);
        const item = s.buffer.items.shift();
        if (item === undefined) {
          yield s.wq.block(); // same step as the check: no wake-up can slip in between
          continue;
        }
        s.consumed.push(item);
      }
    },
  },
  check(s, ctx) {
    if (s.consumed.join(',') !== '0,1,2') ctx.fail(`consumer got [${s.consumed.join(',')}], expected [0,1,2]`);
  },
  expect: [],
});
