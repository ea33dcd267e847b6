import { STATUS_CODES } from 'node:http';

/**
 * How S3 failures are classified and described. Works on the shape of the SDK's errors
 * (`name`, `Code`, `$metadata.httpStatusCode`, Node's `code`) so it needs no SDK import.
 */

/** The fields of an AWS SDK / Node error this module looks at. */
interface ErrorShape {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly Code?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  readonly cause?: unknown;
}

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'PriorRequestNotComplete',
  'TruncatedResponse',
]);

// Connection-level failures: the request may never have reached the server, or its
// answer was lost; every operation we send is idempotent (or checked, see putIfAbsent).
const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const CREDENTIAL_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);

function shape(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : {};
}

/** The HTTP status of an SDK error, when it came from a response. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = shape(error).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The S3 error code (`NoSuchKey`, `SlowDown`, ...) or the error's name. */
export function errorCodeOf(error: unknown): string | undefined {
  const { Code, name } = shape(error);
  if (typeof Code === 'string' && Code !== '') return Code;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Whether repeating the request may succeed: 5xx (but 501), 429, throttling codes,
 * timeouts and connection resets. 4xx answers (404, 403, 412, ...) are final.
 */
export function isTransientS3Error(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 4; depth++) {
    const e = shape(current);
    const status = httpStatusOf(current);
    if (status !== undefined) {
      if (status === 429 || (status >= 500 && status !== 501)) return true;
      if (status >= 400) return TRANSIENT_NAMES.has(errorCodeOf(current) ?? '');
    }
    if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
    if (typeof e.Code === 'string' && TRANSIENT_NAMES.has(e.Code)) return true;
    if (typeof e.code === 'string' && TRANSIENT_NODE_CODES.has(e.code)) return true;
    if (typeof e.message === 'string' && /socket hang up|aborted|premature close/i.test(e.message)) return true;
    if (e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false) return true;
    current = e.cause;
  }
  return false;
}

/** Whether a conditional write was refused because the object exists (412, or S3's 409 race answer). */
export function isPreconditionFailed(error: unknown): boolean {
  const status = httpStatusOf(error);
  const code = errorCodeOf(error);
  return status === 412 || code === 'PreconditionFailed' || (status === 409 && code === 'ConditionalRequestConflict');
}

/** Whether the object (or, for HEAD, the object or bucket) is absent. */
export function isNotFound(error: unknown): boolean {
  const code = errorCodeOf(error);
  return httpStatusOf(error) === 404 ? code !== 'NoSuchBucket' && code !== 'NoSuchUpload' : code === 'NoSuchKey' || code === 'NotFound';
}

/** Whether the bucket itself is missing. */
export function isNoSuchBucket(error: unknown): boolean {
  return errorCodeOf(error) === 'NoSuchBucket';
}

/** What the user should check for an error, if we can tell. */
export function hintFor(error: unknown): string | undefined {
  const code = errorCodeOf(error) ?? '';
  const status = httpStatusOf(error);
  if (CREDENTIAL_NAMES.has(code) || status === 403) {
    return 'Check the S3 credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and that they may access this bucket.';
  }
  if (code === 'NoSuchBucket') return 'Create the bucket, or fix the lake root (s3://bucket/prefix).';
  if (isTransientS3Error(error)) return 'The store kept failing after retries; check the endpoint and try again.';
  return undefined;
}

/**
 * A one-line reason for a message: `SlowDown (HTTP 503): Please reduce your request rate.`
 * Any of `secrets` that appears in it is replaced by `***`.
 */
export function describeS3Error(error: unknown, secrets: readonly string[] = []): string {
  const e = shape(error);
  const code = errorCodeOf(error);
  const status = httpStatusOf(error);
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(error);
  // Bodiless answers (HEAD) leave the SDK only the status: say that rather than "UnknownError".
  if (status !== undefined && (code === undefined || code === 'Unknown' || code === 'UnknownError' || /^\d+$/.test(code))) {
    return redact(`HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim(), secrets);
  }
  let text = code && code !== 'Error' && !message.startsWith(code) ? `${code}${status ? ` (HTTP ${status})` : ''}: ${message}` : message;
  if (status && !text.includes(`HTTP ${status}`)) text = `${text} (HTTP ${status})`;
  if (typeof e.code === 'string' && !text.includes(e.code)) text = `${text} [${e.code}]`;
  return redact(text, secrets);
}

/** Replaces every occurrence of a secret (at least 4 characters long) with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return out;
}
