/**
 * The watchdog: a task that runs for too long without reaching a scheduling point (a loop with no
 * `yield`) cannot be interrupted from inside its own thread, so exploration runs in worker threads
 * and this side watches them. Each worker bumps a shared step counter (src/sim/heartbeat.ts); when
 * a worker busy with a job stops bumping it for the watchdog's limit, the watchdog pauses it
 * through the inspector, reads where it is (the source line of the loop, and from the engine the
 * task, the last point it passed and the schedule so far), ends the worker, and hands back a
 * `soft-lockup` finding, named after the kernel's own watchdog report.
 */
import type { Session } from 'node:inspector';
import type { Worker } from 'node:worker_threads';

/** The finding kind of a task stuck between two scheduling points. */
export const SOFT_LOCKUP = 'soft-lockup';

/** What the engine said about the stuck run (from `__hmmsimStall` in the worker). */
export interface StallState {
  readonly task: string | null;
  readonly point: string | null;
  readonly step: number;
  readonly seed: number;
  readonly schedule: string;
}

/** Where a stuck worker was found, and what it was running. */
export interface Stall {
  /** Seconds without a step. */
  readonly seconds: number;
  /** `file:line:col (function)` of the innermost frame outside node's internals, if found. */
  readonly where: string | null;
  /** Null when no run was in progress (the scenario's setup or check is what loops). */
  readonly state: StallState | null;
}

/** A shared step counter for one worker. */
export function newHeartbeat(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** How long a task may run without a scheduling point: the time limit, within [0.5 s, 3 s]. */
export function watchdogLimitMs(timeLimitMs: number | undefined): number {
  return Math.min(3000, Math.max(500, timeLimitMs ?? 3000));
}

interface Watched {
  readonly worker: Worker;
  readonly beat: Int32Array;
  readonly onStall: (s: Stall) => void;
  armed: boolean;
  limitMs: number;
  last: number;
  since: number;
  firing: boolean;
}

/** Watches worker threads' heartbeats. One per command; `stop()` when done. */
export class Watchdog {
  private readonly watched = new Map<Worker, Watched>();
  private timer: NodeJS.Timeout | null = null;

  /** Starts watching `worker`; `onStall` is called once if it gets stuck (the worker is then ended). */
  add(worker: Worker, beat: Int32Array, onStall: (s: Stall) => void): void {
    this.watched.set(worker, { worker, beat, onStall, armed: false, limitMs: 3000, last: 0, since: 0, firing: false });
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), 100);
      this.timer.unref();
    }
  }

  /** The worker started a job with this limit: from now on, no step for `limitMs` is a stall. */
  arm(worker: Worker, limitMs: number): void {
    const w = this.watched.get(worker);
    if (w === undefined) return;
    w.armed = true;
    w.limitMs = limitMs;
    w.last = w.beat[0]!;
    w.since = performance.now();
  }

  /** The worker finished its job: idle is not stuck. */
  disarm(worker: Worker): void {
    const w = this.watched.get(worker);
    if (w !== undefined) w.armed = false;
  }

  remove(worker: Worker): void {
    this.watched.delete(worker);
    if (this.watched.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    closeSession();
  }

  private tick(): void {
    const now = performance.now();
    for (const w of this.watched.values()) {
      if (!w.armed || w.firing) continue;
      const b = w.beat[0]!;
      if (b !== w.last) {
        w.last = b;
        w.since = now;
        continue;
      }
      if (now - w.since < w.limitMs) continue;
      w.firing = true;
      const seconds = (now - w.since) / 1000;
      void locate(w.worker).then(
        (found) => w.onStall({ seconds, ...found }),
        (e) => {
          if (process.env.HMMSIM_DEBUG_WATCHDOG) process.stderr.write(`watchdog: ${e instanceof Error ? e.stack : String(e)}\n`);
          w.onStall({ seconds, where: null, state: null });
        },
      );
    }
  }
}

let session: Session | null = null;
let workersEnabled = false;
let nextId = 1;
const workerSessions = new Map<string, string>();
const replies = new Map<number, (msg: { result?: unknown; error?: unknown }) => void>();
const pausedWaiters = new Map<string, (params: PausedParams) => void>();
const scriptUrls = new Map<string, string>();

interface CallFrame {
  readonly functionName: string;
  readonly url?: string;
  readonly location: { scriptId: string; lineNumber: number; columnNumber: number };
}
interface PausedParams {
  readonly callFrames: CallFrame[];
}

/**
 * Detaches from the workers when the command is done. The session itself stays open for the next
 * watchdog of this process (a fresh session does not hear of workers again).
 */
function closeSession(): void {
  if (session === null || !workersEnabled) return;
  workersEnabled = false;
  session.post('NodeWorker.disable', {}, () => {});
  workerSessions.clear();
  replies.clear();
  pausedWaiters.clear();
  scriptUrls.clear();
}

function post<T>(method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => session!.post(method, params, (e, r) => (e ? reject(e) : resolve(r as T))));
}

async function openSession(): Promise<Session> {
  if (session !== null) return session;
  // Loaded only when a worker is stuck: node:inspector costs every command's start-up otherwise.
  const { Session } = await import('node:inspector');
  if (session !== null) return session;
  const s = new Session();
  s.connect();
  s.on('NodeWorker.attachedToWorker', (m: { params: { sessionId: string; workerInfo: { workerId: string; title?: string } } }) => {
    // The inspector numbers workers in the order it meets them; the thread id is in the title
    // ('[worker 2]'), and only it tells which Worker this is when not all are watched ones.
    const thread = /^\[worker (\d+)\]/.exec(m.params.workerInfo.title ?? '')?.[1] ?? String(m.params.workerInfo.workerId);
    workerSessions.set(thread, m.params.sessionId);
  });
  s.on('NodeWorker.receivedMessageFromWorker', (m: { params: { sessionId: string; message: string } }) => {
    const msg = JSON.parse(m.params.message) as { id?: number; method?: string; params?: Record<string, unknown> };
    if (msg.id !== undefined) {
      replies.get(msg.id)?.(msg as { result?: unknown; error?: unknown });
      replies.delete(msg.id);
    } else if (msg.method === 'Debugger.scriptParsed') {
      scriptUrls.set(`${m.params.sessionId}:${String(msg.params!.scriptId)}`, String(msg.params!.url));
    } else if (msg.method === 'Debugger.paused') {
      pausedWaiters.get(m.params.sessionId)?.(msg.params as unknown as PausedParams);
      pausedWaiters.delete(m.params.sessionId);
    }
  });
  session = s;
  return s;
}

function send<T>(sessionId: string, method: string, params: object = {}): Promise<T> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    replies.set(id, (msg) => (msg.error !== undefined ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result as T)));
    post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Pauses a stuck worker through the inspector and reads where it is and what it runs. */
async function locate(worker: Worker): Promise<{ where: string | null; state: StallState | null }> {
  return withTimeout(
    (async () => {
      await openSession();
      if (!workersEnabled) {
        workersEnabled = true;
        await post('NodeWorker.enable', { waitForDebuggerOnStart: false });
      }
      let sessionId = workerSessions.get(String(worker.threadId));
      if (sessionId === undefined) {
        // A worker started after the first stall may not have announced itself: ask again.
        await post('NodeWorker.disable');
        await post('NodeWorker.enable', { waitForDebuggerOnStart: false });
        sessionId = workerSessions.get(String(worker.threadId));
      }
      if (sessionId === undefined) return { where: null, state: null };
      const paused = new Promise<PausedParams>((r) => pausedWaiters.set(sessionId, r));
      await send(sessionId, 'Debugger.enable');
      await send(sessionId, 'Debugger.pause');
      const { callFrames } = await paused;
      let where: string | null = null;
      for (const f of callFrames) {
        const url = f.url !== undefined && f.url !== '' ? f.url : (scriptUrls.get(`${sessionId}:${f.location.scriptId}`) ?? '');
        if (url === '' || url.startsWith('node:')) continue;
        where = await originalPosition(sessionId, url, f);
        break;
      }
      const r = await send<{ result: { value?: string } }>(sessionId, 'Runtime.evaluate', { expression: 'globalThis.__hmmsimStall?.() ?? "null"', returnByValue: true });
      const state = JSON.parse(r.result.value ?? 'null') as StallState | null;
      // A worker paused in the debugger cannot be terminated: let it loop again, then end it.
      await send(sessionId, 'Debugger.disable');
      return { where, state };
    })(),
    3000,
  );
}

/** Maps a paused frame back through the module's source map (scenario files are compiled). */
async function originalPosition(sessionId: string, url: string, f: CallFrame): Promise<string> {
  const line = f.location.lineNumber;
  const col = f.location.columnNumber;
  const fallback = `${url.replace(/^file:\/\//, '')}:${line + 1}:${col + 1}${f.functionName === '' ? '' : ` (in ${f.functionName})`}`;
  // The worker knows the source maps of what it loaded: ask it (node:module findSourceMap).
  const expr = `globalThis.__hmmsimOriginal?.(${JSON.stringify(url)}, ${line}, ${col}) ?? null`;
  try {
    const r = await send<{ result: { value?: string | null } }>(sessionId, 'Runtime.evaluate', { expression: expr, returnByValue: true });
    const v = r.result.value;
    return typeof v === 'string' ? `${v}${f.functionName === '' ? '' : ` (in ${f.functionName})`}` : fallback;
  } catch {
    return fallback;
  }
}

/** The exploration result a stuck leg is replaced with: one soft-lockup finding. */
export function stallResult(stall: Stall, strategy: string, runsBefore: number, limitMs: number): import('../sim/explore.js').ExploreResult {
  const s = stall.state;
  const secs = `${stall.seconds.toFixed(1)} s`;
  const lines: string[] = [];
  if (s !== null && s.task !== null) {
    lines.push(`BUG: soft lockup: task ${s.task} ran for ${secs} without reaching a scheduling point (the limit is ${limitMs / 1000} s)`);
    lines.push(`  its last point: '${s.point}' (step ${s.step})`);
  } else {
    lines.push(`BUG: soft lockup: the scenario's setup or check ran for ${secs} without returning (the limit is ${limitMs / 1000} s)`);
  }
  if (stall.where !== null) lines.push(`  it is running at ${stall.where}`);
  lines.push(`  every loop in task code must reach a scheduling point (yield a point, take a lock, wait) on each pass`);
  const schedule = s?.schedule ?? '';
  return {
    runs: runsBefore + 1,
    pruned: 0,
    totalSteps: 0,
    exhausted: false,
    complete: false,
    completedBound: null,
    stopped: false,
    elapsedMs: 0,
    strategy: `${strategy} (stopped by the watchdog)`,
    problems: [
      {
        kind: SOFT_LOCKUP,
        place: s !== null && s.task !== null ? `${s.task}:${s.point}` : (stall.where ?? 'setup'),
        message: lines.join('\n'),
        hits: 1,
        seed: s?.seed ?? 0,
        schedule: schedule === '' ? '1:' : schedule,
        originalSchedule: schedule,
        preemptions: 0,
        steps: s === null ? 0 : s.step + 1,
        strategy,
        firstHits: [],
        reproducible: true,
      },
    ],
  };
}
