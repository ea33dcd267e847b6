import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { loadModels, modelVersionRecord, resolveModels, type Model } from '../../src/models/index.js';
import { partitionStatus, type ReconcileOutcome } from '../../src/state/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake, type AddAction, type DeltaTable } from '../../src/table/index.js';
import { tempDir } from '../cli/cli-harness.js';

/**
 * The rules of partition status the sales-lake test does not reach, on logs written
 * commit by commit (tiny add actions; the status never opens a data file): `missing`
 * from the upstream's days, `held` from a reconcile report until an exact rewrite,
 * a reconcile's `match` verifying a streamed partition, and the precedence.
 */
let dir: string;
let remove: () => Promise<void>;
let engine: Engine;
let lake: Lake;
let model: Model;
let table: DeltaTable;
let template: AddAction;
const D = (n: number): string => `2026-04-0${n}`;

beforeAll(async () => {
  ({ dir, remove } = await tempDir('partition-status-log'));
  engine = await Engine.create({ threads: 1 });
  await mkdir(join(dir, 'project', 'sql', 'silver'), { recursive: true });
  await writeFile(join(dir, 'project', 'sql', 'silver', 'daily.sql'), `/*\nkind: incremental_by_partition\npartition_by: day\n*/\nSELECT day, count(*) AS n FROM bronze.src GROUP BY day\n`);
  [model] = (await resolveModels(await loadModels(join(dir, 'project')), { engine, knownTables: ['bronze.src'] })).models as [Model];
  lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  const bronze = await lake.createTable('bronze.src', { columns: [{ name: 'day', type: 'DATE' }, { name: 'name', type: 'VARCHAR' }], partitionColumns: ['day'] });
  [template] = (await bronze.writeDataFiles(`SELECT DATE '2026-04-01' AS day, 'a' AS name`)) as [AddAction];
  // Bronze has days 1–5; the model table will have 1, 2 and 4 (3 is a gap; 5 is past its last day).
  await bronze.commit({ readVersion: 0, add: [1, 2, 3, 4, 5].map((d) => add(`b${d}`, D(d))), operation: 'WRITE' });
  table = await lake.createTable(model.name, { columns: [{ name: 'day', type: 'DATE' }, { name: 'n', type: 'BIGINT' }], partitionColumns: ['day'] });
}, 60_000);
afterAll(async () => {
  await engine?.close();
  await remove?.();
});

function add(name: string, day: string): AddAction {
  return { ...template, path: `day=${day}/${name}.parquet`, partitionValues: { day }, modificationTime: Date.now() };
}

async function write(mode: string, days: readonly string[] | undefined, extra: Record<string, unknown> = {}): Promise<number> {
  const snapshot = await table.snapshot();
  const replaced = snapshot.files.filter((f) => days === undefined || days.includes(String(f.partitionValues['day'])));
  const lakeloop = { model: model.name, kind: 'incremental_by_partition', upstream: { 'bronze.src': 1 }, mode, ...(days ? { partitions: days } : {}), ...(mode === 'stream' || mode === 'full' ? { modelVersion: modelVersionRecord(model, 0) } : {}), ...extra };
  const result = await table.commit({
    readVersion: snapshot.version,
    add: (days ?? [D(1), D(2), D(4)]).map((d) => add(`v${snapshot.version + 1}-${d}`, d)),
    remove: replaced.map((f) => ({ path: f.path, dataChange: true, partitionValues: f.partitionValues })),
    operation: 'MODEL RUN',
    commitInfo: { lakeloop },
  });
  return result.version;
}

async function statuses(reconciles: readonly ReconcileOutcome[] = []): Promise<Record<string, string[]>> {
  const [status] = await partitionStatus(lake, [model], { engine, reconciles });
  return Object.fromEntries((status?.partitions ?? []).map((p) => [p.partition, [...p.statuses]]));
}

describe('partition status from the log', () => {
  it('a full build is exact; a day the upstream has inside the table\'s range is missing', async () => {
    await write('full', undefined);
    expect(await statuses()).toEqual({ [D(1)]: ['exact'], [D(2)]: ['exact'], [D(3)]: ['missing'], [D(4)]: ['exact'] });
  });

  it('a streamed day is provisional, and pending_late comes first when it also has late rows', async () => {
    await write('stream', [D(2)], { deferred: { [D(1)]: 2, [D(2)]: 1 } });
    await write('stream', [D(2)], { deferred: { [D(1)]: 3 } });
    const [status] = await partitionStatus(lake, [model], { engine });
    const day1 = status?.partitions.find((p) => p.partition === D(1));
    expect(day1).toMatchObject({ status: 'pending_late', pendingLateRows: 5, mode: 'full', lastExactVersion: 1 });
    expect(await statuses()).toMatchObject({ [D(1)]: ['pending_late'], [D(2)]: ['pending_late', 'provisional'], [D(4)]: ['exact'] });
  });

  it('a reconcile held day stays held (and pending) until rewritten exactly; a matching day is verified exact', async () => {
    const before = (await table.snapshot()).version;
    // The reconcile published day 1, found day 4 to match, held day 2.
    const published = await write('reconcile', [D(1)]);
    const report: ReconcileOutcome = {
      dryRun: false,
      models: [{ model: model.name, version: before, published, partitions: [{ partition: D(1), status: 'corrected' }, { partition: D(2), status: 'held' }, { partition: D(4), status: 'match' }] }],
    };
    expect(await statuses([report])).toMatchObject({ [D(1)]: ['exact'], [D(2)]: ['held', 'pending_late', 'provisional'], [D(3)]: ['missing'], [D(4)]: ['exact'] });
    // A dry run's report holds nothing.
    expect((await statuses([{ ...report, dryRun: true }]))[D(2)]).toEqual(['pending_late', 'provisional']);
    // A stream write after the match makes day 4 provisional again.
    await write('stream', [D(4)]);
    expect((await statuses([report]))[D(4)]).toEqual(['provisional']);
    await write('replay', [D(2), D(4)]);
    expect(await statuses([report])).toEqual({ [D(1)]: ['exact'], [D(2)]: ['exact'], [D(3)]: ['missing'], [D(4)]: ['exact'] });
  });

  it('an edit of the model file makes every partition stale_code first', async () => {
    const edited: Model = Object.freeze({ ...model, sql: model.sql.replace('count(*)', 'count(*) * 2') });
    const [status] = await partitionStatus(lake, [edited], { engine });
    expect(status?.pendingChange).toBe('breaking');
    expect(status?.partitions.map((p) => p.status)).toEqual(['stale_code', 'stale_code', 'stale_code', 'stale_code']);
    expect(status?.partitions.find((p) => p.partition === D(3))?.statuses).toEqual(['stale_code', 'missing']);
  });
});
