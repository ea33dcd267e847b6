import { StorageError } from '../core/index.js';
import { checkKey } from './keys.js';

/** A bucket and a key prefix inside it (no leading or trailing `/`; `''` for the bucket root). */
export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Whether a lake root names an S3 location (`s3://...`). */
export function isS3Url(root: string): boolean {
  return /^s3:\/\//i.test(root);
}

/**
 * Parses `s3://bucket/some/prefix` (a trailing `/` is ignored).
 *
 * @example
 * parseS3Url('s3://lake/prod/') // { bucket: 'lake', prefix: 'prod' }
 */
export function parseS3Url(url: string): S3Location {
  if (!isS3Url(url)) throw new StorageError(`Failed to parse lake root ${url}: expected s3://bucket/prefix`, url);
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1);
  return { bucket: checkBucketName(bucket, url), prefix: normalizePrefix(prefix, url) };
}

/** Checks a bucket name against S3's rules (3–63 lowercase letters, digits, `.` and `-`). */
export function checkBucketName(bucket: string, where: string = bucket): string {
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new StorageError(`Failed to parse lake root ${where}: ${JSON.stringify(bucket)} is not a valid bucket name`, where, {
      hint: 'Bucket names are 3-63 characters: lowercase letters, digits, dots and hyphens.',
    });
  }
  return bucket;
}

/** `'/a/b/'` → `'a/b'`; refuses `..`, `//` and other hostile segments. */
export function normalizePrefix(prefix: string, where: string = prefix): string {
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  try {
    return checkKey(trimmed);
  } catch (error) {
    throw new StorageError(`Failed to parse lake root ${where}: the prefix ${JSON.stringify(prefix)} is not a safe key prefix`, where, {
      cause: error,
    });
  }
}

/** `s3://bucket` or `s3://bucket/prefix`, for messages. */
export function formatS3Url(location: S3Location): string {
  return location.prefix === '' ? `s3://${location.bucket}` : `s3://${location.bucket}/${location.prefix}`;
}
