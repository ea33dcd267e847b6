import { assert } from '../core/index.js';
import { quoteIdent, quoteList, type Engine } from '../engine/index.js';
import { embeddableSql, ModelError, type Model } from '../models/index.js';
import { partitionOf, type Horizon, type UpstreamChanges } from '../planner/index.js';
import { parseStats, type AddAction, type Lake, type Snapshot } from '../table/index.js';
import { NULL_PARTITION, rowsOf, userSql, versionOrder } from './model-sql.js';

/** An incremental run, planned: the output partitions to rewrite and the SELECT of their new content. */
export interface OutputPlan {
  /** Output partition values to replace (NULL_PARTITION for null); empty: nothing to write. */
  readonly partitions: readonly string[];
  /** The new content of exactly those partitions (the upstream views are bound). */
  readonly select: string;
  /** Upstream rows behind the lateness horizon, per output partition. */
  readonly deferred: Record<string, number>;
  /** Rows read (from the bound files' stats). */
  readonly rowsIn: number;
  /** Temp tables to drop once the write is done. */
  readonly cleanup: readonly string[];
  /** The data files the plan binds or scans, per table (what the run's cost counts as read). */
  readonly read: readonly { readonly table: string; readonly files: readonly AddAction[] }[];
  /**
   * Set by a key merge: the live files `select` replaces (those holding rows of the incoming
   * keys); every other file stays. Unset: `select` is the whole content of `partitions`.
   */
  readonly replaces?: readonly AddAction[];
  /**
   * A column of `select` that is not part of the model: rows with different values go to
   * different files (a replaced file's rows keep a file of their own; new keys share one).
   */
  readonly fileGroupColumn?: string;
}

/** The file group column of a key merge's output (see `OutputPlan.fileGroupColumn`). */
const FILE_GROUP = '_lakeloop_file_group';

/**
 * `incremental_by_partition`: the output partitions to recompute are the upstream
 * partitions that changed (a daily model over daily partitions: the same values), minus
 * those behind the horizon, which are counted as deferred. Each partitioned upstream is
 * bound to its live files in those partitions only; an upstream without partitions is read
 * whole, and a change in it means a full recompute (`'full'`). The SELECT keeps only rows
 * of the partitions being written.
 */
export async function planPartitions(lake: Lake, model: Model, changes: ReadonlyMap<string, UpstreamChanges>, horizon: Horizon): Promise<OutputPlan | 'full'> {
  const column = partitionColumnOf(model);
  const affected = new Set<string>();
  const deferred: Record<string, number> = {};
  for (const change of changes.values()) {
    if (change.partitionColumn === undefined) {
      if (change.changed.size > 0 || change.corrected.size > 0) return 'full';
      continue;
    }
    for (const [value, rows] of change.changed) {
      const key = value ?? NULL_PARTITION;
      if (horizon.isCold(value)) deferred[key] = (deferred[key] ?? 0) + rows;
      else affected.add(key);
    }
    for (const value of change.corrected) if (!horizon.isCold(value)) affected.add(value ?? NULL_PARTITION);
  }
  const partitions = [...affected].sort();
  if (partitions.length === 0) return { partitions, select: '', deferred, rowsIn: 0, cleanup: [], read: [] };
  let rowsIn = 0;
  const read: { table: string; files: readonly AddAction[] }[] = [];
  for (const [name, change] of changes) {
    const files = change.partitionColumn === undefined ? change.snapshot.files : change.snapshot.files.filter((f) => affected.has(partitionOf(f.partitionValues, change.partitionColumn) ?? NULL_PARTITION));
    await lake.bindView(lake.engine, name, change.snapshot, files);
    read.push({ table: name, files });
    rowsIn += rowsOf(files);
  }
  return { partitions, select: `SELECT * FROM (${embeddableSql(model.sql)}) AS _lakeloop_out WHERE ${inPartitions(column, partitions)}`, deferred, rowsIn, cleanup: [], read };
}

/**
 * `incremental_by_key`: the model runs over the upstream rows added since the last run
 * (upstream tables without new files are read whole), and the result is merged into the
 * output by `unique_key`: the newest `version_by` wins (the incoming row on a tie),
 * `delete_when` removes the key. The partitions rewritten are those of the incoming rows
 * and of the existing rows they replace (found through the key column's file stats).
 * Incoming rows for a partition behind the horizon, or whose key lives in one, are left
 * to reconcile and counted as deferred.
 */
export async function planKeyMerge(
  lake: Lake,
  model: Model,
  changes: ReadonlyMap<string, UpstreamChanges>,
  horizon: Horizon,
  output: Snapshot,
): Promise<OutputPlan | 'full'> {
  const column = partitionColumnOf(model);
  if (model.header.uniqueKey.length === 0) {
    throw new ModelError(model.name, model.file, undefined, 'an incremental_by_key model needs unique_key', { hint: `Add unique_key: [<columns>] to the header of ${model.file}.` });
  }
  const engine = lake.engine;
  let rowsIn = 0;
  const read: { table: string; files: readonly AddAction[] }[] = [];
  for (const [name, change] of changes) {
    const files = change.addedFiles.length > 0 ? change.addedFiles : change.snapshot.files;
    await lake.bindView(engine, name, change.snapshot, files);
    read.push({ table: name, files });
    rowsIn += rowsOf(files);
  }
  const prefix = `_lakeloop_${model.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const [incoming, hotCopy, held, old] = ['incoming', 'hot', 'held', 'old'].map((t) => quoteIdent(`${prefix}_${t}`)) as [string, string, string, string];
  const cleanup: string[] = [incoming, hotCopy, held, old];
  const keys = model.header.uniqueKey.map(quoteIdent).join(', ');
  const part = `CAST(${quoteIdent(column)} AS VARCHAR)`;
  await userSql(model, () => engine.run(`CREATE OR REPLACE TEMP TABLE ${incoming} AS ${embeddableSql(model.sql)}`));

  // Incoming rows behind the horizon wait for reconcile.
  const deferred: Record<string, number> = {};
  const cold: string[] = [];
  const hotPartitions: string[] = [];
  for (const row of await engine.all(`SELECT ${part} AS p, count(*) AS n FROM ${incoming} GROUP BY ALL`)) {
    const value = row['p'] as string | null;
    if (!horizon.isCold(value)) {
      hotPartitions.push(value ?? NULL_PARTITION);
      continue;
    }
    cold.push(value as string);
    deferred[value as string] = Number(row['n']);
  }
  // Nothing cold (the usual streaming case): the incoming rows are the hot ones, no copy.
  const hot = cold.length ? hotCopy : incoming;
  if (cold.length) await engine.run(`CREATE OR REPLACE TEMP TABLE ${hot} AS SELECT * FROM ${incoming} WHERE ${part} NOT IN ${quoteList(cold)} OR ${part} IS NULL`);

  // The existing rows of the incoming keys: the files whose key range can hold them are
  // probed on their key columns alone, and only the files that do hold one are read whole
  // and rewritten (copy-on-write per file, as a Delta MERGE), so a run's cost follows the
  // rows it changes, not the size of the partitions it touches.
  const candidates = await filesWithKeys(engine, output, model.header.uniqueKey[0] as string, hot);
  const holding = await filesHoldingKeys(lake, output, candidates, keys, hot);
  // The probe opens every candidate (its key columns); the holding ones are among them.
  read.push({ table: model.name, files: candidates });
  // Those files' rows, read once; each carries its file (local path): rewritten rows go back to a file of their own.
  await engine.run(`CREATE OR REPLACE TEMP TABLE ${held} AS ${await output.scanSql(lake.store, holding.map((h) => h.file), { fileColumn: FILE_GROUP })}`);
  await engine.run(`CREATE OR REPLACE TEMP TABLE ${old} AS SELECT * FROM ${held} AS e SEMI JOIN (SELECT DISTINCT ${keys} FROM ${hot}) AS k USING (${keys})`);
  // A key whose current row is in a cold partition cannot move without rewriting it: defer it too.
  const oldPartitions = await partitionsOf(engine, old, part);
  const coldOld = coldFilter(part, horizon, oldPartitions);
  if (coldOld !== 'false') {
    const stuck = quoteIdent(`${prefix}_stuck`);
    cleanup.push(stuck);
    await engine.run(`CREATE OR REPLACE TEMP TABLE ${stuck} AS SELECT DISTINCT ${keys} FROM ${old} WHERE ${coldOld}`);
    const matches = model.header.uniqueKey.map((k) => `s.${quoteIdent(k)} = t.${quoteIdent(k)}`).join(' AND ');
    for (const row of await engine.all(`SELECT ${part} AS p, count(*) AS n FROM ${hot} AS t WHERE EXISTS (SELECT 1 FROM ${stuck} AS s WHERE ${matches}) GROUP BY ALL`)) {
      const key = (row['p'] as string | null) ?? NULL_PARTITION;
      deferred[key] = (deferred[key] ?? 0) + Number(row['n']);
    }
    await engine.run(`DELETE FROM ${hot} AS t WHERE EXISTS (SELECT 1 FROM ${stuck} AS s WHERE ${matches})`);
    await engine.run(`DELETE FROM ${old} AS t WHERE EXISTS (SELECT 1 FROM ${stuck} AS s WHERE ${matches})`);
  }
  // The newest version of each incoming key, in the file group of its current row: computed
  // by the write itself (a temp table of it would be one more copy of the rows).
  const order = versionOrder(model, ['_lakeloop_src DESC']);
  const group = quoteIdent(FILE_GROUP);
  const merged =
    `(SELECT w.* EXCLUDE (_lakeloop_src) REPLACE (g._lakeloop_old_group AS ${group}) FROM (` +
    `SELECT * FROM (SELECT *, 0 AS _lakeloop_src FROM ${old} UNION ALL BY NAME SELECT *, 1 AS _lakeloop_src FROM ${hot}) ` +
    `QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY ${order}) = 1) AS w ` +
    `LEFT JOIN (SELECT ${keys}, max(${group}) AS _lakeloop_old_group FROM ${old} GROUP BY ALL) AS g USING (${keys}))`;
  // Without deferred keys, the partitions are those already known of both sides; else they are read again.
  const partitions =
    coldOld === 'false'
      ? [...new Set([...oldPartitions, ...hotPartitions])].sort()
      : (await partitionsOf(engine, `(SELECT ${quoteIdent(column)} FROM ${old} UNION ALL SELECT ${quoteIdent(column)} FROM ${hot})`, part)).sort();
  if (partitions.length === 0) return { partitions, select: '', deferred, rowsIn, cleanup, replaces: [], fileGroupColumn: FILE_GROUP, read };
  // Files of cold partitions keep their rows (their keys were deferred above).
  const replacing = holding.filter((h) => !horizon.isCold(partitionOf(h.file.partitionValues, column) ?? null));
  const replaces = replacing.map((h) => h.file);
  rowsIn += rowsOf(replaces);
  const kept = `(SELECT * FROM ${held} WHERE ${replacing.length ? `${quoteIdent(FILE_GROUP)} IN ${quoteList(replacing.map((h) => h.localPath))}` : 'false'})`;
  const live = model.header.deleteWhen ? `WHERE NOT coalesce((${model.header.deleteWhen}), false)` : '';
  const select =
    `SELECT * FROM ${kept} AS e ANTI JOIN (SELECT DISTINCT ${keys} FROM ${hot}) AS k USING (${keys}) ` +
    `UNION ALL BY NAME SELECT * FROM ${merged} AS m ${live}`;
  return { partitions, select, deferred, rowsIn, cleanup, replaces, fileGroupColumn: FILE_GROUP, read };
}

/** Of `candidates`, the files holding at least one key of `relation` (a scan of their key columns), with the local path they are read from. */
async function filesHoldingKeys(
  lake: Lake,
  output: Snapshot,
  candidates: readonly AddAction[],
  keys: string,
  relation: string,
): Promise<{ file: AddAction; localPath: string }[]> {
  if (candidates.length === 0) return [];
  const probe = await output.scanSql(lake.store, candidates, { fileColumn: '__lakeloop_file' });
  const rows = await lake.engine.all(`SELECT DISTINCT __lakeloop_file AS f FROM (${probe}) AS e SEMI JOIN (SELECT DISTINCT ${keys} FROM ${relation}) AS k USING (${keys})`);
  const byPath = await output.filesByLocalPath(lake.store, candidates);
  return rows.map((row) => {
    const file = byPath.get(String(row['f']));
    assert(file !== undefined, `probe of ${output.table} returned a file outside its candidates: ${String(row['f'])}`);
    return { file, localPath: String(row['f']) };
  });
}

function partitionColumnOf(model: Model): string {
  const column = model.header.partitionBy[0];
  if (column === undefined || model.header.partitionBy.length > 1) {
    throw new ModelError(model.name, model.file, undefined, `an ${model.header.kind} model needs exactly one partition_by column`, {
      hint: `Add partition_by: <date column> to the header of ${model.file}, or make it kind: full.`,
    });
  }
  return column;
}

/** `column` in the listed partition values (NULL_PARTITION = null). */
function inPartitions(column: string, partitions: readonly string[]): string {
  const values = partitions.filter((p) => p !== NULL_PARTITION);
  const tests = [];
  if (values.length) tests.push(`CAST(${quoteIdent(column)} AS VARCHAR) IN ${quoteList(values)}`);
  if (values.length < partitions.length) tests.push(`${quoteIdent(column)} IS NULL`);
  return tests.length ? `(${tests.join(' OR ')})` : 'false';
}

async function partitionsOf(engine: Engine, relation: string, part: string): Promise<string[]> {
  const rows = await engine.all(`SELECT DISTINCT ${part} AS p FROM ${relation}`);
  return rows.map((r) => (r['p'] as string | null) ?? NULL_PARTITION);
}

function coldFilter(part: string, horizon: Horizon, partitions: readonly string[]): string {
  const cold = partitions.filter((p) => p !== NULL_PARTITION && horizon.isCold(p));
  return cold.length ? `${part} IN ${quoteList(cold)}` : 'false';
}

/**
 * The output's files whose min/max stats of `keyColumn` overlap the range of the keys in
 * `relation` (files without stats always do): one aggregate, no key list leaves DuckDB.
 * Keys that grow over time (ids, timestamps) prune to the newest files.
 */
async function filesWithKeys(engine: Engine, output: Snapshot, keyColumn: string, relation: string): Promise<AddAction[]> {
  if (output.files.length === 0) return [];
  const [described] = await engine.describe(`SELECT ${quoteIdent(keyColumn)} FROM ${relation}`);
  const numeric = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/i.test(described?.type ?? '');
  // Stats of other types (dates, timestamps) are written in another text form than DuckDB's casts: no pruning.
  if (!numeric && !/^VARCHAR/i.test(described?.type ?? '')) return [...output.files];
  const [range] = await engine.all(`SELECT CAST(min(${quoteIdent(keyColumn)}) AS VARCHAR) AS lo, CAST(max(${quoteIdent(keyColumn)}) AS VARCHAR) AS hi FROM ${relation}`);
  if (!range || range['lo'] === null || range['lo'] === undefined) return [];
  const value = (v: unknown): number | string => (numeric ? Number(v) : String(v));
  const lo = value(range['lo']);
  const hi = value(range['hi']);
  return output.files.filter((file) => {
    // A partition column has no stats: its value is the file's partition value.
    const partition = output.partitionColumns.includes(keyColumn) ? file.partitionValues[keyColumn] : undefined;
    const stats = partition === undefined ? parseStats(file) : undefined;
    const min = partition ?? stats?.minValues[keyColumn];
    const max = partition ?? stats?.maxValues[keyColumn];
    if (min === undefined || max === undefined || min === null || max === null) return true;
    return value(min) <= hi && value(max) >= lo;
  });
}
