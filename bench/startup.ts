/**
 * Start-up of the command as users run it (plain node on the build, bin/hmmsim.js): wall time of
 * `hmmsim list` and `hmmsim check s-pair-1 --strategy dfs`, median of several runs, beside a bare
 * `node -e ''` on the same machine (what no command can beat); and, once, the whole catalogue
 * (`hmmsim check`, the main job). Build first (`npm run build`). On a shared machine the figures
 * move with its load: compare each against the bare node line of the same run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/hmmsim.js', import.meta.url));

function wall(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function main(): Promise<void> {
  const rounds = Number(process.env.STARTUP_ROUNDS ?? 9);
  const cases: [string, string[]][] = [
    ["node -e ''", ['-e', '']],
    ['hmmsim list', [bin, 'list']],
    ['hmmsim check s-pair-1 --strategy dfs', [bin, 'check', 's-pair-1', '--strategy', 'dfs']],
  ];
  console.log(`start-up, median of ${rounds} runs (wall time)`);
  for (const [name, args] of cases) {
    wall(args); // warm the file cache
    const xs = Array.from({ length: rounds }, () => wall(args));
    console.log(`  ${name.padEnd(40)} ${(median(xs) / 1000).toFixed(3)} s   (min ${(Math.min(...xs) / 1000).toFixed(3)}, max ${(Math.max(...xs) / 1000).toFixed(3)})`);
  }
  if (process.env.STARTUP_CATALOGUE !== '0') {
    const ms = wall([bin, 'check', '--quiet']);
    console.log(`  ${'hmmsim check (whole catalogue)'.padEnd(40)} ${(ms / 1000).toFixed(1)} s   (once)`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
