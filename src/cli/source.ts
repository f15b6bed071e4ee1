/**
 * Where a scenario comes from: the built-in catalogue by name, a user's scenario file, or every
 * scenario file in a directory. A file is type-checked and compiled once, here; worker threads
 * receive a ScenarioSource naming the compiled module and import it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { catalogue, groups } from '../../scenarios/index.js';
import type { Scenario } from '../check/scenario.js';
import { compileScenarioFile } from './compile.js';
import { typecheckScenarioFiles } from './typecheck.js';

/** A serialisable reference to a scenario. */
export type ScenarioSource =
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'file'; readonly path: string; readonly name: string; readonly module: string };

/** Problems a user can fix: an unknown name, a file that does not load. */
export class SourceError extends Error {}

/** Every built-in scenario. */
export function builtinScenarios(): readonly Scenario[] {
  return catalogue;
}

/** A built-in scenario by name: the catalogue first, then the members of the groups. */
function findBuiltin(name: string): Scenario | undefined {
  return catalogue.find((s) => s.name === name) ?? Object.values(groups).flat().find((s) => s.name === name);
}

function isScenario(x: unknown): x is Scenario {
  return typeof x === 'object' && x !== null && typeof (x as Scenario).start === 'function' && typeof (x as Scenario).name === 'string';
}

/** Loads every scenario a file exports (default export, named exports, or arrays of them). */
export async function loadFile(path: string, compiled?: string): Promise<{ scenarios: Scenario[]; module: string }> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new SourceError(`no such scenario file: ${path} (give a built-in name from 'hmmsim list' or a path to a .ts file)`);
  const module = compiled ?? (await compileScenarioFile(abs));
  let mod: Record<string, unknown>;
  try {
    // Stack traces from the scenario then name the user's own lines (the module has a source map).
    process.setSourceMapsEnabled(true);
    mod = (await import(module)) as Record<string, unknown>;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const lines = err.message.split('\n').filter((l) => l.trim() !== '');
    const where = firstFrameIn(err, abs);
    throw new SourceError(`could not load scenario file ${path}${where === null ? '' : ` (at ${where})`}: ${lines.slice(0, 4).join('\n  ')}`);
  }
  const found: Scenario[] = [];
  for (const v of Object.values(mod)) {
    if (isScenario(v)) found.push(v);
    else if (Array.isArray(v)) for (const x of v) if (isScenario(x)) found.push(x);
  }
  const unique = [...new Set(found)];
  if (unique.length === 0) throw new SourceError(`scenario file ${path} exports no scenario: export one made with defineScenario (export default defineScenario({...}))`);
  return { scenarios: unique, module };
}

/** The first stack frame of `err` in the user's file, as path:line:col. */
function firstFrameIn(err: Error, file: string): string | null {
  for (const l of (err.stack ?? '').split('\n')) {
    const i = l.indexOf(file);
    if (i >= 0) return l.slice(i).replace(/\)$/, '');
  }
  return null;
}

/** How the command found its scenarios: loaded ones, and the words that could not be loaded. */
export interface Resolved {
  readonly targets: { scenario: Scenario; source: ScenarioSource }[];
  /** Filled only with `keepGoing`; otherwise the first failure is thrown. */
  readonly failures: { word: string; message: string }[];
}

/** Options of `resolveScenarios`. */
export interface ResolveOptions {
  /** Type-check scenario files first (default true; `--no-typecheck`). */
  readonly typecheck?: boolean;
  /** Collect failures instead of throwing at the first (`--json` reports them as entries). */
  readonly keepGoing?: boolean;
}

const SCENARIO_FILE = /\.(ts|mts|js|mjs)$/;

/** The scenario files of a directory (recursively; declaration and test files excluded), sorted. */
function scenarioFilesIn(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      if (f === 'node_modules' || f.startsWith('.')) continue;
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (SCENARIO_FILE.test(f) && !/\.d\.[cm]?ts$|\.(test|spec)\.[cm]?[tj]s$/.test(f)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Resolves command-line words (names, files or directories) to scenarios with their sources. */
export async function resolveScenarios(words: readonly string[], options: ResolveOptions = {}): Promise<Resolved> {
  const targets: Resolved['targets'] = [];
  const failures: Resolved['failures'] = [];
  if (words.length === 0) {
    for (const s of catalogue) targets.push({ scenario: s, source: { kind: 'builtin', name: s.name } });
    return { targets, failures };
  }
  // Expand directories, then type-check every file at once (one compiler start).
  const items: { word: string; file: string | null; only: string | null }[] = [];
  for (const w of words) {
    const group = Object.hasOwn(groups, w) ? groups[w] : undefined;
    if (group !== undefined) {
      for (const s of group) items.push({ word: s.name, file: null, only: s.name });
      continue;
    }
    if (findBuiltin(w) !== undefined) {
      items.push({ word: w, file: null, only: w });
      continue;
    }
    if (existsSync(w) && statSync(w).isDirectory()) {
      const files = scenarioFilesIn(w);
      if (files.length === 0) fail(failures, options, w, `directory ${w} holds no scenario files (.ts, .mts, .js, .mjs)`);
      for (const f of files) items.push({ word: f, file: f, only: null });
      continue;
    }
    const hash = w.lastIndexOf('#');
    const [file, only] = hash > 0 && /\.[cm]?[tj]s#/.test(w) ? [w.slice(0, hash), w.slice(hash + 1)] : [w, null];
    if (!/\.[cm]?[tj]s$/.test(file)) {
      const names = catalogue.map((s) => s.name).join(', ');
      fail(failures, options, w, `unknown scenario '${w}': built-in scenarios are ${names}; groups are ${Object.keys(groups).join(', ')}; a scenario file must end in .ts or .js`);
      continue;
    }
    if (!existsSync(file)) {
      fail(failures, options, w, `no such scenario file: ${file} (give a built-in name from 'hmmsim list', a path to a .ts file, or a directory)`);
      continue;
    }
    items.push({ word: w, file, only });
  }
  const files = [...new Set(items.flatMap((i) => (i.file !== null && /\.[cm]?ts$/.test(i.file) ? [i.file] : [])))];
  if (options.typecheck !== false) {
    try {
      await typecheckScenarioFiles(files);
    } catch (e) {
      if (!options.keepGoing) throw e;
      for (const f of files) failures.push({ word: f, message: e instanceof Error ? e.message : String(e) });
      return { targets, failures };
    }
  }
  for (const { word, file, only } of items) {
    if (file === null) {
      targets.push({ scenario: findBuiltin(only!)!, source: { kind: 'builtin', name: only! } });
      continue;
    }
    try {
      const { scenarios: all, module } = await loadFile(file);
      const picked = only === null ? all : all.filter((s) => s.name === only);
      if (picked.length === 0) throw new SourceError(`scenario file ${file} has no scenario named '${only}' (it has: ${all.map((s) => s.name).join(', ')})`);
      for (const s of picked) targets.push({ scenario: s, source: { kind: 'file', path: resolve(file), name: s.name, module } });
    } catch (e) {
      if (!options.keepGoing) throw e;
      failures.push({ word, message: e instanceof Error ? e.message : String(e) });
    }
  }
  return { targets, failures };
}

function fail(failures: Resolved['failures'], options: ResolveOptions, word: string, message: string): void {
  if (!options.keepGoing) throw new SourceError(message);
  failures.push({ word, message });
}

/** Loads the scenario a source names (in a worker thread). */
export async function loadSource(src: ScenarioSource): Promise<Scenario> {
  if (src.kind === 'builtin') {
    const s = findBuiltin(src.name);
    if (s === undefined) throw new SourceError(`unknown built-in scenario '${src.name}'`);
    return s;
  }
  const { scenarios: all } = await loadFile(src.path, src.module);
  const s = all.find((x) => x.name === src.name);
  if (s === undefined) throw new SourceError(`scenario file ${src.path} has no scenario named '${src.name}'`);
  return s;
}

/** How to name a scenario on a `hmmsim replay` line. */
export function sourceWord(src: ScenarioSource): string {
  return src.kind === 'builtin' ? src.name : `${src.path}#${src.name}`;
}
