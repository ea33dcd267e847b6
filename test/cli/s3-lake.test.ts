import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openObjectStore } from '../../src/storage/index.js';
import { createTestBucket, type TestBucket } from '../helpers/s3.js';
import { cli, tempDir } from './cli-harness.js';
import { buildFixtureLake } from './lake-fixture.js';

let dir: string;
let remove: () => Promise<void>;
let bucket: TestBucket;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-s3'));
  bucket = await createTestBucket('cli');
  // Credentials come from the environment only (never from the config), as in production.
  vi.stubEnv('AWS_ACCESS_KEY_ID', bucket.endpoint.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', bucket.endpoint.secretAccessKey);
  vi.stubEnv('AWS_REGION', bucket.endpoint.region);
  const store = await openObjectStore(`${bucket.root}/lake`, bucket.openOptions);
  try {
    await buildFixtureLake(store);
  } finally {
    await store.close();
  }
  await writeFile(
    join(dir, 'lakeloop.config.ts'),
    `export default {
      lake: {
        root: '${bucket.root}/lake',
        s3: { endpoint: '${bucket.endpoint.endpoint}', forcePathStyle: ${bucket.endpoint.forcePathStyle}, cacheDir: './.cache' },
      },
    };\n`,
  );
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await bucket.cleanup();
  await remove();
});

describe('the CLI on an s3:// lake', () => {
  it('status, query and inspect read the lake through the S3 store', async () => {
    const status = await cli(['status', '--json'], dir);
    // s3rver ignores If-None-Match: the CLI says once that the lake runs single-writer, and nothing else
    expect(status.stderr).toMatch(/^notice: s3:\/\/\S+ does not enforce conditional writes.*single-writer.*\n$/);
    expect(status.json<{ root: string; tables: { name: string }[] }>()).toMatchObject({
      root: `${bucket.root}/lake`,
      tables: [{ name: 'bronze.orders' }, { name: 'gold.daily_revenue' }],
    });

    const query = await cli(['query', 'select count(*) as n from bronze.orders', '--format', 'csv', '--as-of', '1'], dir);
    expect(query.stderr).toMatch(/^notice: [^\n]*single-writer[^\n]*\n$/);
    expect(query.stdout).toBe('n\n3\n');

    const byName = await cli(['inspect', 'gold.daily_revenue', '--json'], dir);
    expect(byName.json()).toMatchObject({ version: 1, rows: 2 });
    const byUrl = await cli(['inspect', `${bucket.root}/lake/bronze/orders`, '--json'], dir);
    expect(byUrl.json()).toMatchObject({ version: 3, rows: 4, partitionColumns: ['order_date'] });
  });
});
