/**
 * The progress line on stderr for explorations longer than a second: redrawn in place, only on a
 * terminal, never with --quiet.
 */

/** Shows and clears a one-line progress display. */
export class ProgressLine {
  private shown = false;
  private readonly enabled: boolean;

  constructor(quiet: boolean) {
    this.enabled = !quiet && process.stderr.isTTY === true;
  }

  /** Redraws the line if the exploration has run for more than a second. */
  update(scenario: string, runs: number, elapsedMs: number, findings: number, timeLeftMs: number | null): void {
    if (!this.enabled || elapsedMs < 1000) return;
    const rate = Math.round((runs * 1000) / elapsedMs);
    const left = timeLeftMs === null ? '' : `, ${Math.max(0, Math.ceil(timeLeftMs / 1000))} s left`;
    process.stderr.write(`\r\x1b[K${scenario}: ${runs} runs, ${rate} runs/s, ${findings} findings${left}`);
    this.shown = true;
  }

  /** Removes the line before real output is printed. */
  clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
