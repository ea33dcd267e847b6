import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failpoint } from '../core/index.js';
import type { Engine } from '../engine/index.js';
import { quoteLiteral, quotePath } from '../engine/index.js';
import type { ObjectStore } from '../storage/index.js';
import { checkpointKey, lastCheckpointKey } from './log-files.js';
import type { Snapshot } from './snapshot.js';
import { withTempDir } from './temp-dir.js';

const STRING_MAP = 'MAP(VARCHAR, VARCHAR)';

/**
 * The checkpoint schema: one nullable struct column per action kind, with the protocol's
 * nested field names and types (maps as Parquet MAPs, stats as a JSON string), so Spark,
 * delta-rs and DuckDB's delta reader can read lakeloop's checkpoints.
 */
const CHECKPOINT_COLUMNS: Readonly<Record<string, string>> = {
  txn: 'STRUCT(appId VARCHAR, "version" BIGINT, lastUpdated BIGINT)',
  add: `STRUCT(path VARCHAR, partitionValues ${STRING_MAP}, size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags ${STRING_MAP})`,
  remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, partitionValues ${STRING_MAP}, size BIGINT, tags ${STRING_MAP})`,
  metaData: `STRUCT(id VARCHAR, "name" VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, "options" ${STRING_MAP}), schemaString VARCHAR, partitionColumns VARCHAR[], "configuration" ${STRING_MAP}, createdTime BIGINT)`,
  protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
};

/** What `_last_checkpoint` holds. */
export interface LastCheckpoint {
  readonly version: number;
  /** number of actions (rows) in the checkpoint. */
  readonly size: number;
  readonly parts?: number;
  readonly sizeInBytes?: number;
  readonly numOfAddFiles?: number;
}

/**
 * Writes `snapshot` as `<version>.checkpoint.parquet` (staged as NDJSON, converted by
 * DuckDB's COPY), then points `_last_checkpoint` at it unless a newer checkpoint is
 * already recorded. The checkpoint holds the protocol, metaData, txns (idempotency keys only
 * while live, with their `lastUpdated`), live files (`dataChange: false`) and every tombstone.
 */
export async function writeCheckpoint(
  context: { readonly store: ObjectStore; readonly engine: Engine; readonly tablePath: string },
  snapshot: Snapshot,
): Promise<LastCheckpoint> {
  const { store, engine, tablePath } = context;
  const lines: string[] = [
    JSON.stringify({ protocol: snapshot.protocol }),
    JSON.stringify({ metaData: snapshot.metadata }),
    ...[...snapshot.txns.actions()].map((txn) => JSON.stringify({ txn })),
    ...snapshot.files.map((add) => JSON.stringify({ add: { ...add, dataChange: false } })),
    ...snapshot.tombstones.map((remove) => JSON.stringify({ remove: { ...remove, dataChange: false } })),
  ];
  return withTempDir('checkpoint', async (dir) => {
    const ndjson = join(dir, 'actions.ndjson');
    const parquet = join(dir, 'checkpoint.parquet');
    await writeFile(ndjson, lines.join('\n') + '\n');
    const columns = Object.entries(CHECKPOINT_COLUMNS)
      .map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`)
      .join(', ');
    await engine.copyToParquet(
      `SELECT txn, add, remove, metaData, protocol FROM read_json(${quotePath(ndjson)}, format = 'newline_delimited', ` +
        `columns = {${columns}})`,
      parquet,
      { compression: 'snappy' },
    );
    const sizeInBytes = (await stat(parquet)).size;
    await store.putFile(checkpointKey(tablePath, snapshot.version), parquet, { move: true });
    failpoint('table.checkpoint.after-parquet');
    const last: LastCheckpoint = { version: snapshot.version, size: lines.length, sizeInBytes, numOfAddFiles: snapshot.files.length };
    const current = await readLastCheckpoint(store, tablePath);
    if (!current || current.version < snapshot.version) await store.put(lastCheckpointKey(tablePath), JSON.stringify(last));
    return last;
  });
}

/** `_last_checkpoint`, or undefined when it is absent or unreadable (readers then list the log). */
export async function readLastCheckpoint(store: ObjectStore, tablePath: string): Promise<LastCheckpoint | undefined> {
  const body = await store.getIfExists(lastCheckpointKey(tablePath));
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { version?: unknown; size?: unknown; parts?: unknown };
    if (typeof parsed.version !== 'number' || !Number.isInteger(parsed.version) || parsed.version < 0) return undefined;
    const parts = typeof parsed.parts === 'number' ? parsed.parts : undefined;
    return { version: parsed.version, size: typeof parsed.size === 'number' ? parsed.size : 0, ...(parts !== undefined ? { parts } : {}) };
  } catch {
    return undefined;
  }
}
