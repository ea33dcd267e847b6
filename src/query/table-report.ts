import { quotePaths, type Engine } from '../engine/index.js';
import type { ObjectStore } from '../storage/index.js';
import { parseStats, type DeltaTable, type Snapshot } from '../table/index.js';
import type { AsOf } from './as-of.js';

/** One live file of a table report. */
export interface FileReport {
  /** As written in the log (URL-encoded, relative to the table). */
  readonly path: string;
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly sizeBytes: number;
  readonly modificationTime: number;
  /** From the file's stats; null when the log has no stats for it. */
  readonly records: number | null;
}

/** One commit of a table report's history. */
export interface CommitReport {
  readonly version: number;
  readonly timestampMs: number;
  readonly timestamp: string;
  readonly operation: string;
  readonly operationParameters: Readonly<Record<string, unknown>>;
  readonly numAddedFiles: number;
  readonly numRemovedFiles: number;
  /** `commitInfo.operationMetrics` (numOutputRows, ...), numbers where they parse. */
  readonly metrics: Readonly<Record<string, number | string>>;
}

/** What `lakeloop inspect` shows about one table at one version. */
export interface TableReport {
  /** `layer.name` in the lake, or null for a table opened by path. */
  readonly name: string | null;
  /** Where the table lives: `<store>/<path>`. */
  readonly location: string;
  readonly version: number;
  readonly timestampMs: number;
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly partitionColumns: readonly string[];
  readonly schema: Snapshot['schema'];
  readonly files: readonly FileReport[];
  readonly tombstones: number;
  /**
   * Rows of the snapshot: the files' stats, and a count of the files that have none; null
   * when some live data file is absent from the store (a log shipped without its data).
   */
  readonly rows: number | null;
  /** Sum of `stats.numRecords` as the log says, whether or not the files are present; null when some file has no stats. */
  readonly statsRows: number | null;
  /** Live files whose data file is not in the store. */
  readonly absentFiles: number;
  readonly sizeBytes: number;
  /** Newest first, up to `historyLimit` commits at or before `version`. */
  readonly history: readonly CommitReport[];
  /** appId → last committed txn version. */
  readonly txns: Readonly<Record<string, number>>;
}

/**
 * Reads a table's snapshot (at `at`, else the latest) and history into a report. Rows come
 * from the stats; files without stats are counted with DuckDB when their data is present.
 */
export async function tableReport(
  table: DeltaTable,
  options: { store: ObjectStore; engine: Engine; name: string | null; at?: AsOf; historyLimit?: number },
): Promise<TableReport> {
  const snapshot = await table.snapshot(options.at);
  const files = snapshot.files.map(
    (file): FileReport => ({
      path: file.path,
      partitionValues: file.partitionValues,
      sizeBytes: file.size,
      modificationTime: file.modificationTime,
      records: parseStats(file)?.numRecords ?? null,
    }),
  );
  const { rows, absent } = await countRows(table.path, snapshot, files, options.store, options.engine);
  const limit = options.historyLimit ?? 20;
  // history() is newest first over the whole log: skip the commits after the snapshot.
  const latest = (await table.history({ limit: 1 }))[0]?.version ?? snapshot.version;
  const commits = await table.history({ limit: limit + Math.max(0, latest - snapshot.version) });
  const history = commits
    .filter((c) => c.version <= snapshot.version)
    .slice(0, limit)
    .map(
      (c): CommitReport => ({
        version: c.version,
        timestampMs: c.timestampMs,
        timestamp: new Date(c.timestampMs).toISOString(),
        operation: c.operation ?? 'UNKNOWN',
        operationParameters: c.operationParameters ?? {},
        numAddedFiles: c.numAddedFiles,
        numRemovedFiles: c.numRemovedFiles,
        metrics: metricsOf(c.commitInfo['operationMetrics']),
      }),
    );
  return {
    name: options.name,
    location: joinLocation(options.store.description, table.path),
    version: snapshot.version,
    timestampMs: snapshot.timestampMs,
    minReaderVersion: snapshot.protocol.minReaderVersion,
    minWriterVersion: snapshot.protocol.minWriterVersion,
    partitionColumns: snapshot.partitionColumns,
    schema: snapshot.schema,
    files,
    tombstones: snapshot.tombstones.length,
    rows,
    statsRows: snapshot.numRecords(),
    absentFiles: absent,
    sizeBytes: snapshot.sizeBytes(),
    history,
    txns: Object.fromEntries(snapshot.txns),
  };
}

async function countRows(
  tablePath: string,
  snapshot: Snapshot,
  files: readonly FileReport[],
  store: ObjectStore,
  engine: Engine,
): Promise<{ rows: number | null; absent: number }> {
  if (snapshot.files.length === 0) return { rows: 0, absent: 0 };
  // One listing of the table's folder instead of a HEAD per file.
  const present = new Set((await store.listAll(tablePath === '' ? '' : `${tablePath}/`)).map((o) => o.key));
  const keys = snapshot.files.map((file) => snapshot.fileKey(file));
  const absent = keys.filter((key) => !present.has(key)).length;
  if (absent > 0) return { rows: null, absent };
  let total = 0;
  const unknown: string[] = [];
  keys.forEach((key, i) => {
    const records = files[i]?.records ?? null;
    if (records === null) unknown.push(key);
    else total += records;
  });
  if (unknown.length === 0) return { rows: total, absent: 0 };
  const paths = await Promise.all(unknown.map((key) => store.localPath(key)));
  const counted = await engine.scalar(`SELECT count(*) FROM read_parquet(${quotePaths(paths)})`);
  return { rows: total + Number(counted), absent: 0 };
}

function metricsOf(value: unknown): Record<string, number | string> {
  if (value === null || typeof value !== 'object') return {};
  const metrics: Record<string, number | string> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw === 'number') metrics[key] = raw;
    else if (typeof raw === 'string') metrics[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  return metrics;
}

function joinLocation(root: string, path: string): string {
  if (path === '') return root;
  return `${root.replace(/\/+$/, '')}/${path}`;
}
