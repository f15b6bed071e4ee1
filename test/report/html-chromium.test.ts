/**
 * The HTML trace as a reader sees it, in headless Chromium (Debian's chromium package, which
 * .ci/run installs): at 1,400 px every task's column is on screen, a column folds away with its
 * label, each finding's report is on the page once, and the step numbers are the text trace's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/check/scenario.js';
import { traceToHtml } from '../../src/report/html.js';
import { Access } from '../../src/sim/point.js';
import { replaySchedule } from '../../src/sim/run-once.js';

function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('which', [name], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  return null;
}

const chromium = findChromium();
if (chromium === null) {
  console.warn('html-chromium: chromium is not installed (.ci/run installs Debian\'s chromium package): skipping the headless check of the HTML trace');
}

/** Three tasks with long labels, and a finding: the layout a third column used to fall off. */
const wide = defineScenario({
  name: 'three-wide',
  description: 'three tasks with long point labels',
  setup: () => ({ c: { name: 'a shared object with a rather long name', v: 0 } }),
  tasks: {
    *first_task_with_a_long_name(s, w) {
      yield w.point('mmu_interval_read_begin(&mirror->notifier) and a label that goes on', s.c, Access.Read);
      s.c.v++;
    },
    *second_task_with_a_long_name(s, w) {
      yield w.point('mmap_read_lock(mm) then hmm_range_fault over the whole range', s.c, Access.Write);
      s.c.v++;
    },
    *third_task_with_a_long_name(s, w) {
      yield w.point('mutex_lock(&mirror->lock) before programming the device page table', s.c, Access.Write);
      s.c.v++;
    },
  },
  check(s, ctx) {
    if (s.c.v === 3) ctx.fail('all three ran: a report that must appear exactly once', 'demo', 'demo');
  },
});

const PROBE = `<script>
const ths = [...document.querySelectorAll('thead th')];
const out = { width: window.innerWidth, rights: ths.map((t) => Math.round(t.getBoundingClientRect().right)) };
out.reportCount = document.body.innerText.split('a report that must appear exactly once').length - 1;
out.steps = [...document.querySelectorAll('td.n')].map((t) => t.textContent).filter((t) => t !== '');
document.getElementById('hide-2').checked = true;
out.thirdHidden = getComputedStyle(document.querySelector('thead th:nth-child(4)')).display === 'none';
document.body.setAttribute('data-probe', JSON.stringify(out));
</script>`;

describe.skipIf(chromium === null)('the HTML trace in headless Chromium', () => {
  it('fits three task columns in 1,400 px, folds a column, prints each report once, numbers steps as the text trace', () => {
    const r = replaySchedule(wide, '1:', 1);
    const page = traceToHtml({ title: 'three-wide', subtitle: 'hmmsim replay three-wide 1:', taskNames: r.taskNames, rows: r.rows, findings: r.findings, notes: [] });
    expect(page).not.toMatch(/<script/);
    const dir = mkdtempSync(join(tmpdir(), 'hmmsim-html-'));
    const file = join(dir, 'trace.html');
    writeFileSync(file, page.replace('</body>', `${PROBE}</body>`));
    const dom = execFileSync(
      chromium!,
      ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,900', '--dump-dom', `file://${file}`],
      { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const probe = JSON.parse(/data-probe="([^"]*)"/.exec(dom)![1]!.replace(/&quot;/g, '"')) as {
      width: number;
      rights: number[];
      reportCount: number;
      steps: string[];
      thirdHidden: boolean;
    };
    expect(probe.rights).toHaveLength(4);
    for (const right of probe.rights) expect(right).toBeLessThanOrEqual(probe.width);
    expect(probe.reportCount).toBe(1);
    const textSteps = r.trace
      .split('\n')
      .map((l) => /^\s*(\d+)\s/.exec(l)?.[1])
      .filter((x): x is string => x !== undefined);
    expect(probe.steps).toEqual(textSteps);
    expect(probe.thirdHidden).toBe(true);
  }, 90_000);
});
