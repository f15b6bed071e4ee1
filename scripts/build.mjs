#!/usr/bin/env node
// Builds the package: the engine, the command and its worker bundled as plain JavaScript (shared
// code in common chunks, so a scenario file, the command and the workers share one copy of the
// engine and its module state), and type declarations for the public API.
//
//   node scripts/build.mjs          JavaScript and declarations
//   node scripts/build.mjs --js     JavaScript only (what the test suite needs; well under a second)
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const jsOnly = process.argv.includes('--js');

/** Bundles the JavaScript into dist/. */
export async function buildJs() {
  for (const f of safeList(dist)) if (f.endsWith('.js')) rmSync(join(dist, f));
  await build({
    absWorkingDir: root,
    entryPoints: {
      index: 'src/index.ts',
      // hmmsim/testing: the CPU stand-in and the oracles' hooks (src/testing.ts).
      testing: 'src/testing.ts',
      cli: 'src/cli/main.ts',
      // The portfolio's workers start here (the name the command looks for beside itself).
      'worker-entry': 'src/cli/worker.ts',
      // The generator-protocol wrappers scenario files get (src/cli/compile.ts).
      protocol: 'src/sim/protocol.ts',
    },
    outdir: 'dist',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    chunkNames: 'chunk-[hash]',
    logLevel: 'warning',
  });
}

function safeList(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Emits declarations into dist/types, with import paths a consumer's TypeScript resolves. */
export function buildTypes() {
  rmSync(join(dist, 'types'), { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.d.ts')) {
        const text = readFileSync(p, 'utf8');
        // Sources import some siblings as './x.ts'; declarations must name './x.js'.
        const fixed = text.replace(/(from\s+'\.{1,2}\/[^']*?)\.ts'/g, "$1.js'").replace(/(import\('\.{1,2}\/[^']*?)\.ts'\)/g, "$1.js')");
        if (fixed !== text) writeFileSync(p, fixed);
      }
    }
  };
  walk(join(dist, 'types'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildJs();
  if (!jsOnly) buildTypes();
}
