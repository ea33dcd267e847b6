import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManualClock } from '../../src/core/index.js';
import { defineContract, type Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { ingestFile, landBatch, landCleanNdjson, loadRawRecords, type LandResult } from '../../src/ingest/index.js';
import { ensureBronzeTable, FIELD_SAMPLE, FIRST_FIELD_SAMPLE } from '../../src/ingest/bronze-writer.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { duckdbTypeOf, Lake } from '../../src/table/index.js';

/**
 * The optimistic fast path of `ingest --file` against the exact path (`loadRawRecords` +
 * `landBatch`) on the same bytes, same batch identity and same clock: a clean file lands the
 * same rows, files and stats; a file with one bad record in the middle makes the fast path
 * give up without committing anything, and `ingestFile` then lands what the exact path lands.
 */
const schema = z.object({
  id: z.string().min(1),
  amount: z.number().nonnegative(),
  qty: z.int().positive(),
  paid: z.boolean(),
  status: z.enum(['new', 'done']),
  code: z.string().regex(/^[A-Z]{2}$/),
  ts: z.iso.datetime({ offset: true }),
  day: z.iso.date().optional(),
  meta: z.object({ a: z.number() }).optional(),
  tags: z.array(z.string()).optional(),
  note: z.string().nullish(),
  level: z.int().default(3),
});

let sources = 0;
function contract(drift: 'strict' | 'rescue' | 'evolve' = 'strict'): Contract {
  sources += 1;
  return defineContract({ source: `fast_${sources}`, version: 1, owner: 'test', schema, key: ['id'], eventTime: 'ts', drift });
}

/** Record `i`: every kind of value the contract takes, spread over `days` event dates. */
function record(i: number, days = 7): Record<string, unknown> {
  const day = String(1 + ((i * 7919) % days)).padStart(2, '0');
  const r: Record<string, unknown> = {
    id: `r${i}`,
    amount: [12.5, 0, 1e3, 7, 0.1][i % 5],
    qty: i % 4 === 0 ? 2.0 : 1 + (i % 9),
    paid: i % 2 === 0,
    status: i % 3 === 0 ? 'done' : 'new',
    code: ['DE', 'SE', 'JP'][i % 3],
    ts: i % 5 === 0 ? `2026-04-${day}T23:30:00+02:00` : `2026-04-${day}T10:00:0${i % 10}.${String(i % 1000).padStart(3, '0')}Z`,
  };
  // Before 1970 and across midnight UTC: event_date takes another way there.
  if (i % 97 === 0) r['ts'] = i % 2 ? '1969-12-31T23:59:59.999999Z' : '1901-05-01T22:00:00-03:00';
  if (i % 6 === 0) r['day'] = `2026-04-${day}`;
  if (i % 7 === 0) r['meta'] = { a: i, b: [1, { c: 'x' }] };
  if (i % 11 === 0) r['tags'] = ['a', 'b"q', 'é'];
  if (i % 13 === 0) r['note'] = null;
  else if (i % 4 === 1) r['note'] = `line ${i}: "quoted" \\ back\tslash 名前 ✓`;
  if (i % 17 === 0) r['level'] = 9;
  return r;
}

let engine: Engine;
let dir: string;
const clock = new ManualClock(Date.UTC(2026, 4, 1, 12));

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-fast-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function ndjson(lines: readonly string[]): Promise<string> {
  files += 1;
  const path = join(dir, `in-${files}.ndjson`);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

async function openLake(): Promise<Lake> {
  return Lake.open({ store: await LocalObjectStore.create(await mkdtemp(join(dir, 'lake-'))), engine });
}

const KEY = 'k1';
const batch = (c: Contract) => ({ appId: `ingest:${c.source}:${KEY}`, version: 1, sourceOffset: `${KEY}#1` });

/** The exact path on the whole file as one batch, as `ingestFile` would name it. */
async function exactLanding(lake: Lake, c: Contract, path: string): Promise<LandResult> {
  const spool = await mkdtemp(join(dir, 'spool-'));
  const fieldTypes = new Map(c.columns.map((col) => [col.name, col.duckdbType]));
  const raw = await loadRawRecords(engine, path, 'ndjson', `exact_${files}_${c.source}`, spool, 0, fieldTypes);
  try {
    return await landBatch({ lake, contract: c, raw, batch: batch(c), clock, bytes: (await stat(path)).size });
  } finally {
    await engine.run(`DROP TABLE IF EXISTS exact_${files}_${c.source}`);
  }
}

async function fastLanding(lake: Lake, c: Contract, path: string, records: number): Promise<LandResult | undefined> {
  const spool = await mkdtemp(join(dir, 'spool-'));
  return landCleanNdjson({ lake, contract: c, file: path, records, linesBefore: 0, batch: batch(c), clock, spoolDir: spool, bytes: (await stat(path)).size });
}

/** Everything a landing leaves in the lake: rows of bronze and quarantine, and bronze's files with their stats. */
async function contents(lake: Lake, c: Contract): Promise<{ bronze: unknown[]; quarantine: unknown[]; files: unknown[] }> {
  const rowsOf = async (name: string, order: string): Promise<unknown[]> => {
    if (!(await lake.tables()).includes(name)) return [];
    const snapshot = await (await lake.table(name)).snapshot();
    return engine.all(`SELECT * FROM (${await snapshot.scanSql(lake.store)}) ORDER BY ${order}`);
  };
  const snapshot = await (await lake.table(`bronze.${c.source}`)).snapshot();
  const files = snapshot.files.map((f) => ({ path: withoutAttempt(f.path), partitionValues: f.partitionValues, stats: JSON.parse(f.stats ?? 'null') })).sort((a, b) => (a.path < b.path ? -1 : 1));
  return { bronze: await rowsOf(`bronze.${c.source}`, '_ingest_id'), quarantine: await rowsOf(`quarantine.${c.source}`, 'line'), files };
}

/** A data file's name without its write attempt (`…-<batch id>-<attempt>.c000…`): two landings of one batch differ only there. */
function withoutAttempt(path: string): string {
  return path.replace(/-([0-9a-f]{16})-[0-9a-z]+\.c000\./, '-$1.c000.');
}

describe('the fast path of ingest --file', () => {
  it('lands a clean file exactly as the exact path does: rows, line numbers, files and their stats', async () => {
    for (const [days, label] of [[7, 'dates scattered'], [1, 'one date']] as const) {
      const c = contract('rescue');
      const path = await ndjson(Array.from({ length: 3000 }, (_, i) => JSON.stringify(record(i + 1, days))));
      const fastLake = await openLake();
      const fast = await fastLanding(fastLake, c, path, 3000);
      expect(fast, label).toMatchObject({ landed: 3000, quarantined: 0, files: days + 2 });
      const exactLake = await openLake();
      expect(await exactLanding(exactLake, c, path), label).toMatchObject({ landed: 3000, quarantined: 0, files: days + 2 });
      const [a, b] = [await contents(fastLake, c), await contents(exactLake, c)];
      expect(a.bronze).toHaveLength(3000);
      expect(a, label).toEqual(b);
    }
  });

  it('a batch of one event date is written as one file without PARTITION_BY: the same rows, path and stats as the exact path', async () => {
    const c = contract('rescue');
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ ...record(i + 1), ts: `2026-04-03T${String(i % 24).padStart(2, '0')}:00:00Z` }));
    const path = await ndjson(lines);
    const fastLake = await openLake();
    const copies: string[] = [];
    const all = engine.all.bind(engine);
    // Records the statements' text only; the real engine runs them.
    engine.all = async (sql, params) => {
      if (/^\s*COPY\b/i.test(sql)) copies.push(sql);
      return all(sql, params);
    };
    try {
      expect(await fastLanding(fastLake, c, path, 3000)).toMatchObject({ landed: 3000, files: 1 });
    } finally {
      engine.all = all;
    }
    expect(copies.map((sql) => sql.includes('PARTITION_BY'))).toEqual([false]);
    const exactLake = await openLake();
    await exactLanding(exactLake, c, path);
    const [fast, exact] = [await contents(fastLake, c), await contents(exactLake, c)];
    expect(fast.files).toEqual([expect.objectContaining({ partitionValues: { event_date: '2026-04-03' }, path: expect.stringMatching(/^event_date=2026-04-03\//) })]);
    expect(fast).toEqual(exact);
  });

  it('numbers each row (_ingest_id = its line) and gives the batch one _source_offset and _batch_id, with exact file stats for them', async () => {
    const c = contract();
    const path = await ndjson(Array.from({ length: 500 }, (_, i) => JSON.stringify(record(i + 1, 3))));
    const lake = await openLake();
    const fast = await fastLanding(lake, c, path, 500);
    const rows = (await contents(lake, c)).bronze as Record<string, unknown>[];
    expect(rows.map((r) => [r['id'], r['_ingest_id'], r['_source_offset'], r['_batch_id']])).toEqual(
      Array.from({ length: 500 }, (_, i) => [`r${i + 1}`, String(i + 1), `${KEY}#1`, fast?.batchId]),
    );
    for (const file of (await contents(lake, c)).files as { stats: { minValues: Record<string, unknown>; maxValues: Record<string, unknown> } }[]) {
      expect(file.stats.minValues).toMatchObject({ _batch_id: fast?.batchId, _source_offset: `${KEY}#1` });
      expect(file.stats.maxValues).toMatchObject({ _batch_id: fast?.batchId, _source_offset: `${KEY}#1` });
    }
  });

  it('a one-batch file read while its lines are counted: a blank line or an indented record makes the count refuse the early read, and the rows keep their file line numbers', async () => {
    for (const odd of ['', '  ' + JSON.stringify(record(9_001, 3))]) {
      const c = contract();
      const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify(record(i + 1, 3)));
      lines.splice(150, 0, odd);
      const path = await ndjson(lines);
      const lake = await openLake();
      const summary = await ingestFile({ lake, contract: c, input: path, clock, idempotencyKey: KEY });
      expect(summary).toMatchObject({ received: odd === '' ? 300 : 301, landed: odd === '' ? 300 : 301, quarantined: 0 });
      const rows = (await contents(lake, c)).bronze as Record<string, unknown>[];
      // Line 151 is the odd one: the records after it keep their own line numbers, not their row positions.
      const expected = lines.map((line, i) => [line.trim() === '' ? undefined : (JSON.parse(line) as { id: string }).id, String(i + 1)]).filter(([id]) => id !== undefined);
      expect(rows.map((r) => [r['id'], String(r['_ingest_id'])])).toEqual(expected);
    }
  });

  it("a bronze table from before numbered rows (_ingest_id a string) keeps its form on both paths: '<batch>:<line>'", async () => {
    const c = contract();
    const path = await ndjson(Array.from({ length: 300 }, (_, i) => JSON.stringify(record(i + 1, 3))));
    const legacyLake = async (): Promise<Lake> => {
      const scratch = await openLake();
      const fields = (await (await ensureBronzeTable(scratch, c)).snapshot()).schema.fields;
      const lake = await openLake();
      const columns = fields.map((f) => ({ name: f.name, type: f.name === '_ingest_id' ? 'VARCHAR' : duckdbTypeOf(f.type) }));
      await lake.createTable(`bronze.${c.source}`, { columns, partitionColumns: ['event_date'] });
      return lake;
    };
    const [fastLake, exactLake] = [await legacyLake(), await legacyLake()];
    const fast = await fastLanding(fastLake, c, path, 300);
    expect(fast).toMatchObject({ landed: 300 });
    await exactLanding(exactLake, c, path);
    const rows = (await contents(fastLake, c)).bronze as Record<string, unknown>[];
    expect(rows.map((r) => [r['_ingest_id'], r['_source_offset']]).sort()).toEqual(
      Array.from({ length: 300 }, (_, i) => [`${fast?.batchId}:${i + 1}`, `${KEY}#1:${i + 1}`]).sort(),
    );
    expect(await contents(fastLake, c)).toEqual(await contents(exactLake, c));
  });

  it('a time-ordered file needs no sort and still lands each date in its own file with exact lines', async () => {
    const c = contract();
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ ...record(i + 1), ts: `2026-04-0${1 + Math.floor(i / 500)}T10:00:00Z` }));
    const path = await ndjson(lines);
    const fastLake = await openLake();
    expect(await fastLanding(fastLake, c, path, 2000)).toMatchObject({ landed: 2000, files: 4 });
    const exactLake = await openLake();
    await exactLanding(exactLake, c, path);
    expect(await contents(fastLake, c)).toEqual(await contents(exactLake, c));
  });

  it('more event dates than DuckDB keeps files open by default (100) still land one file per date, as the exact path does', async () => {
    const c = contract();
    const day = (i: number): string => new Date(Date.UTC(2026, 0, 1) + (i % 150) * 86_400_000).toISOString().slice(0, 10);
    const lines = Array.from({ length: 6000 }, (_, i) => JSON.stringify({ ...record(i + 1), ts: `${day(i * 7)}T10:00:00Z`, day: undefined }));
    const path = await ndjson(lines);
    const fastLake = await openLake();
    // DuckDB flushes partitions this often, so its open-file limit is reached on a file this small.
    await engine.run('SET partitioned_write_flush_threshold = 100');
    try {
      expect(await fastLanding(fastLake, c, path, 6000)).toMatchObject({ landed: 6000, files: 150 });
    } finally {
      await engine.run('RESET partitioned_write_flush_threshold');
    }
    const exactLake = await openLake();
    expect(await exactLanding(exactLake, c, path)).toMatchObject({ landed: 6000, files: 150 });
    expect(await contents(fastLake, c)).toEqual(await contents(exactLake, c));
  });

  it('gives up without committing anything at one bad record in the middle, and ingest then lands what the exact path lands', async () => {
    const bad: [string, string | ((r: Record<string, unknown>) => unknown), 'strict' | 'rescue' | 'evolve'][] = [
      ['a number given as a string', (r) => ({ ...r, amount: '12' }), 'strict'],
      ['a string given as a number', (r) => ({ ...r, id: 12 }), 'strict'],
      ['a fraction in an integer field', (r) => ({ ...r, qty: 2.5 }), 'strict'],
      ['a boolean given as a string', (r) => ({ ...r, paid: 'true' }), 'strict'],
      ['a missing required field', (r) => ({ ...r, id: undefined }), 'strict'],
      ['a null required field', (r) => ({ ...r, code: null }), 'strict'],
      ['a value outside the enum', (r) => ({ ...r, status: 'lost' }), 'strict'],
      ['a failed pattern', (r) => ({ ...r, code: 'de' }), 'strict'],
      ['a negative amount', (r) => ({ ...r, amount: -1 }), 'strict'],
      ['an impossible date-time', (r) => ({ ...r, ts: '2026-13-01T00:00:00Z' }), 'strict'],
      ['an array where an object goes', (r) => ({ ...r, meta: [1] }), 'strict'],
      ['an undeclared field (strict)', (r) => ({ ...r, coupon: 'X1' }), 'strict'],
      ['an undeclared field (rescue)', (r) => ({ ...r, coupon: 'X1' }), 'rescue'],
      ['an undeclared field (evolve)', (r) => ({ ...r, gift: true }), 'evolve'],
      ['a key differing only in case', (r) => ({ ...r, ID: 'x' }), 'rescue'],
      ['an empty object', () => ({}), 'strict'],
      ['a repeated key', (r) => `${JSON.stringify(r).slice(0, -1)},"id":"again"}`, 'strict'],
      ['invalid JSON', '{"id": "r1", "amount":', 'strict'],
      ['two objects on one line', (r) => `${JSON.stringify(r)} ${JSON.stringify(r)}`, 'strict'],
      ['NaN', (r) => JSON.stringify(r).replace(/"amount":[^,]*/, '"amount":NaN'), 'strict'],
    ];
    for (const [label, change, drift] of bad) {
      const c = contract(drift);
      const lines = Array.from({ length: 500 }, (_, i) => {
        const r = record(i + 1);
        if (i !== 249) return JSON.stringify(r);
        const changed = typeof change === 'string' ? change : change(r);
        return typeof changed === 'string' ? changed : JSON.stringify(changed);
      });
      const path = await ndjson(lines);
      const fastLake = await openLake();
      expect(await fastLanding(fastLake, c, path, 500), label).toBeUndefined();
      const bronze = await (await fastLake.table(`bronze.${c.source}`)).snapshot();
      expect(bronze.version, `${label}: nothing committed`).toBe(0);

      const ingested = await ingestFile({ lake: fastLake, contract: c, input: path, idempotencyKey: KEY, clock });
      const exactLake = await openLake();
      const exact = await exactLanding(exactLake, c, path);
      expect(ingested, label).toMatchObject({ received: 500, landed: exact.landed, quarantined: exact.quarantined, addedColumns: exact.addedColumns });
      expect(exact.landed + exact.quarantined, label).toBe(500);
      expect(await contents(fastLake, c), label).toEqual(await contents(exactLake, c));
    }
  }, 120_000);

  it('lands into columns evolve added earlier, and a field named rowid takes the exact path', async () => {
    const c = contract('evolve');
    const lake = await openLake();
    const first = await ndjson([JSON.stringify({ ...record(1), gift: true })]);
    expect(await ingestFile({ lake, contract: c, input: first, clock })).toMatchObject({ landed: 1, addedColumns: ['gift'] });
    const path = await ndjson(Array.from({ length: 200 }, (_, i) => JSON.stringify({ ...record(i + 2), gift: i % 2 === 0 })));
    expect(await fastLanding(lake, c, path, 200)).toMatchObject({ landed: 200 });
    const gifts = await engine.all(`SELECT count(*) FILTER (WHERE gift) AS t, count(*) FILTER (WHERE NOT gift) AS f FROM (${await (await (await lake.table(`bronze.${c.source}`)).snapshot()).scanSql(lake.store)})`);
    expect(gifts).toEqual([{ t: '101', f: '100' }]);

    sources += 1;
    const withRowid = defineContract({ source: `fast_${sources}`, version: 1, owner: 'test', schema: z.object({ rowid: z.string(), ts: z.iso.datetime() }), key: ['rowid'], eventTime: 'ts' });
    const rowidFile = await ndjson(['{"rowid":"a","ts":"2026-04-01T00:00:00Z"}']);
    expect(await fastLanding(await openLake(), withRowid, rowidFile, 1)).toBeUndefined();
  });

  it('optional fields first seen after the small sample are found by the larger one: one read of the file alone, same result as the exact path', async () => {
    const count = FIRST_FIELD_SAMPLE + 1000;
    const plain = (i: number): Record<string, unknown> => {
      const { day: _day, meta: _meta, tags: _tags, note: _note, level: _level, ...rest } = record(i);
      return rest;
    };
    const c = contract('rescue');
    const late = FIRST_FIELD_SAMPLE + 100;
    const every = { day: '2026-04-02', meta: { a: 1 }, tags: ['x'], note: 'late', level: 5 };
    const path = await ndjson(Array.from({ length: count }, (_, i) => JSON.stringify(i === late ? { ...plain(i + 1), ...every } : plain(i + 1))));
    const described: string[] = [];
    const describe = engine.describe.bind(engine);
    engine.describe = async (sql: string) => {
      described.push(sql);
      return describe(sql);
    };
    const fastLake = await openLake();
    try {
      expect(await fastLanding(fastLake, c, path, count)).toMatchObject({ landed: count });
    } finally {
      engine.describe = describe;
    }
    const readers = described.filter((sql) => sql.includes('read_ndjson'));
    expect(readers.map((sql) => /sample_size = (\d+)/.exec(sql)?.[1])).toEqual([String(FIRST_FIELD_SAMPLE), String(FIELD_SAMPLE)]);
    expect(described.some((sql) => sql.includes('file_index'))).toBe(false);
    const exactLake = await openLake();
    await exactLanding(exactLake, c, path);
    expect(await contents(fastLake, c)).toEqual(await contents(exactLake, c));
  });

  it('a key first seen after the reader\'s sample: a declared one lands fast, an undeclared one sends the batch to the exact path', async () => {
    const count = FIELD_SAMPLE + 500;
    const late = FIELD_SAMPLE + 200;
    // Only the contract's required fields before the sample ends, so the sample shows no optional field.
    const plain = (i: number): Record<string, unknown> => {
      const { day: _day, meta: _meta, tags: _tags, note: _note, level: _level, ...rest } = record(i);
      return rest;
    };
    const c = contract('rescue');
    const declared = await ndjson(Array.from({ length: count }, (_, i) => JSON.stringify(i === late ? { ...plain(i + 1), note: 'late', tags: ['x'] } : plain(i + 1))));
    const fastLake = await openLake();
    expect(await fastLanding(fastLake, c, declared, count)).toMatchObject({ landed: count });
    const exactLake = await openLake();
    await exactLanding(exactLake, c, declared);
    expect(await contents(fastLake, c)).toEqual(await contents(exactLake, c));

    const r = contract('rescue');
    const undeclared = await ndjson(Array.from({ length: count }, (_, i) => JSON.stringify(i === late ? { ...plain(i + 1), coupon: 'X1' } : plain(i + 1))));
    const lake = await openLake();
    expect(await fastLanding(lake, r, undeclared, count)).toBeUndefined();
    expect((await (await lake.table(`bronze.${r.source}`)).snapshot()).version, 'nothing committed').toBe(0);
    const ingested = await ingestFile({ lake, contract: r, input: undeclared, idempotencyKey: KEY, clock });
    const exact = await exactLanding(await openLake(), r, undeclared);
    expect(exact.landed + exact.quarantined).toBe(count);
    expect(ingested).toMatchObject({ received: count, landed: exact.landed, quarantined: exact.quarantined });
    const rescued = await engine.all(`SELECT count(*) AS n FROM (${await (await (await lake.table(`bronze.${r.source}`)).snapshot()).scanSql(lake.store)}) WHERE _rescued IS NOT NULL`);
    expect(rescued).toEqual([{ n: '1' }]);
  }, 60_000);
});
