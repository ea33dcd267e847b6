import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Starts s3rver on loopback for every run; tests reach it through test/helpers/s3.ts.
    globalSetup: ['test/global-setup.ts'],
  },
});
