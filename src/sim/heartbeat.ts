/**
 * The heartbeat a watchdog in another thread reads: a counter every world of this thread bumps at
 * each step. A task that loops without reaching a scheduling point stops it, and the watchdog
 * (src/cli/watchdog.ts) reports a soft lockup. Plain memory writes, no atomics: the watchdog only
 * needs to see that the number changes.
 */

/** Where steps are counted; a private array until a watchdog shares one. */
export const heartbeat: { view: Int32Array } = { view: new Int32Array(1) };

/** Counts this thread's steps in `view` (backed by a SharedArrayBuffer the watchdog also holds). */
export function shareHeartbeat(view: Int32Array): void {
  heartbeat.view = view;
}
