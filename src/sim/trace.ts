/**
 * The full trace of a run: one entry per step (step number, task, label, object, access), plus
 * notes such as findings, in the order they happened. Recording is off by default; replay turns
 * it on. The text form is the contract: same scenario and schedule give the same bytes.
 *
 * Besides what the explorer needs, a recorded step carries what a reader needs: the kernel calls
 * the step is part of (outermost first; the first is the driver-level call), the locks the task
 * held when it reached the step, and details the layers attach while the step runs (the sequence
 * a notifier step read or compared). None of it is gathered unless a trace is recorded.
 */
import { Access, accessCode, type SimObject } from './point.js';

/** One recorded step, as renderers get it. */
export interface TraceStep {
  readonly step: number;
  readonly task: number;
  readonly label: string;
  readonly object: string | null;
  /** How the step touches its object, as shown: R, W or '-'. A shared lock acquisition shows R. */
  readonly access: string;
  /** The kernel calls the step is part of, outermost first, joined by ' › '; '' outside any. */
  readonly calls: string;
  /** The locks the task held when it reached the step, outermost first ('name' or 'name (R)'). */
  readonly held: readonly string[];
  /** What the step did that its label does not say (the sequence read or compared), or ''. */
  readonly detail: string;
}

/** One row of a trace: a step, or a note between steps (`finding` when it is a finding's report). */
export type TraceRow = TraceStep | { readonly note: string; readonly finding: boolean };

/** What the trace asks the locking layer for: the locks a task holds, outermost first. */
export type HeldLocks = (task: number) => readonly string[];

const NONE: readonly string[] = [];

/** An append-only log of steps and notes. */
export class Trace {
  private readonly taskIds: number[] = [];
  private readonly labels: string[] = [];
  private readonly objects: (string | null)[] = [];
  private readonly accesses: Access[] = [];
  private readonly calls: string[] = [];
  private readonly helds: (readonly string[])[] = [];
  private readonly details: string[] = [];
  /** Notes attached after a given entry index (e.g. a finding's message). */
  private readonly notes: { after: number; text: string; finding: boolean }[] = [];
  /** Set by the locking layer for the run: the held locks of a task, asked at every step. */
  heldLocks: HeldLocks | null = null;
  /** True while the last recorded step runs (details attach only to a running step). */
  private open = false;

  get length(): number {
    return this.taskIds.length;
  }

  clear(): void {
    this.taskIds.length = 0;
    this.labels.length = 0;
    this.objects.length = 0;
    this.accesses.length = 0;
    this.calls.length = 0;
    this.helds.length = 0;
    this.details.length = 0;
    this.notes.length = 0;
    this.heldLocks = null;
    this.open = false;
  }

  /** Records one step (the step number is the entry's index); `calls` as kernelCallsOnStack gives them. */
  step(taskId: number, label: string, obj: SimObject | null, access: Access, calls = ''): void {
    this.taskIds.push(taskId);
    this.labels.push(label);
    this.objects.push(obj === null ? null : obj.name);
    this.accesses.push(access);
    this.calls.push(calls);
    this.helds.push(this.heldLocks === null ? NONE : this.heldLocks(taskId));
    this.details.push('');
    this.open = true;
  }

  /** The world calls this when the step it recorded last has run. */
  close(): void {
    this.open = false;
  }

  /** Attaches a detail to the step running now (the last recorded); several are joined with '; '. */
  detail(text: string): void {
    if (!this.open) return;
    const i = this.details.length - 1;
    this.details[i] = this.details[i] === '' ? text : `${this.details[i]}; ${text}`;
  }

  /**
   * Shows the step running now as touching its object with `access`: a shared lock acquisition
   * writes the lock word (so the explorer orders it against other acquisitions) but a reader
   * of the trace wants to see it taken for read.
   */
  showAccess(access: Access): void {
    if (this.open) this.accesses[this.accesses.length - 1] = access;
  }

  /** Records a note that belongs after the most recent step; `finding` when it is a finding's report. */
  note(text: string, finding = false): void {
    this.notes.push({ after: this.taskIds.length, text, finding });
  }

  /** The recorded steps and notes as plain rows, in order (for renderers other than text). */
  rows(): TraceRow[] {
    const out: TraceRow[] = [];
    let ni = 0;
    const notesUpTo = (upTo: number): void => {
      while (ni < this.notes.length && this.notes[ni]!.after <= upTo) {
        const n = this.notes[ni++]!;
        out.push({ note: n.text, finding: n.finding });
      }
    };
    for (let i = 0; i < this.taskIds.length; i++) {
      notesUpTo(i);
      out.push({
        step: i,
        task: this.taskIds[i]!,
        label: this.labels[i]!,
        object: this.objects[i]!,
        access: accessCode(this.accesses[i]!),
        calls: this.calls[i]!,
        held: this.helds[i]!,
        detail: this.details[i]!,
      });
    }
    notesUpTo(Number.MAX_SAFE_INTEGER);
    return out;
  }

  /** One line a step, aligned, with notes indented between them. */
  format(taskNames: readonly string[]): string {
    const width = Math.max(4, ...taskNames.map((n) => n.length));
    const digits = String(Math.max(1, this.taskIds.length - 1)).length;
    const out: string[] = [];
    let ni = 0;
    const flushNotes = (upTo: number): void => {
      while (ni < this.notes.length && this.notes[ni]!.after <= upTo) {
        for (const line of this.notes[ni]!.text.split('\n')) out.push(`${' '.repeat(digits)}  | ${line}`);
        ni++;
      }
    };
    for (let i = 0; i < this.taskIds.length; i++) {
      flushNotes(i);
      const obj = this.objects[i];
      const what = obj === null ? '' : `  [${obj} ${accessCode(this.accesses[i]!)}]`;
      const detail = this.details[i] === '' ? '' : `  {${this.details[i]}}`;
      out.push(
        `${String(i).padStart(digits)}  ${taskNames[this.taskIds[i]!]!.padEnd(width)}  ${this.labels[i]}${what}${detail}`,
      );
    }
    flushNotes(Number.MAX_SAFE_INTEGER);
    return out.join('\n') + '\n';
  }
}
