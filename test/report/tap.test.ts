import { describe, expect, it } from 'vitest';
import { Parser, type FinalResults } from 'tap-parser';
import { main } from '../../src/cli/main.js';
import { skippedReport } from '../../src/check/report-model.js';
import { formatTap } from '../../src/report/tap.js';

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(argv, { out: (t) => (out += t), err: () => {} });
  return { code, out };
}

function parse(text: string): FinalResults {
  let final: FinalResults | null = null;
  const p = new Parser((r) => (final = r));
  p.end(text);
  return final!;
}

describe('check --tap', () => {
  it('prints kselftest TAP that a TAP parser reads: passes, a SKIP with its reason, totals', async () => {
    // Under v5.14 (before device-coherent memory) the coherent variant SKIPs with the kernel's reason.
    const r = await run('check', 'hmm.hmm_device_private.open_close', 'hmm.hmm_device_coherent.open_close', 'lost-update', '--tap', '--runs', '50', '--strategy', 'random', '--kernel', 'v5.14');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^TAP version 13\n1\.\.3\n/);
    expect(r.out).toContain('ok 1 hmm.hmm_device_private.open_close\n');
    expect(r.out).toContain('ok 2 hmm.hmm_device_coherent.open_close # SKIP DEVICE_COHERENT not available');
    const res = parse(r.out);
    expect(res.ok).toBe(true);
    expect(res.count).toBe(3);
    expect(res.pass).toBe(3);
    expect(res.fail).toBe(0);
    expect(res.skip).toBe(1);
    expect(res.plan.end).toBe(3);
    expect(res.skips[0]!.name).toBe('hmm.hmm_device_coherent.open_close');
    expect(res.skips[0]!.skip).toMatch(/^DEVICE_COHERENT not available/);
  });

  it('a failed scenario is "not ok" with its reason as comments, and the parser sees the failure', () => {
    const failed = {
      ...skippedReport('s-broken', ''),
      verdict: 'fail' as const,
      skipReason: undefined,
      missing: ['deadlock'],
    };
    const text = formatTap([failed, skippedReport('s-skipped', 'no # sign\nor newline')], ['s-broken', 's-skipped']);
    expect(text).toContain('not ok 1 s-broken\n# expected deadlock but it was not found\n');
    const res = parse(text);
    expect(res.ok).toBe(false);
    expect(res.fail).toBe(1);
    expect(res.skip).toBe(1);
    expect(res.skips[0]!.skip).toBe('no # sign or newline');
  });

  it('--tap and --json together are a usage error', async () => {
    const r = await run('check', 'lost-update', '--tap', '--json');
    expect(r.code).toBe(2);
  });
});
