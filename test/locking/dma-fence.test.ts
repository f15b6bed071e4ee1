/**
 * dma_fence and its lockdep annotations (src/locking/dma-fence.ts): waits on the virtual clock,
 * callbacks, and the signalling map, both sides (a lock taken inside a signalling section and
 * held across a fence wait elsewhere is a cycle; taken before the section it is not), gated on
 * the kernel versions that have the annotations.
 */
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../../src/check/run.js';
import { defineScenario, type ScenarioTask } from '../../src/check/scenario.js';
import {
  DmaFence,
  DmaFenceCb,
  dma_fence_add_callback,
  dma_fence_begin_signalling,
  dma_fence_end_signalling,
  dma_fence_init,
  dma_fence_signal,
  dma_fence_wait,
  dma_fence_wait_timeout,
} from '../../src/locking/dma-fence.js';
import { ENOENT, EINVAL } from '../../src/locking/errno.js';
import { irq_enter, irq_exit } from '../../src/locking/irq.js';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/locking/mutex.js';
import { Spinlock, spin_lock, spin_unlock } from '../../src/locking/spinlock.js';
import type { World } from '../../src/sim/world.js';
import { EXHAUSTIVE, explore, kinds } from './helpers.js';

const ops = { get_driver_name: () => 'test', get_timeline_name: () => 'test' };

function fence(w: World, name = 'f'): DmaFence {
  const f = new DmaFence(w, name);
  dma_fence_init(f, ops, new Spinlock(w, `${name}->lock`, 'fence->lock'), 1, 1);
  return f;
}

describe('dma_fence: waits, signals, callbacks', () => {
  it('a wait with a timeout returns 0 once the virtual time ran out, the ticks left when signalled first', () => {
    const got: number[] = [];
    const r = explore((w) => ({ f: fence(w), g: fence(w, 'g') }), {
      *waiter(s) {
        got.push(yield* dma_fence_wait_timeout(s.f, false, 10));
        got.push(yield* dma_fence_wait_timeout(s.g, false, 10));
      },
      *signaller(s) {
        yield* dma_fence_signal(s.g);
      },
    }, { legs: [{ name: 'random' }], runs: 1 });
    expect(kinds(r)).toEqual([]);
    expect(got[0]).toBe(0);
    expect(got[1]).toBeGreaterThan(0);
  });

  it('signalling twice returns -EINVAL; a callback runs once at the signal; adding one after the signal is -ENOENT', () => {
    const got: number[] = [];
    explore((w) => ({ f: fence(w) }), {
      *t(s) {
        let calls = 0;
        got.push(yield* dma_fence_add_callback(s.f, new DmaFenceCb(), () => calls++));
        got.push(yield* dma_fence_signal(s.f));
        got.push(yield* dma_fence_signal(s.f));
        got.push(yield* dma_fence_add_callback(s.f, new DmaFenceCb(), () => calls++));
        got.push(calls);
        got.push(yield* dma_fence_wait(s.f, false));
      },
    });
    expect(got).toEqual([0, 0, -EINVAL, -ENOENT, 1, 0]);
  });

  it('a wait that is never signalled is a deadlock', () => {
    const r = explore((w) => ({ f: fence(w) }), {
      *t(s) {
        yield* dma_fence_wait(s.f, false);
      },
    });
    expect(kinds(r)).toEqual(['deadlock']);
  });
});

interface S {
  f: DmaFence;
  L: Mutex;
}

function signallingScenario(name: string, waitUnderLock: boolean) {
  const tasks: Record<string, ScenarioTask<S>> = {
    *producer(s) {
      const cookie = dma_fence_begin_signalling();
      yield* mutex_lock(s.L);
      yield* mutex_unlock(s.L);
      yield* dma_fence_signal(s.f);
      dma_fence_end_signalling(cookie);
    },
    *consumer(s) {
      yield* mutex_lock(s.L);
      if (!waitUnderLock) yield* mutex_unlock(s.L);
      yield* dma_fence_wait(s.f, false);
      if (waitUnderLock) yield* mutex_unlock(s.L);
    },
  };
  return defineScenario<S>({ name, description: '', setup: (w) => ({ f: fence(w), L: new Mutex(w, 'L') }), tasks });
}

function check(waitUnderLock: boolean, kernel: string): string[] {
  const r = checkScenario(signallingScenario('signalling', waitUnderLock), { legs: [EXHAUSTIVE], seed: 1, runs: 10_000, kernel });
  return [...new Set(r.problems.map((p) => p.kind))].sort();
}

describe('dma_fence: the signalling map (v5.9+)', () => {
  it('a lock taken inside a signalling section and held across a fence wait elsewhere: a lockdep cycle (and a real deadlock)', () => {
    expect(check(true, 'current')).toEqual(['deadlock', 'lockdep-circular']);
  });

  it('the same lock taken in the section, but nobody holds it across a fence wait: no cycle, no deadlock', () => {
    expect(check(false, 'current')).toEqual([]);
  });

  it('before v5.9 the annotations do not exist: only the deadlock, in the interleavings that reach it', () => {
    expect(check(true, 'v5.5')).toEqual(['deadlock']);
  });

  it('sections nest (the inner cookie ends nothing) and annotate nothing in atomic context', () => {
    const cookies: boolean[] = [];
    const r = explore((w) => ({ l: new Spinlock(w, 'l') }), {
      *t(s) {
        const outer = dma_fence_begin_signalling();
        const inner = dma_fence_begin_signalling();
        cookies.push(outer, inner);
        dma_fence_end_signalling(inner);
        dma_fence_end_signalling(outer);
        yield* spin_lock(s.l);
        cookies.push(dma_fence_begin_signalling());
        yield* spin_unlock(s.l);
        irq_enter();
        cookies.push(dma_fence_begin_signalling());
        irq_exit();
      },
    });
    expect(kinds(r)).toEqual([]);
    expect(cookies).toEqual([false, true, true, true]);
  });

  it('a fence wait in an interrupt handler is sleeping in atomic context', () => {
    const r = explore((w) => ({ f: fence(w) }), {
      *irq(s) {
        irq_enter();
        yield* dma_fence_wait_timeout(s.f, false, 1);
        irq_exit();
      },
    });
    expect(kinds(r)).toEqual(['sleep-in-atomic']);
  });
});
