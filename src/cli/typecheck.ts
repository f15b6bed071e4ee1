/**
 * Type-checks a user's scenario file against the running hmmsim's declarations before it runs, so
 * a misspelt field or a wrong argument is an error at file:line:col instead of a confusing run.
 * Uses the TypeScript compiler hmmsim depends on, in a child process, with a throw-away project
 * that maps `hmmsim` to this copy. `--no-typecheck` skips it.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { selfRoot, selfTestingTypesPath, selfTypesPath } from './self.js';

/** Type errors in a scenario file: one line each, file:line:col. */
export class TypeCheckError extends Error {}

/** The @types folders a file would see from where it lies (its own project's, walking up). */
function typeRootsFor(file: string): string[] {
  const roots: string[] = [];
  for (let d = dirname(file); ; d = dirname(d)) {
    const t = join(d, 'node_modules', '@types');
    if (existsSync(t)) roots.push(t);
    if (dirname(d) === d) break;
  }
  return roots;
}

/** Runs the type checker on `files`; throws TypeCheckError listing the first errors. */
export async function typecheckScenarioFiles(files: readonly string[]): Promise<void> {
  if (files.length === 0) return;
  const abs = files.map((f) => resolve(f));
  const req = createRequire(import.meta.url);
  let tsc: string;
  try {
    tsc = join(dirname(req.resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    throw new TypeCheckError(`hmmsim: cannot type-check scenario files: the 'typescript' package is not installed beside hmmsim (reinstall hmmsim, or pass --no-typecheck)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hmmsim-tc-'));
  try {
    // The user's own @types (node's, say), and those beside hmmsim, which its declarations may name.
    const typeRoots = [...new Set([...abs.flatMap(typeRootsFor), ...typeRootsFor(join(selfRoot, 'package.json'))])];
    const config = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        lib: ['ES2023'],
        typeRoots,
        // Named, since TypeScript 7 includes no @types package unless asked.
        types: [...new Set(typeRoots.flatMap((r) => readdirSync(r)))].sort(),
        paths: { hmmsim: [selfTypesPath], 'hmmsim/testing': [selfTestingTypesPath] },
      },
      files: abs,
    };
    const project = join(dir, 'tsconfig.json');
    writeFileSync(project, JSON.stringify(config));
    // Loaded here: node:child_process costs every command's start-up a few milliseconds.
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((done) => {
      execFile(process.execPath, [tsc, '-p', project, '--pretty', 'false'], { maxBuffer: 16 << 20 }, (_err, stdout, stderr) => done(`${stdout}${stderr}`));
    });
    const errors = out
      .split('\n')
      .map((l) => /^(.*)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${resolve(m[1]!)}:${m[2]}:${m[3]}: ${m[5]} (${m[4]})`);
    if (errors.length === 0) {
      if (/error TS\d+/.test(out)) throw new TypeCheckError(`hmmsim: type-checking failed: ${out.trim().split('\n')[0]} (pass --no-typecheck to skip it)`);
      return;
    }
    const more = errors.length > 5 ? `\n  ... and ${errors.length - 5} more` : '';
    throw new TypeCheckError(`${errors.slice(0, 5).join('\n')}${more}\n(type errors in the scenario file; fix them, or run with --no-typecheck)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
