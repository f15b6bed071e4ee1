/** Bundles the JavaScript into dist/. */
export function buildJs(): Promise<void>;
