/**
 * The human-readable report of `hmmsim check`: per scenario its verdict, how hard it was explored,
 * and each finding with a ready-to-paste replay line.
 */
import type { ScenarioReport } from '../check/report-model.js';

/** Formats an integer with thousands separators, locale-independent. */
export function thousands(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Why a verdict is what it is, in a few words. */
export function verdictReason(r: ScenarioReport): string {
  if (r.verdict === 'skip') return `skipped: ${r.skipReason ?? ''}`;
  if (r.verdict === 'pass') {
    const extras = [...new Set(r.problems.map((p) => p.kind))].filter((k) => !r.expected.includes(k));
    const also = extras.length === 0 ? '' : ` (also found, which the scenario allows: ${extras.join(', ')})`;
    if (r.expected.length === 0) return extras.length === 0 ? 'no findings, as expected' : `no unexpected findings${also}`;
    return `found as expected: ${r.expected.join(', ')}${also}`;
  }
  const parts: string[] = [];
  if (r.missing.length > 0) parts.push(`expected ${r.missing.join(', ')} but it was not found`);
  if (r.unexpected.length > 0) parts.push(`unexpected: ${r.unexpected.join(', ')}`);
  return parts.join('; ');
}

/**
 * The arguments after the scenario on a replay line: schedule, seed, the kernel contract the run
 * used (when one was chosen) and the finding to expect, so the line works as printed.
 */
export function replayArgs(r: ScenarioReport, p: ScenarioReport['problems'][number]): string {
  return `${p.schedule} --seed ${p.seed}${r.kernel !== undefined ? ` --kernel ${r.kernel}` : ''} --finding ${p.kind}`;
}

/** The text block for one scenario. `replayWord` names the scenario on a replay line. */
export function formatScenario(r: ScenarioReport, replayWord: string, invocation = 'hmmsim'): string {
  const out: string[] = [];
  out.push(`${r.verdict === 'pass' ? 'PASS' : r.verdict === 'skip' ? 'SKIP' : 'FAIL'}  ${r.name}: ${verdictReason(r)}`);
  if (r.verdict === 'skip') return out.join('\n');
  for (const n of r.notes ?? []) out.push(`      note: ${n}`);
  out.push(`      ${thousands(r.runs)} runs in ${(r.elapsedMs / 1000).toFixed(2)} s (${thousands(r.runsPerSecond)} runs/s)`);
  for (const s of r.strategies) out.push(`      ${s}`);
  if (r.complete) out.push('      every schedule explored: the verdict is complete');
  for (const p of r.problems) {
    out.push(`  [${p.kind}] hit in ${plural(p.hits, 'run')}; shown with ${plural(p.preemptions, 'preemption')}, ${plural(p.steps, 'step')} (found by ${p.strategy})`);
    for (const line of p.message.split('\n')) out.push(`    ${line}`);
    if (!p.reproducible) out.push('    (this finding needs several runs of the exploration: replaying the last of them alone does not show it)');
    out.push(`    replay: ${invocation} replay ${replayWord} ${replayArgs(r, p)}`);
  }
  return out.join('\n');
}

/** The closing line of a check. */
export function formatSummary(reports: readonly ScenarioReport[]): string {
  const failed = reports.filter((r) => r.verdict === 'fail').length;
  const skipped = reports.filter((r) => r.verdict === 'skip').length;
  const skips = skipped === 0 ? '' : ` (${skipped} skipped)`;
  return failed === 0
    ? `all ${plural(reports.length, 'scenario')} as expected${skips}`
    : `${failed} of ${plural(reports.length, 'scenario')} not as expected${skips}`;
}

/** One cell of a comparison: what one scenario found under one kernel version. */
export interface ComparisonRow {
  readonly scenario: string;
  readonly kernel: string;
  readonly kinds: readonly string[];
  readonly runs: number;
  /** Whether the findings are what the scenario expects under that version. */
  readonly asExpected: boolean;
}

/** The side-by-side table of `hmmsim compare`: a block per scenario, a line per kernel version. */
export function formatComparison(rows: readonly ComparisonRow[]): string {
  const out: string[] = [];
  const width = Math.max(7, ...rows.map((r) => r.kernel.length));
  let last = '';
  for (const r of rows) {
    if (r.scenario !== last) {
      if (last !== '') out.push('');
      out.push(`${r.scenario}`);
      out.push(`  ${'kernel'.padEnd(width)}  ${'verdict'.padEnd(15)}  findings`);
      last = r.scenario;
    }
    out.push(`  ${r.kernel.padEnd(width)}  ${(r.asExpected ? 'as expected' : 'NOT as expected').padEnd(15)}  ${r.kinds.length === 0 ? 'none' : r.kinds.join(', ')}  (${thousands(r.runs)} runs)`);
  }
  return `${out.join('\n')}\n`;
}
