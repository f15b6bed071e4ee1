/**
 * The static HTML trace viewer: one self-contained page per replayed run, one column per task
 * (swimlanes), one row per step, the object and access of each step, and findings shown where
 * they happened. No script and no external resources, so it opens anywhere and can be attached
 * to a bug report.
 */
import type { Finding } from '../sim/finding.js';
import type { TraceRow } from '../sim/trace.js';

/** What the page shows. */
export interface TracePage {
  readonly title: string;
  /** A line such as the replay command that reproduces the run. */
  readonly subtitle: string;
  readonly taskNames: readonly string[];
  readonly rows: readonly TraceRow[];
  readonly findings: readonly Finding[];
  readonly notes: readonly string[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const STYLE = `
body { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; margin: 1.5em; color: #222; }
h1 { font-size: 16px; margin: 0 0 .2em; } .sub { color: #666; margin-bottom: 1em; }
table { border-collapse: collapse; } th, td { border: 1px solid #ddd; padding: 2px 8px; vertical-align: top; }
th { background: #f4f4f4; position: sticky; top: 0; } td.n { color: #999; text-align: right; }
td.s { background: #eef6ff; white-space: nowrap; } .o { color: #777; } .W { color: #b34; } .R { color: #375; }
tr.f td { background: #fff1f0; color: #a00; white-space: pre-wrap; } .note { color: #a60; }
pre.finding { background: #fff1f0; border: 1px solid #f3c2bd; padding: .6em; white-space: pre-wrap; }
`;

/** Renders the page. Deterministic: the same run gives the same bytes. */
export function traceToHtml(p: TracePage): string {
  const cols = p.taskNames.length;
  const out: string[] = [];
  out.push('<!doctype html>', '<html lang="en"><head><meta charset="utf-8">', `<title>${esc(p.title)}</title>`, `<style>${STYLE}</style></head><body>`);
  out.push(`<h1>${esc(p.title)}</h1>`, `<div class="sub">${esc(p.subtitle)}</div>`);
  for (const n of p.notes) out.push(`<div class="note">note: ${esc(n)}</div>`);
  for (const f of p.findings) out.push(`<pre class="finding">[${esc(f.kind)}] at step ${f.step}${f.task === null ? '' : ` in ${esc(f.task)}`}\n${esc(f.message)}</pre>`);
  out.push('<table><thead><tr><th>step</th>');
  for (const t of p.taskNames) out.push(`<th>${esc(t)}</th>`);
  out.push('</tr></thead><tbody>');
  for (const r of p.rows) {
    if ('note' in r) {
      out.push(`<tr class="f"><td class="n"></td><td colspan="${cols}">${esc(r.note)}</td></tr>`);
      continue;
    }
    out.push(`<tr><td class="n">${r.step}</td>`);
    for (let c = 0; c < cols; c++) {
      if (c !== r.task) {
        out.push('<td></td>');
        continue;
      }
      const obj = r.object === null ? '' : ` <span class="o">[${esc(r.object)} <span class="${r.access}">${r.access}</span>]</span>`;
      out.push(`<td class="s">${esc(r.label)}${obj}</td>`);
    }
    out.push('</tr>');
  }
  out.push('</tbody></table></body></html>', '');
  return out.join('\n');
}
