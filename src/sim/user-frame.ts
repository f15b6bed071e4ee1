/**
 * Which stack frame of an error to show a user: the first one outside hmmsim's engine, so an
 * exception or a throwing setup points at the driver or scenario code that caused it.
 */
import { fileURLToPath } from 'node:url';

const here = import.meta.url;
/** The engine's own files: src/sim/ when run from the sources, the bundles' directory when built. */
const ENGINE = here.endsWith('.ts') ? '/src/sim/' : fileURLToPath(new URL('.', here));

/** The first stack frame of `err` outside the engine and node's internals, as `file:line:col` (with the function). */
export function firstUserFrame(err: Error): string | null {
  const lines = (err.stack ?? '').split('\n').slice(1);
  for (const l of lines) {
    const m = /at (.*)$/.exec(l.trim());
    if (m === null) continue;
    if (m[1]!.includes(ENGINE) || m[1]!.includes('node:')) continue;
    return m[1]!.replace(/^.*\((.*)\)$/, '$1').replace(/^file:\/\//, '');
  }
  return null;
}
