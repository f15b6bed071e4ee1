/**
 * Where a scenario comes from: the built-in catalogue by name, or a user's TypeScript file
 * (loaded directly through tsx). Worker threads receive a ScenarioSource and load it themselves.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { catalogue, groups } from '../../scenarios/index.js';
import type { Scenario } from '../check/scenario.js';

/** A serialisable reference to a scenario. */
export type ScenarioSource =
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'file'; readonly path: string; readonly name: string };

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
export async function loadFile(path: string): Promise<Scenario[]> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new SourceError(`no such scenario file: ${path} (give a built-in name from 'hmmsim list' or a path to a .ts file)`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    const lines = (e instanceof Error ? e.message : String(e)).split('\n').filter((l) => l.trim() !== '');
    let msg = lines.slice(0, 4).join('\n  ');
    if (/require\(\) ES Module/.test(msg)) msg += '\n  (the file is loaded as CommonJS: put it in a package with "type": "module", or name it .mts)';
    throw new SourceError(`could not load scenario file ${path}: ${msg}`);
  }
  const found: Scenario[] = [];
  for (const v of Object.values(mod)) {
    if (isScenario(v)) found.push(v);
    else if (Array.isArray(v)) for (const x of v) if (isScenario(x)) found.push(x);
  }
  const unique = [...new Set(found)];
  if (unique.length === 0) throw new SourceError(`scenario file ${path} exports no scenario: export one made with defineScenario (export default defineScenario({...}))`);
  return unique;
}

/** Resolves command-line words (names or files) to scenarios with their sources. */
export async function resolveScenarios(words: readonly string[]): Promise<{ scenario: Scenario; source: ScenarioSource }[]> {
  if (words.length === 0) return catalogue.map((s) => ({ scenario: s, source: { kind: 'builtin', name: s.name } }));
  const out: { scenario: Scenario; source: ScenarioSource }[] = [];
  for (const w of words) {
    const group = Object.hasOwn(groups, w) ? groups[w] : undefined;
    if (group !== undefined) {
      for (const s of group) out.push({ scenario: s, source: { kind: 'builtin', name: s.name } });
      continue;
    }
    const builtin = findBuiltin(w);
    if (builtin !== undefined) {
      out.push({ scenario: builtin, source: { kind: 'builtin', name: w } });
      continue;
    }
    const hash = w.lastIndexOf('#');
    const [file, only] = hash > 0 && /\.[cm]?[tj]s#/.test(w) ? [w.slice(0, hash), w.slice(hash + 1)] : [w, null];
    if (!/\.[cm]?[tj]s$/.test(file)) {
      const names = catalogue.map((s) => s.name).join(', ');
      throw new SourceError(`unknown scenario '${w}': built-in scenarios are ${names}; groups are ${Object.keys(groups).join(', ')}; a scenario file must end in .ts or .js`);
    }
    const all = await loadFile(file);
    const picked = only === null ? all : all.filter((s) => s.name === only);
    if (picked.length === 0) throw new SourceError(`scenario file ${file} has no scenario named '${only}' (it has: ${all.map((s) => s.name).join(', ')})`);
    for (const s of picked) out.push({ scenario: s, source: { kind: 'file', path: resolve(file), name: s.name } });
  }
  return out;
}

/** Loads the scenario a source names (in a worker thread). */
export async function loadSource(src: ScenarioSource): Promise<Scenario> {
  if (src.kind === 'builtin') {
    const s = findBuiltin(src.name);
    if (s === undefined) throw new SourceError(`unknown built-in scenario '${src.name}'`);
    return s;
  }
  const all = await loadFile(src.path);
  const s = all.find((x) => x.name === src.name);
  if (s === undefined) throw new SourceError(`scenario file ${src.path} has no scenario named '${src.name}'`);
  return s;
}

/** How to name a scenario on a `hmmsim replay` line. */
export function sourceWord(src: ScenarioSource): string {
  return src.kind === 'builtin' ? src.name : `${src.path}#${src.name}`;
}
