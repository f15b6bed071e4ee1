// Worker threads start here: plain JavaScript that registers tsx and the 'hmmsim' resolution
// hook, then loads the TypeScript worker.
import { register as registerHook } from 'node:module';
import { register } from 'tsx/esm/api';

registerHook('./resolve-hook.mjs', import.meta.url);
register();
await import('./worker.ts');
