import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnTs } from '../helpers/child.js';

/**
 * `lakeloop ingest` loads only what it uses: apache-arrow (query results as Arrow IPC),
 * prom-client (serve's metrics) and pino (JSON logs) cost ~0.3 s of CPU together to load,
 * which every ingest paid before they were loaded on first use.
 */
describe('the modules lakeloop ingest loads', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lakeloop-ingest-modules-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('do not include apache-arrow, prom-client or pino', async () => {
    const file = join(dir, 'orders.ndjson');
    const order = { order_id: 'ord_1', customer_id: 'cus_1', status: 'paid', amount: 12.5, currency: 'EUR', country: 'DE', item_count: 1, order_ts: '2026-09-01T10:00:00Z' };
    await writeFile(file, `${JSON.stringify(order)}\n`);
    const child = spawnTs('test/fixtures/ingest-modules-child.ts', [file, join(dir, 'lake')]);
    expect(await child.exited, child.stderr()).toBe(0);
    const { resolved, required } = JSON.parse(child.lines.at(-1) ?? '{}') as { resolved: string[]; required: string[] };
    // The hook sees the run's imports (a sanity check that it works): DuckDB and zod are loaded.
    expect(resolved).toEqual(expect.arrayContaining(['@duckdb/node-api', 'zod']));
    for (const name of ['apache-arrow', 'prom-client', 'pino']) {
      expect(resolved.filter((s) => s === name || s.startsWith(`${name}/`)), name).toEqual([]);
      expect(required.filter((path) => path.includes(`/node_modules/${name}/`)), name).toEqual([]);
    }
  });
});
