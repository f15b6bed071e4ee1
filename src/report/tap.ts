/**
 * `hmmsim check --tap`: the results in the kselftest TAP format, so kernel CI parsers read them.
 *
 *     TAP version 13
 *     1..3
 *     ok 1 hmm.hmm_device_private.open_close
 *     not ok 2 hmm.hmm_device_private.anon_read
 *     # <why, and the replay line>
 *     ok 3 hmm.hmm_device_coherent.open_close # SKIP DEVICE_COHERENT not available
 *     # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
 *
 * A scenario passes when its verdict is as expected (a known-bug demonstration that finds its
 * bug is `ok`); diagnostics of a failure follow its line as `#` comments.
 */
import type { ScenarioReport } from '../check/report-model.js';
import { replayArgs, verdictReason } from './text.js';

/** One line of TAP text has no line breaks and no '#' in a description. */
function clean(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/#/g, '\\#');
}

/** The whole TAP document for `reports`; `replayWords` name each scenario on a replay line. */
export function formatTap(reports: readonly ScenarioReport[], replayWords: readonly string[], invocation = 'hmmsim'): string {
  const out: string[] = ['TAP version 13', `1..${reports.length}`];
  let pass = 0;
  let fail = 0;
  let skip = 0;
  reports.forEach((r, i) => {
    const n = i + 1;
    if (r.verdict === 'skip') {
      skip++;
      out.push(`ok ${n} ${clean(r.name)} # SKIP ${clean(r.skipReason ?? '')}`);
      return;
    }
    if (r.verdict === 'pass') {
      pass++;
      out.push(`ok ${n} ${clean(r.name)}`);
      return;
    }
    fail++;
    out.push(`not ok ${n} ${clean(r.name)}`);
    out.push(`# ${verdictReason(r)}`);
    for (const p of r.problems) {
      for (const line of p.message.split('\n')) out.push(`# ${line}`);
      out.push(`# replay: ${invocation} replay ${replayWords[i]} ${replayArgs(r, p)}`);
    }
  });
  out.push(`# Totals: pass:${pass} fail:${fail} xfail:0 xpass:0 skip:${skip} error:0`);
  return `${out.join('\n')}\n`;
}
