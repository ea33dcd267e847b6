import { fileURLToPath } from 'node:url';
import { StorageError } from '../core/index.js';
import { LocalObjectStore } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';
import type { S3StoreOptions } from './s3-object-store.js';
import { isS3Url, parseS3Url } from './s3-location.js';

/** S3 settings for `openObjectStore`; the bucket and prefix come from the root URL. */
export type OpenS3Options = Omit<S3StoreOptions, 'bucket' | 'prefix'>;

export interface OpenStoreOptions {
  readonly s3?: OpenS3Options;
  /** Where `LAKELOOP_*` variables are read from (default `process.env`); tests pass their own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The environment variables `openObjectStore` reads for S3 roots; explicit options win.
 * Credentials and region are read by the AWS SDK's own chain, not here: `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_PROFILE`, `AWS_REGION` (lakeloop also
 * falls back to `AWS_DEFAULT_REGION`), `~/.aws/config`, SSO and instance roles.
 */
export const storeEnvVars = Object.freeze({
  /** S3-compatible endpoint URL, e.g. `http://127.0.0.1:9000` (MinIO). */
  endpoint: 'LAKELOOP_S3_ENDPOINT',
  /** `true`/`false`: path-style URLs (default true when an endpoint is set). */
  forcePathStyle: 'LAKELOOP_S3_FORCE_PATH_STYLE',
  /** Directory of the `localPath` download cache. */
  cacheDir: 'LAKELOOP_S3_CACHE_DIR',
  /** Size cap of the download cache in bytes. */
  cacheMaxBytes: 'LAKELOOP_S3_CACHE_MAX_BYTES',
});

/**
 * Opens the object store for a lake root: `s3://bucket/prefix` → `S3ObjectStore`,
 * `file:///path` or any other path → `LocalObjectStore` (created if missing).
 *
 * @example
 * const store = await openObjectStore('s3://lake/prod', { s3: { endpoint: 'http://127.0.0.1:9000' } });
 * const local = await openObjectStore('./lake');
 */
export async function openObjectStore(root: string, options: OpenStoreOptions = {}): Promise<ObjectStore> {
  if (isS3Url(root)) {
    const { bucket, prefix } = parseS3Url(root);
    const { S3ObjectStore } = await import('./s3-object-store.js');
    return S3ObjectStore.create({ ...s3OptionsFromEnv(options.env ?? process.env), ...definedOnly(options.s3 ?? {}), bucket, prefix });
  }
  if (/^file:\/\//i.test(root)) return LocalObjectStore.create(fileURLToPath(root));
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(root)?.[1];
  if (scheme !== undefined) {
    throw new StorageError(`Failed to open lake root ${root}: ${scheme}:// is not supported`, root, {
      hint: 'Use a local directory or s3://bucket/prefix (with LAKELOOP_S3_ENDPOINT for MinIO, R2 and other S3-compatible stores).',
    });
  }
  return LocalObjectStore.create(root);
}

/** The S3 options given by `LAKELOOP_*` environment variables (see `storeEnvVars`). */
export function s3OptionsFromEnv(env: Readonly<Record<string, string | undefined>>): OpenS3Options {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const endpoint = read(storeEnvVars.endpoint);
  const pathStyle = read(storeEnvVars.forcePathStyle);
  const cacheDir = read(storeEnvVars.cacheDir);
  const cacheMax = read(storeEnvVars.cacheMaxBytes);
  const options: { -readonly [K in keyof OpenS3Options]: OpenS3Options[K] } = {};
  if (endpoint !== undefined) options.endpoint = endpoint;
  if (pathStyle !== undefined) {
    if (!/^(true|false|1|0)$/i.test(pathStyle)) throw envError(storeEnvVars.forcePathStyle, pathStyle, 'true or false');
    options.forcePathStyle = /^(true|1)$/i.test(pathStyle);
  }
  if (cacheDir !== undefined) options.cacheDir = cacheDir;
  if (cacheMax !== undefined) {
    const bytes = Number(cacheMax);
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw envError(storeEnvVars.cacheMaxBytes, cacheMax, 'a whole number of bytes');
    options.cacheMaxBytes = bytes;
  }
  return options;
}

function envError(name: string, value: string, expected: string): StorageError {
  return new StorageError(`Failed to read ${name}: ${JSON.stringify(value)} is not ${expected}`, name, {
    hint: `Fix or unset ${name}.`,
  });
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
