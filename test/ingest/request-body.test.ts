import { describe, expect, it } from 'vitest';
import { splitRequestBody } from '../../src/ingest/index.js';

/** Which request bodies may take the collector's fast path: every record a line that starts with `{`. */
describe('splitRequestBody objectLines', () => {
  it('is true for NDJSON objects (blank lines dropped) and JSON arrays of objects', () => {
    expect(splitRequestBody(Buffer.from('{"a":1}\n{"a":2}\n')).objectLines).toBe(true);
    expect(splitRequestBody(Buffer.from('{"a":1}\n\n{"a":2}')).objectLines).toBe(true);
    expect(splitRequestBody(Buffer.from('[{"a":1},\n {"a":2}]')).objectLines).toBe(true);
  });

  it('is false when a record does not start with { (leading space, a scalar, an array element that is not an object) or there is none', () => {
    expect(splitRequestBody(Buffer.from('{"a":1}\n {"a":2}\n')).objectLines).toBe(false);
    expect(splitRequestBody(Buffer.from('{"a":1}\n42\n')).objectLines).toBe(false);
    expect(splitRequestBody(Buffer.from('[{"a":1}, 7]')).objectLines).toBe(false);
    expect(splitRequestBody(Buffer.from('')).objectLines).toBe(false);
    expect(splitRequestBody(Buffer.from('[]')).objectLines).toBe(false);
  });
});
