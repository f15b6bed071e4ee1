// Worker threads start here when the command runs from the TypeScript sources (tests, `npm run
// hmmsim`): plain JavaScript that registers tsx, then loads the TypeScript worker. The build
// bundles the worker as dist/worker-entry.js instead, which needs no compiler.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
