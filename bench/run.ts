/**
 * `npm run bench`: every benchmark in bench/, one after the other, each printing its own table.
 * Pass names to run only some: `npm run bench -- engine`.
 */
const benches: Record<string, () => Promise<unknown>> = {
  engine: async () => (await import('./engine.ts')).main(),
  explore: async () => (await import('./explore.ts')).main(),
  lockdep: async () => (await import('./lockdep.ts')).main(),
  'interval-tree': async () => (await import('./interval-tree.ts')).main(),
  'mm-structures': async () => (await import('./mm-structures.ts')).main(),
  mm: async () => (await import('./mm.ts')).main(),
  hmm: async () => (await import('./hmm.ts')).main(),
  'hmm-selftest': async () => (await import('./hmm-selftest.ts')).main(),
  startup: async () => (await import('./startup.ts')).main(),
};

// Options (`--full`) are the benchmarks' own: they read process.argv themselves.
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of wanted) {
  if (!(name in benches)) {
    console.error(`unknown benchmark '${name}'; benchmarks: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
  console.log('');
}
