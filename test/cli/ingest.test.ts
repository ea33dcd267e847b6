import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/child.js';
import { cli, tempDir } from './cli-harness.js';

/** `lakeloop ingest` and the source counters in `status`, on the default project's orders contract. */
let dir: string;
let remove: () => Promise<void>;
let lake: string;

const order = (id: string, status = 'paid'): string =>
  JSON.stringify({ order_id: id, customer_id: 'c1', status, amount: 12.5, currency: 'EUR', country: 'DE', item_count: 1, order_ts: '2026-10-01T10:00:00Z' });

beforeAll(async () => {
  ({ dir, remove } = await tempDir('lakeloop-cli-ingest-'));
  lake = join(dir, 'lake');
});

afterAll(async () => remove());

describe('lakeloop ingest', () => {
  it('lands a file, reports the summary, counts it in status, and skips a re-send with the same key', async () => {
    const file = join(dir, 'orders.ndjson');
    await writeFile(file, `${order('ord_1')}\n${order('ord_2', 'lost')}\n{oops\n${order('ord_3')}\n`);
    const first = await cli(['--lake', lake, 'ingest', 'orders', '--file', file, '--idempotency-key', 'k1', '--json'], PROJECT_ROOT);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toMatchObject({ source: 'orders', received: 4, landed: 2, quarantined: 2, duplicates: 0, batches: 1 });

    const again = await cli(['--lake', lake, 'ingest', 'orders', '--file', file, '--idempotency-key', 'k1'], PROJECT_ROOT);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^orders: 0 landed, 0 quarantined, 4 duplicates skipped/);

    const status = await cli(['--lake', lake, 'status', '--json'], PROJECT_ROOT);
    expect(status.json<{ sources: unknown[] }>().sources).toEqual([
      expect.objectContaining({ source: 'orders', received: 4, landed: 2, quarantined: 2, duplicates: 4, batches: 1 }),
    ]);
    const human = await cli(['--lake', lake, 'status'], PROJECT_ROOT);
    expect(human.stdout).toMatch(/sources:\n\s+source\s+received\s+landed\s+quarantined\s+duplicates/);

    const rejects = await cli(['--lake', lake, 'query', 'select line, field from quarantine.orders order by line', '--format', 'csv'], PROJECT_ROOT);
    expect(rejects.stdout).toBe('line,field\n2,status\n3,\n');
  });

  it("--file 'h[12].ndjson' lands that file, not h1.ndjson and h2.ndjson", async () => {
    const files = join(dir, 'globby');
    await mkdir(files, { recursive: true });
    await writeFile(join(files, 'h1.ndjson'), `${order('ord_h1')}\n`);
    await writeFile(join(files, 'h2.ndjson'), `${order('ord_h2')}\n`);
    await writeFile(join(files, 'h[12].ndjson'), `${order('ord_h12a')}\n${order('ord_h12b')}\n${order('ord_h12c')}\n`);
    const globLake = join(dir, 'glob-lake');
    const run = await cli(['--lake', globLake, 'ingest', 'orders', '--file', join(files, 'h[12].ndjson'), '--json'], PROJECT_ROOT);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json()).toMatchObject({ received: 3, landed: 3 });
    const ids = await cli(['--lake', globLake, 'query', 'select order_id from bronze.orders order by order_id', '--format', 'csv'], PROJECT_ROOT);
    expect(ids.stdout).toBe('order_id\nord_h12a\nord_h12b\nord_h12c\n');
  });

  it('says what is wrong: an unknown source (exit 1), no input (exit 2), a missing file (exit 1)', async () => {
    const unknown = await cli(['--lake', lake, 'ingest', 'nope', '--file', 'x.ndjson'], PROJECT_ROOT);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Unknown source "nope"[\s\S]*Known sources \(contracts\/\*\.ts\): orders, page_views, payments/);
    const nothing = await cli(['--lake', lake, 'ingest', 'orders'], PROJECT_ROOT);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/Nothing to ingest/);
    const missing = await cli(['--lake', lake, 'ingest', 'orders', '--file', join(dir, 'absent.ndjson')], PROJECT_ROOT);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file/);
  });
});
