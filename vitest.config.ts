import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests written as a user writes them import 'hmmsim': here it is the sources.
  resolve: { alias: { hmmsim: new URL('./src/index.ts', import.meta.url).pathname } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
