/**
 * The full trace of a run: one entry per step (step number, task, label, object, access), plus
 * notes such as findings, in the order they happened. Recording is off by default; replay turns
 * it on. The text form is the contract: same scenario and schedule give the same bytes.
 */
import { Access, accessCode, type SimObject } from './point.js';

/** One row of a trace: a step, or a note (a finding) between steps. */
export type TraceRow =
  | { readonly step: number; readonly task: number; readonly label: string; readonly object: string | null; readonly access: string }
  | { readonly note: string };

/** An append-only log of steps and notes. */
export class Trace {
  private readonly taskIds: number[] = [];
  private readonly labels: string[] = [];
  private readonly objects: (string | null)[] = [];
  private readonly accesses: Access[] = [];
  /** Notes attached after a given entry index (e.g. a finding's message). */
  private readonly notes: { after: number; text: string }[] = [];

  get length(): number {
    return this.taskIds.length;
  }

  clear(): void {
    this.taskIds.length = 0;
    this.labels.length = 0;
    this.objects.length = 0;
    this.accesses.length = 0;
    this.notes.length = 0;
  }

  /** Records one step (the step number is the entry's index). */
  step(taskId: number, label: string, obj: SimObject | null, access: Access): void {
    this.taskIds.push(taskId);
    this.labels.push(label);
    this.objects.push(obj === null ? null : obj.name);
    this.accesses.push(access);
  }

  /** Records a note that belongs after the most recent step. */
  note(text: string): void {
    this.notes.push({ after: this.taskIds.length, text });
  }

  /** The recorded steps and notes as plain rows, in order (for renderers other than text). */
  rows(): TraceRow[] {
    const out: TraceRow[] = [];
    let ni = 0;
    const notesUpTo = (upTo: number): void => {
      while (ni < this.notes.length && this.notes[ni]!.after <= upTo) out.push({ note: this.notes[ni++]!.text });
    };
    for (let i = 0; i < this.taskIds.length; i++) {
      notesUpTo(i);
      out.push({ step: i, task: this.taskIds[i]!, label: this.labels[i]!, object: this.objects[i]!, access: accessCode(this.accesses[i]!) });
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
      out.push(
        `${String(i).padStart(digits)}  ${taskNames[this.taskIds[i]!]!.padEnd(width)}  ${this.labels[i]}${what}`,
      );
    }
    flushNotes(Number.MAX_SAFE_INTEGER);
    return out.join('\n') + '\n';
  }
}
