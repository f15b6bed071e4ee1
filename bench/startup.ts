/**
 * Start-up of the command as users run it (plain node on the build, bin/hmmsim.js): wall time of
 * `hmmsim list` and `hmmsim check s-pair-1 --strategy dfs`, median of several runs, beside a bare
 * `node -e ''` on the same machine (what no command can beat); and, once, the whole catalogue
 * (`hmmsim check`, the main job). Build first (`npm run build`).
 *
 * On a shared machine wall times move with its load, so each line also gives the CPU time the
 * command used (all its threads, from the kernel's accounting of reaped children, Linux only) and
 * the load average is printed: on an idle machine a start-up's wall time is close to its CPU time
 * (its helper thread starts on the other core), and the catalogue's is about half its CPU time
 * on 2 cores.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/hmmsim.js', import.meta.url));

/** CPU seconds used by this process's reaped children (cutime + cstime), or NaN off Linux. */
function childCpuSeconds(): number {
  if (!existsSync('/proc/self/stat')) return NaN;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name in parentheses; cutime and cstime are fields 16 and 17.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on every Linux that node supports
  return (Number(rest[13]) + Number(rest[14])) / ticksPerSecond;
}

interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

function measure(args: readonly string[]): Sample {
  const c0 = childCpuSeconds();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall, cpu: childCpuSeconds() - c0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

export async function main(): Promise<void> {
  const rounds = Number(process.env.STARTUP_ROUNDS ?? 9);
  const cases: [string, string[]][] = [
    ["node -e ''", ['-e', '']],
    ['hmmsim list', [bin, 'list']],
    ['hmmsim check s-pair-1 --strategy dfs', [bin, 'check', 's-pair-1', '--strategy', 'dfs']],
  ];
  console.log(`start-up, median of ${rounds} runs (load average ${load()})`);
  console.log(`  ${''.padEnd(40)} ${'wall'.padStart(7)}  ${'cpu'.padStart(7)}   wall min..max`);
  for (const [name, args] of cases) {
    measure(args); // warm the file cache
    const xs = Array.from({ length: rounds }, () => measure(args));
    const walls = xs.map((x) => x.wall);
    console.log(`  ${name.padEnd(40)} ${median(walls).toFixed(3).padStart(5)} s  ${median(xs.map((x) => x.cpu)).toFixed(3).padStart(5)} s   ${Math.min(...walls).toFixed(3)}..${Math.max(...walls).toFixed(3)}`);
  }
  if (process.env.STARTUP_CATALOGUE !== '0') {
    const before = load();
    const x = measure([bin, 'check', '--quiet']);
    console.log(`  ${'hmmsim check (whole catalogue, once)'.padEnd(40)} ${x.wall.toFixed(1).padStart(5)} s  ${x.cpu.toFixed(1).padStart(5)} s   (load average ${before} before, ${load()} after)`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
