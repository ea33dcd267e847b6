import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/child.js';
import { cli, tempDir } from './cli-harness.js';

/** `ingest --format json` on a file that is not one JSON array speaks of the file and its lines, not of a request. */
let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-ingest-json'));
});
afterAll(async () => remove());

describe('ingest --format json errors', () => {
  it('NDJSON read as json names the line and points at ndjson', async () => {
    const file = join(dir, 'orders.ndjson');
    await writeFile(file, '{"order_id":"a"}\n{"order_id":"b"}\n');
    const run = await cli(['--lake', join(dir, 'lake'), 'ingest', 'orders', '--file', file, '--format', 'json'], PROJECT_ROOT);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: Failed to read the file as one JSON array of records: line 2: unexpected content after document');
    expect(run.stderr).toContain('--format ndjson');
    expect(run.stderr).not.toMatch(/body|Send|request/);
  });

  it('a JSON object instead of an array says so', async () => {
    const file = join(dir, 'one.json');
    await writeFile(file, '{"order_id":"a"}');
    const run = await cli(['--lake', join(dir, 'lake'), 'ingest', 'orders', '--file', file, '--format', 'json'], PROJECT_ROOT);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the document is a JSON object');
    expect(run.stderr).not.toMatch(/body|Send|request/);
  });
});
