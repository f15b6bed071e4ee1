/**
 * The decisions of one run, recorded as they are made: which task was picked, at which point, and
 * whether picking it preempted a task that could have gone on. Typed arrays reused across runs,
 * so recording costs no allocation in the explorer's hot path; `schedule.ts` turns a log into
 * the string users paste.
 */

/** Append-only, reusable record of a run's scheduling decisions. */
export class DecisionLog {
  tasks = new Int32Array(256);
  preempt = new Uint8Array(256);
  labels: string[] = [];
  count = 0;

  clear(): void {
    this.count = 0;
  }

  push(taskId: number, label: string, preempted: boolean): void {
    const i = this.count;
    if (i === this.tasks.length) this.grow();
    this.tasks[i] = taskId;
    this.preempt[i] = preempted ? 1 : 0;
    this.labels[i] = label;
    this.count = i + 1;
  }

  /** How many decisions switched away from a task that could have continued. */
  preemptions(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += this.preempt[i]!;
    return n;
  }

  /** A plain copy of the task choices, for shrinking and replay. */
  choices(): number[] {
    return Array.from(this.tasks.subarray(0, this.count));
  }

  /** A plain copy of the labels picked, parallel to `choices()`. */
  pickedLabels(): string[] {
    return this.labels.slice(0, this.count);
  }

  private grow(): void {
    const t = new Int32Array(this.tasks.length * 2);
    t.set(this.tasks);
    this.tasks = t;
    const p = new Uint8Array(this.preempt.length * 2);
    p.set(this.preempt);
    this.preempt = p;
  }
}
