import { TableCorrupt } from '../core/index.js';

/** Partition column → value as the Delta log writes it: a string, or null for a null partition. */
export type PartitionValues = Readonly<Record<string, string | null>>;

/**
 * The `protocol` action: the reader/writer versions a client needs to handle the table.
 *
 * @example
 * { minReaderVersion: 1, minWriterVersion: 2 }
 */
export interface ProtocolAction {
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly readerFeatures?: readonly string[];
  readonly writerFeatures?: readonly string[];
}

/**
 * The `metaData` action: table id, schema, partitioning and configuration.
 *
 * @example
 * { id: '…uuid…', format: { provider: 'parquet', options: {} }, schemaString: '{"type":"struct",…}', partitionColumns: ['event_date'], configuration: {}, createdTime: 1700000000000 }
 */
export interface MetaDataAction {
  readonly id: string;
  readonly name?: string | null;
  readonly description?: string | null;
  readonly format: { readonly provider: string; readonly options: Readonly<Record<string, string>> };
  readonly schemaString: string;
  readonly partitionColumns: readonly string[];
  readonly configuration: Readonly<Record<string, string>>;
  readonly createdTime?: number | null;
}

/**
 * The `add` action: a data file that becomes part of the table. `path` is URL-encoded and
 * relative to the table root; `stats` is a JSON string (see `FileStats`).
 *
 * @example
 * { path: 'event_date=2024-01-01/part-00000-….c000.zstd.parquet', partitionValues: { event_date: '2024-01-01' }, size: 1234, modificationTime: 1700000000000, dataChange: true, stats: '{"numRecords":10,…}' }
 */
export interface AddAction {
  readonly path: string;
  readonly partitionValues: PartitionValues;
  readonly size: number;
  readonly modificationTime: number;
  readonly dataChange: boolean;
  readonly stats?: string | null;
  readonly tags?: Readonly<Record<string, string | null>> | null;
}

/**
 * The `remove` action: a data file that stops being part of the table (a tombstone).
 *
 * @example
 * { path: 'part-00000-….parquet', deletionTimestamp: 1700000000000, dataChange: true, extendedFileMetadata: true, partitionValues: {}, size: 1234 }
 */
export interface RemoveAction {
  readonly path: string;
  readonly deletionTimestamp?: number | null;
  readonly dataChange: boolean;
  readonly extendedFileMetadata?: boolean | null;
  readonly partitionValues?: PartitionValues | null;
  readonly size?: number | null;
  readonly tags?: Readonly<Record<string, string | null>> | null;
}

/**
 * The `txn` action: the last version an application (a source, a model run) committed; it
 * makes retried commits idempotent.
 *
 * @example
 * { appId: 'orders-collector', version: 42, lastUpdated: 1700000000000 }
 */
export interface TxnAction {
  readonly appId: string;
  readonly version: number;
  readonly lastUpdated?: number | null;
}

/**
 * The `commitInfo` action: provenance of a commit. Free-form in the protocol; lakeloop
 * writes `timestamp`, `operation`, `operationParameters`, `engineInfo`, `readVersion`,
 * `isBlindAppend`, `operationMetrics` plus caller extras.
 *
 * @example
 * { timestamp: 1700000000000, operation: 'WRITE', operationParameters: { mode: 'Append' }, engineInfo: 'lakeloop/0.1.0' }
 */
export interface CommitInfoAction {
  readonly timestamp?: number;
  readonly operation?: string;
  readonly operationParameters?: Readonly<Record<string, unknown>>;
  readonly [key: string]: unknown;
}

/** One line of a commit file. */
export type Action =
  | { readonly protocol: ProtocolAction }
  | { readonly metaData: MetaDataAction }
  | { readonly add: AddAction }
  | { readonly remove: RemoveAction }
  | { readonly txn: TxnAction }
  | { readonly commitInfo: CommitInfoAction };

/** The actions of one commit (or one checkpoint), grouped by kind, in file order. */
export interface ParsedActions {
  protocol: ProtocolAction | undefined;
  metaData: MetaDataAction | undefined;
  commitInfo: CommitInfoAction | undefined;
  readonly adds: AddAction[];
  readonly removes: RemoveAction[];
  readonly txns: TxnAction[];
  /** adds and removes interleaved, in file order (replay must apply them in order). */
  readonly fileActions: ({ readonly add: AddAction } | { readonly remove: RemoveAction })[];
}

/** An empty `ParsedActions`. */
export function emptyActions(): ParsedActions {
  return { protocol: undefined, metaData: undefined, commitInfo: undefined, adds: [], removes: [], txns: [], fileActions: [] };
}

/** Where a log record came from, for error messages. */
export interface ActionSource {
  readonly table: string;
  readonly version: number;
  readonly file: string;
}

/**
 * Parses a commit file (newline-delimited JSON). Unknown action kinds are ignored (the
 * protocol gates anything a reader must understand); malformed lines and invalid known
 * actions throw `TableCorrupt` naming the table, version, file and line.
 */
export function parseCommitFile(text: string, source: ActionSource): ParsedActions {
  const parsed = emptyActions();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    if (line === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw corrupt(source, `line ${i + 1} of ${source.file} is not valid JSON (${(error as Error).message})`, error);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw corrupt(source, `line ${i + 1} of ${source.file} is not a JSON object`);
    }
    addAction(parsed, record as Record<string, unknown>, source, `line ${i + 1} of ${source.file}`);
  }
  return parsed;
}

/**
 * Adds one action record (`{"add": {...}}` or a checkpoint row with one non-null column)
 * to `parsed`, validating the fields lakeloop relies on.
 */
export function addAction(parsed: ParsedActions, record: Record<string, unknown>, source: ActionSource, where: string): void {
  for (const [kind, body] of Object.entries(record)) {
    if (body === null || body === undefined) continue;
    switch (kind) {
      case 'protocol':
        parsed.protocol = toProtocol(body, source, where);
        break;
      case 'metaData':
        parsed.metaData = toMetaData(body, source, where);
        break;
      case 'add': {
        const add = toAdd(body, source, where);
        parsed.adds.push(add);
        parsed.fileActions.push({ add });
        break;
      }
      case 'remove': {
        const remove = toRemove(body, source, where);
        parsed.removes.push(remove);
        parsed.fileActions.push({ remove });
        break;
      }
      case 'txn':
        parsed.txns.push(toTxn(body, source, where));
        break;
      case 'commitInfo':
        if (typeof body !== 'object' || Array.isArray(body)) throw corrupt(source, `${where}: commitInfo is not an object`);
        parsed.commitInfo = body as CommitInfoAction;
        break;
      default:
        // cdc, domainMetadata, checkpointMetadata, …: protocol-gated or safe to ignore for reader v1.
        break;
    }
  }
}

/** Serializes actions as a commit file body: one JSON object per line. */
export function serializeActions(actions: readonly Action[]): string {
  return actions.map((action) => JSON.stringify(action)).join('\n') + '\n';
}

/**
 * A string→string map from either a JSON object or DuckDB's rendering of a Parquet MAP
 * (`[{key, value}]`), as found in checkpoints.
 */
export function normalizeStringMap(value: unknown): Record<string, string | null> | undefined {
  if (value === null || value === undefined) return undefined;
  const out: Record<string, string | null> = {};
  if (Array.isArray(value)) {
    for (const entry of value as unknown[]) {
      const e = entry as { key?: unknown; value?: unknown } | null;
      if (!e || typeof e.key !== 'string') return undefined;
      out[e.key] = e.value === null || e.value === undefined ? null : String(e.value);
    }
    return out;
  }
  if (typeof value !== 'object') return undefined;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) out[key] = v === null || v === undefined ? null : String(v);
  return out;
}

function toProtocol(body: unknown, source: ActionSource, where: string): ProtocolAction {
  const b = object(body, 'protocol', source, where);
  const minReaderVersion = int(b['minReaderVersion']);
  const minWriterVersion = int(b['minWriterVersion']);
  if (minReaderVersion === undefined || minWriterVersion === undefined) {
    throw corrupt(source, `${where}: protocol lacks minReaderVersion/minWriterVersion`);
  }
  const readerFeatures = stringList(b['readerFeatures']);
  const writerFeatures = stringList(b['writerFeatures']);
  return {
    minReaderVersion,
    minWriterVersion,
    ...(readerFeatures ? { readerFeatures } : {}),
    ...(writerFeatures ? { writerFeatures } : {}),
  };
}

function toMetaData(body: unknown, source: ActionSource, where: string): MetaDataAction {
  const b = object(body, 'metaData', source, where);
  const id = b['id'];
  const schemaString = b['schemaString'];
  if (typeof id !== 'string' || typeof schemaString !== 'string') throw corrupt(source, `${where}: metaData lacks id or schemaString`);
  const partitionColumns = stringList(b['partitionColumns']) ?? [];
  const format = (b['format'] ?? {}) as { provider?: unknown; options?: unknown };
  const options = normalizeStringMap(format.options) ?? {};
  const configuration = normalizeStringMap(b['configuration']) ?? {};
  return {
    id,
    name: typeof b['name'] === 'string' ? b['name'] : null,
    description: typeof b['description'] === 'string' ? b['description'] : null,
    format: { provider: typeof format.provider === 'string' ? format.provider : 'parquet', options: dropNulls(options) },
    schemaString,
    partitionColumns,
    configuration: dropNulls(configuration),
    createdTime: int(b['createdTime']) ?? null,
  };
}

function toAdd(body: unknown, source: ActionSource, where: string): AddAction {
  const b = object(body, 'add', source, where);
  const path = b['path'];
  if (typeof path !== 'string' || path === '') throw corrupt(source, `${where}: an add action has no path`);
  const partitionValues = normalizeStringMap(b['partitionValues']);
  if (b['partitionValues'] !== undefined && b['partitionValues'] !== null && partitionValues === undefined) {
    throw corrupt(source, `${where}: add ${path} has malformed partitionValues`);
  }
  const size = int(b['size']);
  const stats = b['stats'];
  const tags = normalizeStringMap(b['tags']);
  return {
    path,
    partitionValues: partitionValues ?? {},
    size: size ?? 0,
    modificationTime: int(b['modificationTime']) ?? 0,
    dataChange: b['dataChange'] !== false,
    ...(typeof stats === 'string' ? { stats } : {}),
    ...(tags && Object.keys(tags).length > 0 ? { tags } : {}),
  };
}

function toRemove(body: unknown, source: ActionSource, where: string): RemoveAction {
  const b = object(body, 'remove', source, where);
  const path = b['path'];
  if (typeof path !== 'string' || path === '') throw corrupt(source, `${where}: a remove action has no path`);
  const partitionValues = normalizeStringMap(b['partitionValues']);
  const size = int(b['size']);
  const extended = b['extendedFileMetadata'];
  return {
    path,
    deletionTimestamp: int(b['deletionTimestamp']) ?? null,
    dataChange: b['dataChange'] !== false,
    ...(typeof extended === 'boolean' ? { extendedFileMetadata: extended } : {}),
    ...(partitionValues ? { partitionValues } : {}),
    ...(size !== undefined ? { size } : {}),
  };
}

function toTxn(body: unknown, source: ActionSource, where: string): TxnAction {
  const b = object(body, 'txn', source, where);
  const appId = b['appId'];
  const version = int(b['version']);
  if (typeof appId !== 'string' || version === undefined) throw corrupt(source, `${where}: a txn action lacks appId or version`);
  const lastUpdated = int(b['lastUpdated']);
  return { appId, version, ...(lastUpdated !== undefined ? { lastUpdated } : {}) };
}

function object(body: unknown, kind: string, source: ActionSource, where: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw corrupt(source, `${where}: ${kind} is not an object`);
  return body as Record<string, unknown>;
}

function int(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter((v): v is string => typeof v === 'string');
}

function dropNulls(map: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) if (v !== null) out[k] = v;
  return out;
}

function corrupt(source: ActionSource, reason: string, cause?: unknown): TableCorrupt {
  return new TableCorrupt(source.table, source.version, reason, cause === undefined ? {} : { cause });
}

/** The `remove` action that retires a live file (extended metadata, so readers need not look the add up). */
export function removeFor(add: AddAction, deletionTimestamp: number): RemoveAction {
  return {
    path: add.path,
    deletionTimestamp,
    dataChange: true,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues,
    size: add.size,
  };
}
