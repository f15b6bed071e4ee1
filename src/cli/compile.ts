/**
 * Scenario files are TypeScript the user never builds. The command compiles each named file once,
 * in the main thread, into one JavaScript module (its own imports bundled in, with an inline
 * source map so stack traces name the user's lines); the portfolio's workers import that module
 * and compile nothing. `hmmsim` and hmmsim's own files stay outside the bundle and resolve to the
 * running copy, so the scenario shares the engine's module state (the running world). Other
 * packages the file imports are bundled in, so the module runs from anywhere.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPlainFunction } from '../sim/protocol.js';
import { selfIndexPath, selfProtocolPath, selfRoot, selfTestingPath } from './self.js';

/** A scenario file that does not compile: the message names file:line:col. */
export class CompileError extends Error {}

const OWN_DIRS = [join(selfRoot, 'src') + sep, join(selfRoot, 'dist') + sep];
const SOURCE_INDEX = join(selfRoot, 'src', 'index.ts');
const BUILT_INDEX = join(selfRoot, 'dist', 'index.js');
const SOURCE_TESTING = join(selfRoot, 'src', 'testing.ts');
const BUILT_TESTING = join(selfRoot, 'dist', 'testing.js');

/** Compiles `file` to a module next to nothing of the user's (under the OS temp dir); returns its URL. */
export async function compileScenarioFile(file: string): Promise<string> {
  const abs = resolve(file);
  const { build } = await import('esbuild');
  const outDir = join(tmpdir(), `hmmsim-${process.getuid?.() ?? 'user'}`);
  mkdirSync(outDir, { recursive: true });
  // One output per source path and process: concurrent commands never share a half-written file.
  const tag = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  const out = join(outDir, `${tag}-${process.pid}.mjs`);
  try {
    await build({
      entryPoints: [abs],
      outfile: out,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      plugins: [
        {
          name: 'hmmsim-self',
          setup(b) {
            b.onResolve({ filter: /^hmmsim(\/testing)?$/ }, (args) => ({ path: args.path, namespace: 'hmmsim-checked' }));
            b.onLoad({ filter: /.*/, namespace: 'hmmsim-checked' }, async (args) => ({
              contents: await checkedFacade(args.path === 'hmmsim' ? selfIndexPath : selfTestingPath),
              loader: 'js',
              resolveDir: selfRoot,
            }));
            // A file that imports hmmsim's sources by path gets the running copy's module too.
            b.onResolve({ filter: /^\.{0,2}\// }, (args) => {
              if (args.namespace === 'hmmsim-checked') return { path: args.path, external: true };
              const p = resolve(args.resolveDir, args.path);
              // hmmsim's root module by path is the package root, like 'hmmsim'.
              if (p === SOURCE_INDEX || p === BUILT_INDEX) return { path: 'hmmsim', namespace: 'hmmsim-checked' };
              if (p === SOURCE_TESTING || p === BUILT_TESTING) return { path: 'hmmsim/testing', namespace: 'hmmsim-checked' };
              return OWN_DIRS.some((d) => p.startsWith(d)) ? { path: p, external: true } : undefined;
            });
          },
        },
      ],
    });
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors ?? [];
    const first = errors[0];
    if (first === undefined) throw e;
    const at = first.location ? `${resolve(first.location.file)}:${first.location.line}:${first.location.column + 1}: ` : `${file}: `;
    throw new CompileError(`${at}${first.text}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`);
  }
  return pathToFileURL(out).href;
}

/**
 * What `import ... from 'hmmsim'` (or 'hmmsim/testing') gives a scenario file: that module of
 * the running copy, with every kernel function wrapped by `checkedCall`, so a call run without
 * `yield*` is a finding (src/sim/protocol.ts). Built from the module's own exports, so new ones
 * are covered as they come.
 */
async function checkedFacade(modulePath: string): Promise<string> {
  const root = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  const index = JSON.stringify(modulePath);
  const lines = [`import * as api from ${index};`, `import { checkedCall } from ${JSON.stringify(selfProtocolPath)};`, `export * from ${index};`];
  for (const [name, value] of Object.entries(root)) {
    if (isPlainFunction(value)) lines.push(`export const ${name} = checkedCall(${JSON.stringify(name)}, api.${name});`);
  }
  return lines.join('\n');
}
