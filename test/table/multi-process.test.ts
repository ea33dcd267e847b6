import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { createWriterTable } from '../fixtures/writer-table.js';
import { spawnTs } from '../helpers/child.js';

/** Two processes committing to one table at the same time, on the local store. */
const WRITER = 'test/fixtures/table-writer.ts';
const COMMITS = 12;
const ROWS = 100;

let engine: Engine;
let workDir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  workDir = await mkdtemp(join(tmpdir(), 'lakeloop-mp-'));
});

afterAll(async () => {
  await engine.close();
  await rm(workDir, { recursive: true, force: true });
});

async function createTable(name: string): Promise<string> {
  const root = join(workDir, name);
  const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine });
  await createWriterTable(lake, 'silver.t');
  return root;
}

/** Every commit file parses, and versions run 0..latest without a gap. */
async function checkLog(root: string): Promise<number> {
  const logDir = join(root, 'silver', 't', '_delta_log');
  const commits = (await readdir(logDir)).filter((f) => /^\d{20}\.json$/.test(f)).sort();
  commits.forEach((file, i) => expect(file).toBe(`${String(i).padStart(20, '0')}.json`));
  for (const file of commits) {
    const lines = (await readFile(join(logDir, file), 'utf8')).split('\n').filter(Boolean);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  }
  return commits.length - 1;
}

async function run(root: string, writer: string, mode: string, partition: string) {
  return spawnTs(WRITER, [root, 'silver.t', writer, mode, String(COMMITS), String(ROWS), partition]);
}

describe('two processes, one table', () => {
  it('disjoint partitions: every commit of both writers lands', async () => {
    const root = await createTable('disjoint');
    const [a, b] = await Promise.all([run(root, 'A', 'overwrite', 'pa'), run(root, 'B', 'overwrite', 'pb')]);
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    for (const child of [a, b]) {
      expect(child.lines.filter((l) => l.startsWith('COMMITTED'))).toHaveLength(COMMITS);
    }
    const latest = await checkLog(root);
    expect(latest).toBe(2 * COMMITS);
    const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine });
    const snapshot = await (await lake.table('silver.t')).snapshot();
    expect(snapshot.txns.get('A')).toBe(COMMITS);
    expect(snapshot.txns.get('B')).toBe(COMMITS);
    const rows = await engine.all(`SELECT p, writer, max(seq) AS seq, count(*) AS n FROM (${await snapshot.scanSql(lake.store)}) GROUP BY ALL ORDER BY p`);
    expect(rows).toEqual([
      { p: 'pa', writer: 'A', seq: String(COMMITS), n: String(ROWS) },
      { p: 'pb', writer: 'B', seq: String(COMMITS), n: String(ROWS) },
    ]);
  });

  it('blind appends: all land, nothing lost', async () => {
    const root = await createTable('appends');
    const [a, b] = await Promise.all([run(root, 'A', 'append', 'x'), run(root, 'B', 'append', 'x')]);
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    expect(await checkLog(root)).toBe(2 * COMMITS);
    const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine });
    const snapshot = await (await lake.table('silver.t')).snapshot();
    expect(snapshot.numRecords()).toBe(2 * COMMITS * ROWS);
  });

  it('the same partition: each write lands or fails with CommitConflict; the survivor is the last commit; no lost update', async () => {
    const root = await createTable('overlap');
    const [a, b] = await Promise.all([run(root, 'A', 'overwrite', 'shared'), run(root, 'B', 'overwrite', 'shared')]);
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const outcomes = [...a.lines, ...b.lines].filter((l) => /^(COMMITTED|CONFLICT)/.test(l));
    expect(outcomes).toHaveLength(2 * COMMITS);
    const committed = outcomes.filter((l) => l.startsWith('COMMITTED'));
    const latest = await checkLog(root);
    expect(latest).toBe(committed.length);

    // the partition holds exactly the rows of the commit with the highest version
    const lastVersion = Math.max(...committed.map((l) => Number(l.split(' ')[2])));
    const lastLine = [...a.lines.map((l) => ['A', l] as const), ...b.lines.map((l) => ['B', l] as const)].find(
      ([, l]) => l.startsWith('COMMITTED') && Number(l.split(' ')[2]) === lastVersion,
    );
    expect(lastLine).toBeDefined();
    const [writer, line] = lastLine!;
    const lake = await Lake.open({ store: await LocalObjectStore.create(root), engine });
    const snapshot = await (await lake.table('silver.t')).snapshot();
    const rows = await engine.all(`SELECT writer, seq, count(*) AS n FROM (${await snapshot.scanSql(lake.store)}) GROUP BY ALL`);
    expect(rows).toEqual([{ writer, seq: line.split(' ')[1], n: String(ROWS) }]);
  });
});
