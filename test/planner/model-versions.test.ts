import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { modelVersionRecord, parseModelFile } from '../../src/models/index.js';
import { publishedVersion } from '../../src/planner/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake, type DeltaTable } from '../../src/table/index.js';
import { tempDir } from '../cli/cli-harness.js';

/** Which version a table's log says is published: the newest commit with a record, past commits that are not runs. */
let engine: Engine;
let lake: Lake;
let remove: () => Promise<void>;
let tables = 0;

const parsed = parseModelFile('/p/sql/gold/x.sql', 'SELECT 1 AS a');
const record = modelVersionRecord({ sql: parsed.sql, header: parsed.header });

async function table(commits: readonly Record<string, unknown>[]): Promise<DeltaTable> {
  const t = await lake.createTable(`gold.t${++tables}`, { columns: [{ name: 'a', type: 'INTEGER' }] });
  for (const [i, lakeloop] of commits.entries()) await t.commit({ readVersion: i, operation: 'X', commitInfo: Object.keys(lakeloop).length ? { lakeloop } : {} });
  return t;
}

beforeAll(async () => {
  const dir = await tempDir('model-versions');
  remove = dir.remove;
  engine = await Engine.create({ threads: 1 });
  lake = await Lake.open({ store: await LocalObjectStore.create(dir.dir), engine, checkpointCache: null });
});

afterAll(async () => {
  await engine.close();
  await remove();
});

describe('publishedVersion', () => {
  it('passes over reconcile, schema and compaction commits to the newest run that recorded a version', async () => {
    const t = await table([{ mode: 'full', upstream: {}, modelVersion: record }, { mode: 'reconcile', upstream: {} }, { mode: 'schema' }, {}]);
    expect((await publishedVersion(t))?.version).toBe(1);
    expect((await publishedVersion(t))?.record.fingerprint).toBe(record.fingerprint);
  });

  it('a run commit without a version (written before fingerprints) ends the search: the file is adopted', async () => {
    expect(await publishedVersion(await table([{ mode: 'full', upstream: {}, modelVersion: record }, { mode: 'stream', upstream: {} }]))).toBeUndefined();
    expect(await publishedVersion(await table([{ mode: 'full', upstream: {} }, {}]))).toBeUndefined();
    expect(await publishedVersion(await table([]))).toBeUndefined();
  });

  it('with estimate, finds how long the last full build took', async () => {
    const t = await table([{ mode: 'full', upstream: {}, modelVersion: { ...record, startedMs: 0 } }, { mode: 'stream', upstream: {}, modelVersion: record }]);
    const found = await publishedVersion(t, { estimate: true });
    expect(found?.version).toBe(2);
    expect(found?.fullBuildSeconds).toBeGreaterThan(0);
  });
});
