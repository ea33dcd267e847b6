import { describe, expect, it } from 'vitest';
import { describeS3Error, isNotFound, isPreconditionFailed, isTransientS3Error } from '../../src/storage/s3-errors.js';

/** Errors shaped like the AWS SDK's (name/Code, $metadata.httpStatusCode) and Node's (code). */
const sdkError = (name: string, status?: number, message = name): Error =>
  Object.assign(new Error(message), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }) });

describe('S3 error classification', () => {
  it.each([
    ['SlowDown', 503],
    ['InternalError', 500],
    ['ServiceUnavailable', 503],
    ['Unknown', 502],
    ['TooManyRequestsException', 429],
    ['RequestTimeout', 400],
    ['TimeoutError', undefined],
  ])('%s (HTTP %s) is transient', (name, status) => {
    expect(isTransientS3Error(sdkError(name, status))).toBe(true);
  });

  it.each([
    ['NoSuchKey', 404],
    ['AccessDenied', 403],
    ['PreconditionFailed', 412],
    ['NotImplemented', 501],
    ['InvalidArgument', 400],
  ])('%s (HTTP %s) is final', (name, status) => {
    expect(isTransientS3Error(sdkError(name, status))).toBe(false);
  });

  it('connection resets and refusals are transient', () => {
    expect(isTransientS3Error(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientS3Error(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientS3Error(new Error('socket hang up'))).toBe(true);
    expect(isTransientS3Error(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere'), { code: 'ENOTFOUND' }))).toBe(false);
  });

  it('tells refusals and absences apart', () => {
    expect(isPreconditionFailed(sdkError('PreconditionFailed', 412))).toBe(true);
    expect(isPreconditionFailed(Object.assign(sdkError('ConditionalRequestConflict', 409), { Code: 'ConditionalRequestConflict' }))).toBe(true);
    expect(isPreconditionFailed(sdkError('BucketAlreadyExists', 409))).toBe(false);
    expect(isNotFound(sdkError('NoSuchKey', 404))).toBe(true);
    expect(isNotFound(sdkError('NotFound', 404))).toBe(true);
    expect(isNotFound(sdkError('NoSuchBucket', 404))).toBe(false);
  });

  it('describes an error in one line and redacts secrets', () => {
    expect(describeS3Error(sdkError('SlowDown', 503, 'Please reduce your request rate.'))).toBe(
      'SlowDown (HTTP 503): Please reduce your request rate.',
    );
    expect(describeS3Error(sdkError('Unknown', 500, 'UnknownError'))).toBe('HTTP 500 Internal Server Error');
    expect(describeS3Error(new Error('bad signature for key wJalrXUtnFEMI/K7MDENG'), ['wJalrXUtnFEMI/K7MDENG'])).toBe(
      'bad signature for key ***',
    );
  });
});
