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
/** Which PUTs the proxy holds (the first) and fails (the rest) while `failing`. */
let target: (url: string) => boolean = (url) => url.includes('/bronze/') && url.includes('.parquet');

beforeAll(async () => {
  bucket = await createTestBucket('late-write');
  cacheDir = await mkdtemp(join(tmpdir(), 'lakeloop-late-write-'));
  proxy = await startFaultProxy({
    upstream: bucket.endpoint.endpoint,
    plan: (_index, req): FaultAction => {
      if (req.method !== 'PUT' || !target(req.url ?? '') || !failing) return 'forward';
      if (!late) {
        const release = new Promise<void>((resolve) => {
          releaseLate = resolve;
        });
        late = { late: true, answer: { status: 503, code: 'SlowDown' }, holdMs: 3_500, release };
        return late;
      }
      return { status: 503, code: 'SlowDown' };
    },
  });
  engine = await Engine.create({ threads: 2 });
});

afterAll(async () => {
  releaseLate();
  await late?.landed?.catch(() => undefined);
  await proxy.close();
  await engine.close();
  await rm(cacheDir, { recursive: true, force: true });
  await bucket.cleanup();
});

const body = (from: number, count: number): string =>
  Array.from({ length: count }, (_, i) => `${JSON.stringify({ id: from + i, ts: '2026-05-01T12:00:00Z' })}\n`).join('');

/** A writer whose S3 requests go through the proxy (3 s timeouts, three attempts), a collector on it, and a reader that bypasses both. */
async function openWriter(prefix: string): Promise<{ collector: Collector; close(): Promise<void> }> {
  const store = await S3ObjectStore.create({
    ...bucket.options,
    endpoint: proxy.endpoint,
    prefix,
    cacheDir: join(cacheDir, `${prefix}-writer`),
    requestTimeoutMs: 3_000,
    retryPolicy: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
  });
  const lake = await Lake.open({ store, engine });
  const collector = await Collector.create({ lake, contracts: new Map([[contract.source, contract]]), port: 0 });
  return {
    collector,
    async close() {
      await collector.close();
      await store.close();
    },
  };
}

/** The ids in bronze (each once, else the test fails), read by a fresh store with its own cache. */
async function bronzeIds(prefix: string): Promise<number[]> {
  const reader = await S3ObjectStore.create({ ...bucket.options, prefix, cacheDir: join(cacheDir, `${prefix}-reader`) });
  try {
    const readLake = await Lake.open({ store: reader, engine });
    const snapshot = await (await readLake.table('bronze.events')).snapshot();
    const rows = await engine.all(`SELECT id, count(*) AS n FROM (${await snapshot.scanSql(reader)}) GROUP BY id`);
    expect(rows.filter((r) => Number(r['n']) !== 1)).toEqual([]);
    return rows.map((r) => Number(r['id'])).sort((x, y) => x - y);
  } finally {
    await reader.close();
  }
}

/** The write the proxy holds (a function, so TypeScript does not narrow it across awaits). */
const heldWrite = (): LateWrite | undefined => late;

const ids = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

it('a late commit PUT on a store without conditional writes is completed, never overwritten by the next batch', async () => {
  // s3rver ignores If-None-Match: the single-writer case the engine must guard itself.
  target = (url) => url.includes('/bronze/') && url.includes('_delta_log/') && url.endsWith('.json');
  failing = true;
  late = undefined;
  const writer = await openWriter('commits');
  const post = (text: string, key: string) => fetch(`${writer.collector.url}/ingest/events`, { method: 'POST', body: text, headers: { 'idempotency-key': key } });
  try {
    // The first batch creates the table; the second one's commit PUT is held, then fails.
    expect((await post(body(1, 10), 'batch-0')).status).toBe(200);
    failing = true;
    late = undefined;
    target = (url) => url.includes('/bronze/') && /_delta_log\/0+2\.json/.test(url);
    const a = await post(body(101, 50), 'batch-a');
    expect(a.status).toBe(503);
    expect(late).toBeDefined();
    failing = false;

    // The next batch finds version 2 in doubt: the held commit is completed first, so this batch's
    // number (the one the refused batch had) is already committed and it is refused too; its re-send lands.
    const b = await post(body(1001, 50), 'batch-b');
    const bResent = b.status === 200 ? b : await post(body(1001, 50), 'batch-b');
    expect(bResent.status).toBe(200);

    releaseLate();
    expect(await heldWrite()?.landed).toBe(200);
    const aResent = await post(body(101, 50), 'batch-a');
    expect(aResent.status).toBe(200);
    expect(await aResent.json()).toMatchObject({ duplicate: true });
  } finally {
    await writer.close();
  }
  expect(await bronzeIds('commits')).toEqual([...ids(1, 10), ...ids(101, 50), ...ids(1001, 50)]);
});

it('a late data-file PUT of a refused batch never replaces an acknowledged batch', async () => {
  target = (url) => url.includes('/bronze/') && url.includes('.parquet');
  failing = true;
  late = undefined;
  const writer = await openWriter('files');
  const post = (text: string, key: string) => fetch(`${writer.collector.url}/ingest/events`, { method: 'POST', body: text, headers: { 'idempotency-key': key } });
  try {
    const a = await post(body(1, 50), 'batch-a');
    expect(a.status).toBe(503);
    expect(late).toBeDefined();
    failing = false;

    // The next batch takes the refused one's number; before the fix it also took its file names.
    const b = await post(body(1001, 50), 'batch-b');
    expect(b.status).toBe(200);
    expect(await b.json()).toMatchObject({ landed: 50 });

    releaseLate();
    expect(await heldWrite()?.landed).toBe(200);

    const resent = await post(body(1, 50), 'batch-a');
    expect(resent.status).toBe(200);
    expect(await resent.json()).toMatchObject({ landed: 50, duplicate: false });
  } finally {
    await writer.close();
  }
  expect(await bronzeIds('files')).toEqual([...ids(1, 50), ...ids(1001, 50)]);
});
