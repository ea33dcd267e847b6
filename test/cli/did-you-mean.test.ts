import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/child.js';
import { cli, tempDir } from './cli-harness.js';
import { buildFixtureLake } from './lake-fixture.js';

/** A misspelled table, model or source gets a "did you mean" naming the near one. */
let dir: string;
let remove: () => Promise<void>;
let lake: string;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-did-you-mean'));
  lake = join(dir, 'lake');
  await buildFixtureLake(lake);
});
afterAll(async () => remove());

describe('did you mean', () => {
  it('query with a misspelled table', async () => {
    const run = await cli(['--lake', lake, 'query', 'select * from gold.daily_revenu'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('hint: Did you mean gold.daily_revenue? Known tables: bronze.orders, gold.daily_revenue.');
  });

  it('inspect with a misspelled table', async () => {
    const run = await cli(['--lake', lake, 'inspect', 'bronze.ordrs'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('hint: Did you mean bronze.orders?');
  });

  it('compact with a misspelled table', async () => {
    const run = await cli(['--lake', lake, 'compact', 'bronze.ordres'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('hint: Did you mean bronze.orders? Tables:');
  });

  it('ingest with a misspelled source', async () => {
    const run = await cli(['--lake', join(dir, 'ingest-lake'), 'ingest', 'orderz', '--file', join(dir, 'none.ndjson')], PROJECT_ROOT);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: Unknown source "orderz"');
    expect(run.stderr).toContain('hint: Did you mean orders? Known sources (contracts/*.ts):');
  });

  it('run and test with a misspelled model', async () => {
    for (const verb of ['run', 'test']) {
      const run = await cli(['--lake', join(dir, 'run-lake'), verb, 'silver.orderz'], PROJECT_ROOT);
      expect(run.code, verb).toBe(2);
      expect(run.stderr).toContain('error: Unknown model silver.orderz');
      expect(run.stderr).toContain('error: Unknown model silver.orderz: did you mean silver.orders?');
      expect(run.stderr).toContain('hint: Models:');
    }
  });
});
