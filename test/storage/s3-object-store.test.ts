import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, ObjectNotFound, StorageError } from '../../src/core/index.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { singleWriterNotice, type S3RetryEvent, type S3StoreOptions } from '../../src/storage/index.js';
import { startFaultProxy, type FaultAction, type FaultProxy } from '../helpers/fault-proxy.js';
import { createTestBucket, s3rverTestEndpoint, type TestBucket } from '../helpers/s3.js';

const MiB = 1024 * 1024;
const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 };

/**
 * A store on a real s3rver bucket, reached through a fault proxy whose next answers the
 * test chooses with `failNext`. Requests are counted by the proxy.
 */
async function storeBehindProxy(
  bucket: TestBucket,
  overrides: Partial<S3StoreOptions> = {},
): Promise<{ store: S3ObjectStore; proxy: FaultProxy; failNext(count: number, action: Exclude<FaultAction, 'forward'>, when?: (url: string, method: string) => boolean): void; retries: S3RetryEvent[]; clock: ManualClock }> {
  let pending: { count: number; action: Exclude<FaultAction, 'forward'>; when: (url: string, method: string) => boolean } | undefined;
  const proxy = await startFaultProxy({
    upstream: bucket.endpoint.endpoint,
    plan: (_index, req) => {
      if (pending && pending.count > 0 && pending.when(req.url ?? '/', req.method ?? 'GET')) {
        pending.count--;
        return pending.action;
      }
      return 'forward';
    },
  });
  const retries: S3RetryEvent[] = [];
  const clock = new ManualClock();
  const store = await S3ObjectStore.create({
    ...bucket.options,
    endpoint: proxy.endpoint,
    retryPolicy: policy,
    clock,
    onRetry: (event) => retries.push(event),
    ...overrides,
  });
  return {
    store,
    proxy,
    retries,
    clock,
    failNext(count, action, when = () => true) {
      pending = { count, action, when };
    },
  };
}

describe('S3ObjectStore (s3rver): retries', () => {
  let bucket: TestBucket;
  let env: Awaited<ReturnType<typeof storeBehindProxy>>;

  beforeEach(async () => {
    bucket = await createTestBucket('retry', s3rverTestEndpoint());
    env = await storeBehindProxy(bucket);
  });
  afterEach(async () => {
    await env.store.close();
    await env.proxy.close();
    await bucket.cleanup();
  });

  it.each<[string, Exclude<FaultAction, 'forward'>]>([
    ['503 SlowDown', { status: 503, code: 'SlowDown' }],
    ['500 InternalError', { status: 500, code: 'InternalError' }],
    ['429 throttling', { status: 429, code: 'TooManyRequests' }],
    ['connection reset', 'reset'],
  ])('a put that meets %s twice succeeds on the third attempt', async (_name, action) => {
    const before = env.proxy.requests.length;
    env.failNext(2, action);
    await env.store.put('t/obj', 'payload');
    expect(env.proxy.requests.length - before).toBe(3);
    expect(env.retries.map((r) => [r.operation, r.key, r.attempt])).toEqual([
      ['write', 't/obj', 1],
      ['write', 't/obj', 2],
    ]);
    // Backoff slept on the injected clock, never longer than the policy allows.
    expect(env.clock.nowMs()).toBeLessThanOrEqual(policy.baseDelayMs + 2 * policy.baseDelayMs);
    expect((await env.store.get('t/obj')).toString()).toBe('payload');
  });

  it('reads (get, head, list) are retried too', async () => {
    await env.store.put('t/a', 'aaa');
    env.failNext(1, { status: 503, code: 'SlowDown' });
    expect((await env.store.get('t/a')).toString()).toBe('aaa');
    env.failNext(1, 'reset');
    expect(await env.store.head('t/a')).toMatchObject({ sizeBytes: 3 });
    env.failNext(3, { status: 500 });
    expect((await env.store.listAll('t/')).map((o) => o.key)).toEqual(['t/a']);
    expect(env.retries).toHaveLength(5);
  });

  it('a request that hangs past requestTimeoutMs is retried', async () => {
    const impatient = await storeBehindProxy(bucket, { requestTimeoutMs: 1_000 });
    try {
      const before = impatient.proxy.requests.length;
      impatient.failNext(1, 'hang');
      await impatient.store.put('t/slow', 'eventually');
      expect(impatient.proxy.requests.length - before).toBe(2);
      expect(impatient.retries[0]?.reason).toMatch(/timed out/i);
    } finally {
      await impatient.store.close();
      await impatient.proxy.close();
    }
  });

  it('gives up after the policy attempts with a retryable StorageError', async () => {
    const before = env.proxy.requests.length;
    env.failNext(100, { status: 503, code: 'SlowDown' });
    const error = await env.store.get('t/never').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(env.proxy.requests.length - before).toBe(policy.attempts);
    expect((error as StorageError).message).toMatch(new RegExp(`^Failed to read t/never in s3://${bucket.bucket}: SlowDown \\(HTTP 503\\)`));
    expect((error as StorageError).retryable).toBe(true);
    expect((error as StorageError).hint).toBeDefined();
  });

  it('does not retry final answers (403, 404)', async () => {
    const before = env.proxy.requests.length;
    env.failNext(1, { status: 403, code: 'AccessDenied' });
    const error = await env.store.get('t/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toContain('AccessDenied');
    expect((error as StorageError).hint).toMatch(/credentials/);
    expect(env.proxy.requests.length - before).toBe(1);
    await expect(env.store.get('t/missing')).rejects.toBeInstanceOf(ObjectNotFound);
    expect(env.proxy.requests.length - before).toBe(2);
  });

  it('uploads a large file as parts, retrying a failed part', async () => {
    const multipart = await storeBehindProxy(bucket, { multipartThresholdBytes: 5 * MiB, multipartPartBytes: 5 * MiB });
    const dir = await mkdtemp(join(tmpdir(), 'lakeloop-mp-'));
    try {
      const bytes = randomBytes(11 * MiB);
      await writeFile(join(dir, 'big'), bytes);
      multipart.failNext(1, { status: 500 }, (url) => url.includes('partNumber=2'));
      await multipart.store.putFile('mp/big.bin', join(dir, 'big'));
      const parts = multipart.proxy.requests.filter((r) => r.url.includes('partNumber='));
      expect(parts.filter((r) => r.action === 'forward')).toHaveLength(3);
      expect(parts).toHaveLength(4);
      expect((await multipart.store.get('mp/big.bin')).equals(bytes)).toBe(true);
    } finally {
      await multipart.store.close();
      await multipart.proxy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('aborts the multipart upload when a part keeps failing, leaving no object', async () => {
    const multipart = await storeBehindProxy(bucket, { multipartThresholdBytes: 5 * MiB, multipartPartBytes: 5 * MiB });
    const dir = await mkdtemp(join(tmpdir(), 'lakeloop-mp-'));
    try {
      await writeFile(join(dir, 'big'), randomBytes(11 * MiB));
      multipart.failNext(100, { status: 500 }, (url) => url.includes('partNumber=2'));
      await expect(multipart.store.putFile('mp/failed.bin', join(dir, 'big'))).rejects.toThrow(/Failed to upload mp\/failed\.bin/);
      const aborts = multipart.proxy.requests.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='));
      expect(aborts).toHaveLength(1);
      expect(await multipart.store.head('mp/failed.bin')).toBeUndefined();
    } finally {
      await multipart.store.close();
      await multipart.proxy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('S3ObjectStore (s3rver): failures and secrets', () => {
  const secret = 'sEcReT-never-print-me-0123456789';
  const sessionToken = 'session-token-never-print-me-987';

  it('a permanently failing endpoint ends in a StorageError after the policy attempts, with no secret in it', async () => {
    const proxy = await startFaultProxy({ plan: () => ({ status: 500, code: 'InternalError' }) });
    try {
      const error = await S3ObjectStore.create({
        bucket: 'lake',
        prefix: 'prod',
        endpoint: proxy.endpoint,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret, sessionToken },
        retryPolicy: policy,
        clock: new ManualClock(),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(proxy.requests).toHaveLength(policy.attempts);
      const message = (error as StorageError).message;
      expect(message).toMatch(/^Failed to open bucket in s3:\/\/lake\/prod: HTTP 500 Internal Server Error$/);
      for (const text of [message, inspect(error, { depth: 10 }), JSON.stringify(error), String((error as StorageError).hint)]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(sessionToken);
      }
    } finally {
      await proxy.close();
    }
  });

  it('an endpoint that refuses connections is retried, then reported', async () => {
    const proxy = await startFaultProxy({ plan: () => 'reset' });
    const endpoint = proxy.endpoint;
    await proxy.close();
    const retries: S3RetryEvent[] = [];
    const error = await S3ObjectStore.create({
      bucket: 'lake',
      endpoint,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret },
      retryPolicy: policy,
      clock: new ManualClock(),
      onRetry: (event) => retries.push(event),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(retries).toHaveLength(policy.attempts - 1);
    expect((error as StorageError).message).toMatch(/ECONNREFUSED/);
    expect(inspect(error, { depth: 10 })).not.toContain(secret);
  });

  it('a missing bucket is reported with a hint, or created when asked', async () => {
    const target = s3rverTestEndpoint();
    const name = `ll-missing-${randomBytes(4).toString('hex')}`;
    const options: S3StoreOptions = {
      bucket: name,
      endpoint: target.endpoint,
      credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    };
    const error = await S3ObjectStore.create(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toBe(`Failed to open s3://${name}: the bucket ${name} does not exist`);
    expect((error as StorageError).hint).toMatch(/Create the bucket/);
    const store = await S3ObjectStore.create({ ...options, createBucketIfMissing: true });
    await store.put('x', 'y');
    await store.close();
    await S3ObjectStore.deleteBucket(options);
    await expect(S3ObjectStore.create(options)).rejects.toThrow(/does not exist/);
  });

  it('rejects invalid bucket names and prefixes before any request', async () => {
    await expect(S3ObjectStore.create({ bucket: 'Bad_Bucket' })).rejects.toBeInstanceOf(StorageError);
    await expect(S3ObjectStore.create({ bucket: 'lake', prefix: '../up' })).rejects.toBeInstanceOf(StorageError);
  });
});

describe('S3ObjectStore (s3rver): conditional-write probe', () => {
  let bucket: TestBucket;
  beforeAll(async () => {
    bucket = await createTestBucket('probe', s3rverTestEndpoint());
  });
  afterAll(async () => {
    await bucket.cleanup();
  });

  it('finds that s3rver ignores If-None-Match, once, and leaves no probe behind', async () => {
    const env = await storeBehindProxy(bucket, { prefix: 'lake' });
    try {
      expect(await env.store.conditionalWrites()).toBe(false);
      const afterProbe = env.proxy.requests.length;
      expect(await env.store.conditionalWrites()).toBe(false);
      expect(env.proxy.requests.length).toBe(afterProbe);
      const probes = env.proxy.requests.filter((r) => r.method === 'PUT' && r.url.includes('_lakeloop/probe/'));
      expect(probes).toHaveLength(2);
      expect(await env.store.listAll('')).toEqual([]);
      expect(singleWriterNotice(env.store.description)).toBe(
        `s3://${bucket.bucket}/lake does not enforce conditional writes (If-None-Match: *); lakeloop runs single-writer: run only one writer against this lake at a time.`,
      );
    } finally {
      await env.store.close();
      await env.proxy.close();
    }
  });
});

describe('S3ObjectStore (s3rver): putIfAbsent across a lost response', () => {
  let bucket: TestBucket;
  let proxy: FaultProxy;
  let store: S3ObjectStore;
  let direct: S3ObjectStore;
  const next: FaultAction[] = [];

  beforeEach(async () => {
    bucket = await createTestBucket('lost', s3rverTestEndpoint());
    let probePuts = 0;
    // s3rver ignores If-None-Match; the proxy plays an endpoint that enforces it for the
    // probe (second probe write refused), and answers commit PUTs as scripted in `next`.
    proxy = await startFaultProxy({
      upstream: bucket.endpoint.endpoint,
      plan: (_index, req) => {
        if (req.method !== 'PUT') return 'forward';
        if (req.url?.includes('_lakeloop/probe/')) return ++probePuts === 2 ? { status: 412, code: 'PreconditionFailed' } : 'forward';
        return next.shift() ?? 'forward';
      },
    });
    store = await S3ObjectStore.create({ ...bucket.options, endpoint: proxy.endpoint, retryPolicy: policy, clock: new ManualClock() });
    direct = await S3ObjectStore.create(bucket.options);
    expect(await store.conditionalWrites()).toBe(true);
  });
  afterEach(async () => {
    await store.close();
    await direct.close();
    await proxy.close();
    await bucket.cleanup();
  });

  it('counts a write as ours when the retry is refused but the object holds our bytes', async () => {
    next.push('lost-response', { status: 412, code: 'PreconditionFailed' });
    expect(await store.putIfAbsent('_delta_log/00000000000000000000.json', 'commit A')).toEqual({ written: true });
    expect((await direct.get('_delta_log/00000000000000000000.json')).toString()).toBe('commit A');
  });

  it('reports written:false when the refusal was for another writer\'s object', async () => {
    await direct.put('_delta_log/00000000000000000001.json', 'commit B');
    next.push('reset', { status: 412, code: 'PreconditionFailed' });
    expect(await store.putIfAbsent('_delta_log/00000000000000000001.json', 'commit C')).toEqual({ written: false });
    expect((await direct.get('_delta_log/00000000000000000001.json')).toString()).toBe('commit B');
  });

  it('a 409 ConditionalRequestConflict is a refusal too', async () => {
    next.push({ status: 409, code: 'ConditionalRequestConflict' });
    expect(await store.putIfAbsent('_delta_log/00000000000000000002.json', 'commit D')).toEqual({ written: false });
  });
});

describe('S3ObjectStore (s3rver): localPath download cache', () => {
  let bucket: TestBucket;
  let cacheDir: string;
  beforeEach(async () => {
    bucket = await createTestBucket('cache', s3rverTestEndpoint());
    cacheDir = await mkdtemp(join(tmpdir(), 'lakeloop-cache-test-'));
  });
  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
    await bucket.cleanup();
  });

  async function cacheBytes(): Promise<number> {
    let total = 0;
    for (const name of await readdir(cacheDir)) total += (await stat(join(cacheDir, name))).size;
    return total;
  }

  it('stays under the size cap (+ the object just fetched), evicting the least recently used', async () => {
    const cap = 3000;
    const env = await storeBehindProxy(bucket, { cacheDir, cacheMaxBytes: cap });
    try {
      const bodies = Array.from({ length: 6 }, () => randomBytes(1000));
      for (const [i, body] of bodies.entries()) await env.store.put(`c/obj-${i}.parquet`, body);
      const gets = (): number => env.proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('/c/obj-')).length;

      const paths: string[] = [];
      for (const [i, body] of bodies.slice(0, 3).entries()) {
        const path = await env.store.localPath(`c/obj-${i}.parquet`);
        expect(path.startsWith(cacheDir)).toBe(true);
        expect(path.endsWith('.parquet')).toBe(true);
        expect((await readFile(path)).equals(body)).toBe(true);
        paths.push(path);
        await new Promise((r) => setTimeout(r, 15)); // distinct last-use stamps
      }
      expect(gets()).toBe(3);
      // A hit: no download, and obj-0 becomes the most recently used.
      expect(await env.store.localPath('c/obj-0.parquet')).toBe(paths[0]);
      expect(gets()).toBe(3);
      await new Promise((r) => setTimeout(r, 15));

      for (const [i, body] of bodies.entries()) {
        if (i < 3) continue;
        const path = await env.store.localPath(`c/obj-${i}.parquet`);
        expect((await readFile(path)).equals(body)).toBe(true);
        expect(await cacheBytes()).toBeLessThanOrEqual(cap);
        await new Promise((r) => setTimeout(r, 15));
      }
      // obj-1 was the least recently used when obj-3 arrived.
      expect(existsSync(paths[1] as string)).toBe(false);

      // One object larger than the whole cap is still served (and everything else goes).
      const huge = randomBytes(5000);
      await env.store.put('c/huge.parquet', huge);
      const hugePath = await env.store.localPath('c/huge.parquet');
      expect((await readFile(hugePath)).equals(huge)).toBe(true);
      expect(await cacheBytes()).toBe(5000);
      expect(await readdir(cacheDir)).toHaveLength(1);
    } finally {
      await env.store.close();
      await env.proxy.close();
    }
  });

  it('a replaced object gets a new cache entry (entries are keyed by etag)', async () => {
    const store = await S3ObjectStore.create({ ...bucket.options, cacheDir });
    try {
      await store.put('c/v', 'version one');
      const first = await store.localPath('c/v');
      await store.put('c/v', 'version two!');
      const second = await store.localPath('c/v');
      expect(second).not.toBe(first);
      expect((await readFile(second)).toString()).toBe('version two!');
      expect((await readFile(first)).toString()).toBe('version one');
    } finally {
      await store.close();
    }
  });

  it('concurrent localPath calls for one object download it once', async () => {
    const env = await storeBehindProxy(bucket, { cacheDir });
    try {
      await env.store.put('c/shared.json', '{"a":1}');
      const paths = await Promise.all(Array.from({ length: 5 }, () => env.store.localPath('c/shared.json')));
      expect(new Set(paths).size).toBe(1);
      expect(env.proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('/c/shared.json'))).toHaveLength(1);
    } finally {
      await env.store.close();
      await env.proxy.close();
    }
  });

  it('a download cut mid-way is retried and never leaves a partial file in the cache', async () => {
    const env = await storeBehindProxy(bucket, { cacheDir });
    try {
      const body = randomBytes(64 * 1024);
      await env.store.put('c/flaky.bin', body);
      env.failNext(1, 'reset', (url) => url.includes('/c/flaky.bin'));
      const path = await env.store.localPath('c/flaky.bin');
      expect((await readFile(path)).equals(body)).toBe(true);
      expect(await readdir(cacheDir)).toHaveLength(1);
    } finally {
      await env.store.close();
      await env.proxy.close();
    }
  });

  it('defaults to a cache under the OS temp dir, one per endpoint+bucket+prefix', async () => {
    const { cacheDir: _ignored, ...options } = bucket.options;
    const store = await S3ObjectStore.create({ ...options, prefix: 'p' });
    try {
      await store.put('k.json', '{}');
      const path = await store.localPath('k.json');
      expect(path.startsWith(join(tmpdir(), 'lakeloop-cache'))).toBe(true);
      await rm(join(path, '..'), { recursive: true, force: true });
    } finally {
      await store.close();
    }
  });
});
