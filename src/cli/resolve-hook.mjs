// Module resolution hook: lets a scenario file anywhere on disk `import ... from 'hmmsim'` and get
// this copy of hmmsim, whether or not its own folder has hmmsim installed.
const INDEX = new URL('../index.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'hmmsim') return { url: INDEX, shortCircuit: true };
  return nextResolve(specifier, context);
}
