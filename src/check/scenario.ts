/**
 * Scenarios: the unit users write. A scenario builds a world (`setup`), names the tasks to
 * interleave (`tasks`), checks invariants (`check`), and, for a known-bug demonstration, declares
 * the finding kinds it must produce (`expect`).
 */
import { DEFAULT_KERNEL, kernelContract, type KernelContract } from '../locking/version.js';
import { FindingKind } from '../sim/finding.js';
import type { Program } from '../sim/program.js';
import type { TaskBody } from '../sim/task.js';
import { firstUserFrame } from '../sim/user-frame.js';
import { RunEnd, type World } from '../sim/world.js';

/** What a `check` function gets besides the scenario state. */
export interface CheckContext {
  readonly world: World;
  /** True at the end of the run; false when called after a step (`checkEveryStep`). */
  readonly atEnd: boolean;
  /** Reports a finding of `kind` (default `check-failed`); `place` de-duplicates (default: the message). */
  fail(message: string, kind?: string, place?: string): void;
}

/** A task of a scenario: a generator function over the scenario state. */
export type ScenarioTask<S> = (state: S, world: World) => TaskBody;

/** The definition a user writes. */
export interface ScenarioDefinition<S> {
  /** Short unique name, used on the command line: `hmmsim check lost-update`. */
  readonly name: string;
  /** One line: what it shows. */
  readonly description: string;
  /** Builds the objects of one run. Called once per run, on a fresh world. */
  readonly setup: (world: World) => S;
  /**
   * Optional set-up that needs task context (registering notifiers, taking locks): runs as a
   * task of its own, to completion, before the other tasks start.
   */
  readonly init?: (state: S, world: World) => TaskBody;
  /** The tasks to interleave, by name, started in this order. */
  readonly tasks: Readonly<Record<string, ScenarioTask<S>>>;
  /** Invariants; throwing an Error counts as a `check-failed` finding with its message. */
  readonly check?: (state: S, ctx: CheckContext) => void;
  /** Also run `check` after every step (slower; for invariants that may only hold transiently). */
  readonly checkEveryStep?: boolean;
  /**
   * Finding kinds this scenario must produce: a known-bug demonstration. Empty: must be clean.
   * A function receives the kernel contract of the run, for scenarios whose verdict depends on
   * the version (`hmmsim compare`).
   */
  readonly expect?: readonly string[] | ((kernel: KernelContract) => readonly string[]);
  /**
   * Kinds the bug may also show up as, depending on the interleaving (a stale mapping may be
   * seen as a use of a freed page): found or not, they do not change the verdict.
   */
  readonly allow?: readonly string[] | ((kernel: KernelContract) => readonly string[]);
  /** The step budget of one run (default 100,000); exceeding it is a finding. */
  readonly maxSteps?: number;
  /**
   * Why this scenario cannot run under a contract version (a feature the kernel or the model
   * lacks), or null when it can: a skipped scenario is reported as SKIP with this reason and
   * is not explored (kselftest's SKIP).
   */
  readonly skip?: (kernel: KernelContract) => string | null;
  /**
   * Runs that cover every interleaving (a scenario with a single task has one): the budget of
   * a check is capped at this many runs.
   */
  readonly maxRuns?: number;
  /**
   * The budget of a check that names none (no `--runs`): how many runs, over all strategy legs,
   * this scenario gets by default instead of the command's 20,000. For a catalogue scenario whose
   * verdict a smaller budget already settles; say beside it how that was established.
   */
  readonly runs?: number;
}

/** A scenario ready to explore. */
export interface Scenario extends Program {
  readonly name: string;
  readonly description: string;
  /** What it must find under the default (current) contract. */
  readonly expect: readonly string[];
  /** What it must find under a given contract version. */
  expectFor(kernel: string | undefined): readonly string[];
  /** What it may also find under a given contract version. */
  allowFor(kernel: string | undefined): readonly string[];
  /** Why it is skipped under a given contract version, or null. */
  skipFor(kernel: string | undefined): string | null;
  /** The cap on a check's runs (Infinity when unbounded). */
  readonly maxRuns: number;
  /** The budget of a check that names none, if the scenario sets one (its `runs`). */
  readonly defaultRuns: number | undefined;
  readonly definition: ScenarioDefinition<unknown>;
  /** The file whose code called defineScenario (for replay lines), or null when unknown. */
  readonly definedIn: string | null;
}

/** Bad scenario definitions are reported with this, naming what is wrong. */
export class ScenarioError extends Error {}

/** Defines a scenario. Validates the definition at once so mistakes surface before exploring. */
export function defineScenario<S>(def: ScenarioDefinition<S>): Scenario {
  const where = `scenario ${typeof def?.name === 'string' ? `'${def.name}'` : '(unnamed)'}`;
  if (typeof def !== 'object' || def === null) throw new ScenarioError('defineScenario needs an object { name, description, setup, tasks }');
  if (typeof def.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(def.name)) {
    throw new ScenarioError(`${where}: name must be a non-empty word of letters, digits, '-', '_' or '.'`);
  }
  if (typeof def.setup !== 'function') throw new ScenarioError(`${where}: setup must be a function (world) => state`);
  if (typeof def.tasks !== 'object' || def.tasks === null || Object.keys(def.tasks).length === 0) {
    throw new ScenarioError(`${where}: tasks must be an object with at least one generator function`);
  }
  for (const [name, fn] of Object.entries(def.tasks)) {
    if (typeof fn !== 'function') throw new ScenarioError(`${where}: task '${name}' must be a generator function (function*)`);
  }
  if (def.check !== undefined && typeof def.check !== 'function') throw new ScenarioError(`${where}: check must be a function`);
  if (def.init !== undefined && typeof def.init !== 'function') throw new ScenarioError(`${where}: init must be a generator function (function*)`);
  if (def.skip !== undefined && typeof def.skip !== 'function') throw new ScenarioError(`${where}: skip must be a function (kernel) => reason | null`);
  if (def.maxRuns !== undefined && !(Number.isInteger(def.maxRuns) && def.maxRuns > 0)) {
    throw new ScenarioError(`${where}: maxRuns must be a positive integer`);
  }
  if (def.runs !== undefined && !(Number.isInteger(def.runs) && def.runs > 0)) {
    throw new ScenarioError(`${where}: runs must be a positive integer`);
  }
  if (def.maxSteps !== undefined && !(Number.isInteger(def.maxSteps) && def.maxSteps > 0)) {
    throw new ScenarioError(`${where}: maxSteps must be a positive integer`);
  }
  const taskEntries = Object.entries(def.tasks);
  const byKernel = (e: ScenarioDefinition<S>['expect'], kernel: string | undefined): readonly string[] =>
    e === undefined ? [] : typeof e === 'function' ? e(kernelContract(kernel ?? DEFAULT_KERNEL)) : e;
  function expectFor(kernel: string | undefined): readonly string[] {
    return byKernel(def.expect, kernel);
  }
  function allowFor(kernel: string | undefined): readonly string[] {
    return byKernel(def.allow, kernel);
  }
  const stateKey = 'scenario.state';
  // The world `checkEveryStep` checks: an exploration reuses one world, so this changes only when
  // the scenario is explored in another world (a replay), and the per-step hook stays one function.
  let checkWorld: World | null = null;
  const checkAfterStep = (): void => runCheck(checkWorld!, false);
  const runCheck = (world: World, atEnd: boolean): void => {
    if (def.check === undefined) return;
    const ctx = new RunCheckContext(world, atEnd);
    try {
      def.check(world.locals.get(stateKey) as S, ctx);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      world.report(FindingKind.Check, msg, msg);
    }
  };
  // Where the caller is: the stack is captured now and formatted only if someone asks (formatting
  // every built-in scenario's stack took a tenth of the command's start-up).
  const site = new Error();
  let definedIn: string | null | undefined;
  return {
    name: def.name,
    description: def.description ?? '',
    get definedIn(): string | null {
      if (definedIn === undefined) definedIn = callerFile(site);
      return definedIn;
    },
    expect: expectFor(undefined),
    expectFor,
    allowFor,
    skipFor: (kernel) => def.skip?.(kernelContract(kernel ?? DEFAULT_KERNEL)) ?? null,
    maxRuns: def.maxRuns ?? Infinity,
    defaultRuns: def.runs,
    definition: def as ScenarioDefinition<unknown>,
    start(world: World): void {
      if (def.maxSteps !== undefined) world.maxSteps = def.maxSteps;
      let state: S;
      try {
        state = def.setup(world);
      } catch (e) {
        const at = e instanceof Error ? firstUserFrame(e) : null;
        throw new ScenarioError(`${where}: setup threw: ${e instanceof Error ? e.message : String(e)}${at === null ? '' : ` (at ${at})`}`);
      }
      world.locals.set(stateKey, state);
      if (def.checkEveryStep === true) {
        checkWorld = world;
        world.afterStep = checkAfterStep;
      }
      // No function is made per run: a fresh function per run keeps that run's objects reachable
      // from code space, and the garbage collector then promotes them (issue 14, 1.75x).
      if (def.init === undefined) spawnTasks(world, state, taskEntries, where);
      else world.spawn('init', initThenSpawn(def.init, world, state, taskEntries, where));
    },
    finish(world: World): void {
      // Built-in oracles only judge runs that reached their end: a run stopped by a fatal
      // finding (a deadlock) is not quiescent, and saying so again would only add noise.
      if (world.end === RunEnd.Completed) for (const c of world.endOfRunChecks) c();
      runCheck(world, true);
    },
  };
}

/** The context `check` gets: a class, so a run's check makes no closure. */
class RunCheckContext implements CheckContext {
  constructor(
    readonly world: World,
    readonly atEnd: boolean,
  ) {}

  fail(message: string, kind: string = FindingKind.Check, place: string = message): void {
    this.world.report(kind, message, place);
  }
}

/** A task's generator, or a ScenarioError saying the task is not a generator function. */
function generatorOf(gen: unknown, name: string, where: string): TaskBody {
  if (typeof (gen as { next?: unknown } | undefined)?.next !== 'function') {
    throw new ScenarioError(`${where}: task '${name}' did not return a generator: write it as a generator function (function*)`);
  }
  return gen as TaskBody;
}

/** Spawns the scenario's tasks in definition order. */
function spawnTasks<S>(world: World, state: S, entries: readonly [string, ScenarioTask<S>][], where: string): void {
  for (let i = 0; i < entries.length; i++) {
    const [name, fn] = entries[i]!;
    world.spawn(name, generatorOf(fn(state, world), name, where));
  }
}

/** The init task: runs the scenario's init to completion, then starts the other tasks. */
function* initThenSpawn<S>(init: (state: S, world: World) => TaskBody, world: World, state: S, entries: readonly [string, ScenarioTask<S>][], where: string): Generator<unknown, void, unknown> {
  yield* generatorOf(init(state, world), 'init', where);
  if (!world.isStopped) spawnTasks(world, state, entries, where);
}

/** The verdict of an exploration: does what was found match what the scenario expects? */
export function verdictOf(
  expect: readonly string[],
  foundKinds: readonly string[],
  allow: readonly string[] = [],
): { pass: boolean; missing: string[]; unexpected: string[] } {
  const found = new Set(foundKinds);
  const want = new Set(expect);
  const missing = [...want].filter((k) => !found.has(k));
  const unexpected = [...found].filter((k) => !want.has(k) && !allow.includes(k));
  return { pass: missing.length === 0 && unexpected.length === 0, missing, unexpected };
}

/** The file of the code that called defineScenario (captured in `site`): the frame after this module's own. */
function callerFile(site: Error): string | null {
  const lines = (site.stack ?? '').split('\n').slice(1);
  const self = lines[0] ?? '';
  const selfFile = /\((.*?):\d+:\d+\)$|at (.*?):\d+:\d+$/.exec(self.trim());
  const own = selfFile?.[1] ?? selfFile?.[2] ?? '';
  for (const l of lines) {
    const m = /\((.*?):\d+:\d+\)$|at (.*?):\d+:\d+$/.exec(l.trim());
    const file = m?.[1] ?? m?.[2];
    if (file === undefined || file === own || file.startsWith('node:')) continue;
    return file.replace(/^file:\/\//, '');
  }
  return null;
}
