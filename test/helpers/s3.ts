/**
 * S3 for tests. test/global-setup.ts starts s3rver on loopback; these helpers hand out
 * its endpoint, credentials and a fresh bucket per test. When LAKELOOP_TEST_S3_ENDPOINT
 * is set (MinIO, ...), `s3TestEndpoint()` and the defaults below use that one instead.
 *
 * @example
 * const bucket = await createTestBucket();
 * afterEach(() => bucket.cleanup());
 * const store = await openObjectStore(`${bucket.root}/lake`, bucket.openOptions);
 * // or: const store = await S3ObjectStore.create({ ...bucket.options, prefix: 'lake' });
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { type OpenStoreOptions, type S3StoreOptions } from '../../src/storage/index.js';
import type { S3TestEndpoint } from '../global-setup.js';

export type { S3TestEndpoint };

/** The s3rver started by the global setup (always there). */
export function s3rverTestEndpoint(): S3TestEndpoint {
  return inject('lakeloopS3rver');
}

/** The external endpoint from LAKELOOP_TEST_S3_ENDPOINT, if set. */
export function externalTestEndpoint(): S3TestEndpoint | undefined {
  return inject('lakeloopExternalS3') ?? undefined;
}

/** The endpoint tests use by default: the external one when configured, else s3rver. */
export function s3TestEndpoint(): S3TestEndpoint {
  return externalTestEndpoint() ?? s3rverTestEndpoint();
}

/** `S3ObjectStore.create` options for `bucket` on `target`; `overrides` win. */
export function s3TestOptions(bucket: string, overrides: Partial<S3StoreOptions> = {}, target: S3TestEndpoint = s3TestEndpoint()): S3StoreOptions {
  return {
    bucket,
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: target.forcePathStyle,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    ...overrides,
  };
}

/** A bucket made for one test. */
export interface TestBucket {
  readonly bucket: string;
  /** `s3://<bucket>`: append `/prefix` for a lake root. */
  readonly root: string;
  readonly endpoint: S3TestEndpoint;
  /** For `S3ObjectStore.create({ ...options, prefix })`; has its own cache dir. */
  readonly options: S3StoreOptions;
  /** For `openObjectStore(root, openOptions)`. */
  readonly openOptions: OpenStoreOptions;
  /** Removes the cache dir (and, on an external endpoint, the bucket and its objects). */
  cleanup(): Promise<void>;
}

/** Creates a fresh, uniquely named bucket (`ll-<label>-<random>`) on `target`. */
export async function createTestBucket(label = 'test', target: S3TestEndpoint = s3TestEndpoint()): Promise<TestBucket> {
  const safeLabel = label.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30).replace(/^-+|-+$/g, '') || 'test';
  const bucket = `ll-${safeLabel}-${randomBytes(6).toString('hex')}`;
  const cacheDir = await mkdtemp(join(tmpdir(), 'lakeloop-test-cache-'));
  const options = s3TestOptions(bucket, { cacheDir }, target);
  await S3ObjectStore.createBucket(options);
  const { bucket: _bucket, ...s3 } = options;
  return {
    bucket,
    root: `s3://${bucket}`,
    endpoint: target,
    options,
    openOptions: { s3 },
    async cleanup() {
      await rm(cacheDir, { recursive: true, force: true });
      // s3rver's data directory is removed at teardown; a real server's buckets are not.
      if (target.name === 'external') await S3ObjectStore.deleteBucket(options);
    },
  };
}

/** A fresh bucket and an `S3ObjectStore` on it; `cleanup` closes the store and removes the bucket. */
export async function createTestS3Store(
  overrides: Partial<S3StoreOptions> = {},
  target: S3TestEndpoint = s3TestEndpoint(),
): Promise<{ store: S3ObjectStore; bucket: TestBucket; cleanup(): Promise<void> }> {
  const bucket = await createTestBucket('store', target);
  const store = await S3ObjectStore.create({ ...bucket.options, ...overrides });
  return {
    store,
    bucket,
    async cleanup() {
      await store.close();
      await bucket.cleanup();
    },
  };
}
