import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { checkpointKey, commitKey, formatInterval, IDEMPOTENCY_KEY_RETENTION, Lake, parseInterval, type DeltaTable } from '../../src/table/index.js';

/**
 * Idempotency keys (`key:…` txns) expire after the table's lakeloop.idempotencyKeyRetentionDuration,
 * by the table's clock; every other txn stays for ever. Real DuckDB, real files, a ManualClock.
 */
let engine: Engine;
let dir: string;
const MINUTE = 60_000;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-key-retention-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function freshLake(name: string, clock: ManualClock, checkpointInterval = 10): Promise<Lake> {
  return Lake.open({ store: await LocalObjectStore.create(join(dir, name)), engine, clock, checkpointInterval, checkpointCache: null });
}

async function createTable(lake: Lake, retention: string | undefined): Promise<DeltaTable> {
  return lake.createTable('bronze.t', {
    columns: [{ name: 'id', type: 'BIGINT' }],
    ...(retention === undefined ? {} : { configuration: { [IDEMPOTENCY_KEY_RETENTION]: retention } }),
  });
}

/** The txns a checkpoint file holds, by appId. */
async function checkpointTxns(lake: Lake, version: number): Promise<Map<string, { version: number; lastUpdated: number | null }>> {
  const path = await lake.store.localPath(checkpointKey('bronze/t', version));
  const rows = await engine.all(`SELECT txn.appId AS app, txn."version" AS v, txn.lastUpdated AS t FROM read_parquet('${path}') WHERE txn IS NOT NULL`);
  return new Map(rows.map((r) => [String(r['app']), { version: Number(r['v']), lastUpdated: r['t'] === null ? null : Number(r['t']) }]));
}

describe('idempotency key retention', () => {
  it('writes and reads Delta intervals', () => {
    expect(formatInterval(15 * MINUTE)).toBe('interval 15 minutes');
    expect(formatInterval(3_600_000)).toBe('interval 1 hour');
    expect(formatInterval(90_000)).toBe('interval 90 seconds');
    expect(parseInterval('interval 15 minutes')).toBe(15 * MINUTE);
    expect(parseInterval('INTERVAL 2 days')).toBe(2 * 86_400_000);
    expect(() => parseInterval('15m')).toThrow(/"15m" is not an interval/);
  });

  it('drops a key from the snapshot once it is older than the retention; other txns stay for ever', async () => {
    const clock = new ManualClock(Date.UTC(2026, 8, 1, 12));
    const lake = await freshLake('expire', clock);
    const table = await createTable(lake, 'interval 10 minutes');
    await table.append('SELECT 1 AS id', {
      txn: { appId: 'collector:t:host', version: 1 },
      extraTxns: [{ appId: 'key:t:a', version: 1 }],
    });
    await table.append('SELECT 2 AS id', { txn: { appId: 'ingest:t:/data/f.ndjson:10:5', version: 1 }, extraTxns: [{ appId: 'ingest-cut:t:f:1/2', version: 1 }] });
    clock.advance(6 * MINUTE);
    await table.append('SELECT 3 AS id', { txn: { appId: 'collector:t:host', version: 2 }, extraTxns: [{ appId: 'key:t:b', version: 1 }] });
    const early = await table.snapshot();
    expect(early.txns.get('key:t:a')).toBe(1);
    expect(early.txns.keyLastUpdated('key:t:a')).toBe(Date.UTC(2026, 8, 1, 12));

    clock.advance(5 * MINUTE); // key:t:a is 11 minutes old, key:t:b 5
    const later = await table.snapshot();
    expect(later.version).toBe(early.version);
    expect(later.txns.has('key:t:a')).toBe(false);
    // the snapshot read before sees the key expire too: expiry is by the clock, not by the snapshot
    expect(early.txns.has('key:t:a')).toBe(false);
    expect(Object.fromEntries(later.txns)).toEqual({ 'collector:t:host': 2, 'ingest:t:/data/f.ndjson:10:5': 1, 'ingest-cut:t:f:1/2': 1, 'key:t:b': 1 });

    // a new reader (no cached state) agrees
    const other = await (await freshLake('expire', clock)).table('bronze.t');
    expect(Object.fromEntries((await other.snapshot()).txns)).toEqual(Object.fromEntries(later.txns));

    clock.advance(24 * 60 * MINUTE);
    const dayLater = await table.snapshot();
    expect(Object.fromEntries(dayLater.txns)).toEqual({ 'collector:t:host': 2, 'ingest:t:/data/f.ndjson:10:5': 1, 'ingest-cut:t:f:1/2': 1 });
    // a txn already applied is still skipped a day later (non-key txns never expire)
    expect((await table.append('SELECT 9 AS id', { txn: { appId: 'ingest:t:/data/f.ndjson:10:5', version: 1 } })).skipped).toBe(true);
  });

  it('keeps keys for ever on a table without the property', async () => {
    const clock = new ManualClock(Date.UTC(2026, 8, 1, 12));
    const lake = await freshLake('forever', clock);
    const table = await createTable(lake, undefined);
    await table.append('SELECT 1 AS id', { extraTxns: [{ appId: 'key:t:a', version: 1 }] });
    clock.advance(365 * 24 * 60 * MINUTE);
    expect((await table.snapshot()).txns.get('key:t:a')).toBe(1);
  });

  it('writes only live keys into a checkpoint, with their lastUpdated, and a reader starting from it expires them on time', async () => {
    const start = Date.UTC(2026, 8, 1, 12);
    const clock = new ManualClock(start);
    const lake = await freshLake('checkpoint', clock, 4);
    const table = await createTable(lake, 'interval 10 minutes');
    await table.append('SELECT 1 AS id', { txn: { appId: 'collector:t:host', version: 1 }, extraTxns: [{ appId: 'key:t:old', version: 1 }] }); // v1
    clock.advance(8 * MINUTE);
    await table.append('SELECT 2 AS id', { txn: { appId: 'collector:t:host', version: 2 }, extraTxns: [{ appId: 'key:t:young', version: 1 }] }); // v2
    clock.advance(3 * MINUTE); // old: 11 min, young: 3 min
    await table.append('SELECT 3 AS id', { txn: { appId: 'collector:t:host', version: 3 } }); // v3
    await table.append('SELECT 4 AS id', { txn: { appId: 'collector:t:host', version: 4 } }); // v4: checkpoint
    expect(table.lastCheckpointError).toBeUndefined();

    const txns = await checkpointTxns(lake, 4);
    expect(txns.has('key:t:old')).toBe(false);
    expect(txns.get('key:t:young')).toEqual({ version: 1, lastUpdated: start + 8 * MINUTE });
    expect(txns.get('collector:t:host')?.version).toBe(4);

    const reader = await (await freshLake('checkpoint', clock, 4)).table('bronze.t');
    expect((await reader.snapshot()).txns.get('key:t:young')).toBe(1);
    clock.advance(8 * MINUTE); // young: 11 min
    const snapshot = await reader.snapshot();
    expect(snapshot.txns.has('key:t:young')).toBe(false);
    expect(snapshot.txns.get('collector:t:host')).toBe(4);
  });

  it('gives a key without lastUpdated (an earlier release\'s checkpoint) the time of the commit holding it, so it expires too, never earlier', async () => {
    const start = Date.now();
    const clock = new ManualClock(start);
    const lake = await freshLake('timeless', clock, 0);
    await createTable(lake, 'interval 10 minutes');
    // as an earlier release or another writer would have it: no lastUpdated; one commit with a timestamp, one without
    await lake.store.putIfAbsent(commitKey('bronze/t', 1), `${JSON.stringify({ commitInfo: { timestamp: start, operation: 'WRITE' } })}\n${JSON.stringify({ txn: { appId: 'key:t:a', version: 1 } })}\n`);
    await lake.store.putIfAbsent(commitKey('bronze/t', 2), `${JSON.stringify({ commitInfo: { operation: 'WRITE' } })}\n${JSON.stringify({ txn: { appId: 'key:t:b', version: 1 } })}\n`);
    const table = await lake.table('bronze.t');
    const snapshot = await table.snapshot();
    expect(snapshot.txns.keyLastUpdated('key:t:a')).toBe(start);
    expect(snapshot.txns.keyLastUpdated('key:t:b')).toBeGreaterThanOrEqual(start - 60_000); // the commit file's time
    clock.advance(9 * MINUTE);
    expect(Object.fromEntries((await table.snapshot()).txns)).toEqual({ 'key:t:a': 1, 'key:t:b': 1 });
    clock.advance(3 * MINUTE);
    expect(Object.fromEntries((await table.snapshot()).txns)).toEqual({});
  });

  it('holds only the keys of the window in memory as commits go on', async () => {
    const clock = new ManualClock(Date.UTC(2026, 8, 1, 12));
    const lake = await freshLake('bounded', clock);
    const table = await createTable(lake, 'interval 10 minutes');
    // another process's reader of the table: it follows the commits by extending a copy of its state
    const follower = await (await freshLake('bounded', clock)).table('bronze.t');
    let most = 0;
    for (let i = 1; i <= 40; i++) {
      await table.append(`SELECT ${i} AS id`, { txn: { appId: 'collector:t:host', version: i }, extraTxns: [{ appId: `key:t:${i}a`, version: 1 }, { appId: `key:t:${i}b`, version: 1 }] });
      const snapshot = await table.snapshot();
      const followed = await follower.snapshot();
      expect(Object.fromEntries(followed.txns)).toEqual(Object.fromEntries(snapshot.txns));
      most = Math.max(most, snapshot.txns.keysHeld, followed.txns.keysHeld);
      clock.advance(MINUTE);
    }
    // 2 keys a minute, 10 minutes kept: at most 20 held (plus the pair just landed)
    expect(most).toBeLessThanOrEqual(22);
    expect([...(await table.snapshot()).txns.keyTxns()].length).toBeLessThanOrEqual(20);
  });
});
