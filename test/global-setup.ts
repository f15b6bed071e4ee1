/**
 * Builds the package once before the suite, so the tests that run the command as a user does
 * (bin/hmmsim.js, the packed tarball) run the code under test, not a stale build, and no test
 * rebuilds it while others use it.
 */
import { buildJs, buildTypes } from '../scripts/build.mjs';

export default async function setup(): Promise<void> {
  await buildJs();
  buildTypes();
}
