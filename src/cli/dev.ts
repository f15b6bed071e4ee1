/**
 * `npm run hmmsim -- ...`: the command run from the TypeScript sources through tsx, for working
 * on hmmsim itself without rebuilding. Users run bin/hmmsim.js, which runs the build.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});
