#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so scenario files need no build step, and
// resolves `import ... from 'hmmsim'` in those files to this copy of hmmsim.
import { register as registerHook } from 'node:module';
import { register } from 'tsx/esm/api';

registerHook('../src/cli/resolve-hook.mjs', import.meta.url);
// Output piped into `head` and closed early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});
