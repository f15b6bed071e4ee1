/** Bundles the JavaScript into dist/. */
export function buildJs(): Promise<void>;
/** Emits declarations into dist/types. */
export function buildTypes(): void;
