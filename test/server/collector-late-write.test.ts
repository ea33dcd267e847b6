import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defineContract, type Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { Collector } from '../../src/server/index.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { Lake } from '../../src/table/index.js';
import { startFaultProxy, type FaultAction, type FaultProxy, type LateWrite } from '../helpers/fault-proxy.js';
import { createTestBucket, type TestBucket } from '../helpers/s3.js';

/**
 * A data-file PUT the store completes late must never overwrite an acknowledged batch
 * (SPEC §5): batch A's upload fails (held, then 503), A is refused, batch B takes the next
 * number and is acknowledged, then the store lets A's upload through. Bronze must hold
 * exactly B's records, and A's re-send lands them once.
 */
const contract: Contract = defineContract({
  source: 'events',
  version: 1,
  owner: 'test',
  key: ['id'],
  eventTime: 'ts',
  drift: 'strict',
  schema: z.object({ id: z.int(), ts: z.iso.datetime({ offset: true }) }),
  batch: { maxMs: 20 },
});

let bucket: TestBucket;
let proxy: FaultProxy;
let engine: Engine;
let cacheDir: string;
let releaseLate: () => void = () => undefined;
let late: LateWrite | undefined;
let failing = true;

beforeAll(async () => {
  bucket = await createTestBucket('late-write');
  cacheDir = await mkdtemp(join(tmpdir(), 'lakeloop-late-write-'));
  const release = new Promise<void>((resolve) => {
    releaseLate = resolve;
  });
  proxy = await startFaultProxy({
    upstream: bucket.endpoint.endpoint,
    plan: (_index, req): FaultAction => {
      const dataFile = req.method === 'PUT' && (req.url ?? '').includes('/bronze/') && (req.url ?? '').includes('.parquet');
      if (!dataFile || !failing) return 'forward';
      if (!late) {
        late = { late: true, answer: { status: 503, code: 'SlowDown' }, holdMs: 300, release };
        return late;
      }
      return { status: 503, code: 'SlowDown' };
    },
  });
  engine = await Engine.create({ threads: 2 });
});

afterAll(async () => {
  releaseLate();
  await proxy.close();
  await engine.close();
  await rm(cacheDir, { recursive: true, force: true });
  await bucket.cleanup();
});

const body = (from: number, count: number): string =>
  Array.from({ length: count }, (_, i) => `${JSON.stringify({ id: from + i, ts: '2026-05-01T12:00:00Z' })}\n`).join('');

it('a late data-file PUT of a refused batch never replaces an acknowledged batch', async () => {
  const store = await S3ObjectStore.create({
    ...bucket.options,
    endpoint: proxy.endpoint,
    prefix: 'lake',
    cacheDir: join(cacheDir, 'writer'),
    requestTimeoutMs: 200,
    retryPolicy: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
  });
  const lake = await Lake.open({ store, engine });
  const collector = await Collector.create({ lake, contracts: new Map([[contract.source, contract]]), port: 0 });
  try {
    const post = (text: string, key?: string) =>
      fetch(`${collector.url}/ingest/events`, { method: 'POST', body: text, headers: key ? { 'idempotency-key': key } : {} });

    const a = await post(body(1, 50), 'batch-a');
    expect(a.status).toBe(503);
    expect(late).toBeDefined();
    failing = false;

    const b = await post(body(1001, 50), 'batch-b');
    expect(b.status).toBe(200);
    expect(await b.json()).toMatchObject({ landed: 50 });

    releaseLate();
    expect(await late?.landed).toBe(200);

    const resent = await post(body(1, 50), 'batch-a');
    expect(resent.status).toBe(200);
    expect(await resent.json()).toMatchObject({ landed: 50, duplicate: false });
  } finally {
    await collector.close();
    await store.close();
  }

  // A fresh reader (its own cache) sees what the store holds now.
  const reader = await S3ObjectStore.create({ ...bucket.options, prefix: 'lake', cacheDir: join(cacheDir, 'reader') });
  try {
    const readLake = await Lake.open({ store: reader, engine });
    const snapshot = await (await readLake.table('bronze.events')).snapshot();
    const rows = await engine.all(`SELECT id, count(*) AS n FROM (${await snapshot.scanSql(reader)}) GROUP BY id`);
    const ids = rows.map((r) => Number(r['id'])).sort((x, y) => x - y);
    expect(ids).toEqual([...Array.from({ length: 50 }, (_, i) => 1 + i), ...Array.from({ length: 50 }, (_, i) => 1001 + i)]);
    expect(rows.every((r) => Number(r['n']) === 1)).toBe(true);
  } finally {
    await reader.close();
  }
});
