#!/usr/bin/env node
// The `hmmsim` command: plain node running the built JavaScript in dist/ (no TypeScript compiler at
// start-up; scenario files written in TypeScript are compiled once, when named).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`hmmsim: not built: run 'npm run build' in ${new URL('..', import.meta.url).pathname} ('npm ci' builds it too)\n`);
  process.exit(2);
}
// Output piped into `head` and closed early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});
