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

  it('compact finds the partitioned table without naming it (s3rver leaves it out of Delimiter listings) and compacts it', async () => {
    const run = await cli(['compact', '--min-files', '2', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    const { tables, failures } = run.json<{ tables: Record<string, unknown>[]; failures: unknown[] }>();
    expect(failures).toEqual([]);
    expect(tables.map((t) => t['table'])).toEqual(['bronze.orders', 'gold.daily_revenue']);
    // 2024-05-02 holds the two files of v1 and v2; the other days one each
    expect(tables[0]).toMatchObject({ committed: true, version: 4, partitions: 1, filesRewritten: 2, filesWritten: 1 });
    const after = await cli(['query', 'select count(*) as n, sum(amount) as total from bronze.orders', '--format', 'csv'], dir);
    expect(after.stdout).toBe('n,total\n4,113.24\n');
    const status = await cli(['status', '--json'], dir);
    expect(status.json<{ tables: { name: string }[] }>().tables.map((t) => t.name)).toEqual(['bronze.orders', 'gold.daily_revenue']);
  });
});
