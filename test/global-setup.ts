/**
 * Builds the JavaScript once before the suite, so the tests that run the command as a user does
 * (bin/hmmsim.js, the packed tarball) run the code under test, not a stale build.
 */
export default async function setup(): Promise<void> {
  const { buildJs } = (await import('../scripts/build.mjs')) as { buildJs: () => Promise<void> };
  await buildJs();
}
