/**
 * The HTML trace as a reader sees it, in headless Chromium (Debian's chromium package, which
 * .ci/run installs): at 1,400 px every task's column is on screen, a column folds away with its
 * label, each finding's report is on the page once, and the step numbers are the text trace's.
 * On a driver against munmap, each step says the kernel call it belongs to, the locks held and,
 * on notifier steps, the sequence; a shared acquisition reads R.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineScenario } from '../../src/check/scenario.js';
import { traceToHtml } from '../../src/report/html.js';
import { Access } from '../../src/sim/point.js';
import { replaySchedule, runOnce, type RunResult } from '../../src/sim/run-once.js';
import { RandomStrategy } from '../../src/sim/strategies/random.js';
import { sSeq1 } from '../../scenarios/notifier/s-seq.js';

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

/** Opens `page` with `probe` appended in headless Chromium at 1,400 px and returns what the probe found. */
function probePage<T>(page: string, probe: string): T {
  const dir = mkdtempSync(join(tmpdir(), 'hmmsim-html-'));
  const file = join(dir, 'trace.html');
  writeFileSync(file, page.replace('</body>', `${probe}</body>`));
  const dom = execFileSync(
    chromium!,
    ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,900', '--dump-dom', `file://${file}`],
    { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return JSON.parse(/data-probe="([^"]*)"/.exec(dom)![1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as T;
}

/** The text of every step cell as the reader sees it (innerText: what is rendered, line by line). */
const CELLS_PROBE = `<script>
const cells = [...document.querySelectorAll('tbody tr')].filter((tr) => tr.querySelector('td.s')).map((tr) => ({
  step: tr.querySelector('td.n').textContent,
  text: tr.querySelector('td.s').innerText,
}));
document.body.setAttribute('data-probe', JSON.stringify(cells));
</script>`;

/** A run of S-SEQ-1 where munmap's invalidation falls between read_begin and read_retry. */
function collidingRun(): RunResult {
  for (let seed = 1; seed < 500; seed++) {
    const r = runOnce(sSeq1, new RandomStrategy(), seed);
    if (r.trace.includes('changed, retry')) return r;
  }
  throw new Error('no seed below 500 makes munmap collide with the device fault');
}

describe.skipIf(chromium === null)('the HTML trace in headless Chromium', () => {
  it('names the driver-level call of each step, the locks held, the notifier sequences, and shows down_read as R', () => {
    const r = collidingRun();
    const page = traceToHtml({ title: 's-seq-1', subtitle: 'a colliding run', taskNames: r.taskNames, rows: r.rows, findings: r.findings, notes: [] });
    const cells = probePage<{ step: string; text: string }[]>(page, CELLS_PROBE);
    const lines = (c: { text: string }): string[] => c.text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const textSteps = r.trace.split('\n').map((l) => /^\s*(\d+)\s/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
    expect(cells.map((c) => c.step)).toEqual(textSteps);

    // read_begin: the spinlock step says it is read_begin's, and which sequence it returns.
    const begin = cells.filter((c) => lines(c).includes('in mmu_interval_read_begin'));
    expect(begin.length).toBeGreaterThan(0);
    expect(begin.some((c) => /^spin_lock\(mm->notifier_subscriptions->lock\)/m.test(c.text) && /^read_begin seq \d+/m.test(c.text))).toBe(true);
    // The invalidation, inside munmap: the odd sequence, the callback's cur_seq and set_seq, the held start map.
    expect(cells.some((c) => lines(c).includes('in cpu_stub_munmap › mmu_notifier_invalidate_range_start') && /^cur_seq \d*[13579]$/m.test(c.text))).toBe(true);
    const setSeq = cells.find((c) => /^set_seq \d+$/m.test(c.text))!;
    expect(lines(setSeq)).toContain('holds: mm->mmap_lock, mmu_notifier_invalidate_range_start');
    // read_retry, under the driver lock, compares the sequences and says the snapshot is stale.
    const retry = cells.find((c) => /^read_retry seq \d+ vs \d+: changed, retry$/m.test(c.text))!;
    expect(lines(retry)).toContain('holds: mirror->lock');
    // down_read is a shared acquisition: R; up_read's step shows the read hold.
    const downRead = cells.find((c) => lines(c)[0] === 'down_read(mm->mmap_lock) [mm->mmap_lock R]');
    expect(downRead).toBeDefined();
    expect(cells.some((c) => lines(c).includes('up_read(mm->mmap_lock) [mm->mmap_lock R]') && lines(c).includes('holds: mm->mmap_lock (R)'))).toBe(true);
    expect(cells.some((c) => lines(c).some((l) => /^down_read.*\bW\]$/.test(l)))).toBe(false);
  }, 90_000);

  it('fits three task columns in 1,400 px, folds a column, prints each report once, numbers steps as the text trace', () => {
    const r = replaySchedule(wide, '1:', 1);
    const page = traceToHtml({ title: 'three-wide', subtitle: 'hmmsim replay three-wide 1:', taskNames: r.taskNames, rows: r.rows, findings: r.findings, notes: [] });
    expect(page).not.toMatch(/<script/);
    const probe = probePage<{ width: number; rights: number[]; reportCount: number; steps: string[]; thirdHidden: boolean }>(page, PROBE);
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
