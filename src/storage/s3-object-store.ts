import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type BucketLocationConstraint,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { defaultRetryPolicy, LakeloopError, ObjectNotFound, StorageError, systemClock, withRetry, type Clock, type RetryPolicy } from '../core/index.js';
import { DownloadCache } from './download-cache.js';
import { checkKey, checkPrefix } from './keys.js';
import type { ListOptions, ListPage, ObjectInfo, ObjectKey, ObjectStore, PutIfAbsentResult } from './object-store.js';
import {
  describeS3Error,
  errorCodeOf,
  hintFor,
  httpStatusOf,
  isNoSuchBucket,
  isNotFound,
  isPreconditionFailed,
  isTransientS3Error,
} from './s3-errors.js';
import { checkBucketName, formatS3Url, normalizePrefix } from './s3-location.js';

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last) and largest part count. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PARTS = 10_000;
const DELETE_BATCH = 1000;
const UPLOAD_CONCURRENCY = 4;

export const defaultS3CacheMaxBytes = 2 * 1024 * MiB;
export const defaultMultipartThresholdBytes = 16 * MiB;
export const defaultMultipartPartBytes = 8 * MiB;
export const defaultS3RequestTimeoutMs = 30_000;

/** Static S3 credentials. Leave them out to use the AWS default chain (env, profile, SSO, instance role). */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** One retry the store is about to make, for logs and metrics (never holds credentials). */
export interface S3RetryEvent {
  readonly operation: string;
  readonly key: string;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}

/** How to reach an S3-compatible endpoint (no bucket). */
export interface S3ConnectionOptions {
  /** e.g. `http://127.0.0.1:9000` for MinIO; default: AWS S3 for the region. */
  readonly endpoint?: string;
  /** Default: the SDK chain (`AWS_REGION`, profile); `us-east-1` when an `endpoint` is given and none is found. */
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`); default true when `endpoint` is set (MinIO, s3rver need it). */
  readonly forcePathStyle?: boolean;
  readonly credentials?: S3Credentials;
  /** Connect timeout and socket-idle timeout of each request (default 30 s); a timeout is retried. */
  readonly requestTimeoutMs?: number;
}

/** Everything `S3ObjectStore.create` accepts. */
export interface S3StoreOptions extends S3ConnectionOptions {
  readonly bucket: string;
  /** Key prefix of the lake root inside the bucket (`prod/lake`); default the bucket root. */
  readonly prefix?: string;
  /** Download cache for `localPath`; default `os.tmpdir()/lakeloop-cache/<hash of endpoint+bucket+prefix>`. */
  readonly cacheDir?: string;
  /** Size cap of the download cache (default 2 GiB). */
  readonly cacheMaxBytes?: number;
  /** Retries on 5xx, throttling, timeouts and resets (default `defaultRetryPolicy`). */
  readonly retryPolicy?: RetryPolicy;
  /** `putFile` uses multipart upload from this size on (default 16 MiB). */
  readonly multipartThresholdBytes?: number;
  /** Part size of multipart uploads (default 8 MiB; at least 5 MiB, S3's minimum). */
  readonly multipartPartBytes?: number;
  /** Create the bucket if it does not exist (handy for MinIO and tests). */
  readonly createBucketIfMissing?: boolean;
  /** The clock retries sleep on; tests pass a `ManualClock`. */
  readonly clock?: Clock;
  /** Called before each retry. */
  readonly onRetry?: (event: S3RetryEvent) => void;
}

/**
 * An `ObjectStore` on S3 or an S3-compatible endpoint (MinIO, R2, s3rver), through
 * `@aws-sdk/client-s3` — the only module that imports the AWS SDK.
 *
 * Our own retry policy is the one in force (the SDK's `maxAttempts` is 1). Commits use
 * `PutObject` with `If-None-Match: *`; `conditionalWrites()` probes once whether the
 * endpoint enforces it. Credentials come from `options.credentials` or the AWS default
 * chain and never appear in messages.
 *
 * @example
 * const store = await S3ObjectStore.create({ bucket: 'lake', prefix: 'prod', endpoint: 'http://127.0.0.1:9000' });
 * await store.put('bronze/orders/part-0.parquet', bytes);
 * const path = await store.localPath('bronze/orders/part-0.parquet'); // for DuckDB
 * await store.close();
 */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  readonly bucket: string;
  /** The lake root inside the bucket, `''` or without trailing `/`. */
  readonly prefix: string;

  private readonly keyPrefix: string;
  private readonly secrets: readonly string[];
  private probe: Promise<boolean> | undefined;

  private constructor(
    private readonly client: S3Client,
    private readonly cache: DownloadCache,
    private readonly settings: {
      bucket: string;
      prefix: string;
      retryPolicy: RetryPolicy;
      clock: Clock;
      onRetry: ((event: S3RetryEvent) => void) | undefined;
      multipartThresholdBytes: number;
      multipartPartBytes: number;
      secrets: readonly string[];
    },
  ) {
    this.bucket = settings.bucket;
    this.prefix = settings.prefix;
    this.keyPrefix = settings.prefix === '' ? '' : `${settings.prefix}/`;
    this.description = formatS3Url(settings);
    this.secrets = settings.secrets;
  }

  /** Connects, checks that the bucket exists (creating it when asked) and prepares the download cache. */
  static async create(options: S3StoreOptions): Promise<S3ObjectStore> {
    return S3ObjectStore.open(options, true);
  }

  private static async open(options: S3StoreOptions, checkBucket: boolean): Promise<S3ObjectStore> {
    const bucket = checkBucketName(options.bucket);
    const prefix = normalizePrefix(options.prefix ?? '');
    const cacheDir =
      options.cacheDir ??
      join(tmpdir(), 'lakeloop-cache', createHash('sha256').update(`${options.endpoint ?? 'aws'}\0${bucket}\0${prefix}`).digest('hex').slice(0, 16));
    const cache = await DownloadCache.create({ dir: cacheDir, maxBytes: options.cacheMaxBytes ?? defaultS3CacheMaxBytes });
    const store = new S3ObjectStore(createClient(options), cache, {
      bucket,
      prefix,
      retryPolicy: options.retryPolicy ?? defaultRetryPolicy,
      clock: options.clock ?? systemClock,
      onRetry: options.onRetry,
      multipartThresholdBytes: options.multipartThresholdBytes ?? defaultMultipartThresholdBytes,
      multipartPartBytes: Math.max(MIN_PART_BYTES, options.multipartPartBytes ?? defaultMultipartPartBytes),
      secrets: secretsOf(options),
    });
    try {
      if (options.createBucketIfMissing) await store.createOwnBucket(options.region);
      if (checkBucket) await store.checkBucket();
    } catch (error) {
      store.client.destroy();
      throw error;
    }
    return store;
  }

  /**
   * Creates a bucket (already existing and owned by you is fine).
   *
   * @example
   * await S3ObjectStore.createBucket({ bucket: 'lake', endpoint: 'http://127.0.0.1:9000' });
   */
  static async createBucket(options: S3ConnectionOptions & { readonly bucket: string }): Promise<void> {
    const store = await S3ObjectStore.create({ ...options, createBucketIfMissing: true });
    await store.close();
  }

  /** Deletes every object in a bucket, then the bucket; a missing bucket is fine. For tests and teardown. */
  static async deleteBucket(options: S3ConnectionOptions & { readonly bucket: string }): Promise<void> {
    const store = await S3ObjectStore.open(options, false);
    try {
      if (!(await store.bucketExists())) return;
      await store.delete((await store.listAll('')).map((o) => o.key));
      await store.call('delete bucket', '', () => store.client.send(new DeleteBucketCommand({ Bucket: store.bucket })));
    } finally {
      await store.close();
    }
  }

  async get(key: ObjectKey): Promise<Buffer> {
    const body = await this.getIfExists(key);
    if (body === undefined) throw new ObjectNotFound(key, this.description);
    return body;
  }

  async getIfExists(key: ObjectKey): Promise<Buffer | undefined> {
    const fullKey = this.fullKey(key);
    return this.call('read', key, async () => {
      try {
        const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
        return await readBody(response.Body, response.ContentLength);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  async getRange(key: ObjectKey, start: number, endExclusive: number): Promise<Buffer> {
    const fullKey = this.fullKey(key);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(endExclusive) || start < 0) {
      throw new StorageError(`Failed to read ${key} in ${this.description}: invalid range [${start}, ${endExclusive})`, key);
    }
    if (endExclusive <= start) {
      if (!(await this.head(key))) throw new ObjectNotFound(key, this.description);
      return Buffer.alloc(0);
    }
    const body = await this.call('read', key, async () => {
      try {
        const response = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: fullKey, Range: `bytes=${start}-${endExclusive - 1}` }),
        );
        return await readBody(response.Body, response.ContentLength);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        // 416: the range starts at or past the end; like a file read there, that is zero bytes.
        if (httpStatusOf(error) === 416 || errorCodeOf(error) === 'InvalidRange') return Buffer.alloc(0);
        throw error;
      }
    });
    if (body === undefined) throw new ObjectNotFound(key, this.description);
    return body;
  }

  async put(key: ObjectKey, body: Buffer | string): Promise<void> {
    const fullKey = this.fullKey(key);
    const bytes = toBuffer(body);
    await this.call('write', key, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: fullKey, Body: bytes, ContentLength: bytes.length })),
    );
  }

  async putFile(key: ObjectKey, localPath: string): Promise<void> {
    const fullKey = this.fullKey(key);
    let sizeBytes: number;
    try {
      sizeBytes = (await stat(localPath)).size;
    } catch (error) {
      throw this.failure('upload', key, error, ` (reading local file ${localPath})`);
    }
    if (sizeBytes < this.settings.multipartThresholdBytes) {
      let bytes: Buffer;
      try {
        bytes = await readFile(localPath);
      } catch (error) {
        throw this.failure('upload', key, error, ` (reading local file ${localPath})`);
      }
      await this.put(key, bytes);
      return;
    }
    await this.putMultipart(key, fullKey, localPath, sizeBytes);
  }

  async putIfAbsent(key: ObjectKey, body: Buffer | string): Promise<PutIfAbsentResult> {
    this.fullKey(key);
    // Where the endpoint ignores If-None-Match, looking first keeps a single writer correct;
    // it is not atomic against other writers, hence the single-writer rule (SPEC §4).
    if (!(await this.conditionalWrites()) && (await this.head(key)) !== undefined) return { written: false };
    return this.putIfNoneMatch(key, body);
  }

  /** `PutObject` with `If-None-Match: *`, trusting the endpoint to enforce it. */
  private async putIfNoneMatch(key: ObjectKey, body: Buffer | string): Promise<PutIfAbsentResult> {
    const fullKey = this.fullKey(key);
    const bytes = toBuffer(body);
    let retried = false;
    const written = await this.call('write', key, async (attempt) => {
      retried = attempt > 1;
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: fullKey, Body: bytes, ContentLength: bytes.length, IfNoneMatch: '*' }),
        );
        return true;
      } catch (error) {
        if (isPreconditionFailed(error)) return false;
        throw error;
      }
    });
    if (written) return { written: true };
    // After a retry, a refusal may answer our own earlier attempt whose response was lost:
    // the object then holds exactly our bytes (commit bodies are unique), so it is ours.
    if (retried) {
      const existing = await this.getIfExists(key);
      if (existing?.equals(bytes)) return { written: true };
    }
    return { written: false };
  }

  async head(key: ObjectKey): Promise<ObjectInfo | undefined> {
    const fullKey = this.fullKey(key);
    return this.call('stat', key, async () => {
      try {
        const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }));
        return toInfo(key, response.ContentLength, response.LastModified, response.ETag);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    checkPrefix(prefix);
    const maxKeys = Math.min(1000, Math.max(0, options.maxKeys ?? 1000));
    const response = await this.call('list', prefix, () =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + prefix,
          MaxKeys: maxKeys,
          ...(options.startAfter === undefined ? {} : { StartAfter: this.keyPrefix + options.startAfter }),
          ...(options.continuationToken === undefined ? {} : { ContinuationToken: options.continuationToken }),
        }),
      ),
    );
    const objects = (response.Contents ?? []).flatMap((o) =>
      o.Key === undefined ? [] : [toInfo(o.Key.slice(this.keyPrefix.length), o.Size, o.LastModified, o.ETag)],
    );
    return { objects, continuationToken: response.IsTruncated ? response.NextContinuationToken : undefined };
  }

  async listAll(prefix: string, options: Omit<ListOptions, 'continuationToken'> = {}): Promise<ObjectInfo[]> {
    const limit = options.maxKeys ?? Number.POSITIVE_INFINITY;
    const found: ObjectInfo[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.list(prefix, {
        ...(options.startAfter === undefined ? {} : { startAfter: options.startAfter }),
        ...(continuationToken === undefined ? {} : { continuationToken }),
        maxKeys: Math.min(1000, limit - found.length),
      });
      found.push(...page.objects);
      continuationToken = page.continuationToken;
    } while (continuationToken !== undefined && found.length < limit);
    return found;
  }

  /**
   * Skips from folder to folder with one-key listings (`StartAfter` = the folder's name
   * followed by '0', the character after '/'): one small request per folder, plus one per
   * folder for names that extend it with '-' (below). It never sends `Delimiter`: s3rver
   * 3.x answers a Delimiter listing without the folders that hold only sub-folders (a
   * partitioned table's `bronze/orders/`), and a lake must not lose tables to that.
   */
  async listPrefixes(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    const found = new Set<string>();
    await this.skipFolders(base, base, found);
    return [...found].sort();
  }

  /** Adds to `found` the folders of `base` whose keys start with `listPrefix`. */
  private async skipFolders(base: string, listPrefix: string, found: Set<string>): Promise<void> {
    const lookAlikes: Promise<void>[] = [];
    let startAfter: string | undefined;
    try {
      for (;;) {
        const page = await this.list(listPrefix, { maxKeys: 1, ...(startAfter === undefined ? {} : { startAfter }) });
        const first = page.objects[0];
        if (!first) break;
        if (startAfter !== undefined && first.key <= startAfter) {
          throw new StorageError(
            `Failed to list the folders under ${base || '/'} in ${this.description}: the endpoint ignores StartAfter ` +
              `(asked for keys after ${startAfter}, it answered ${first.key}). lakeloop finds tables with StartAfter ` +
              'listings; use an endpoint that honours it (AWS S3, MinIO, s3rver).',
            base,
          );
        }
        const slash = first.key.indexOf('/', base.length);
        if (slash === -1) {
          startAfter = first.key;
          continue;
        }
        const name = first.key.slice(0, slash);
        if (!found.has(`${name}/`)) {
          found.add(`${name}/`);
          // s3rver lists depth-first (`t/…` before `t-1/…`), not in key order, so the jump
          // past `t0` would skip `t-1/`: look for names that extend this one with '-', the
          // one character below '/' that table names may hold.
          const probe = this.skipFolders(base, `${name}-`, found);
          probe.catch(() => undefined);
          lookAlikes.push(probe);
        }
        startAfter = `${name}0`;
      }
    } finally {
      await Promise.allSettled(lookAlikes);
    }
    await Promise.all(lookAlikes);
  }

  async delete(keys: readonly ObjectKey[]): Promise<void> {
    const fullKeys = keys.map((key) => this.fullKey(key));
    for (let i = 0; i < fullKeys.length; i += DELETE_BATCH) {
      const batch = fullKeys.slice(i, i + DELETE_BATCH);
      const firstKey = keys[i] ?? '';
      const response = await this.call('delete', firstKey, () =>
        this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        ),
      );
      const errors = (response.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      const first = errors[0];
      if (first) {
        const key = (first.Key ?? firstKey).slice(this.keyPrefix.length);
        const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
        throw new StorageError(
          `Failed to delete ${key} in ${this.description}: ${first.Code ?? 'error'}: ${first.Message ?? 'no reason given'}${more}`,
          key,
        );
      }
    }
  }

  async localPath(key: ObjectKey): Promise<string> {
    const fullKey = this.fullKey(key);
    for (let round = 1; ; round++) {
      const info = await this.head(key);
      if (!info) throw new ObjectNotFound(key, this.description);
      try {
        return await this.cache.fetch(`${this.description}\0${key}\0${info.etag}`, key, (tempPath) =>
          this.call('download', key, async () => {
            // If-Match: the bytes must be the version the cache entry is named after.
            const response = await this.client.send(
              new GetObjectCommand({ Bucket: this.bucket, Key: fullKey, IfMatch: quoteEtag(info.etag) }),
            );
            await writeBody(response.Body, response.ContentLength, tempPath);
          }),
        );
      } catch (error) {
        // The object was replaced between HEAD and GET: look it up again.
        if (round < 3 && error instanceof StorageError && isPreconditionFailed(error.cause)) continue;
        if (error instanceof StorageError && isNotFound(error.cause)) throw new ObjectNotFound(key, this.description);
        if (error instanceof LakeloopError) throw error;
        throw this.failure('download', key, error, ` (cache ${this.cache.dir})`);
      }
    }
  }

  conditionalWrites(): Promise<boolean> {
    this.probe ??= this.probeConditionalWrites().catch((error: unknown) => {
      this.probe = undefined;
      throw error;
    });
    return this.probe;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Writes a probe object twice with If-None-Match: enforced only if the second write is refused. */
  private async probeConditionalWrites(): Promise<boolean> {
    const key = `_lakeloop/probe/${randomBytes(12).toString('hex')}`;
    try {
      await this.putIfNoneMatch(key, `lakeloop conditional-write probe 1 ${key}`);
      const second = await this.putIfNoneMatch(key, `lakeloop conditional-write probe 2 ${key}`);
      return !second.written;
    } catch (error) {
      // Endpoints that reject the header outright (501 Not Implemented) do not enforce it either.
      if (error instanceof StorageError && httpStatusOf(error.cause) === 501) return false;
      throw error;
    } finally {
      await this.delete([key]).catch(() => undefined);
    }
  }

  private async putMultipart(key: ObjectKey, fullKey: string, localPath: string, sizeBytes: number): Promise<void> {
    const created = await this.call('upload', key, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey })),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new StorageError(`Failed to upload ${key} in ${this.description}: no UploadId returned`, key);
    try {
      const partBytes = Math.max(this.settings.multipartPartBytes, Math.ceil(sizeBytes / MAX_PARTS));
      const partCount = Math.ceil(sizeBytes / partBytes);
      const parts: CompletedPart[] = new Array<CompletedPart>(partCount);
      const handle = await open(localPath, 'r').catch((error: unknown) => {
        throw this.failure('upload', key, error, ` (reading local file ${localPath})`);
      });
      try {
        await forEachLimited(partCount, UPLOAD_CONCURRENCY, async (index) => {
          const offset = index * partBytes;
          const length = Math.min(partBytes, sizeBytes - offset);
          const chunk = Buffer.alloc(length);
          const { bytesRead } = await handle.read(chunk, 0, length, offset);
          if (bytesRead !== length) {
            throw new StorageError(`Failed to upload ${key} in ${this.description}: ${localPath} changed while uploading`, key);
          }
          const response = await this.call('upload', key, () =>
            this.client.send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key: fullKey,
                UploadId: uploadId,
                PartNumber: index + 1,
                Body: chunk,
                ContentLength: length,
              }),
            ),
          );
          parts[index] = { ETag: response.ETag, PartNumber: index + 1 };
        });
      } finally {
        await handle.close();
      }
      await this.call('upload', key, async (attempt) => {
        try {
          await this.client.send(
            new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
          );
        } catch (error) {
          // A retried Complete whose first try succeeded (response lost) finds no upload: check the object.
          if (attempt > 1 && errorCodeOf(error) === 'NoSuchUpload') {
            const info = await this.head(key);
            if (info?.sizeBytes === sizeBytes) return;
          }
          throw error;
        }
      });
    } catch (error) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: fullKey, UploadId: uploadId }))
        .catch(() => undefined);
      if (error instanceof LakeloopError) throw error;
      throw this.failure('upload', key, error);
    }
  }

  private async createOwnBucket(region: string | undefined): Promise<void> {
    await this.call('create bucket', '', async () => {
      try {
        await this.client.send(
          new CreateBucketCommand({
            Bucket: this.bucket,
            ...(region && region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}),
          }),
        );
      } catch (error) {
        const code = errorCodeOf(error);
        if (code === 'BucketAlreadyOwnedByYou' || code === 'BucketAlreadyExists') return;
        throw error;
      }
    });
  }

  private async checkBucket(): Promise<void> {
    if (await this.bucketExists()) return;
    throw new StorageError(`Failed to open ${this.description}: the bucket ${this.bucket} does not exist`, '', {
      hint: 'Create the bucket, or fix the lake root (s3://bucket/prefix).',
    });
  }

  private bucketExists(): Promise<boolean> {
    return this.call('open bucket', '', async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
        return true;
      } catch (error) {
        // HEAD has no body: a missing bucket is a bare 404.
        if (httpStatusOf(error) === 404 || isNoSuchBucket(error)) return false;
        throw error;
      }
    });
  }

  private fullKey(key: ObjectKey): string {
    return this.keyPrefix + checkKey(key);
  }

  /** Runs one S3 request under the retry policy; a final failure becomes a `StorageError`. */
  private async call<T>(verb: string, key: string, operation: (attempt: number) => Promise<T>): Promise<T> {
    try {
      return await withRetry(operation, {
        isRetryable: (error) => !(error instanceof LakeloopError) && isTransientS3Error(error),
        policy: this.settings.retryPolicy,
        clock: this.settings.clock,
        onRetry: (error, attempt, delayMs) =>
          this.settings.onRetry?.({ operation: verb, key, attempt, delayMs, reason: describeS3Error(error, this.secrets) }),
      });
    } catch (error) {
      if (error instanceof LakeloopError) throw error;
      throw this.failure(verb, key, error);
    }
  }

  private failure(verb: string, key: string, error: unknown, detail = ''): StorageError {
    const what = key === '' ? '' : ` ${key}`;
    const hint = hintFor(error);
    return new StorageError(`Failed to ${verb}${what} in ${this.description}${detail}: ${describeS3Error(error, this.secrets)}`, key, {
      cause: error,
      retryable: isTransientS3Error(error),
      ...(hint === undefined ? {} : { hint }),
    });
  }
}

function createClient(options: S3ConnectionOptions): S3Client {
  const timeoutMs = options.requestTimeoutMs ?? defaultS3RequestTimeoutMs;
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (options.endpoint ? 'us-east-1' : undefined);
  const config: S3ClientConfig = {
    // Our withRetry policy is the only one: the SDK must not multiply attempts.
    maxAttempts: 1,
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    followRegionRedirects: options.endpoint === undefined,
    requestHandler: {
      connectionTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      httpAgent: { keepAlive: true, maxSockets: 64 },
      httpsAgent: { keepAlive: true, maxSockets: 64 },
    },
    ...(options.endpoint === undefined
      ? {}
      : {
          endpoint: options.endpoint,
          // S3-compatible stores (s3rver, older MinIO, R2) lag behind AWS's default flexible checksums.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }),
    ...(region === undefined ? {} : { region }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
  };
  return new S3Client(config);
}

function secretsOf(options: S3ConnectionOptions): string[] {
  return [
    options.credentials?.secretAccessKey,
    options.credentials?.sessionToken,
    process.env.AWS_SECRET_ACCESS_KEY,
    process.env.AWS_SESSION_TOKEN,
  ].filter((s): s is string => typeof s === 'string' && s !== '');
}

function toBuffer(body: Buffer | string): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

function toInfo(key: ObjectKey, size: number | undefined, lastModified: Date | undefined, etag: string | undefined): ObjectInfo {
  return {
    key,
    sizeBytes: size ?? 0,
    lastModifiedMs: lastModified?.getTime() ?? 0,
    etag: (etag ?? '').replace(/^"|"$/g, ''),
  };
}

function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

function asReadable(body: unknown): Readable {
  if (body instanceof Readable) return body;
  throw Object.assign(new Error('the response has no readable body'), { name: 'TruncatedResponse' });
}

/** Reads a response body whole; a short body (connection cut mid-way) is a retryable error. */
async function readBody(body: unknown, expectedBytes: number | undefined): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  for await (const chunk of asReadable(body)) chunks.push(chunk as Uint8Array);
  const bytes = Buffer.concat(chunks);
  checkLength(bytes.length, expectedBytes);
  return bytes;
}

async function writeBody(body: unknown, expectedBytes: number | undefined, path: string): Promise<void> {
  await pipeline(asReadable(body), createWriteStream(path));
  const handle = await open(path, 'r+');
  try {
    // The cache renames this file into place: its bytes must be on disk first.
    await handle.sync();
    checkLength((await handle.stat()).size, expectedBytes);
  } finally {
    await handle.close();
  }
}

function checkLength(actual: number, expected: number | undefined): void {
  if (expected !== undefined && actual !== expected) {
    throw Object.assign(new Error(`the response body ended after ${actual} of ${expected} bytes`), { name: 'TruncatedResponse' });
  }
}

/** Runs `task(0..count-1)` with at most `limit` at once; stops starting new ones after the first failure. */
async function forEachLimited(count: number, limit: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, count) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
