// The default project's config (the repository root is also the default project).
// In a project of your own, write `import { defineConfig } from 'lakeloop'`.
import { defineConfig } from './src/index.js';

export default defineConfig({
  lake: {
    // A local directory (relative to this file), or s3://bucket/prefix with `s3: { endpoint, ... }`.
    root: './lake',
  },
  engine: {
    memoryLimit: '2GB',
  },
});
