import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, type Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/**
 * How `ingestFile` cuts a file: by `fileBatch` limits (large), never by the contract's collector
 * limits; one file per event date per batch; the cut an earlier run of the key recorded wins
 * over the one asked for, so batch n covers the same records in every run.
 */
const schema = z.object({ id: z.string().min(1), amount: z.number().nonnegative(), ts: z.iso.datetime({ offset: true }) });

function contract(source: string, extra: { batch?: { maxRecords?: number; maxBytes?: number; maxMs?: number }; fileBatch?: { maxRecords?: number; maxBytes?: number } } = {}): Contract {
  return defineContract({ source, version: 1, owner: 'test', schema, key: ['id'], eventTime: 'ts', drift: 'strict', ...extra });
}

const DAYS = 12;
const line = (i: number): string => JSON.stringify({ id: `r${i}`, amount: i % 100, ts: `2026-05-${String(1 + (i % DAYS)).padStart(2, '0')}T10:00:00Z` });

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-file-batches-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function freshLake(): Promise<Lake> {
  return Lake.open({ store: await LocalObjectStore.create(await mkdtemp(join(dir, 'lake-'))), engine });
}

async function bronzeCounts(lake: Lake, source: string): Promise<{ n: number; ids: number; files: number; batches: number }> {
  const snapshot = await (await lake.table(`bronze.${source}`)).snapshot();
  const [row] = await engine.all(`SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT _batch_id) AS batches FROM (${await snapshot.scanSql(lake.store)})`);
  return { n: Number(row?.['n']), ids: Number(row?.['ids']), files: snapshot.files.length, batches: Number(row?.['batches']) };
}

describe('ingest cuts a file into large batches', () => {
  it("ignores the contract's collector limits: 20,000 records under maxRecords 500 are one batch", async () => {
    const lake = await freshLake();
    const c = contract('collector_limits', { batch: { maxRecords: 500, maxBytes: 4096, maxMs: 100 } });
    const input = join(dir, 'one.ndjson');
    await writeFile(input, `${Array.from({ length: 20_000 }, (_, i) => line(i)).join('\n')}\n`);
    const summary = await ingestFile({ lake, contract: c, input });
    expect(summary).toMatchObject({ batches: 1, landed: 20_000, files: DAYS });
    expect(summary.cut).toEqual({ maxBytes: 256 * 1024 * 1024, maxRecords: 4_000_000 });
  });

  it('cuts by bytes at line ends and writes at most one file per event date per batch; bad lines keep their file line numbers', async () => {
    const lake = await freshLake();
    const c = contract('by_bytes', { fileBatch: { maxBytes: 100_000 } });
    const lines = Array.from({ length: 30_000 }, (_, i) => (i === 12_345 ? '{"id": "broken' : line(i)));
    const input = join(dir, 'bytes.ndjson');
    await writeFile(input, `${lines.join('\n')}\n`);
    const bytes = Buffer.byteLength(`${lines.join('\n')}\n`);
    const summary = await ingestFile({ lake, contract: c, input });
    expect(summary.batches).toBe(Math.ceil(bytes / 100_000 - 0.01));
    expect(summary).toMatchObject({ received: 30_000, landed: 29_999, quarantined: 1 });
    const counts = await bronzeCounts(lake, c.source);
    expect(counts).toMatchObject({ n: 29_999, ids: 29_999, batches: summary.batches });
    // one file per date per batch: every batch here touches every date
    expect(counts.files).toBe(summary.batches * DAYS);
    expect(summary.files).toBe(counts.files);
    const snapshot = await (await lake.table(`bronze.${c.source}`)).snapshot();
    const [wrong] = await engine.all(`SELECT count(*) AS n FROM (${await snapshot.scanSql(lake.store)}) WHERE 'r' || (_ingest_id - 1) <> id`);
    expect(Number(wrong?.['n'])).toBe(0);
    const quarantine = await (await lake.table(`quarantine.${c.source}`)).snapshot();
    expect(await engine.all(`SELECT line FROM (${await quarantine.scanSql(lake.store)})`)).toEqual([{ line: '12346' }]);
  });

  it('a re-run with another --batch-bytes keeps the cut of the run that landed batches first: no record twice, none lost', async () => {
    const lake = await freshLake();
    const c = contract('resumed');
    const input = join(dir, 'resumed.ndjson');
    await writeFile(input, `${Array.from({ length: 20_000 }, (_, i) => line(i)).join('\n')}\n`);
    // the first run dies after its second batch has landed
    const died = ingestFile({
      lake,
      contract: c,
      input,
      idempotencyKey: 'upload-7',
      batch: { maxBytes: 150_000 },
      onBatch: (result) => {
        if (result.bronzeVersion >= 2) throw new Error('killed');
      },
    });
    await expect(died).rejects.toThrow('killed');
    expect((await bronzeCounts(lake, c.source)).n).toBeGreaterThan(0);
    const resumed = await ingestFile({ lake, contract: c, input, idempotencyKey: 'upload-7', batch: { maxBytes: 400_000 } });
    expect(resumed).toMatchObject({ cut: { maxBytes: 150_000, maxRecords: 4_000_000 }, cutFromEarlierRun: true });
    expect(resumed.landed + resumed.duplicates).toBe(20_000);
    expect(resumed.duplicates).toBeGreaterThan(0);
    expect(await bronzeCounts(lake, c.source)).toMatchObject({ n: 20_000, ids: 20_000 });
    // and once complete, any re-send is a no-op
    const again = await ingestFile({ lake, contract: c, input, idempotencyKey: 'upload-7' });
    expect(again).toMatchObject({ landed: 0, duplicates: 20_000, cutFromEarlierRun: true });
  });

  it('a re-sent CSV (one batch, not cut by lines) is counted as duplicates, record by record', async () => {
    const lake = await freshLake();
    const c = contract('csv_again');
    const input = join(dir, 'again.csv');
    await writeFile(input, `id,amount,ts\n${Array.from({ length: 50 }, (_, i) => `r${i},${i},2026-05-01T10:00:00Z`).join('\n')}\n`);
    expect(await ingestFile({ lake, contract: c, input })).toMatchObject({ landed: 50, duplicates: 0 });
    expect(await ingestFile({ lake, contract: c, input })).toMatchObject({ landed: 0, duplicates: 50, batches: 1 });
  });
});
