/**
 * Where this copy of hmmsim lives: run from the build (dist/, one directory of bundles) or from
 * the TypeScript sources (src/, under tsx or the test runner). A scenario file's
 * `import ... from 'hmmsim'` must reach the same module instances as the engine that runs it.
 */
import { fileURLToPath } from 'node:url';

const here = import.meta.url;

/** True when running the TypeScript sources rather than the build. */
export const fromSources = here.endsWith('.ts');

/** The package root module of the running copy, as a file path. */
export const selfIndexPath = fileURLToPath(fromSources ? new URL('../index.ts', here) : new URL('./index.js', here));

/** The declarations a scenario file is type-checked against (the sources themselves when unbuilt). */
export const selfTypesPath = fileURLToPath(fromSources ? new URL('../index.ts', here) : new URL('./types/index.d.ts', here));

/** The root of the running copy (where package.json is). */
export const selfRoot = fileURLToPath(new URL(fromSources ? '../../' : '../', here));

/** The generator-protocol checks (src/sim/protocol.ts) of the running copy, as a file path. */
export const selfProtocolPath = fileURLToPath(fromSources ? new URL('../sim/protocol.ts', here) : new URL('./protocol.js', here));
