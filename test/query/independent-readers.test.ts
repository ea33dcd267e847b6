import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { Compression, ParquetFile, readParquet } from 'parquet-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, quoteIdent } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake, type DeltaType, type Snapshot } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { copyProject } from '../fixtures/project-copy.js';
import { writeShopFeed } from '../fixtures/shop-feed.js';
import { PROJECT_ROOT } from '../helpers/child.js';

/**
 * Gold any reader can open: the default project's gold tables, built by `lakeloop run`,
 * read file by file (the snapshot's live files, as a Delta reader would) by readers that
 * share no code with DuckDB — hyparquet (pure JS), parquet-wasm (Rust's arrow-rs Parquet
 * reader compiled to WebAssembly, into Arrow IPC read by apache-arrow) and nodejs-polars
 * (Rust, a native binary that needs Node ≥ 22) — must hold the rows DuckDB reads from the
 * same snapshot, with no casts on the readers' side (polars only turns fractional decimals
 * into numbers, as its JS binding cannot hand decimals to JS). parquet-wasm's half compares
 * exactly: decimals digit for digit, timestamps to the microsecond. A test-only gold model of
 * integer sums (HUGEINT in DuckDB) joins the project's own.
 */
type Polars = typeof import('nodejs-polars').default;

let polars: Polars | undefined;
let polarsError = '';
try {
  polars = (await import('nodejs-polars')).default;
  polars.DataFrame({ probe: [1] });
} catch (error) {
  polars = undefined;
  polarsError = (error as Error).message.split('\n')[0] ?? '';
  console.warn(`nodejs-polars checks skipped: its native binary does not load here (${polarsError})`);
}

const ITEMS_PER_DAY = `/*
kind: incremental_by_partition
partition_by: order_date
lateness: 2h
*/
SELECT order_date, country, sum(item_count) AS items, sum(CAST(item_count AS INTEGER)) AS items_int, count(*) AS orders
FROM silver.orders
GROUP BY order_date, country
`;

let dir: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
const gold = new Map<string, Snapshot>();

beforeAll(async () => {
  ({ dir, remove } = await tempDir('independent-readers'));
  const project = await copyProject(PROJECT_ROOT, join(dir, 'shop'));
  // A gold model of integer sums (HUGEINT in DuckDB), beside the project's own.
  await writeFile(join(project, 'sql', 'gold', 'items_per_day.sql'), ITEMS_PER_DAY);
  const feed = await writeShopFeed(join(dir, 'feed'), { seed: 11, days: 3 });
  for (const source of ['orders', 'payments', 'page_views'] as const) {
    for (const file of feed.files[source]) {
      const run = await cli(['ingest', source, '--file', file, '--json'], project);
      expect(run.code, run.stderr).toBe(0);
    }
  }
  const run = await cli(['run'], project);
  expect(run.code, run.stderr).toBe(0);
  engine = await Engine.create({ threads: 2 });
  lake = await Lake.open({ store: await LocalObjectStore.create(join(project, 'lake')), engine });
  for (const name of await lake.tables()) {
    if (name.startsWith('gold.')) gold.set(name, await (await lake.table(name)).snapshot());
  }
}, 240_000);

afterAll(async () => {
  await engine?.close();
  await remove?.();
});

/**
 * A value in one comparable form per Delta type: integers as text, doubles as numbers,
 * decimals as text at their scale (a reader may hand 25.33 as 2533 × 0.01 = 25.330000000000002),
 * dates as YYYY-MM-DD, timestamps as epoch ms.
 */
function normalize(value: unknown, type: DeltaType): unknown {
  if (value === null || value === undefined) return null;
  if (typeof type !== 'string') return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  if (['long', 'integer', 'short', 'byte'].includes(type)) return String(value);
  const decimalScale = /^decimal\(\d+,\s*(\d+)\)$/.exec(type)?.[1];
  if (decimalScale !== undefined) return Number(value).toFixed(Number(decimalScale));
  if (type === 'double' || type === 'float') return Number(value);
  if (type === 'date') return value instanceof Date ? value.toISOString().slice(0, 10) : String(value).slice(0, 10);
  if (type === 'timestamp' || type === 'timestamp_ntz') return value instanceof Date ? value.getTime() : Number(value);
  return value;
}

function sortedRows(rows: readonly Record<string, unknown>[], snapshot: Snapshot): string[] {
  return rows.map((row) => JSON.stringify(snapshot.schema.fields.map((f) => normalize(row[f.name], f.type)))).sort();
}

/** DuckDB's read of the snapshot, typed so `normalize` gives the same forms. */
async function duckdbRows(snapshot: Snapshot): Promise<string[]> {
  const select = snapshot.schema.fields.map((f) => {
    const c = quoteIdent(f.name);
    if (f.type === 'date') return `strftime(${c}, '%Y-%m-%d') AS ${c}`;
    if (f.type === 'timestamp' || f.type === 'timestamp_ntz') return `epoch_ms(${c}) AS ${c}`;
    if (typeof f.type === 'string' && f.type.startsWith('decimal')) return `CAST(${c} AS DOUBLE) AS ${c}`;
    return c;
  });
  const rows = await engine.all(`SELECT ${select.join(', ')} FROM (${await snapshot.scanSql(lake.store)})`);
  return sortedRows(rows, snapshot);
}

async function livePaths(snapshot: Snapshot): Promise<string[]> {
  return Promise.all(snapshot.files.map((file) => lake.store.localPath(snapshot.fileKey(file))));
}

/** A decimal's unscaled integer as its exact text at `scale`, as DuckDB prints it (`2533`, 2 → `25.33`). */
function scaledText(unscaled: bigint, scale: number): string {
  const sign = unscaled < 0n ? '-' : '';
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return scale === 0 ? `${sign}${digits}` : `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/**
 * An Arrow value from parquet-wasm in an exact form per Delta type: integers and decimals as
 * text (a decimal arrives as its unscaled 128-bit integer), dates as YYYY-MM-DD, timestamps
 * as epoch microseconds (Arrow JS hands them as fractional epoch milliseconds).
 */
function exactArrowValue(value: unknown, type: DeltaType): unknown {
  if (value === null || value === undefined) return null;
  if (typeof type !== 'string') return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  if (['long', 'integer', 'short', 'byte'].includes(type)) return String(value);
  const decimalScale = /^decimal\(\d+,\s*(\d+)\)$/.exec(type)?.[1];
  if (decimalScale !== undefined) return scaledText(BigInt(String(value)), Number(decimalScale));
  if (type === 'double' || type === 'float') return Number(value);
  if (type === 'date') return new Date(Number(value)).toISOString().slice(0, 10);
  if (type === 'timestamp' || type === 'timestamp_ntz') return String(Math.round(Number(value) * 1000));
  return value;
}

/** DuckDB's read of the snapshot in `exactArrowValue`'s forms: decimals as their text, timestamps in µs. */
async function duckdbExactRows(snapshot: Snapshot): Promise<string[]> {
  const select = snapshot.schema.fields.map((f) => {
    const c = quoteIdent(f.name);
    if (f.type === 'date') return `strftime(${c}, '%Y-%m-%d') AS ${c}`;
    if (f.type === 'timestamp' || f.type === 'timestamp_ntz') return `CAST(epoch_us(${c}) AS VARCHAR) AS ${c}`;
    if (typeof f.type === 'string' && (f.type.startsWith('decimal') || ['long', 'integer', 'short', 'byte'].includes(f.type))) return `CAST(${c} AS VARCHAR) AS ${c}`;
    return c;
  });
  const rows = await engine.all(`SELECT ${select.join(', ')} FROM (${await snapshot.scanSql(lake.store)})`);
  return rows.map((row) => JSON.stringify(snapshot.schema.fields.map((f) => (row[f.name] === null ? null : typeof f.type === 'string' && f.type === 'double' ? Number(row[f.name]) : row[f.name])))).sort();
}

describe('gold read by independent readers', () => {
  it('the project builds several gold tables, with rows', () => {
    expect([...gold.keys()]).toEqual(expect.arrayContaining(['gold.customer_lifetime_value', 'gold.daily_revenue', 'gold.items_per_day', 'gold.order_funnel']));
    for (const snapshot of gold.values()) expect(snapshot.files.length).toBeGreaterThan(0);
  });

  it('gold columns are types every reader opens: no decimal(38,0), no 128-bit integers', () => {
    for (const [name, snapshot] of gold) {
      for (const field of snapshot.schema.fields) expect(`${name}.${field.name}:${JSON.stringify(field.type)}`).not.toMatch(/decimal\(38,0\)/);
    }
    const items = gold.get('gold.items_per_day')?.schema.fields.map((f) => [f.name, f.type]);
    expect(items).toEqual([
      ['order_date', 'date'],
      ['country', 'string'],
      ['items', 'long'],
      ['items_int', 'long'],
      ['orders', 'long'],
    ]);
  });

  it('hyparquet (+ hyparquet-compressors for zstd) reads the live files and agrees with DuckDB row for row', async () => {
    for (const [name, snapshot] of gold) {
      const rows: Record<string, unknown>[] = [];
      for (const path of await livePaths(snapshot)) {
        const bytes = await readFile(path);
        const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        rows.push(...((await parquetReadObjects({ file, compressors })) as Record<string, unknown>[]));
      }
      expect(sortedRows(rows, snapshot), name).toEqual(await duckdbRows(snapshot));
    }
  });

  it('parquet-wasm (arrow-rs in WebAssembly) reads the zstd live files into Arrow and agrees with DuckDB exactly', async () => {
    const checkedTypes = new Set<string>();
    for (const [name, snapshot] of gold) {
      const rows: Record<string, unknown>[] = [];
      for (const path of await livePaths(snapshot)) {
        const bytes = new Uint8Array(await readFile(path));
        // The files are zstd-compressed, every column chunk: the reader must decompress them itself.
        const metadata = (await ParquetFile.fromFile(new Blob([bytes]))).metadata();
        const codecs = new Set(metadata.rowGroups().flatMap((group) => group.columns().map((column) => Compression[column.compression()])));
        expect([...codecs], `${name}: ${path}`).toEqual(['ZSTD']);
        const table = tableFromIPC(readParquet(bytes).intoIPCStream());
        // Arrow types as the Delta schema says, decimals and UTC timestamps kept.
        for (const field of snapshot.schema.fields) {
          const arrowType = String(table.schema.fields.find((f) => f.name === field.name)?.type);
          if (typeof field.type === 'string' && field.type.startsWith('decimal')) {
            expect(arrowType, `${name}.${field.name}`).toMatch(/^Decimal\[/);
            checkedTypes.add('decimal');
          }
          if (field.type === 'timestamp') {
            expect(arrowType, `${name}.${field.name}`).toBe('Timestamp<MICROSECOND, UTC>');
            checkedTypes.add('timestamp');
          }
          if (field.type === 'date') checkedTypes.add('date');
        }
        for (const row of table) rows.push(row.toJSON() as Record<string, unknown>);
      }
      const exact = rows.map((row) => JSON.stringify(snapshot.schema.fields.map((f) => exactArrowValue(row[f.name], f.type)))).sort();
      expect(exact, name).toEqual(await duckdbExactRows(snapshot));
    }
    // The comparison covered the types that are hard to get right.
    expect([...checkedTypes].sort()).toEqual(['date', 'decimal', 'timestamp']);
  });

  it.skipIf(polars === undefined)('nodejs-polars reads the live files and agrees with DuckDB row for row', async () => {
    const pl = polars as Polars;
    for (const [name, snapshot] of gold) {
      const rows: Record<string, unknown>[] = [];
      for (const path of await livePaths(snapshot)) {
        let frame = pl.readParquet(path);
        // The JS binding hands no decimals to JS (the frame itself reads them): fractional
        // decimals become numbers, as for DuckDB above. Integers must need no cast at all.
        const decimals = snapshot.schema.fields
          .filter((f) => typeof f.type === 'string' && /^decimal\(\d+,\s*[1-9]\d*\)$/.test(f.type))
          .map((f) => pl.col(f.name).cast(pl.Float64));
        if (decimals.length) frame = frame.withColumns(...decimals);
        rows.push(...(frame.toRecords() as Record<string, unknown>[]));
      }
      expect(sortedRows(rows, snapshot), name).toEqual(await duckdbRows(snapshot));
    }
  });
});
