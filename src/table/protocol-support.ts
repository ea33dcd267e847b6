import { LakeloopError, TableCorrupt } from '../core/index.js';
import type { ProtocolAction } from './actions.js';
import type { TableSchema } from './delta-schema.js';

/** The highest Delta reader version lakeloop reads correctly. */
export const READER_VERSION = 1;
/** The highest Delta writer version lakeloop writes correctly. */
export const WRITER_VERSION = 2;

/** The protocol lakeloop creates tables with. */
export const LAKELOOP_PROTOCOL: ProtocolAction = Object.freeze({ minReaderVersion: READER_VERSION, minWriterVersion: WRITER_VERSION });

/**
 * The table property that declares the partition columns are also stored inside the data
 * files (Databricks' name for it; the open protocol's `materializePartitionColumns` feature
 * needs writer v7). Readers still take partition values from `partitionValues`.
 */
export const WRITE_PARTITION_COLUMNS = 'delta.writePartitionColumnsToParquet';

/** The configuration every new lakeloop table starts with (a caller's own keys win). */
export const NEW_TABLE_CONFIGURATION: Readonly<Record<string, string>> = Object.freeze({ [WRITE_PARTITION_COLUMNS]: 'true' });

/** Whether a table declares that its data files hold the partition columns. */
export function partitionColumnsInFiles(configuration: Readonly<Record<string, string>>): boolean {
  return configuration[WRITE_PARTITION_COLUMNS]?.toLowerCase() === 'true';
}

/**
 * Refuses a table whose protocol needs more than reader v1 (column mapping, deletion
 * vectors, …): reading it anyway could return wrong rows silently.
 */
export function checkReadable(table: string, version: number, protocol: ProtocolAction): void {
  const features = protocol.readerFeatures ?? [];
  if (protocol.minReaderVersion > READER_VERSION || features.length > 0) {
    const needs = `Delta reader version ${protocol.minReaderVersion}${features.length ? ` with features [${features.join(', ')}]` : ''}`;
    throw new TableCorrupt(table, version, `it needs ${needs}; lakeloop reads reader version ${READER_VERSION} tables only`, {
      hint: 'Read this table with Spark/delta-rs, or rewrite it without those features (reader 1 / writer 2).',
    });
  }
}

/**
 * Refuses to write a table whose protocol or metadata asks for writer features lakeloop
 * does not enforce (writer > 2, table features, column invariants), and removes from
 * an append-only table.
 */
export function checkWritable(
  table: string,
  version: number,
  protocol: ProtocolAction,
  schema: TableSchema,
  configuration: Readonly<Record<string, string>>,
  removesFiles: boolean,
): void {
  const features = protocol.writerFeatures ?? [];
  if (protocol.minWriterVersion > WRITER_VERSION || features.length > 0) {
    const needs = `Delta writer version ${protocol.minWriterVersion}${features.length ? ` with features [${features.join(', ')}]` : ''}`;
    throw unsupported(table, version, `it needs ${needs}; lakeloop writes writer version ${WRITER_VERSION} tables only`);
  }
  const invariant = schema.fields.find((f) => f.metadata['delta.invariants'] !== undefined);
  if (invariant) throw unsupported(table, version, `column ${invariant.name} has a delta.invariants constraint, which lakeloop does not enforce`);
  if (removesFiles && configuration['delta.appendOnly'] === 'true') {
    throw unsupported(table, version, 'it is append-only (delta.appendOnly = true) and this commit removes files');
  }
}

function unsupported(table: string, version: number, reason: string): LakeloopError {
  return new LakeloopError('TABLE_UNSUPPORTED', `Failed to write to table ${table} at version ${version}: ${reason}`, {
    hint: 'Write this table with an engine that supports it, or copy the data into a lakeloop table.',
  });
}
