/**
 * Where this copy of hmmsim lives, and which engine its worker threads and scenario files use.
 * The command normally runs from the build (dist/, one directory of bundles). Run from the
 * TypeScript sources (tests, `npm run hmmsim`), it still starts its workers from the build when
 * the build is newer than every source file, because a worker that compiles the engine through
 * tsx takes seconds to start; otherwise it falls back to the sources. A scenario file's
 * `import ... from 'hmmsim'` resolves to the same engine its worker runs, so both share the
 * module state (the running world).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = import.meta.url;

/** True when this module runs from the TypeScript sources rather than the build. */
export const fromSources = here.endsWith('.ts');

/** The root of the running copy (where package.json is). */
export const selfRoot = fileURLToPath(new URL(fromSources ? '../../' : '../', here));

const dist = join(selfRoot, 'dist');

function newestIn(dir: string): number {
  let newest = 0;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestIn(p) : s.mtimeMs);
  }
  return newest;
}

function buildIsFresh(): boolean {
  const entry = join(dist, 'worker-entry.js');
  if (!existsSync(entry)) return false;
  const built = statSync(entry).mtimeMs;
  return newestIn(join(selfRoot, 'src')) <= built && newestIn(join(selfRoot, 'scenarios')) <= built;
}

/** True when workers and scenario files use the built engine in dist/. */
export const engineIsBuilt = !fromSources || buildIsFresh();

/** The module portfolio and replay workers start from. */
export const workerEntryUrl = engineIsBuilt ? new URL(`file://${join(dist, 'worker-entry.js')}`) : new URL('./worker-entry.js', here);

/** The package root module scenario files import as 'hmmsim', as a file path. */
export const selfIndexPath = engineIsBuilt ? join(dist, 'index.js') : fileURLToPath(new URL('../index.ts', here));

/** The `hmmsim/testing` module scenario files import (the CPU stand-in, the oracles' hooks), as a file path. */
export const selfTestingPath = engineIsBuilt ? join(dist, 'testing.js') : fileURLToPath(new URL('../testing.ts', here));

/** The generator-protocol checks (src/sim/protocol.ts) of that engine, as a file path. */
export const selfProtocolPath = engineIsBuilt ? join(dist, 'protocol.js') : fileURLToPath(new URL('../sim/protocol.ts', here));

/**
 * The declarations a scenario file is type-checked against: the build's, or (unbuilt) the
 * sources themselves.
 */
export const selfTypesPath = engineIsBuilt && existsSync(join(dist, 'types', 'index.d.ts')) ? join(dist, 'types', 'index.d.ts') : join(selfRoot, 'src', 'index.ts');

/** The declarations of `hmmsim/testing`, alike. */
export const selfTestingTypesPath = engineIsBuilt && existsSync(join(dist, 'types', 'testing.d.ts')) ? join(dist, 'types', 'testing.d.ts') : join(selfRoot, 'src', 'testing.ts');
