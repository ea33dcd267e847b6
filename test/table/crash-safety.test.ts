import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake, type Snapshot } from '../../src/table/index.js';
import { createWriterTable } from '../fixtures/writer-table.js';
import { spawnTs } from '../helpers/child.js';

/**
 * SPEC §9: kill -9 at any point of a write or a commit leaves the table readable at a
 * version that is either the previous one or the new one, never a mix; orphaned data
 * files never become visible; the next commit succeeds.
 */
const WRITER = 'test/fixtures/table-writer.ts';
const ROWS = 500;

let engine: Engine;
let workDir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  workDir = await mkdtemp(join(tmpdir(), 'lakeloop-crash-'));
});

afterAll(async () => {
  await engine.close();
  await rm(workDir, { recursive: true, force: true });
});

async function freshLake(name: string, preCommits: number): Promise<{ root: string; lake: Lake }> {
  const root = join(workDir, name);
  const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine });
  const table = await createWriterTable(lake, 'bronze.events');
  for (let seq = 1; seq <= preCommits; seq++) {
    await table.append(`SELECT 'w' AS writer, ${seq}::BIGINT AS seq, range AS n, 'a' AS p FROM range(${ROWS})`, {
      txn: { appId: 'w', version: seq },
    });
  }
  return { root, lake };
}

/** Reads the table with a fresh reader and checks that every committed seq is there exactly once. */
async function verify(root: string): Promise<{ snapshot: Snapshot; seqs: number[] }> {
  const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine });
  const table = await lake.table('bronze.events');
  const snapshot = await table.snapshot();
  const scan = await snapshot.scanSql(lake.store);
  const groups = await engine.all(`SELECT seq, count(*) AS n FROM (${scan}) GROUP BY seq ORDER BY seq`);
  const seqs = groups.map((g) => Number(g['seq']));
  for (const group of groups) expect(Number(group['n'])).toBe(ROWS);
  const recorded = snapshot.txns.get('w') ?? 0;
  expect(seqs).toEqual(Array.from({ length: recorded }, (_, i) => i + 1));
  expect(snapshot.numRecords()).toBe(recorded * ROWS);
  return { snapshot, seqs };
}

async function parquetFilesOnDisk(root: string): Promise<string[]> {
  const dir = join(root, 'bronze', 'events');
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith('.parquet') && !e.includes('_delta_log')).map((e) => e.split('\\').join('/'));
}

describe('kill -9 at each commit stage', () => {
  const cases = [
    { point: 'table.after-data-files', pre: 3, lands: false },
    { point: 'table.before-log-put', pre: 3, lands: false },
    { point: 'storage.local.before-link', pre: 3, lands: false },
    { point: 'table.after-log-put', pre: 3, lands: true },
    { point: 'table.checkpoint.after-parquet', pre: 9, lands: true },
  ] as const;

  for (const { point, pre, lands } of cases) {
    it(`${point}: the table stays readable, the write is all or nothing, the next commit succeeds`, async () => {
      const { root } = await freshLake(point, pre);
      const before = await verify(root);
      const child = spawnTs(WRITER, [root, 'bronze.events', 'w', 'append', String(pre + 1), String(ROWS), 'b'], {
        LAKELOOP_FAILPOINTS: point,
      });
      expect(await child.exited).toBe('SIGKILL');
      expect(child.lines.some((l) => l.startsWith('COMMITTED'))).toBe(false);

      const after = await verify(root);
      expect(after.snapshot.version).toBe(before.snapshot.version + (lands ? 1 : 0));
      const live = new Set(after.snapshot.files.map((f) => decodeURIComponent(f.path)));
      const onDisk = await parquetFilesOnDisk(root);
      if (point === 'table.after-data-files' || point === 'table.before-log-put' || point === 'storage.local.before-link') {
        // the crash left an orphan behind; it must not be part of the table
        const orphans = onDisk.filter((f) => !live.has(f));
        expect(orphans.length).toBeGreaterThan(0);
      }

      const resumed = spawnTs(WRITER, [root, 'bronze.events', 'w', 'append', String(pre + 2), String(ROWS), 'b']);
      expect(await resumed.exited).toBe(0);
      const final = await verify(root);
      expect(final.seqs).toEqual(Array.from({ length: pre + 2 }, (_, i) => i + 1));
    });
  }
});

describe('kill -9 at random moments of a commit loop', () => {
  it('after each of 8 kills the table is consistent and the writer resumes without loss or duplicates', async () => {
    const { root } = await freshLake('random', 0);
    let acknowledged = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawnTs(WRITER, [root, 'bronze.events', 'w', 'append', '100000', String(ROWS), round % 2 ? 'a' : 'b']);
      await child.waitForLine(/^READY$/);
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 700)));
      await child.kill();
      const committed = child.lines.filter((l) => l.startsWith('COMMITTED')).map((l) => Number(l.split(' ')[1]));
      acknowledged = Math.max(acknowledged, ...committed);
      const { seqs } = await verify(root);
      // everything acknowledged is there; at most the one commit in flight landed without its acknowledgement
      expect(seqs.length).toBeGreaterThanOrEqual(acknowledged);
      expect(seqs.length).toBeLessThanOrEqual(acknowledged + 1);
    }
    expect(acknowledged).toBeGreaterThan(0);
  });
});
