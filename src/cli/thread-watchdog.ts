/**
 * The watchdog for exploration in the command's own thread. A single leg of a single scenario
 * starts faster here than on a worker thread (a worker loads the whole engine a second time), but
 * the command's thread cannot watch itself: while a task loops without a scheduling point nothing
 * else in this thread runs. So a small thread of its own (no engine loaded, a few lines of plain
 * JavaScript) reads the heartbeat the engine bumps at each step; when it stops moving for the
 * limit, that thread sends this process SIGINT, and the leg, run through `vm` with
 * `breakOnSigint`, is cut off where it stands: V8 terminates the script, no `catch` or `finally`
 * of the looping code runs, and `run` returns `stalled`.
 *
 * Protocol of the shared control word (ARMED): the command sets IDLE -> ARMED before the leg and
 * ARMED -> IDLE after it, both by compare-and-exchange; the watchdog thread moves ARMED -> FIRED
 * and only then sends the signal. So a signal is sent only for a leg still running, and a SIGINT
 * that arrives with the word not FIRED is the user's Ctrl-C, which ends the command as always.
 *
 * Only what the engine knows survives the cut (the world still holds the task, its last point and
 * the schedule so far). Where in the source the task loops is found by the caller (in-thread.ts),
 * by replaying that schedule on a worker thread under the worker watchdog, which can pause a
 * thread and read its stack.
 */
import { Script } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { heartbeat, shareHeartbeat } from '../sim/heartbeat.js';
import { newHeartbeat } from './watchdog.js';

const IDLE = 0;
const ARMED = 1;
const FIRED = 2;

/** Slots of the control array shared with the watchdog thread. */
const STATE = 0;
const LIMIT_MS = 1;
/** Bumped at each arm, so the thread restarts its count for a new leg. */
const GENERATION = 2;
/** How long the heartbeat had stood still when the thread fired, in milliseconds. */
const STALLED_MS = 3;

// The watchdog thread: CommonJS evaluated as a string, so it loads nothing of hmmsim and starts
// in a few milliseconds, from the build or from the sources alike.
const THREAD_SOURCE = `
const { workerData } = require('node:worker_threads');
const { beat, ctrl } = workerData;
let generation = -1, last = 0, since = 0;
setInterval(() => {
  if (Atomics.load(ctrl, ${STATE}) !== ${ARMED}) return;
  const now = Date.now();
  const g = Atomics.load(ctrl, ${GENERATION});
  const b = beat[0];
  if (g !== generation || b !== last) { generation = g; last = b; since = now; return; }
  if (now - since < Atomics.load(ctrl, ${LIMIT_MS})) return;
  if (Atomics.compareExchange(ctrl, ${STATE}, ${ARMED}, ${FIRED}) !== ${ARMED}) return;
  Atomics.store(ctrl, ${STALLED_MS}, now - since);
  process.kill(process.pid, 'SIGINT');
}, 50);
`;

/** What a watched call came to: its value, or cut off after `seconds` without a step. */
export type Watched<T> = { readonly value: T } | { readonly stalled: true; readonly seconds: number };

/** The script the watched call runs through: it calls whatever `run` put in the slot. */
const SLOT = '__hmmsimWatchedCall';
let script: Script | null = null;

/** Watches calls made in this thread. One per command; `close()` when done. */
export class ThreadWatchdog {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(16));
  private readonly worker: Worker;
  /** Signals the watchdog sent for a call that had finished meanwhile: to be ignored. */
  private late = 0;
  /** Outside a watched call, SIGINT is the user's (end as always) or a late one of ours. */
  private readonly onSigint = (): void => {
    if (this.late > 0) this.late--;
    else process.exit(130);
  };

  constructor() {
    process.on('SIGINT', this.onSigint);
    const beat = newHeartbeat();
    // Steps of this thread's worlds are counted where the watchdog thread reads them.
    shareHeartbeat(beat);
    this.worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { beat, ctrl: this.ctrl } });
    // The watchdog never keeps the command alive.
    this.worker.unref();
  }

  /**
   * Calls `fn`; if the heartbeat stands still for `limitMs` meanwhile, cuts it off. After a cut the
   * engine's module state is that of the interrupted run (see in-thread.ts for the clean-up).
   */
  run<T>(limitMs: number, fn: () => T): Watched<T> {
    const ctrl = this.ctrl;
    let value: T | undefined;
    const g = globalThis as Record<string, unknown>;
    g[SLOT] = () => {
      value = fn();
    };
    script ??= new Script(`globalThis.${SLOT}()`, { filename: 'hmmsim-watched-call' });
    Atomics.store(ctrl, LIMIT_MS, limitMs);
    Atomics.add(ctrl, GENERATION, 1);
    Atomics.store(ctrl, STATE, ARMED);
    try {
      script.runInThisContext({ breakOnSigint: true });
    } catch (e) {
      if (Atomics.load(ctrl, STATE) === FIRED && (e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') {
        Atomics.store(ctrl, STATE, IDLE);
        return { stalled: true, seconds: Atomics.load(ctrl, STALLED_MS) / 1000 };
      }
      Atomics.compareExchange(ctrl, STATE, ARMED, IDLE);
      if ((e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED') {
        // The user's Ctrl-C: end as SIGINT ends any command.
        process.exit(130);
      }
      throw e;
    } finally {
      delete g[SLOT];
    }
    if (Atomics.compareExchange(ctrl, STATE, ARMED, IDLE) === FIRED) {
      // The call ended just as the watchdog fired: its signal is on the way, to be ignored
      // (the call did finish, so its value stands).
      Atomics.store(ctrl, STATE, IDLE);
      this.late++;
    }
    return { value: value as T };
  }

  /**
   * Stops the watchdog thread and gives the heartbeat back to this thread alone. Not awaited:
   * ending a thread that is still starting takes tens of milliseconds, and nothing waits for it.
   */
  close(): void {
    process.off('SIGINT', this.onSigint);
    if (heartbeat.view.buffer instanceof SharedArrayBuffer) shareHeartbeat(new Int32Array(1));
    void this.worker.terminate();
  }
}
