import { readFile } from 'node:fs/promises';
import { tableFromIPC } from 'apache-arrow';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { cli, tempDir } from './cli-harness.js';
import { buildFixtureLake, HOUR_MS, START_MS } from './lake-fixture.js';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempDir('cli-query'));
  await buildFixtureLake(join(dir, 'lake'));
});
afterAll(async () => remove());

describe('lakeloop query', () => {
  it('prints an aligned table with numbers right-aligned and a row count', async () => {
    const run = await cli(['query', 'select order_id, customer, amount from bronze.orders order by order_id'], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        '        order_id  customer  amount',
        '----------------  --------  ------',
        '               3  cy          5.25',
        '               4  dee         7.00',
        '               5  fay        99.99',
        '9007199254740993  eve         1.00',
        '(4 rows)',
        '',
      ].join('\n'),
    );
  });

  it('csv quotes fields with commas, quotes and newlines (RFC 4180), leaves numbers bare', async () => {
    const run = await cli(['query', 'select day, revenue, orders, note from gold.daily_revenue order by day', '--format', 'csv'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('day,revenue,orders,note\n2024-05-01,30.50,2,plain\n2024-05-02,5.25,1,"has, comma and ""quotes""\nand a newline"\n');
  });

  it('json is one array; safe BIGINTs and short DECIMALs become numbers, unsafe ones stay strings', async () => {
    const run = await cli(['query', 'select order_id, amount, order_date, null as nothing from bronze.orders order by order_id', '--format', 'json'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(run.json<unknown[]>()).toEqual([
      { order_id: 3, amount: 5.25, order_date: '2024-05-02', nothing: null },
      { order_id: 4, amount: 7, order_date: '2024-05-02', nothing: null },
      { order_id: 5, amount: 99.99, order_date: '2024-05-01', nothing: null },
      { order_id: '9007199254740993', amount: 1, order_date: '2024-05-03', nothing: null },
    ]);
  });

  it('arrow writes an Arrow IPC stream to --output or standard output, with DuckDB types: Decimal, Date, Int64', async () => {
    const sql = 'select order_id, amount, order_date, [customer] as names from bronze.orders order by order_id';
    const file = join(dir, 'orders.arrows');
    const run = await cli(['query', sql, '--format', 'arrow', '--output', file], dir);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`wrote 4 rows to ${file}`);
    const table = tableFromIPC(await readFile(file));
    expect(table.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['order_id:Int64', 'amount:Decimal[10e+2]', 'order_date:Date32<DAY>', 'names:List<Utf8>']);
    expect([...(table.getChild('order_id') ?? [])]).toEqual([3n, 4n, 5n, 9007199254740993n]);
    expect([...(table.getChild('order_date') ?? [])].map((ms) => new Date(Number(ms)).toISOString().slice(0, 10))).toEqual(['2024-05-02', '2024-05-02', '2024-05-01', '2024-05-03']);
    const amounts = table.getChild('amount')?.data[0]?.values as Uint32Array;
    expect([0, 1, 2, 3].map((i) => amounts[i * 4])).toEqual([525, 700, 9999, 100]);
    expect([...(table.getChild('names') ?? [])].map((l) => [...(l as Iterable<string>)])).toEqual([['cy'], ['dee'], ['fay'], ['eve']]);
    const piped = await cli(['query', sql, '--format', 'arrow'], dir);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe('');
    expect(Buffer.from(piped.stdoutBytes)).toEqual(await readFile(file));
  });

  it('--as-of a version or a timestamp reads that snapshot', async () => {
    const sql = 'select count(*) as n, sum(amount) as total from bronze.orders';
    const v1 = await cli(['query', sql, '--as-of', '1', '--format', 'json'], dir);
    expect(v1.json()).toEqual([{ n: 3, total: 35.75 }]);
    const at = new Date(START_MS + 2 * HOUR_MS + 1).toISOString();
    const v2 = await cli(['query', sql, '--as-of', at, '--format', 'json'], dir);
    expect(v2.json()).toEqual([{ n: 5, total: 43.75 }]);
    const latest = await cli(['query', sql, '--format', 'json'], dir);
    expect(latest.json()).toEqual([{ n: 4, total: 113.24 }]);
  });

  it('binds only the tables the statement reads, and joins across layers', async () => {
    const sql = `with o as (select order_date as day, count(*) as n from bronze.orders group by 1)
      select r.day, r.orders, o.n from gold.daily_revenue r join o using (day) order by r.day`;
    const run = await cli(['query', sql, '--format', 'csv', '--verbose'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('day,orders,n\n2024-05-01,2,1\n2024-05-02,1,2\n');
    expect(run.stderr).toContain('bound bronze.orders at version 3');
    expect(run.stderr).toContain('bound gold.daily_revenue at version 1');
    const one = await cli(['query', 'select count(*) from gold.daily_revenue', '--verbose'], dir);
    expect(one.stderr).not.toContain('bronze.orders');
  });

  it('an unknown lake table is a clear error listing the known tables (exit 1)', async () => {
    const run = await cli(['query', 'select * from gold.revenue_daily'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: Table gold.revenue_daily not found');
    expect(run.stderr).toContain('hint: Known tables: bronze.orders, gold.daily_revenue.');
    const unqualified = await cli(['query', 'select * from daily_revenue'], dir);
    expect(unqualified.code).toBe(1);
    expect(unqualified.stderr).toContain('did you mean gold.daily_revenue?');
  });

  it('a SQL error exits 1 with DuckDB\'s reason and no stack', async () => {
    const run = await cli(['query', 'select nope from gold.daily_revenue'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: Failed to run SQL: Binder Error: .*nope/m);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('parquet goes to --output; other formats can too', async () => {
    const out = join(dir, 'orders.parquet');
    const run = await cli(['query', 'select * from bronze.orders', '--format', 'parquet', '--output', 'orders.parquet'], dir);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`wrote 4 rows to ${out}`);
    const engine = await Engine.create({ threads: 1 });
    try {
      expect(await engine.scalar('select count(*) from read_parquet($1)', [out])).toBe('4');
    } finally {
      await engine.close();
    }
    const csv = await cli(['query', 'select 1 as a', '--format', 'csv', '-o', 'a.csv'], dir);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe('');
    expect(await readFile(join(dir, 'a.csv'), 'utf8')).toBe('a\n1\n');
  });

  it('a missing lake root is named', async () => {
    const run = await cli(['query', 'select 1', '--lake', 'no-such-lake'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: No lake at ${join(dir, 'no-such-lake')}`);
  });
});
