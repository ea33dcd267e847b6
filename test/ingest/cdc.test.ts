import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../../src/contracts/index.js';
import { ManualClock } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { ingestFile } from '../../src/ingest/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/** CDC end to end: a file of Debezium envelopes through `ingestFile` into bronze and quarantine. */
const payments = defineContract({
  source: 'payments_cdc',
  version: 1,
  owner: 'payments-team',
  schema: z.object({
    payment_id: z.string(),
    amount: z.number().positive(),
    method: z.enum(['card', 'paypal']),
    paid_at: z.iso.datetime({ offset: true }),
  }),
  key: ['payment_id'],
  eventTime: 'paid_at',
  drift: 'strict',
  cdc: true,
});

const TS = Date.UTC(2024, 4, 1, 21, 46, 40);
const image = (id: string, amount: number) => ({ payment_id: id, amount, method: 'card', paid_at: '2024-05-01T10:00:00Z' });
const event = (op: string, before: unknown, after: unknown, lsn: number) => ({ op, before, after, ts_ms: TS, source: { connector: 'postgresql', db: 'shop', lsn } });

let engine: Engine;
let dir: string;
let lake: Lake;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-cdc-'));
  lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function rows(table: string, sql: string): Promise<Record<string, unknown>[]> {
  const snapshot = await (await lake.table(table)).snapshot();
  return engine.all(sql.replace(/\bt\b/, `(${await snapshot.scanSql(lake.store)})`));
}

describe('CDC ingest', () => {
  it('lands c/u/d/r envelopes (also wrapped in {schema, payload}) with _op, _source_position and the right image; a bad op goes to quarantine', async () => {
    const lines = [
      event('r', null, image('pay_0', 5), 100),
      event('c', null, image('pay_1', 10), 101),
      { schema: { type: 'struct' }, payload: event('u', image('pay_1', 10), image('pay_1', 12), 102) },
      event('d', image('pay_0', 5), null, 103),
      event('t', null, null, 104), // truncate: not a row change lakeloop applies
      { schema: {}, payload: event('c', null, image('pay_2', 7), 105) },
    ].map((e) => JSON.stringify(e));
    const path = join(dir, 'payments.cdc.ndjson');
    await writeFile(path, `${lines.join('\n')}\n`);

    const summary = await ingestFile({ lake, contract: payments, input: path, clock: new ManualClock(Date.UTC(2024, 4, 2)) });
    expect(summary).toMatchObject({ received: 6, landed: 5, quarantined: 1, batches: 1 });

    expect(
      await rows('bronze.payments_cdc', 'SELECT payment_id, amount, _op, _source_position, _cdc_ts_ms, event_date::VARCHAR AS d, _ingest_id, _source_offset FROM t ORDER BY _source_position'),
    ).toEqual([
      { payment_id: 'pay_0', amount: 5, _op: 'r', _source_position: '100', _cdc_ts_ms: String(TS), d: '2024-05-01', _ingest_id: '1', _source_offset: expect.stringMatching(/#1$/) },
      { payment_id: 'pay_1', amount: 10, _op: 'c', _source_position: '101', _cdc_ts_ms: String(TS), d: '2024-05-01', _ingest_id: '2', _source_offset: expect.stringMatching(/#1$/) },
      // u: the after image; d: the before image (the row as it was when deleted)
      { payment_id: 'pay_1', amount: 12, _op: 'u', _source_position: '102', _cdc_ts_ms: String(TS), d: '2024-05-01', _ingest_id: '3', _source_offset: expect.stringMatching(/#1$/) },
      { payment_id: 'pay_0', amount: 5, _op: 'd', _source_position: '103', _cdc_ts_ms: String(TS), d: '2024-05-01', _ingest_id: '4', _source_offset: expect.stringMatching(/#1$/) },
      { payment_id: 'pay_2', amount: 7, _op: 'c', _source_position: '105', _cdc_ts_ms: String(TS), d: '2024-05-01', _ingest_id: '6', _source_offset: expect.stringMatching(/#1$/) },
    ]);

    const rejects = await rows('quarantine.payments_cdc', 'SELECT line, field, reason, payload FROM t');
    expect(rejects).toEqual([{ line: '5', field: 'op', reason: 'invalid op "t" (expected c, u, d or r)', payload: lines[4] }]);

    // the same file again: nothing more
    expect(await ingestFile({ lake, contract: payments, input: path })).toMatchObject({ landed: 0, duplicates: 6 });
  });
});
