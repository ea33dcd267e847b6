import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, type Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { createTestS3Store } from '../helpers/s3.js';

/** The ingestion suite, run on the local lake and on S3 (s3rver, or LAKELOOP_TEST_S3_ENDPOINT). */
const schema = z.object({
  id: z.string().min(1),
  amount: z.number().nonnegative(),
  status: z.enum(['new', 'done']),
  ts: z.iso.datetime({ offset: true }),
  note: z.string().optional(),
});

function contract(drift: 'evolve' | 'rescue' | 'strict', batch: { maxRecords?: number } = {}, source = `ev_${drift}`): Contract {
  return defineContract({ source, version: 1, owner: 'test', schema, key: ['id'], eventTime: 'ts', drift, batch });
}

const good = (id: string, day = '2026-03-01', extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ id, amount: 1.5, status: 'new', ts: `${day}T10:00:00Z`, ...extra });

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-ingest-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const stores: { name: string; open: () => Promise<{ store: ObjectStore; cleanup: () => Promise<void> }> }[] = [
  {
    name: 'local lake',
    open: async () => {
      const root = await mkdtemp(join(dir, 'lake-'));
      return { store: await LocalObjectStore.create(root), cleanup: async () => undefined };
    },
  },
  {
    name: 'S3 lake',
    open: async () => {
      const { store, cleanup } = await createTestS3Store();
      return { store, cleanup };
    },
  },
];

describe.each(stores)('ingest on the $name', ({ open }) => {
  let lake: Lake;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const opened = await open();
    cleanup = opened.cleanup;
    lake = await Lake.open({ store: opened.store, engine });
  });

  afterAll(async () => cleanup());

  async function rows(table: string, sql = 'SELECT * FROM t'): Promise<Record<string, unknown>[]> {
    const snapshot = await (await lake.table(table)).snapshot();
    return engine.all(sql.replace(/\bt\b/, `(${await snapshot.scanSql(lake.store)})`));
  }

  it('lands good lines and quarantines invalid JSON, wrong types, missing fields and bad enums with their line numbers', async () => {
    const c = contract('rescue');
    const path = await file(
      'mixed.ndjson',
      [
        good('a'),
        '{"id": "b", "amount": 2,', // invalid JSON
        JSON.stringify({ id: 'c', amount: 'lots', status: 'new', ts: '2026-03-01T10:00:00Z' }), // wrong type
        JSON.stringify({ id: 'd', status: 'new', ts: '2026-03-01T10:00:00Z' }), // missing amount
        JSON.stringify({ id: 'e', amount: 1, status: 'lost', ts: '2026-03-01T10:00:00Z' }), // enum
        '',
        good('f', '2026-03-02'),
      ].join('\n'),
    );
    const summary = await ingestFile({ lake, contract: c, input: path });
    expect(summary).toMatchObject({ received: 6, landed: 2, quarantined: 4, duplicates: 0, batches: 1 });
    expect(await rows(`bronze.${c.source}`, 'SELECT id, event_date::VARCHAR AS d FROM t ORDER BY id')).toEqual([
      { id: 'a', d: '2026-03-01' },
      { id: 'f', d: '2026-03-02' },
    ]);
    const rejects = await rows(`quarantine.${c.source}`, 'SELECT line, field, reason FROM t ORDER BY line');
    expect(rejects.map((r) => [Number(r['line']), r['field']])).toEqual([
      [2, null],
      [3, 'amount'],
      [4, 'amount'],
      [5, 'status'],
    ]);
    expect(String(rejects[0]?.['reason'])).toMatch(/invalid JSON/);
    expect(String(rejects[1]?.['reason'])).toMatch(/wrong type/);
    expect(String(rejects[2]?.['reason'])).toMatch(/missing required/);
    // partitions: one file per event date
    const snapshot = await (await lake.table(`bronze.${c.source}`)).snapshot();
    expect(snapshot.files.map((f) => f.partitionValues['event_date']).sort()).toEqual(['2026-03-01', '2026-03-02']);
  });

  it('the same file twice with the same idempotency key adds nothing; stdin with the same key too', async () => {
    const c = contract('strict');
    const path = await file('twice.ndjson', `${good('x1')}\n${good('x2')}\n`);
    const first = await ingestFile({ lake, contract: c, input: path, idempotencyKey: 'upload-7' });
    const again = await ingestFile({ lake, contract: c, input: path, idempotencyKey: 'upload-7' });
    const piped = await ingestFile({ lake, contract: c, input: Readable.from([`${good('x1')}\n${good('x2')}\n`]), idempotencyKey: 'upload-7' });
    expect(first).toMatchObject({ landed: 2, duplicates: 0 });
    expect(again).toMatchObject({ landed: 0, duplicates: 2 });
    expect(piped).toMatchObject({ landed: 0, duplicates: 2 });
    expect(await rows(`bronze.${c.source}`, 'SELECT count(*) AS n FROM t')).toEqual([{ n: '2' }]);
  });

  it('unknown fields: strict rejects, rescue keeps them in _rescued, evolve adds a column that older files read as NULL', async () => {
    const withExtra = `${good('u1', '2026-03-01', { coupon: 'X1' })}\n`;
    const strict = contract('strict');
    expect(await ingestFile({ lake, contract: strict, input: await file('s.ndjson', withExtra) })).toMatchObject({ landed: 0, quarantined: 1 });
    expect(await rows(`quarantine.${strict.source}`, 'SELECT reason FROM t')).toEqual([{ reason: expect.stringMatching(/unknown field/) }]);

    const rescue = contract('rescue');
    await ingestFile({ lake, contract: rescue, input: await file('r.ndjson', withExtra) });
    expect(await rows(`bronze.${rescue.source}`, "SELECT _rescued::VARCHAR AS r FROM t WHERE id = 'u1'")).toEqual([{ r: '{"coupon":"X1"}' }]);

    const evolve = contract('evolve');
    await ingestFile({ lake, contract: evolve, input: await file('e1.ndjson', `${good('old')}\n`) });
    const second = await ingestFile({ lake, contract: evolve, input: await file('e2.ndjson', withExtra) });
    expect(second.addedColumns).toEqual(['coupon']);
    expect(await rows(`bronze.${evolve.source}`, 'SELECT id, coupon FROM t ORDER BY id')).toEqual([
      { id: 'old', coupon: null },
      { id: 'u1', coupon: 'X1' },
    ]);
  });

  it('an empty file lands nothing and says so', async () => {
    const c = contract('rescue');
    const summary = await ingestFile({ lake, contract: c, input: await file('empty.ndjson', '') });
    expect(summary).toMatchObject({ received: 0, landed: 0, quarantined: 0 });
  });

  it('a CSV with a ragged row: the good rows land, the ragged one is quarantined with its line and raw text', async () => {
    const c = contract('rescue');
    const path = await file(
      'orders.csv',
      'id,amount,status,ts\nc1,10,new,2026-03-05T10:00:00Z\nc2,20,done\nc3,30,done,2026-03-05T11:00:00Z,surplus\nc4,40,new,2026-03-06T00:00:00Z\n',
    );
    const summary = await ingestFile({ lake, contract: c, input: path });
    expect(summary).toMatchObject({ landed: 2, quarantined: 2 });
    expect(await rows(`bronze.${c.source}`, "SELECT id, amount FROM t WHERE id LIKE 'c%' ORDER BY id")).toEqual([
      { id: 'c1', amount: 10 },
      { id: 'c4', amount: 40 },
    ]);
    const rejects = await rows(`quarantine.${c.source}`, "SELECT line, payload, reason FROM t WHERE payload LIKE 'c%' ORDER BY line");
    expect(rejects.map((r) => [Number(r['line']), r['payload']])).toEqual([
      [3, 'c2,20,done'],
      [4, 'c3,30,done,2026-03-05T11:00:00Z,surplus'],
    ]);
    expect(String(rejects[0]?.['reason'])).toMatch(/unreadable CSV row/);
  });

  it('a Parquet file with the contract columns lands; one without a required column is refused whole', async () => {
    const c = contract('rescue');
    const okPath = join(dir, 'ok.parquet');
    await engine.run(`COPY (SELECT 'p1' AS id, 3.5 AS amount, 'done' AS status, '2026-03-07T08:00:00Z' AS ts) TO '${okPath}' (FORMAT parquet)`);
    expect(await ingestFile({ lake, contract: c, input: okPath })).toMatchObject({ landed: 1, quarantined: 0 });
    const badPath = join(dir, 'bad.parquet');
    await engine.run(`COPY (SELECT 'p2' AS id, 'done' AS status) TO '${badPath}' (FORMAT parquet)`);
    await expect(ingestFile({ lake, contract: c, input: badPath })).rejects.toThrow(/incompatible with contract ev_rescue: missing required column\(s\) amount, ts/);
  });

  it('a clean file takes the fast path and still numbers every record with its exact line', async () => {
    const c = contract('strict', {}, 'ev_lines');
    const lines = Array.from({ length: 60_000 }, (_, i) => good(`r${i + 1}`, `2026-05-0${1 + (i % 9)}`));
    const summary = await ingestFile({ lake, contract: c, input: await file('lines.ndjson', `${lines.join('\n')}\n`) });
    expect(summary).toMatchObject({ landed: 60_000, quarantined: 0 });
    const wrong = await rows(
      `bronze.${c.source}`,
      "SELECT count(*) AS n FROM t WHERE 'r' || _ingest_id <> id OR NOT ends_with(_source_offset, '#1')",
    );
    expect(wrong).toEqual([{ n: '0' }]);
    expect(await rows(`bronze.${c.source}`, 'SELECT count(DISTINCT _ingest_id) AS ids, min(_ingest_id) AS first, max(_ingest_id) AS last FROM t')).toEqual([{ ids: '60000', first: '1', last: '60000' }]);
  });

  it('a big file is cut into batches at record boundaries; line numbers stay file line numbers', async () => {
    const c = contract('strict', {}, 'ev_big');
    const lines = Array.from({ length: 2500 }, (_, i) => (i === 1799 ? '{broken' : good(`b${i}`, `2026-04-0${1 + (i % 3)}`)));
    const summary = await ingestFile({ lake, contract: c, input: await file('big.ndjson', `${lines.join('\n')}\n`), batch: { maxRecords: 1000 } });
    expect(summary).toMatchObject({ batches: 3, received: 2500, landed: 2499, quarantined: 1 });
    expect(await rows(`quarantine.${c.source}`, 'SELECT line FROM t')).toEqual([{ line: '1800' }]);
    // each row: its batch's position in the file, and its own line of the file
    const wrong = await rows(`bronze.${c.source}`, "SELECT count(*) AS n FROM t WHERE 'b' || (_ingest_id - 1) <> id OR NOT ends_with(_source_offset, '#' || ((_ingest_id - 1) // 1000 + 1))");
    expect(wrong).toEqual([{ n: '0' }]);
  });
});
