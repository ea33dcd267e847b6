import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/** Each run's own checkpoint cache (test/global-setup.ts deletes it), not the user's. */
export const TEST_CHECKPOINT_CACHE_DIR = join(tmpdir(), `lakeloop-test-checkpoints-${process.pid}`);

export default defineConfig({
  // A fixture project's `import ... from 'lakeloop'` loads src/, as bin/lakeloop.js does in a
  // checkout: the same modules the test imports, no build needed.
  resolve: { alias: [{ find: /^lakeloop$/, replacement: join(import.meta.dirname, 'src', 'index.ts') }] },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time even on 2 cores: most suites wait on child processes and disk,
    // and the default (cores − 1) would run them one by one.
    maxWorkers: 2,
    // Starts s3rver on loopback for every run; tests reach it through test/helpers/s3.ts.
    globalSetup: ['test/global-setup.ts'],
    env: { LAKELOOP_CHECKPOINT_CACHE_DIR: TEST_CHECKPOINT_CACHE_DIR },
  },
});
