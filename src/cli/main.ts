/**
 * The `hmmsim` command: dispatches to a subcommand and turns user mistakes into one clear line
 * with exit status 2 (a stack trace only with --debug).
 */
import { checkCommand, compareCommand, listCommand, mergeCommand, replayCommand, type Io } from './commands.js';
import { isUserError } from './user-error.js';

const USAGE = `usage: hmmsim <command> [options]

commands:
  check [names, groups, files or directories...]
                              explore scenarios (default: the built-in catalogue) and print verdicts;
                              a group name (hmm-tests: the kernel's HMM selftest) names all its cases
        --strategy random|pct|dfs|portfolio   (default portfolio)
        --runs N        runs per scenario (default 20000, or the scenario's own budget)
        --time SECONDS  time limit per scenario (default 10)
        --seed S        base seed (default 1)
        --workers N     portfolio worker threads (default: number of cores)
        --depth D       PCT bug depth (default 3)
        --preemptions P DFS preemption bound (default 2)
        --kernel V      core contract version: v4.19, v5.2, v5.3, v5.4, v5.5, v5.9, v5.14, v6.15,
                        current (default), what-if-itree-fix
        --no-shrink     report schedules as found, unshrunk
        --no-typecheck  run scenario files without type-checking them first
        --json          one JSON document on stdout
        --tap           kselftest TAP on stdout (ok N name, # SKIP reason)
        --quiet         no progress line
        --shard K/N     explore only share K of N (1 <= K <= N) of the work, for N machines;
                        needs --out
        --out FILE      write the result for 'hmmsim merge' (lockdep dependencies included)
  replay <scenario> <schedule> [--seed S] [--finding KIND] [--kernel V] [--html FILE]
                              print the full trace of one run and its findings; --html also
                              writes it as a page with one column per task. Exit status:
                              0 reproduced the finding --finding names (any, without it),
                              1 a different finding, 4 ran clean, 5 the schedule no longer fits
  compare <scenarios...> [--runs N] [--time S] [--json]    run under every kernel version, verdicts side by side
  merge FILES... [--json]     combine the --out results of the N shards of one check into one
                              report (the space is exhausted only if every shard exhausted its part)
  list                        the built-in scenarios, one line each
`;

/** Runs the command line `argv` (without node and script); returns the exit status. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  const debug = rest.includes('--debug');
  const args = rest.filter((a) => a !== '--debug');
  try {
    switch (command) {
      case 'check':
        return await checkCommand(args, io);
      case 'replay':
        return await replayCommand(args, io);
      case 'compare':
        return await compareCommand(args, io);
      case 'list':
        return listCommand(args, io);
      case 'merge':
        return mergeCommand(args, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.err(`hmmsim: unknown command '${command}' (commands: check, replay, compare, merge, list; see 'hmmsim help')\n`);
        return 2;
    }
  } catch (e) {
    if (isUserError(e) && !debug) {
      io.err(`${e.message}\n`);
      return 2;
    }
    if (debug) {
      io.err(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      return 2;
    }
    io.err(`hmmsim: internal error: ${e instanceof Error ? e.message : String(e)} (run again with --debug for the stack trace, and please report it)\n`);
    return 3;
  }
}
