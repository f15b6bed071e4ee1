/**
 * Which errors are the user's to fix (a bad option, an unknown scenario, a file that does not
 * load or type-check, a malformed schedule, a scenario whose setup throws, shard results that do not
 * merge): printed as one line, exit 2.
 * Anything else is a bug in hmmsim and keeps its stack trace.
 */
import { ScenarioError } from '../check/scenario.js';
import { ShardError } from '../check/shards.js';
import { ScheduleError } from '../sim/schedule.js';
import { UsageError } from './args.js';
import { CompileError } from './compile.js';
import { SourceError } from './source.js';
import { TypeCheckError } from './typecheck.js';

/** True for errors whose message alone tells the user what to fix. */
export function isUserError(e: unknown): e is Error {
  return (
    e instanceof UsageError ||
    e instanceof SourceError ||
    e instanceof ScheduleError ||
    e instanceof ScenarioError ||
    e instanceof CompileError ||
    e instanceof TypeCheckError ||
    e instanceof ShardError
  );
}
