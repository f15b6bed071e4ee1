/**
 * The static HTML trace viewer: one self-contained page per replayed run, one column per task
 * (swimlanes), one row per step, and findings shown where they happened. A step's cell says the
 * kernel call it belongs to (the driver-level call first, then the calls inside it), its point
 * with the object and access (a shared lock acquisition shows R), what it read or compared (the
 * sequence on notifier steps) and the locks the task held when it got there. No script and no external resources, so it opens anywhere and can be attached
 * to a bug report.
 */
import type { Finding } from '../sim/finding.js';
import type { TraceRow, TraceStep } from '../sim/trace.js';

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
table { border-collapse: collapse; table-layout: fixed; width: 100%; }
th, td { border: 1px solid #ddd; padding: 2px 6px; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f4f4f4; position: sticky; top: 0; } th.n, td.n { width: 4em; color: #999; text-align: right; }
td.s { background: #eef6ff; } .o { color: #777; } .W { color: #b34; } .R { color: #375; }
tr.f td { background: #fff1f0; color: #a00; white-space: pre-wrap; } .note { color: #a60; }
tr.m td { color: #a60; white-space: pre-wrap; }
.c { color: #236; font-size: 12px; } .c b { font-weight: 600; } .d { color: #640; } .h { color: #777; font-size: 12px; }
ul.findings { padding-left: 1.2em; } ul.findings li { color: #a00; }
.hide { display: none; } .cols label { margin-right: 1em; cursor: pointer; color: #246; }
.cols label::before { content: "[-] "; } .cols { margin: .6em 0; }
`;

/** CSS that hides column `i` (0-based task index) while its box is ticked: collapsing needs no script. */
function collapseRules(cols: number): string {
  const rules: string[] = [];
  for (let i = 0; i < cols; i++) {
    rules.push(`#hide-${i}:checked ~ table tr > :nth-child(${i + 2}) { display: none; }`);
    rules.push(`#hide-${i}:checked ~ .cols label[for="hide-${i}"]::before { content: "[+] "; }`);
  }
  return rules.join('\n');
}

/** The inside of a step's cell: call, point, detail, held locks, each on its own line. */
function stepCell(r: TraceStep): string {
  const parts: string[] = [];
  if (r.calls !== '') {
    const [outer, ...inner] = r.calls.split(' › ');
    parts.push(`<div class="c">in <b>${esc(outer!)}</b>${inner.length === 0 ? '' : ` › ${esc(inner.join(' › '))}`}</div>`);
  }
  const obj = r.object === null ? '' : ` <span class="o">[${esc(r.object)} <span class="${r.access === '-' ? 'N' : r.access}">${r.access}</span>]</span>`;
  parts.push(`<div class="p">${esc(r.label)}${obj}</div>`);
  if (r.detail !== '') parts.push(`<div class="d">${esc(r.detail)}</div>`);
  if (r.held.length > 0) parts.push(`<div class="h">holds: ${esc(r.held.join(', '))}</div>`);
  return parts.join('');
}

/**
 * Renders the page. Deterministic: the same run gives the same bytes. The columns share the
 * window's width (long labels wrap), and a reader can fold any task's column away. Each finding
 * is printed once, in the row where it happened; the list at the top links to it.
 */
export function traceToHtml(p: TracePage): string {
  const cols = p.taskNames.length;
  const out: string[] = [];
  out.push('<!doctype html>', '<html lang="en"><head><meta charset="utf-8">', `<title>${esc(p.title)}</title>`, `<style>${STYLE}${collapseRules(cols)}</style></head><body>`);
  out.push(`<h1>${esc(p.title)}</h1>`, `<div class="sub">${esc(p.subtitle)}</div>`);
  for (const n of p.notes) out.push(`<div class="note">note: ${esc(n)}</div>`);
  if (p.findings.length > 0) {
    out.push('<ul class="findings">');
    p.findings.forEach((f, i) => {
      out.push(`<li><a href="#finding-${i}">[${esc(f.kind)}] at step ${f.step}${f.task === null ? '' : ` in ${esc(f.task)}`}</a></li>`);
    });
    out.push('</ul>');
  }
  for (let i = 0; i < cols; i++) out.push(`<input type="checkbox" class="hide" id="hide-${i}">`);
  out.push('<div class="cols">columns: ');
  p.taskNames.forEach((t, i) => out.push(`<label for="hide-${i}">${esc(t)}</label>`));
  out.push('</div>');
  out.push('<table><thead><tr><th class="n">step</th>');
  for (const t of p.taskNames) out.push(`<th>${esc(t)}</th>`);
  out.push('</tr></thead><tbody>');
  let finding = 0;
  for (const r of p.rows) {
    if ('note' in r) {
      if (r.finding) out.push(`<tr class="f" id="finding-${finding++}"><td class="n"></td><td colspan="${cols}">${esc(r.note)}</td></tr>`);
      else out.push(`<tr class="m"><td class="n"></td><td colspan="${cols}">${esc(r.note)}</td></tr>`);
      continue;
    }
    out.push(`<tr><td class="n">${r.step}</td>`);
    for (let c = 0; c < cols; c++) {
      if (c !== r.task) {
        out.push('<td></td>');
        continue;
      }
      out.push(`<td class="s">${stepCell(r)}</td>`);
    }
    out.push('</tr>');
  }
  out.push('</tbody></table></body></html>', '');
  return out.join('\n');
}
