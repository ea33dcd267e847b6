import { createHash, randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, failpoint, LakeloopError, SqlError, type Clock } from '../core/index.js';
import { contractFastSql, contractSql, unknownFieldsSql, type Contract, type ContractColumnType, type ExtraColumn } from '../contracts/index.js';
import { quoteIdent, quoteLiteral, quotePath, quotePaths, type Engine } from '../engine/index.js';
import { duckdbTypeOf, type DeltaTable, type Lake, type Snapshot, type TxnId } from '../table/index.js';
import { idempotencyWindowConfiguration } from './idempotency-window.js';
import type { RawRecords } from './raw-records.js';

/** Who sent a batch and where it sits in their stream: the key of exactly-once landing. */
export interface BatchIdentity {
  /**
   * The `txn` appId: one producer's stream (`collector:orders:<instance>`), or one
   * idempotency key (`key:orders:<K>`), or one file (`file:orders:<path>:<size>:<mtime>`).
   */
  readonly appId: string;
  /** The `txn` version: the batch's sequence number in that stream (≥ 1). */
  readonly version: number;
  /** Where the batch came from: every record's `_source_offset` (`<file>#<batch>`, `<collector>#<batch>`, an API page); quarantine's `source_position` appends `:<line>`. */
  readonly sourceOffset: string;
}

/** What landing records did: the counts every ingestion path reports. */
export interface LandingCounts {
  readonly source: string;
  /** Records read from the input. */
  readonly received: number;
  /** Records committed to bronze. */
  readonly landed: number;
  /** Records committed to quarantine with their reasons. */
  readonly quarantined: number;
  /** Records of a batch that had already landed (txn applied before): nothing written. */
  readonly duplicates: number;
  /** Data files added to bronze. */
  readonly files: number;
  /** Columns added to bronze by drift policy `evolve`. */
  readonly addedColumns: readonly string[];
}

/** What landing one batch did. */
export interface LandResult extends LandingCounts {
  /** The bronze version holding the batch (the one it landed in before, for a duplicate). */
  readonly bronzeVersion: number;
  readonly batchId: string;
  /** With `rejectGroups`: each group's rejects, in the groups' order. */
  readonly groupRejects?: readonly GroupRejects[];
}

/**
 * Consecutive runs of a batch's lines (a collector batch's requests) whose rejects are
 * counted apart: at most `maxStored` of each group's rejects are stored in quarantine with
 * their payload, the rest as one summary row per group (its reason says how many, which lines
 * and the most frequent reason), so a body of millions of bad lines costs one row, not millions.
 */
export interface RejectGroups {
  /** Each group's first line (1-based, ascending); a group runs to the next one's first line. */
  readonly firstLines: readonly number[];
  readonly maxStored: number;
  /** Rejects listed back per group (`GroupRejects.rejects`). */
  readonly maxListed: number;
}

/** One group's rejects: how many, how many were summarised rather than stored, and the first few. */
export interface GroupRejects {
  readonly quarantined: number;
  /** Rejects of the group stored only as its summary row (0 when all were stored). */
  readonly summarised: number;
  /** The first `maxListed`, lines of the batch. */
  readonly rejects: readonly { readonly line: number; readonly reason: string; readonly field: string | null }[];
}

/** The engine-added bronze columns, after the contract's. */
const SYSTEM_COLUMNS = ['event_date', '_op', '_cdc_ts_ms', '_source_position', '_rescued', '_ingest_id', '_batch_id', '_ingested_at', '_source_offset'];

/** The quarantine table's columns. */
const QUARANTINE_COLUMNS = [
  { name: 'payload', type: 'VARCHAR' },
  { name: 'reason', type: 'VARCHAR' },
  { name: 'field', type: 'VARCHAR' },
  { name: 'line', type: 'BIGINT' },
  { name: 'source_position', type: 'VARCHAR' },
  { name: 'batch_id', type: 'VARCHAR' },
  { name: 'quarantined_at', type: 'TIMESTAMP WITH TIME ZONE' },
  { name: 'quarantine_date', type: 'DATE' },
];

/**
 * Lands one batch exactly once: checks every record against the contract in one DuckDB
 * pass, commits the rejects to `quarantine.<source>` and the rest to `bronze.<source>`
 * (partitioned by `event_date`), both under the batch's `txn`. A batch whose txn is
 * already recorded is a no-op (at-least-once delivery + idempotent commits = exactly
 * once); quarantine commits first, so a crash between the two commits is finished by
 * the retry, which skips quarantine and lands bronze. Data file names derive from the
 * txn, never random.
 *
 * @example
 * const raw = await loadRawRecords(engine, spoolFile, 'ndjson', 'raw_1', spoolDir);
 * const result = await landBatch({ lake, contract, raw, batch: { appId: 'key:orders:abc', version: 1, sourceOffset: 'upload-1' }, clock });
 */
export async function landBatch(options: {
  readonly lake: Lake;
  readonly contract: Contract;
  readonly raw: RawRecords;
  readonly batch: BatchIdentity;
  readonly clock: Clock;
  readonly bytes?: number;
  /** More txns the batch's commits record (the idempotency keys of the requests it holds). */
  readonly extraTxns?: readonly TxnId[];
  /** Count (and cap the stored) rejects per group of lines; without it every reject is stored. */
  readonly rejectGroups?: RejectGroups;
  /** Bronze's latest snapshot as the caller just read it: the batch is planned on it instead of reading the log again. */
  readonly planOn?: Snapshot;
}): Promise<LandResult> {
  const { lake, contract, raw, batch, clock } = options;
  const engine = lake.engine;
  const batchId = createHash('sha256').update(`${batch.appId}\n${batch.version}`).digest('hex').slice(0, 16);
  const filePrefix = `${contract.source}-${batchId}-${writeAttemptId()}`;
  const txn = { appId: batch.appId, version: batch.version };
  const extraTxns = options.extraTxns ?? [];
  const base = { source: contract.source, received: raw.records, batchId, addedColumns: [] as string[] };

  const bronze = await ensureBronzeTable(lake, contract);
  const before = options.planOn ?? (await bronze.snapshot());
  if ((before.txns.get(batch.appId) ?? -1) >= batch.version) {
    return { ...base, landed: 0, quarantined: 0, duplicates: raw.records, files: 0, bronzeVersion: before.version };
  }

  const input = `(SELECT _line, _raw, TRY_CAST(_raw AS JSON) AS _json FROM ${raw.relation} WHERE _read_error IS NULL)`;
  const extra = extraColumnsOf(contract, before.schema.fields.map((f) => ({ name: f.name, type: duckdbTypeOf(f.type) })));
  const addedColumns: string[] = [];
  if (contract.drift === 'evolve') {
    const found = await engine.all(unknownFieldsSql(contract, input, { extraColumns: extra }));
    const added = found.map((r) => ({ name: String(r['name']), type: String(r['type']) as ContractColumnType }));
    if (added.length > 0) {
      await bronze.addColumns(added, { operation: 'ADD COLUMNS', commitInfo: { lakeloop: { source: contract.source, drift: 'evolve' } } });
      extra.push(...added);
      addedColumns.push(...added.map((c) => c.name));
    }
  }

  const checked = quoteIdent(`${raw.table}_checked`);
  await engine.run(`CREATE OR REPLACE TEMP TABLE ${checked} AS ${contractSql(contract, input, { extraColumns: extra })}`);
  try {
    const nowMs = clock.nowMs();
    const now = `make_timestamptz(${nowMs * 1000}::BIGINT)`;
    const counts = await engine.all(`SELECT count(*) FILTER (WHERE _reject_reason IS NULL) AS landed, count(*) FILTER (WHERE _reject_reason IS NOT NULL) AS rejected FROM ${checked}`);
    const readErrors = Number(await engine.scalar(`SELECT count(*) FROM ${raw.relation} WHERE _read_error IS NOT NULL`));
    const landed = Number(counts[0]?.['landed'] ?? 0);
    const quarantined = Number(counts[0]?.['rejected'] ?? 0) + readErrors;
    const offset = (line: string): string => `${quoteLiteral(`${batch.sourceOffset}:`)} || ${line}`;
    const commitInfo = {
      lakeloop: { source: contract.source, batchId, sourceOffset: batch.sourceOffset, received: raw.records, landed, quarantined, bytes: options.bytes ?? null },
    };
    const allRejects =
      `SELECT _raw AS payload, _reject_reason AS reason, _reject_field AS field, _line AS line FROM ${checked} WHERE _reject_reason IS NOT NULL ` +
      `UNION ALL SELECT _raw, _read_error, NULL, _line FROM ${raw.relation} WHERE _read_error IS NOT NULL`;
    const groups = options.rejectGroups;
    const grouped = quoteIdent(`${raw.table}_rejects`);
    let groupRejects: GroupRejects[] | undefined;
    const stored = (from: string): string =>
      `SELECT payload, reason, field, line, ${offset('line')} AS source_position, ${quoteLiteral(batchId)} AS batch_id, ${now} AS quarantined_at, CAST(${now} AS DATE) AS quarantine_date FROM ${from}`;
    let rows = stored(`(${allRejects})`);
    // Only a batch with rejects from grouped requests makes the temp table (most batches have none).
    const grouping = groups !== undefined && quarantined > 0;
    try {
      if (groups && grouping) {
        assert(groups.firstLines.length > 0, 'rejectGroups without groups');
        const starts = groups.firstLines.map((line, i) => `(${i}, ${line})`).join(', ');
        await engine.run(
          `CREATE OR REPLACE TEMP TABLE ${grouped} AS SELECT r.*, g.grp, row_number() OVER (PARTITION BY g.grp ORDER BY r.line) AS nth ` +
            `FROM (${allRejects}) AS r ASOF JOIN (VALUES ${starts}) AS g(grp, first_line) ON r.line >= g.first_line`,
        );
        const summary =
          `format('{} more rejected records of this request (lines {} to {} of the batch) are not stored one by one: at most {} per request are; the most frequent reason among them: {}', ` +
          `count(*), min(line), max(line), ${groups.maxStored}, mode(reason))`;
        rows =
          `${stored(grouped)} WHERE nth <= ${groups.maxStored} ` +
          `UNION ALL SELECT NULL, ${summary}, NULL, min(line), ${offset('min(line)')}, ${quoteLiteral(batchId)}, ${now}, CAST(${now} AS DATE) FROM ${grouped} WHERE nth > ${groups.maxStored} GROUP BY grp`;
        const perGroup = await engine.all(`SELECT grp, count(*) AS n FROM ${grouped} GROUP BY grp`);
        const listed = await engine.all(`SELECT grp, line, reason, field FROM ${grouped} WHERE nth <= ${groups.maxListed} ORDER BY grp, line`);
        groupRejects = groups.firstLines.map(() => ({ quarantined: 0, summarised: 0, rejects: [] as { line: number; reason: string; field: string | null }[] }));
        for (const r of perGroup) {
          const n = Number(r['n']);
          const group = groupRejects[Number(r['grp'])];
          if (group) groupRejects[Number(r['grp'])] = { ...group, quarantined: n, summarised: Math.max(0, n - groups.maxStored) };
        }
        for (const r of listed) {
          const field = r['field'] === null || r['field'] === undefined ? null : String(r['field']);
          (groupRejects[Number(r['grp'])]?.rejects as { line: number; reason: string; field: string | null }[] | undefined)?.push({ line: Number(r['line']), reason: String(r['reason']), field });
        }
      } else if (groups) groupRejects = groups.firstLines.map(() => ({ quarantined: 0, summarised: 0, rejects: [] }));

      if (quarantined > 0) {
        // its commits record the batch's idempotency keys too: they expire as bronze's do
        const quarantine = await lake.createTable(`quarantine.${contract.source}`, {
          columns: QUARANTINE_COLUMNS,
          partitionColumns: ['quarantine_date'],
          configuration: idempotencyWindowConfiguration(contract),
        });
        await quarantine.append(rows, { txn, extraTxns, fileNamePrefix: filePrefix, operation: 'QUARANTINE', commitInfo });
        failpoint('ingest.after-quarantine');
      }
    } finally {
      if (grouping) await engine.run(`DROP TABLE IF EXISTS ${grouped}`);
    }

    const drop = ['_line', '_raw', '_reject_reason', '_reject_field'];
    const system = recordColumns({ batchId, sourceOffset: batch.sourceOffset, now, line: '_line', legacy: hasLegacyIds(before.schema.fields) });
    const landedRows = `SELECT * EXCLUDE (${drop.join(', ')}), ${system} FROM ${checked} WHERE _reject_reason IS NULL`;
    // Added columns committed a new schema: the write then plans on the latest version.
    const planOn = addedColumns.length === 0 ? { planOn: before } : {};
    const result = await bronze.append(landedRows, { txn, extraTxns, fileNamePrefix: filePrefix, operation: 'INGEST', commitInfo, ...planOn });
    if (result.skipped) return { ...base, addedColumns, landed: 0, quarantined: 0, duplicates: raw.records, files: 0, bronzeVersion: result.version };
    return { ...base, addedColumns, landed, quarantined, duplicates: 0, files: result.addedFiles, bronzeVersion: result.version, ...(groupRejects ? { groupRejects } : {}) };
  } finally {
    await engine.run(`DROP TABLE IF EXISTS ${checked}`);
  }
}

/**
 * The fast path of `landBatch` for an NDJSON file whose every line is a record (none
 * blank, each starts with `{`, as `ingestFile` sees while cutting batches). Optimistic: DuckDB
 * reads the file once with one JSON column per field — its reader refuses a line that is not
 * a JSON object, repeats a key or has an undeclared one — `contractFastSql` types and checks
 * every record into a temp table, and each date's file is written straight from it. Record `n` of the file is line `linesBefore + n` (the rowid of the
 * typed rows, which DuckDB keeps in file order). As soon as one record would not land as it
 * is (invalid JSON, a reject, an undeclared field), a statement fails before anything is
 * committed and this returns undefined: the caller then takes the exact path
 * (`loadRawRecords` + `landBatch`), which reports every record. Same rows, files and stats
 * as `landBatch` when it succeeds.
 */
export async function landCleanNdjson(options: {
  readonly lake: Lake;
  readonly contract: Contract;
  readonly file: string;
  /**
   * Lines in the file (all of them records). A promise while they are still being counted
   * (the reader is readied meanwhile); it gives undefined when the file cannot take this path.
   */
  readonly records: number | Promise<number | undefined>;
  /** Lines of the whole input before this file, so numbers stay file line numbers. */
  readonly linesBefore: number;
  readonly batch: BatchIdentity;
  readonly clock: Clock;
  /** A directory for a scratch file (the reader's schema record). */
  readonly spoolDir: string;
  readonly bytes?: number;
  readonly extraTxns?: readonly TxnId[];
  /**
   * Pin the reader's columns with a one-record schema file instead of detecting them from a
   * sample: for small batches (a collector's few thousand records), where the sample's two
   * detections cost more than the pinned read's extra scan (3,200 records: ~9 against ~20 ms CPU).
   */
  readonly pinFields?: boolean;
  /**
   * With `pinFields`: schema files already written and checked, kept for later batches (a
   * collector's, for the life of its spool folder) instead of one written, described and removed per batch.
   */
  readonly pinnedFields?: PinnedFields;
  /** Bronze's latest snapshot as the caller just read it: the batch is planned on it instead of reading the log again. */
  readonly planOn?: Snapshot;
}): Promise<LandResult | undefined> {
  const { lake, contract, batch, clock } = options;
  if (contract.cdc || options.records === 0) return undefined;
  const engine = lake.engine;
  const batchId = createHash('sha256').update(`${batch.appId}\n${batch.version}`).digest('hex').slice(0, 16);
  const filePrefix = `${contract.source}-${batchId}-${writeAttemptId()}`;
  const txn = { appId: batch.appId, version: batch.version };
  const extraTxns = options.extraTxns ?? [];
  const base = (records: number) => ({ source: contract.source, received: records, batchId, addedColumns: [] as string[] });

  const bronze = await ensureBronzeTable(lake, contract);
  const before = options.planOn ?? (await bronze.snapshot());
  if ((before.txns.get(batch.appId) ?? -1) >= batch.version) {
    const records = await options.records;
    if (records === undefined) return undefined;
    return { ...base(records), landed: 0, quarantined: 0, duplicates: records, files: 0, bronzeVersion: before.version };
  }
  const extra = extraColumnsOf(contract, before.schema.fields.map((f) => ({ name: f.name, type: duckdbTypeOf(f.type) })));
  const fields = [...contract.columns.map((c) => c.name), ...extra.map((c) => c.name)];
  // A field named rowid would hide the temp table's rowid, which numbers the lines.
  if (fields.some((name) => name.toLowerCase() === 'rowid')) return undefined;
  const reader = await fieldReader(engine, options.spoolDir, options.file, fields, options.pinFields === true ? (options.pinnedFields ?? true) : false);
  // The reader's scratch file goes once the rows are read (a long-running collector lands many batches in one spool folder).
  const dropScratch = async (): Promise<undefined> => void (reader.scratch !== undefined && (await rm(reader.scratch, { force: true })));
  const input = reader.relation;
  if (input === undefined) return dropScratch();
  const checked = contractFastSql(contract, input, { extraColumns: extra });
  if (checked === undefined) return dropScratch();

  const id = randomUUID().slice(0, 8);
  const typed = quoteIdent(`__ll_typed_${id}`);
  // The rows are read while Node may still be counting the lines (a one-batch file): the count
  // only decides, after both are done, whether the rows land. Handled below, never unhandled.
  const creating = engine.run(`CREATE OR REPLACE TEMP TABLE ${typed} AS ${checked}`);
  creating.catch(() => undefined);
  const records = await options.records;
  if (records === undefined || records === 0) {
    await creating.catch(() => undefined);
    await engine.run(`DROP TABLE IF EXISTS ${typed}`);
    return dropScratch();
  }
  const now = `make_timestamptz(${clock.nowMs() * 1000}::BIGINT)`;
  const commitInfo = {
    lakeloop: { source: contract.source, batchId, sourceOffset: batch.sourceOffset, received: records, landed: records, quarantined: 0, bytes: options.bytes ?? null },
  };
  let result;
  try {
    await creating;
    // The typed rows number the lines (a temp table keeps file order; the reader alone cannot
    // number them without a single-threaded window); each date's file is written in any row order.
    const source = `(SELECT *, rowid + ${options.linesBefore + 1} AS __ll_line FROM ${typed})`;
    const system = recordColumns({ batchId, sourceOffset: batch.sourceOffset, now, line: '__ll_line', legacy: hasLegacyIds(before.schema.fields) });
    const rows = `SELECT * EXCLUDE (__ll_line), ${system} FROM ${source}`;
    const onePartition = await holdsOneDate(engine, typed);
    result = await bronze.append(rows, { txn, extraTxns, fileNamePrefix: filePrefix, operation: 'INGEST', commitInfo, expectedRows: records, clustered: true, onePartition, planOn: before });
  } catch (error) {
    // Nothing was committed: a record needs the full check (or the reader refused the file).
    if (error instanceof SqlError || (error instanceof LakeloopError && error.code === 'ROW_COUNT')) {
      // A kept schema file is written again by the next batch, in case it is what failed (removed meanwhile).
      if (reader.pinned !== undefined) await forgetPinned(options.pinnedFields, fields);
      return undefined;
    }
    throw error;
  } finally {
    await engine.run(`DROP TABLE IF EXISTS ${typed}`);
    await dropScratch();
  }
  if (result.skipped) return { ...base(records), landed: 0, quarantined: 0, duplicates: records, files: 0, bronzeVersion: result.version };
  return { ...base(records), landed: records, quarantined: 0, duplicates: 0, files: result.addedFiles, bronzeVersion: result.version };
}

/**
 * Whether every typed row has the same, non-null `event_date` (a file of one event day, or a
 * collector batch of the last minutes): its bronze file is then written without
 * `PARTITION_BY` (`onePartition`). One scan of one column (~5 ms per million rows).
 */
async function holdsOneDate(engine: Engine, typed: string): Promise<boolean> {
  return (await engine.scalar(`SELECT min(event_date) = max(event_date) AND count(event_date) = count(*) FROM ${typed}`)) === true;
}

/**
 * A relation over `file` with exactly the columns `fields`, each the JSON text of that
 * field, from a `read_ndjson` that refuses any key outside them (undefined when the file
 * cannot be read that way). DuckDB's reader refuses undeclared keys only when it detected the
 * schema itself, so: one read of the file alone, detected from a sample, when the sample
 * shows every field and no other (the common case, and the cheapest scan); otherwise a read
 * whose first file is one record with every field (null), which fixes the schema, and whose
 * rows from the data file are those with `file_index = 1` (about 0.55 s per million records
 * slower). A key that appears only after the sample then fails the read, which sends the batch
 * to the exact path.
 */
async function fieldReader(
  engine: Engine,
  spoolDir: string,
  file: string,
  fields: readonly string[],
  pin: boolean | PinnedFields,
): Promise<{ relation: string | undefined; scratch?: string; pinned?: string }> {
  const projection = fields.map(quoteIdent).join(', ');
  const pinnedRelation = (schemaFile: string): string =>
    `(SELECT ${projection} FROM read_ndjson(${quotePaths([schemaFile, file])}, records = true, maximum_depth = 1, sample_size = 1, maximum_sample_files = 1) WHERE file_index = 1)`;
  const kept = typeof pin === 'object' ? pin : undefined;
  const known = kept?.get(pinKey(fields));
  if (known !== undefined) return { relation: pinnedRelation(known), pinned: known };
  // A small sample first (the reader detects again when the statement runs, so each detection
  // counts twice: ~17 ms for 2,048 records, ~45 ms for 10,000); a larger one when the small one lacks a field.
  for (const sample of pin ? [] : [FIRST_FIELD_SAMPLE, FIELD_SAMPLE]) {
    const alone = `read_ndjson(${quotePath(file)}, records = true, maximum_depth = 1, sample_size = ${sample})`;
    const sampled = await engine.describe(`SELECT * FROM ${alone}`).catch(() => undefined);
    if (sampled && sameColumns(sampled, fields)) return { relation: `(SELECT ${projection} FROM ${alone})` };
    const known = new Set(fields);
    if (!sampled || sampled.some((c) => !known.has(c.name))) break;
  }

  const schemaFile = join(spoolDir, `fields-${randomUUID().slice(0, 8)}.ndjson`);
  await writeFile(schemaFile, `${JSON.stringify(Object.fromEntries(fields.map((name) => [name, null])))}\n`);
  const pinned = `read_ndjson(${quotePaths([schemaFile, file])}, records = true, maximum_depth = 1, sample_size = 1, maximum_sample_files = 1)`;
  const columns = await engine.describe(`SELECT * FROM ${pinned}`).catch(() => []);
  if (!sameColumns(columns, fields)) return { relation: undefined, scratch: schemaFile };
  if (!kept) return { relation: pinnedRelation(schemaFile), scratch: schemaFile };
  kept.set(pinKey(fields), schemaFile);
  return { relation: pinnedRelation(schemaFile), pinned: schemaFile };
}

/**
 * Schema files of pinned readers (see `fieldReader`) by field list, kept across batches: the
 * file's content depends only on the fields, and DuckDB reads the same columns from it each
 * time, so it is written and described once per field list (a new column under `evolve` is a
 * new list), not once per batch. The caller removes them with the folder they are in.
 */
export type PinnedFields = Map<string, string>;

function pinKey(fields: readonly string[]): string {
  return JSON.stringify(fields);
}

/** Forgets (and removes) the kept schema file of `fields`. */
async function forgetPinned(kept: PinnedFields | undefined, fields: readonly string[]): Promise<void> {
  const file = kept?.get(pinKey(fields));
  if (file === undefined) return;
  kept?.delete(pinKey(fields));
  await rm(file, { force: true });
}

/** Records the one-file reader detects its columns from: first the smaller sample, then the larger when a field was missing. */
export const FIRST_FIELD_SAMPLE = 2_048;
export const FIELD_SAMPLE = 10_000;

/** The reader's columns are the fields in order, each JSON (else it would not refuse undeclared keys as expected). */
function sameColumns(columns: readonly { name: string; type: string }[], fields: readonly string[]): boolean {
  if (columns.length !== fields.length) return false;
  const byName = new Map(columns.map((c) => [c.name, c.type]));
  return fields.every((name) => byName.get(name) === 'JSON');
}

/** `bronze.<source>`, created on first use with the contract's columns, partitioned by event_date. */
export async function ensureBronzeTable(lake: Lake, contract: Contract): Promise<DeltaTable> {
  const name = `bronze.${contract.source}`;
  const existing = await lake.tableIfExists(name);
  if (existing) return existing;
  const engine: Engine = lake.engine;
  const empty = `(SELECT CAST(NULL AS VARCHAR) AS _line, CAST(NULL AS VARCHAR) AS _raw, CAST(NULL AS JSON) AS _json WHERE false)`;
  const described = await engine.describe(contractSql(contract, empty));
  const columns = described
    .filter((c) => !['_line', '_raw', '_reject_reason', '_reject_field'].includes(c.name))
    .concat([
      { name: '_ingest_id', type: 'BIGINT' },
      { name: '_batch_id', type: 'VARCHAR' },
      { name: '_ingested_at', type: 'TIMESTAMP WITH TIME ZONE' },
      { name: '_source_offset', type: 'VARCHAR' },
    ]);
  return lake.createTable(name, {
    columns,
    partitionColumns: ['event_date'],
    description: contract.description ?? `bronze of source ${contract.source}`,
    configuration: idempotencyWindowConfiguration(contract),
  });
}

/**
 * The engine's columns of each landed record, after its contract columns: `_ingest_id` is the
 * record's number in its input (`line`: the file line, array element or CSV line), unique
 * within its batch, so (`_batch_id`, `_ingest_id`) names one bronze row; `_batch_id` and
 * `_source_offset` (the batch's position in its source) are the same for every row of the batch.
 *
 * Those two constants are one-value ENUMs: DuckDB's Parquet writer writes an ENUM as the
 * string column it is in the file (the table's type) from its dictionary, where a VARCHAR
 * would be hashed into a dictionary row by row (~70 ms per column per million rows).
 *
 * `legacy`: a bronze table created before records were numbered this way keeps strings
 * (`_ingest_id` `<batch>:<line>`, `_source_offset` `<offset>:<line>`); its batches keep that form.
 */
function recordColumns(options: { batchId: string; sourceOffset: string; now: string; line: string; legacy: boolean }): string {
  const { batchId, sourceOffset, now, line } = options;
  if (options.legacy) {
    return (
      `${quoteLiteral(`${batchId}:`)} || ${line} AS _ingest_id, ${quoteLiteral(batchId)} AS _batch_id, ` +
      `${now} AS _ingested_at, ${quoteLiteral(`${sourceOffset}:`)} || ${line} AS _source_offset`
    );
  }
  return `CAST(${line} AS BIGINT) AS _ingest_id, ${constantText(batchId)} AS _batch_id, ${now} AS _ingested_at, ${constantText(sourceOffset)} AS _source_offset`;
}

/** A string every row of a write shares, as a one-value ENUM (see `recordColumns`); '' stays VARCHAR (no empty ENUM member). */
function constantText(value: string): string {
  return value === '' ? quoteLiteral(value) : `CAST(${quoteLiteral(value)} AS ENUM(${quoteLiteral(value)}))`;
}

/** Whether a bronze table numbers records the old way: `_ingest_id` a string (see `recordColumns`). */
function hasLegacyIds(fields: readonly { name: string; type: unknown }[]): boolean {
  return fields.some((f) => f.name === '_ingest_id' && f.type === 'string');
}

/** Columns bronze has beyond the contract and the engine's own: added earlier by `evolve`. */
function extraColumnsOf(contract: Contract, columns: readonly { name: string; type: string }[]): ExtraColumn[] {
  const known = new Set([...contract.columns.map((c) => c.name.toLowerCase()), ...SYSTEM_COLUMNS]);
  return columns
    .filter((c) => !known.has(c.name.toLowerCase()))
    .map((c) => {
      assert(c.type.length > 0, `column ${c.name} has no type`);
      return { name: c.name, type: c.type as ContractColumnType };
    });
}

let writeAttempts = 0;

/**
 * A name part no other write attempt has: the time, this process and a counter (base 36).
 * A batch's files are named `<source>-<batch id>-<attempt>`, so a batch that is retried,
 * or whose number another batch takes after a failed commit, never writes a name twice:
 * an upload the store completes late can only land on a file no commit references.
 */
function writeAttemptId(): string {
  writeAttempts += 1;
  return `${Date.now().toString(36)}${process.pid.toString(36)}${writeAttempts.toString(36)}`;
}
