/**
 * The schedule string: the one place that knows how a run's decisions are written down.
 *
 * A schedule lists the decisions of a run (steps where two or more tasks could run) as runs of
 * the same task. Each run is written as
 *
 *     <task><check>[count]
 *
 * - task: `a`–`z` for tasks 0–25, `A`–`Z` for 26–51, `{n}` for any n;
 * - check: one letter (`a`–`z`, `A`–`Z`) hashed from the label of the point the task was picked
 *   at, so a replay on changed code can tell when the recorded choice no longer fits;
 * - count: how many consecutive decisions picked that task, when more than one.
 *
 * The whole string starts with the format version: `1:`. Example: `1:aKbQ3aZ` — task a at a
 * point hashing to K, then task b three times starting at a point hashing to Q, then a again.
 */

/** The format version written in front of every schedule. */
export const SCHEDULE_VERSION = '1';

/** A decoded schedule: one entry per decision. */
export interface Schedule {
  readonly tasks: readonly number[];
  /** The label check of each decision; -1 where the string does not record one (inside a run). */
  readonly checks: readonly number[];
}

/** Bad schedule text, with a message that says what is wrong and where. */
export class ScheduleError extends Error {}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const checkCache = new Map<string, number>();

/** The one-letter check of a label (FNV-1a, folded onto 52 letters). */
export function labelCheck(label: string): number {
  let c = checkCache.get(label);
  if (c !== undefined) return c;
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  c = (h >>> 0) % LETTERS.length;
  if (checkCache.size < 100_000) checkCache.set(label, c);
  return c;
}

/** Writes a run's decisions (task ids and the labels they were picked at) as a schedule string. */
export function encodeSchedule(tasks: ArrayLike<number>, labels: readonly string[], count = tasks.length): string {
  let out = `${SCHEDULE_VERSION}:`;
  let i = 0;
  while (i < count) {
    const t = tasks[i]!;
    let j = i + 1;
    while (j < count && tasks[j] === t) j++;
    out += (t < LETTERS.length ? LETTERS[t] : `{${t}}`) + LETTERS[labelCheck(labels[i]!)];
    if (j - i > 1) out += String(j - i);
    i = j;
  }
  return out;
}

/**
 * The most decisions a schedule may hold: far past any run's step budget, far below what would
 * exhaust memory (a repeat count of 10^12 is a typo, not a run).
 */
export const MAX_SCHEDULE_DECISIONS = 10_000_000;

/** Reads a schedule string; throws ScheduleError naming the first thing wrong. */
export function decodeSchedule(text: string): Schedule {
  const s = text.trim();
  const colon = s.indexOf(':');
  if (colon < 0) throw new ScheduleError(`'${clip(s)}' is not a schedule: it must start with '${SCHEDULE_VERSION}:' (copy it whole from a report)`);
  const version = s.slice(0, colon);
  if (version !== SCHEDULE_VERSION) {
    throw new ScheduleError(`schedule format version '${version}' is not known; this hmmsim reads version ${SCHEDULE_VERSION}`);
  }
  const tasks: number[] = [];
  const checks: number[] = [];
  let i = colon + 1;
  while (i < s.length) {
    let task: number;
    const ch = s[i]!;
    if (ch === '{') {
      const close = s.indexOf('}', i);
      const n = close < 0 ? NaN : Number(s.slice(i + 1, close));
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ScheduleError(`bad task number at character ${i} of the schedule: '${clip(s.slice(i))}'`);
      task = n;
      i = close + 1;
    } else {
      task = LETTERS.indexOf(ch);
      if (task < 0) throw new ScheduleError(`unexpected '${ch}' at character ${i} of the schedule: a task letter was expected`);
      i++;
    }
    if (i >= s.length) throw new ScheduleError(`the schedule is cut short at character ${i}: each task needs a check letter after it`);
    const check = LETTERS.indexOf(s[i]!);
    if (check < 0) throw new ScheduleError(`unexpected '${s[i]}' at character ${i} of the schedule: a check letter (a-z, A-Z) was expected`);
    i++;
    let count = 1;
    const start = i;
    while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i > start) {
      count = Number(s.slice(start, i));
      if (count < 2) throw new ScheduleError(`repeat count ${count} at character ${start} of the schedule must be at least 2`);
      if (tasks.length + count > MAX_SCHEDULE_DECISIONS) {
        throw new ScheduleError(`repeat count ${s.slice(start, i)} at character ${start} makes the schedule longer than ${MAX_SCHEDULE_DECISIONS} decisions; copy the schedule whole from a report`);
      }
    }
    for (let k = 0; k < count; k++) {
      tasks.push(task);
      checks.push(k === 0 ? check : -1);
    }
  }
  return { tasks, checks };
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
