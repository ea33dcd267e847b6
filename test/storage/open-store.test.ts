import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/core/index.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { LocalObjectStore, openObjectStore, parseS3Url, s3OptionsFromEnv } from '../../src/storage/index.js';
import { createTestBucket, s3rverTestEndpoint, type TestBucket } from '../helpers/s3.js';

describe('openObjectStore', () => {
  let dir: string;
  let bucket: TestBucket;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lakeloop-open-'));
    bucket = await createTestBucket('open', s3rverTestEndpoint());
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await bucket.cleanup();
  });

  it('opens a local directory (or file:// URL) as a LocalObjectStore', async () => {
    const store = await openObjectStore(join(dir, 'lake'));
    expect(store).toBeInstanceOf(LocalObjectStore);
    await store.put('a', 'b');
    const same = await openObjectStore(pathToFileURL(join(dir, 'lake')).href);
    expect((await same.get('a')).toString()).toBe('b');
  });

  it('opens s3://bucket/prefix as an S3ObjectStore rooted at the prefix', async () => {
    const store = await openObjectStore(`${bucket.root}/lake/prod/`, bucket.openOptions);
    try {
      expect(store).toBeInstanceOf(S3ObjectStore);
      expect(store.description).toBe(`${bucket.root}/lake/prod`);
      await store.put('bronze/x.json', '{}');
      const whole = await S3ObjectStore.create(bucket.options);
      expect((await whole.listAll('')).map((o) => o.key)).toEqual(['lake/prod/bronze/x.json']);
      await whole.close();
    } finally {
      await store.close();
    }
  });

  it('reads LAKELOOP_S3_* from the environment; explicit options win', async () => {
    const { endpoint: _endpoint, cacheDir: _cacheDir, ...s3 } = bucket.openOptions.s3 ?? {};
    const env = { LAKELOOP_S3_ENDPOINT: bucket.endpoint.endpoint, LAKELOOP_S3_CACHE_DIR: join(dir, 'cache') };
    const store = await openObjectStore(bucket.root, { s3, env });
    try {
      await store.put('k.parquet', 'bytes');
      expect((await store.localPath('k.parquet')).startsWith(join(dir, 'cache'))).toBe(true);
    } finally {
      await store.close();
    }
    const overridden = await openObjectStore(bucket.root, { s3: { ...s3, cacheDir: join(dir, 'other') }, env });
    try {
      expect((await overridden.localPath('k.parquet')).startsWith(join(dir, 'other'))).toBe(true);
    } finally {
      await overridden.close();
    }
  });

  it('refuses unknown schemes and malformed S3 roots', async () => {
    await expect(openObjectStore('gs://bucket/x')).rejects.toThrow(/gs:\/\/ is not supported/);
    for (const root of ['s3://', 's3://Bad_Bucket/x', 's3://ab', 's3://lake/../etc', 's3://lake/a//b']) {
      await expect(openObjectStore(root), root).rejects.toBeInstanceOf(StorageError);
    }
  });
});

describe('parseS3Url and s3OptionsFromEnv', () => {
  it('splits bucket and prefix', () => {
    expect(parseS3Url('s3://lake')).toEqual({ bucket: 'lake', prefix: '' });
    expect(parseS3Url('s3://lake/')).toEqual({ bucket: 'lake', prefix: '' });
    expect(parseS3Url('s3://lake/prod/eu/')).toEqual({ bucket: 'lake', prefix: 'prod/eu' });
    expect(parseS3Url('S3://my.lake-1/p')).toEqual({ bucket: 'my.lake-1', prefix: 'p' });
  });

  it('parses the environment strictly', () => {
    expect(s3OptionsFromEnv({})).toEqual({});
    expect(
      s3OptionsFromEnv({
        LAKELOOP_S3_ENDPOINT: 'http://127.0.0.1:9000',
        LAKELOOP_S3_FORCE_PATH_STYLE: 'false',
        LAKELOOP_S3_CACHE_DIR: '/tmp/c',
        LAKELOOP_S3_CACHE_MAX_BYTES: '1048576',
      }),
    ).toEqual({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: false, cacheDir: '/tmp/c', cacheMaxBytes: 1048576 });
    expect(() => s3OptionsFromEnv({ LAKELOOP_S3_FORCE_PATH_STYLE: 'yes please' })).toThrow(/LAKELOOP_S3_FORCE_PATH_STYLE/);
    expect(() => s3OptionsFromEnv({ LAKELOOP_S3_CACHE_MAX_BYTES: '2GB' })).toThrow(/LAKELOOP_S3_CACHE_MAX_BYTES/);
  });
});
