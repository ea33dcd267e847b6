import { randomUUID } from 'node:crypto';
import { assert, backoffDelayMs, CommitConflict, failpoint, LakeloopError, stoppoint, systemClock, TableNotFound, type Clock, type RetryPolicy } from '../core/index.js';
import type { Engine } from '../engine/index.js';
import type { ObjectStore } from '../storage/index.js';
import {
  emptyActions,
  removeFor,
  serializeActions,
  type Action,
  type AddAction,
  type MetaDataAction,
  type ParsedActions,
  type ProtocolAction,
  type RemoveAction,
} from './actions.js';
import { readLastCheckpoint, writeCheckpoint } from './checkpoint-writer.js';
import { judgeWinner, type PendingCommit } from './conflict-checker.js';
import { writeDataFiles } from './data-file-writer.js';
import {
  deltaTypeOfDuckdb,
  sameSchema,
  schemaFromDuckdbColumns,
  schemaToString,
  type DuckdbColumn,
  type SchemaField,
  type TableSchema,
} from './delta-schema.js';
import { ENGINE_INFO } from './engine-info.js';
import { FileColumns } from './file-columns.js';
import { CheckpointCache } from './checkpoint-cache.js';
import { withCommitLock } from './commit-lock.js';
import { parseStats } from './file-stats.js';
import { commitKey, tableKey } from './log-files.js';
import { LogReader, type CommitSummary, type SnapshotSelector } from './log-reader.js';
import { decodeAddPath, partitionKey, partitionMatches, type PartitionSpec } from './partition-paths.js';
import { checkWritable, LAKELOOP_PROTOCOL, NEW_TABLE_CONFIGURATION, partitionColumnsInFiles } from './protocol-support.js';
import type { Snapshot } from './snapshot.js';

/** How a `DeltaTable` handle reads and writes. */
export interface DeltaTableOptions {
  readonly engine: Engine;
  /** The table's name in messages (`bronze.orders`); default: its path. */
  readonly name?: string;
  readonly clock?: Clock;
  /** Write a checkpoint after every commit whose version is a multiple of this (default 10; 0 = never). */
  readonly checkpointInterval?: number;
  /** false: ignore checkpoints when reading and replay every JSON commit (tests, repair). Default true. */
  readonly useCheckpoints?: boolean;
  /** How lost commit races are retried (default: 10 attempts, 20 ms base, 1 s cap, full jitter). */
  readonly commitRetry?: RetryPolicy;
  /** Where read checkpoints are kept as JSON lines (default: `CheckpointCache.fromEnv()`; null: none). */
  readonly checkpointCache?: CheckpointCache | null;
  /** How many commit summaries (for `history`) the handle keeps, the newest (default `REMEMBERED_COMMITS`). */
  readonly rememberedCommits?: number;
}

/**
 * A new table's definition: DuckDB columns (as `engine.describe` returns them) or a Delta
 * schema, plus partitioning.
 *
 * @example
 * { columns: await engine.describe(sql), partitionColumns: ['event_date'] }
 */
export interface CreateTableOptions {
  readonly columns?: readonly DuckdbColumn[];
  readonly schema?: TableSchema;
  readonly partitionColumns?: readonly string[];
  readonly configuration?: Readonly<Record<string, string>>;
  readonly description?: string;
}

/** An application transaction id: a commit carrying it is applied at most once per (appId, version). */
export interface TxnId {
  readonly appId: string;
  readonly version: number;
}

/** Options shared by the writing operations. */
export interface WriteOptions {
  /** Skip the write (nothing written, `skipped: true`) when this appId already committed a version ≥ this. */
  readonly txn?: TxnId;
  /**
   * More txn actions recorded by the same commit (e.g. the idempotency keys of the requests
   * a collector batch holds). Not checked before writing: the caller filters those already
   * applied; a concurrent commit that applied one of them is a `CommitConflict`.
   */
  readonly extraTxns?: readonly TxnId[];
  /** commitInfo.operation; default `WRITE`. */
  readonly operation?: string;
  /** Extra commitInfo fields (e.g. upstream versions consumed, watermark). */
  readonly commitInfo?: Readonly<Record<string, unknown>>;
  /** Deterministic data file names for idempotent writers (use with `txn`). */
  readonly fileNamePrefix?: string;
  /** When set, the write must produce exactly this many rows, else it fails (code `ROW_COUNT`) before anything is committed. */
  readonly expectedRows?: number;
  /** Row order inside the files does not matter: small row groups both threads encode (see `DataFilesRequest.clustered`). */
  readonly clustered?: boolean;
  /** Every row holds the same partition values: one file, written without `PARTITION_BY` (see `DataFilesRequest.onePartition`). */
  readonly onePartition?: boolean;
  /**
   * Write-audit-publish: told the rows just written (a relation over the local files) before
   * anything is uploaded or committed; throwing abandons the write (see `DataFilesRequest.audit`).
   */
  readonly audit?: (relation: string, rows: number) => Promise<void>;
  /**
   * Checked against the snapshot the write is planned on (the version it reads), before
   * anything is written; throwing abandons the write. A writer that planned its rows on an
   * earlier snapshot uses it to refuse a table whose definition was replaced since
   * (`replaceDefinition`); one replaced after this check conflicts at commit (its metaData).
   */
  readonly precondition?: (snapshot: Snapshot) => void;
}

/** Options of `writeDataFiles`. */
export interface WriteDataFilesOptions {
  /** Must equal the table's partition columns when given. */
  readonly partitionColumns?: readonly string[];
  readonly fileNamePrefix?: string;
}

/** A commit to attempt: the version it was planned against, its actions and what it depends on. */
export interface CommitRequest {
  /** The version the writer read (its snapshot); the commit goes to readVersion + 1 or later. */
  readonly readVersion: number;
  readonly add?: readonly AddAction[];
  readonly remove?: readonly RemoveAction[];
  readonly metadata?: MetaDataAction;
  readonly protocol?: ProtocolAction;
  readonly txn?: TxnId;
  /** See `WriteOptions.extraTxns`. */
  readonly extraTxns?: readonly TxnId[];
  readonly operation: string;
  readonly operationParameters?: Readonly<Record<string, unknown>>;
  readonly commitInfo?: Readonly<Record<string, unknown>>;
  /** Partitions whose content this commit depends on (`{}` = the whole table). */
  readonly readPartitions?: readonly PartitionSpec[];
  /**
   * true: the commit only rewrites the files it removes (compaction: `dataChange: false`,
   * same rows), so it depends on those files alone, not on their partitions: a winner that
   * added files there (a blind append) is compatible, one that removed one of them still
   * conflicts, as Delta's OPTIMIZE against concurrent appends. Default false: the partitions
   * of the removes count as read.
   */
  readonly rewritesRemovedOnly?: boolean;
}

/** What a commit did. */
export interface CommitResult {
  /** The version written (or, when skipped, the version that already holds the txn / the version read). */
  readonly version: number;
  /** true when the txn was already applied: nothing was written. */
  readonly skipped: boolean;
  /** put-if-absent attempts (0 when skipped before writing). */
  readonly attempts: number;
  readonly addedFiles: number;
  readonly removedFiles: number;
}

const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 10, baseDelayMs: 20, maxDelayMs: 1_000 });
const FORBIDDEN_NAME_CHARS = /[ ,;{}()\n\t=]/;

/** Commit bodies whose put failed on a store without conditional writes, by `<store>|<table path>|<version>` (see `putCommit`). */
const inDoubtCommits = new Map<string, string>();

/**
 * A Delta Lake table (reader 1 / writer 2) on an object store: snapshots, time travel,
 * history, and optimistic put-if-absent commits with conflict checks, txn idempotency
 * and periodic checkpoints. See `src/table/README.md` for the commit protocol.
 *
 * @example
 * const table = await DeltaTable.open(store, 'bronze/orders', { engine });
 * await table.append('SELECT * FROM read_parquet(...)', { txn: { appId: 'orders', version: 7 } });
 * const snapshot = await table.snapshot({ version: 3 });
 */
export class DeltaTable {
  readonly name: string;
  private readonly clock: Clock;
  private readonly checkpointInterval: number;
  private readonly retry: RetryPolicy;
  private readonly reader: LogReader;
  /** The last checkpoint failure, if any (a failed checkpoint never fails a commit). */
  lastCheckpointError: unknown = undefined;

  private constructor(
    readonly store: ObjectStore,
    readonly path: string,
    private readonly options: DeltaTableOptions,
  ) {
    this.name = options.name ?? (path === '' ? store.description : path);
    this.clock = options.clock ?? systemClock;
    this.checkpointInterval = options.checkpointInterval ?? 10;
    this.retry = options.commitRetry ?? DEFAULT_RETRY;
    this.reader = new LogReader({
      store,
      engine: options.engine,
      table: this.name,
      tablePath: path,
      clock: this.clock,
      fileColumns: new FileColumns(options.engine),
      useCheckpoints: options.useCheckpoints ?? true,
      checkpointCache: options.checkpointCache === undefined ? defaultCheckpointCache() : (options.checkpointCache ?? undefined),
      ...(options.rememberedCommits !== undefined ? { rememberedCommits: options.rememberedCommits } : {}),
    });
  }

  /** Opens an existing table; `TableNotFound` (with the name) when `path` has no `_delta_log`. */
  static async open(store: ObjectStore, path: string, options: DeltaTableOptions): Promise<DeltaTable> {
    const table = new DeltaTable(store, normalizePath(path), options);
    if (!(await table.reader.exists())) throw new TableNotFound(table.name);
    return table;
  }

  /**
   * Creates a table (version 0: protocol 1/2, metaData, commitInfo). Idempotent: an
   * existing table with the same schema and partitioning is returned as is; a different
   * one is an error.
   */
  static async create(store: ObjectStore, path: string, options: DeltaTableOptions & CreateTableOptions): Promise<DeltaTable> {
    const table = new DeltaTable(store, normalizePath(path), options);
    const schema = options.schema ?? (options.columns ? schemaFromDuckdbColumns(options.columns) : undefined);
    if (!schema) throw new LakeloopError('USAGE', `Failed to create ${table.name}: give columns or a schema`);
    const partitionColumns = [...(options.partitionColumns ?? [])];
    checkNewSchema(table.name, schema, partitionColumns);
    if (await table.reader.exists()) return table.sameDefinitionOrThrow(schema, partitionColumns);
    const now = table.clock.nowMs();
    const metaData: MetaDataAction = {
      id: randomUUID(),
      ...(options.description !== undefined ? { description: options.description } : {}),
      format: { provider: 'parquet', options: {} },
      schemaString: schemaToString(schema),
      partitionColumns,
      configuration: { ...NEW_TABLE_CONFIGURATION, ...(options.configuration ?? {}) },
      createdTime: now,
    };
    const commitInfo = table.commitInfo(now, randomUUID(), {
      operation: 'CREATE TABLE',
      operationParameters: { isManaged: 'false', description: options.description ?? null, partitionBy: JSON.stringify(partitionColumns), properties: JSON.stringify(metaData.configuration) },
      readVersion: undefined,
      isBlindAppend: true,
      adds: [],
      removes: [],
      extras: {},
    });
    const body = serializeActions([{ commitInfo }, { protocol: LAKELOOP_PROTOCOL }, { metaData }]);
    const { written } = await store.putIfAbsent(commitKey(table.path, 0), body);
    if (!written) return table.sameDefinitionOrThrow(schema, partitionColumns);
    return table;
  }

  /** The snapshot selected: the latest by default, `{version}` or `{timestampMs}` for time travel. */
  snapshot(at?: SnapshotSelector): Promise<Snapshot> {
    return this.reader.snapshot(at);
  }

  /**
   * The actions of one commit (adds, removes, txns, commitInfo), or undefined when its file
   * is gone (a log cleanup removed it): planners read what changed between two versions.
   */
  commitActions(version: number): Promise<ParsedActions | undefined> {
    return this.reader.readCommit(version);
  }

  /** The newest commits first (`limit` of them), from each commit's commitInfo. */
  history(options: { limit?: number } = {}): Promise<CommitSummary[]> {
    return this.reader.history(options.limit);
  }

  /** How many commit summaries the handle holds now: at most `rememberedCommits`, however long its log. */
  get rememberedCommitCount(): number {
    return this.reader.rememberedCommitCount;
  }

  /**
   * Runs `selectSql` and writes its rows as data files of this table (one zstd Parquet file
   * per partition tuple, with stats); returns their add actions. Nothing is visible until
   * they are committed.
   */
  async writeDataFiles(selectSql: string, options: WriteDataFilesOptions = {}): Promise<AddAction[]> {
    const snapshot = await this.snapshot();
    if (options.partitionColumns && options.partitionColumns.join('\0') !== snapshot.partitionColumns.join('\0')) {
      throw new LakeloopError(
        'WRITE',
        `Failed to write to ${this.name}: it is partitioned by [${snapshot.partitionColumns.join(', ')}], not [${options.partitionColumns.join(', ')}]`,
      );
    }
    return this.writeFiles(snapshot, selectSql, options.fileNamePrefix !== undefined ? { fileNamePrefix: options.fileNamePrefix } : {});
  }

  /**
   * Commits actions at `readVersion + 1` with put-if-absent. On losing the race it reads
   * the winners: our txn already there → skipped; a conflicting winner → `CommitConflict`;
   * otherwise it retries at the next free version (bounded, with backoff and jitter).
   * Checkpoints follow every `checkpointInterval` versions.
   */
  async commit(request: CommitRequest): Promise<CommitResult> {
    // Where put-if-absent is atomic, racing writers are resolved by the log itself.
    if (await this.store.conditionalWrites()) return this.commitUnlocked(request);
    return withCommitLock(`${this.store.description}|${this.path}`, () => this.commitUnlocked(request));
  }

  private async commitUnlocked(request: CommitRequest): Promise<CommitResult> {
    if (!Number.isInteger(request.readVersion) || request.readVersion < 0) {
      throw new LakeloopError('USAGE', `Failed to commit to ${this.name}: readVersion ${request.readVersion} is not a version (create the table first)`);
    }
    const adds = request.add ?? [];
    const removes = request.remove ?? [];
    // The writer checks need a state at least as new as readVersion; later protocol or
    // metadata changes are caught by the conflict check against the winners.
    const cached = this.reader.cached();
    const latest = cached && cached.version >= request.readVersion ? cached : await this.snapshot();
    if (latest.version < request.readVersion) {
      // Writing past the latest version would leave a gap in the log.
      throw new LakeloopError('USAGE', `Failed to commit to ${this.name}: readVersion ${request.readVersion} is newer than the latest version ${latest.version}`);
    }
    const schema = request.metadata ? schemaOf(this.name, request.metadata) : latest.schema;
    const configuration = request.metadata?.configuration ?? latest.metadata.configuration;
    checkWritable(this.name, latest.version, request.protocol ?? latest.protocol, schema, configuration, removes.length > 0);
    const partitionColumns = request.metadata?.partitionColumns ?? latest.partitionColumns;
    const pending: PendingCommit = {
      removedPaths: new Set(removes.map((r) => decodeAddPath(r.path))),
      touchedPartitions: [
        ...(request.rewritesRemovedOnly ? [] : removes.map((r) => restrict(partitionColumns, r.partitionValues ?? {}))),
        ...(request.readPartitions ?? []),
      ],
      txn: request.txn,
      extraTxns: request.extraTxns ?? [],
    };
    const isBlindAppend = removes.length === 0 && (request.readPartitions ?? []).length === 0 && !request.metadata && !request.protocol;

    // Every attempt's commitInfo carries a fresh txnId: a "winner" with one of ours is our own
    // earlier attempt that landed although its put reported failure (an ambiguous network error
    // retried by the store), and must not be committed twice.
    const sentTxnIds = new Set<string>();
    let version = request.readVersion + 1;
    for (let attempt = 1; ; attempt++) {
      const now = this.clock.nowMs();
      const txnId = randomUUID();
      sentTxnIds.add(txnId);
      const actions: Action[] = [
        {
          commitInfo: this.commitInfo(now, txnId, {
            operation: request.operation,
            operationParameters: request.operationParameters ?? {},
            readVersion: request.readVersion,
            isBlindAppend,
            adds,
            removes,
            extras: request.commitInfo ?? {},
          }),
        },
      ];
      if (request.protocol) actions.push({ protocol: request.protocol });
      if (request.metadata) actions.push({ metaData: request.metadata });
      if (request.txn) actions.push({ txn: { appId: request.txn.appId, version: request.txn.version, lastUpdated: now } });
      for (const extra of request.extraTxns ?? []) actions.push({ txn: { appId: extra.appId, version: extra.version, lastUpdated: now } });
      for (const remove of removes) actions.push({ remove: { ...remove, deletionTimestamp: remove.deletionTimestamp ?? now } });
      for (const add of adds) actions.push({ add });

      failpoint('table.before-log-put');
      const body = serializeActions(actions);
      const { written } = (await this.completeInDoubt(version)) ? { written: false } : await this.putCommit(version, body);
      if (written) {
        failpoint('table.after-log-put');
        this.reader.noteCommitted(version, toParsed(actions), now);
        await this.maybeCheckpoint(version);
        return { version, skipped: false, attempts: attempt, addedFiles: adds.length, removedFiles: removes.length };
      }

      // Lost the race: judge every commit that won, in order.
      let next = version;
      for (;;) {
        const winner = await this.reader.readCommit(next);
        if (!winner) break;
        if (sentTxnIds.has(String(winner.commitInfo?.['txnId']))) {
          this.reader.noteCommitted(next, winner, now);
          await this.maybeCheckpoint(next);
          return { version: next, skipped: false, attempts: attempt, addedFiles: adds.length, removedFiles: removes.length };
        }
        const verdict = judgeWinner(pending, next, winner);
        if (verdict.kind === 'already-applied') return { version: next, skipped: true, attempts: attempt, addedFiles: 0, removedFiles: 0 };
        if (verdict.kind === 'conflict') throw new CommitConflict(this.name, version, await this.latestVersionFrom(next), verdict.reason);
        next++;
      }
      if (attempt >= this.retry.attempts) {
        throw new CommitConflict(this.name, version, next - 1, `gave up after ${attempt} attempts against concurrent writers`);
      }
      version = next;
      await this.clock.sleep(backoffDelayMs(this.retry, attempt));
    }
  }

  /**
   * Puts a commit. On a store that does not enforce conditional writes, a put that fails
   * may still land later (the store completes it after the client gave up); the version is
   * then in doubt, and its bytes are kept so the next commit at that version completes it
   * with the same bytes instead of writing other content a late arrival would overwrite.
   */
  private async putCommit(version: number, body: string): Promise<{ written: boolean }> {
    try {
      return await this.store.putIfAbsent(commitKey(this.path, version), body);
    } catch (error) {
      if (!(await this.store.conditionalWrites())) inDoubtCommits.set(this.inDoubtKey(version), body);
      throw error;
    }
  }

  /**
   * Completes an in-doubt commit at `version` (see `putCommit`) when the log does not hold
   * it yet; true when the version is now taken (by it, or by what landed meanwhile).
   */
  private async completeInDoubt(version: number): Promise<boolean> {
    const key = this.inDoubtKey(version);
    const body = inDoubtCommits.get(key);
    if (body === undefined) return false;
    if (!(await this.reader.readCommit(version))) await this.store.putIfAbsent(commitKey(this.path, version), body);
    inDoubtCommits.delete(key);
    return true;
  }

  private inDoubtKey(version: number): string {
    return `${this.store.description}|${this.path}|${version}`;
  }

  /**
   * Appends the query's rows in one commit (a blind append: it never conflicts on data).
   * `planOn`: a snapshot of this table the caller has just read, to plan on instead of reading
   * the log again (a collector batch reads it once); commits that landed since are judged at
   * commit, as for any writer that lost the race (put-if-absent of the log entry is the arbiter).
   */
  async append(selectSql: string, options: WriteOptions & { readonly planOn?: Snapshot } = {}): Promise<CommitResult> {
    assert(options.planOn === undefined || options.planOn.table === this.name, `append to ${this.name} planned on a snapshot of ${options.planOn?.table}`);
    const snapshot = options.planOn ?? (await this.snapshot());
    options.precondition?.(snapshot);
    const skipped = alreadyApplied(snapshot, options.txn);
    if (skipped) return skipped;
    const adds = await this.writeFiles(snapshot, selectSql, options);
    return this.commitWrite(options, adds, () => ({
      readVersion: snapshot.version,
      add: adds,
      operation: options.operation ?? 'WRITE',
      operationParameters: { mode: 'Append', partitionBy: JSON.stringify(snapshot.partitionColumns) },
    }));
  }

  /**
   * Replaces whole partitions in ONE commit: removes the live files of the replaced
   * partitions and adds the query's rows. The replaced partitions are `partitions` when
   * given (rows outside them are an error, and listed partitions the query leaves empty
   * end up empty), else those the query's rows fall in. Conflicts with any concurrent
   * commit that touches those partitions.
   */
  async overwritePartitions(selectSql: string, options: WriteOptions & { partitions?: readonly PartitionSpec[] } = {}): Promise<CommitResult> {
    const snapshot = await this.snapshot();
    options.precondition?.(snapshot);
    const skipped = alreadyApplied(snapshot, options.txn);
    if (skipped) return skipped;
    const listed = options.partitions?.map((spec) => this.checkSpec(snapshot, spec));
    const adds = await this.writeFiles(snapshot, selectSql, options, listed);
    const replaced = listed ?? distinctPartitions(snapshot.partitionColumns, adds);
    const now = this.clock.nowMs();
    const removes = snapshot.files.filter((f) => replaced.some((spec) => partitionMatches(f.partitionValues, spec))).map((f) => removeFor(f, now));
    return this.commitWrite(options, adds, () => ({
      readVersion: snapshot.version,
      add: adds,
      remove: removes,
      readPartitions: replaced,
      operation: options.operation ?? 'WRITE',
      operationParameters: { mode: 'Overwrite', partitionOverwriteMode: 'DYNAMIC', partitions: JSON.stringify(replaced) },
    }));
  }

  /**
   * Copy-on-write at file level (a MERGE's commit, as Delta writes it): removes the listed
   * live files and adds the query's rows in ONE commit, leaving every other file as it is.
   * The query holds the new content of those files plus any new rows. `readPartitions` are
   * the partitions whose content the query depended on (a key merge read them to find the
   * keys it replaces): a concurrent commit touching them, or removing one of the listed
   * files, is a conflict. `fileGroupColumn` names a column of the query (not written) whose
   * values split a partition's rows into separate files: a merge puts each replaced file's
   * rows back into a file of their own, so files stay the size they were.
   */
  async replaceFiles(
    selectSql: string,
    options: WriteOptions & { remove: readonly AddAction[]; readPartitions: readonly PartitionSpec[]; fileGroupColumn?: string },
  ): Promise<CommitResult> {
    const snapshot = await this.snapshot();
    options.precondition?.(snapshot);
    const skipped = alreadyApplied(snapshot, options.txn);
    if (skipped) return skipped;
    const live = new Set(snapshot.files.map((f) => f.path));
    const gone = options.remove.filter((f) => !live.has(f.path));
    if (gone.length) {
      throw new LakeloopError('USAGE', `Failed to replace files of ${this.name}: ${gone.map((f) => f.path).join(', ')} not live at version ${snapshot.version}`);
    }
    const readPartitions = options.readPartitions.map((spec) => this.checkSpec(snapshot, spec));
    const adds = await this.writeFiles(snapshot, selectSql, options, readPartitions.length ? readPartitions : undefined);
    const now = this.clock.nowMs();
    return this.commitWrite(options, adds, () => ({
      readVersion: snapshot.version,
      add: adds,
      remove: options.remove.map((f) => removeFor(f, now)),
      readPartitions,
      operation: options.operation ?? 'MERGE',
      operationParameters: { mode: 'ReplaceFiles', partitions: JSON.stringify(readPartitions) },
    }));
  }

  /** Replaces the whole table's content in one commit (remove every live file + add the new ones). */
  async overwrite(selectSql: string, options: WriteOptions = {}): Promise<CommitResult> {
    const snapshot = await this.snapshot();
    options.precondition?.(snapshot);
    const skipped = alreadyApplied(snapshot, options.txn);
    if (skipped) return skipped;
    const adds = await this.writeFiles(snapshot, selectSql, options);
    const now = this.clock.nowMs();
    return this.commitWrite(options, adds, () => ({
      readVersion: snapshot.version,
      add: adds,
      remove: snapshot.files.map((f) => removeFor(f, now)),
      readPartitions: [{}],
      operation: options.operation ?? 'WRITE',
      operationParameters: { mode: 'Overwrite' },
    }));
  }

  /**
   * Replaces the whole table, content and definition, in ONE commit (Spark's overwrite with
   * `overwriteSchema`): a new metaData with the query's `columns` as the schema,
   * `partitionColumns` as the layout and `configuration` merged into the table's (a null
   * value removes its key), every live
   * file removed, the query's rows added. A dropped column leaves the schema, a retyped one
   * takes its new type; readers of older versions keep their own schema (time travel is
   * unaffected).
   *
   * Its rows come from the query alone, never from the table, so the replacement wins over
   * writers racing it: a commit that lands while it writes is superseded (its files are
   * removed too, at the next version) instead of failing the replacement; the caller's
   * commitInfo says what the new content covers (a model records the upstream versions it
   * read), so a later run redoes what the superseded commit did. The commit always carries
   * a metaData, so a writer that read the table before it conflicts instead of landing on
   * the new definition.
   *
   * @example
   * await table.replaceDefinition('SELECT * FROM t', { columns: await engine.describe('SELECT * FROM t'), partitionColumns: ['day'] });
   */
  async replaceDefinition(
    selectSql: string,
    options: WriteOptions & {
      readonly columns: readonly DuckdbColumn[];
      readonly partitionColumns: readonly string[];
      readonly configuration?: Readonly<Record<string, string | null>>;
    },
  ): Promise<CommitResult> {
    const snapshot = await this.snapshot();
    const skipped = alreadyApplied(snapshot, options.txn);
    if (skipped) return skipped;
    options.precondition?.(snapshot);
    const schema = schemaFromDuckdbColumns(options.columns);
    const partitionColumns = [...options.partitionColumns];
    checkNewSchema(this.name, schema, partitionColumns);
    checkWritable(this.name, snapshot.version, snapshot.protocol, schema, snapshot.metadata.configuration, false);
    const { fileNamePrefix, expectedRows, audit } = options;
    const adds = await writeDataFiles(
      { store: this.store, engine: this.options.engine, clock: this.clock, table: this.name, tablePath: this.path },
      {
        selectSql,
        schema,
        partitionColumns,
        ...(fileNamePrefix !== undefined ? { fileNamePrefix, livePaths: livePathsWith(snapshot, fileNamePrefix) } : {}),
        ...(expectedRows !== undefined ? { expectedRows } : {}),
        ...(audit ? { audit } : {}),
      },
    );
    failpoint('table.after-data-files');
    stoppoint('table.after-data-files');
    const request = (base: Snapshot): Omit<CommitRequest, 'txn' | 'commitInfo'> => {
      const now = this.clock.nowMs();
      return {
        readVersion: base.version,
        add: adds,
        remove: base.files.map((f) => removeFor(f, now)),
        metadata: { ...base.metadata, schemaString: schemaToString(schema), partitionColumns, configuration: mergeConfiguration(base.metadata.configuration, options.configuration) },
        readPartitions: [{}],
        operation: options.operation ?? 'CREATE OR REPLACE TABLE AS SELECT',
        operationParameters: { mode: 'Overwrite', overwriteSchema: true, partitionBy: JSON.stringify(partitionColumns) },
      };
    };
    return this.commitWrite(options, adds, () => request(snapshot), async () => request(await this.snapshot()));
  }

  /** Schema evolution: adds nullable columns (DuckDB types) at the end, in a new metaData. Older files read them as NULL. */
  async addColumns(columns: readonly DuckdbColumn[], options: Omit<WriteOptions, 'fileNamePrefix'> = {}): Promise<CommitResult> {
    const snapshot = await this.snapshot();
    options.precondition?.(snapshot);
    const existing = new Set(snapshot.schema.fields.map((f) => f.name.toLowerCase()));
    const added: SchemaField[] = columns.map((c) => {
      if (existing.has(c.name.toLowerCase())) throw new LakeloopError('SCHEMA', `Failed to add column ${c.name} to ${this.name}: it already exists`);
      existing.add(c.name.toLowerCase());
      checkColumnName(this.name, c.name);
      return { name: c.name, type: deltaTypeOfDuckdb(c.type, c.name), nullable: true, metadata: {} };
    });
    const schema: TableSchema = { type: 'struct', fields: [...snapshot.schema.fields, ...added] };
    return this.commit({
      readVersion: snapshot.version,
      metadata: { ...snapshot.metadata, schemaString: schemaToString(schema) },
      ...(options.txn ? { txn: options.txn } : {}),
      operation: options.operation ?? 'ADD COLUMNS',
      operationParameters: { columns: JSON.stringify(added.map((f) => ({ name: f.name, type: f.type }))) },
      ...(options.commitInfo ? { commitInfo: options.commitInfo } : {}),
    });
  }

  private async writeFiles(
    snapshot: Snapshot,
    selectSql: string,
    options: WriteOptions & { readonly fileGroupColumn?: string },
    allowedPartitions?: readonly PartitionSpec[],
  ): Promise<AddAction[]> {
    checkWritable(this.name, snapshot.version, snapshot.protocol, snapshot.schema, snapshot.metadata.configuration, false);
    const { fileNamePrefix, expectedRows, clustered, onePartition, fileGroupColumn, audit } = options;
    const adds = await writeDataFiles(
      { store: this.store, engine: this.options.engine, clock: this.clock, table: this.name, tablePath: this.path },
      {
        selectSql,
        schema: snapshot.schema,
        partitionColumns: snapshot.partitionColumns,
        // Tables created before the property: their readers know the files hold the partition columns by these stats.
        ...(partitionColumnsInFiles(snapshot.metadata.configuration) ? {} : { partitionColumnStats: true }),
        ...(fileNamePrefix !== undefined ? { fileNamePrefix, livePaths: livePathsWith(snapshot, fileNamePrefix) } : {}),
        ...(allowedPartitions ? { allowedPartitions } : {}),
        ...(expectedRows !== undefined ? { expectedRows } : {}),
        ...(clustered ? { clustered } : {}),
        ...(onePartition ? { onePartition } : {}),
        ...(fileGroupColumn !== undefined ? { fileGroupColumn } : {}),
        ...(audit ? { audit } : {}),
      },
    );
    failpoint('table.after-data-files');
    return adds;
  }

  /**
   * Commits a write; when it is known not to land (skipped, or a conflict), deletes its randomly
   * named files. With `supersede`, a conflict is answered by planning the commit again on the
   * latest version (the same files), up to `retry.attempts` times.
   */
  private async commitWrite(
    options: WriteOptions,
    adds: readonly AddAction[],
    request: () => Omit<CommitRequest, 'txn' | 'commitInfo'>,
    supersede?: () => Promise<Omit<CommitRequest, 'txn' | 'commitInfo'>>,
  ): Promise<CommitResult> {
    // Settled: the commit is known not to hold these files (skipped, or refused by a conflict).
    // A commit that failed otherwise may still land (an in-doubt put): its files stay for vacuum.
    let settled = false;
    try {
      let planned = request();
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await this.commit({
            ...planned,
            ...(options.txn ? { txn: options.txn } : {}),
            ...(options.extraTxns?.length ? { extraTxns: options.extraTxns } : {}),
            ...(options.commitInfo ? { commitInfo: options.commitInfo } : {}),
          });
          settled = result.skipped;
          return result;
        } catch (error) {
          if (!(error instanceof CommitConflict) || !supersede || attempt >= this.retry.attempts) throw error;
          planned = await supersede();
        }
      }
    } catch (error) {
      settled = error instanceof CommitConflict;
      throw error;
    } finally {
      // Deterministic names may belong to a winner that committed the same batch: keep those.
      if (settled && options.fileNamePrefix === undefined && adds.length > 0) {
        const snapshot = await this.snapshot().catch(() => undefined);
        const live = new Set(snapshot?.files.map((f) => f.path) ?? []);
        const orphans = adds.filter((a) => !live.has(a.path)).map((a) => tableKey(this.path, decodeAddPath(a.path)));
        await this.store.delete(orphans).catch(() => undefined);
      }
    }
  }

  private commitInfo(
    now: number,
    txnId: string,
    parts: {
      operation: string;
      operationParameters: Readonly<Record<string, unknown>>;
      readVersion: number | undefined;
      isBlindAppend: boolean;
      adds: readonly AddAction[];
      removes: readonly RemoveAction[];
      extras: Readonly<Record<string, unknown>>;
    },
  ): Record<string, unknown> {
    let rows = 0;
    let rowsKnown = true;
    for (const add of parts.adds) {
      const stats = parseStats(add);
      if (stats) rows += stats.numRecords;
      else rowsKnown = false;
    }
    const operationMetrics: Record<string, string> = {
      numFiles: String(parts.adds.length),
      numAddedFiles: String(parts.adds.length),
      numRemovedFiles: String(parts.removes.length),
      numOutputBytes: String(parts.adds.reduce((sum, a) => sum + a.size, 0)),
      ...(rowsKnown ? { numOutputRows: String(rows) } : {}),
    };
    return {
      ...parts.extras,
      timestamp: now,
      operation: parts.operation,
      // Spark stores operationParameters as a string map; non-strings are JSON text.
      operationParameters: stringValues(parts.operationParameters),
      ...(parts.readVersion !== undefined ? { readVersion: parts.readVersion } : {}),
      isolationLevel: 'WriteSerializable',
      isBlindAppend: parts.isBlindAppend,
      operationMetrics,
      engineInfo: ENGINE_INFO,
      txnId,
    };
  }

  private async maybeCheckpoint(version: number): Promise<void> {
    if (this.checkpointInterval <= 0 || version === 0 || version % this.checkpointInterval !== 0) return;
    try {
      const snapshot = await this.reader.snapshot({ version });
      if (!(await this.checkpointDue(snapshot))) return;
      await writeCheckpoint({ store: this.store, engine: this.options.engine, tablePath: this.path }, snapshot);
      this.lastCheckpointError = undefined;
    } catch (error) {
      // The commit is durable; a missing checkpoint only costs readers some JSON replay.
      this.lastCheckpointError = error;
    }
  }

  /**
   * Whether a checkpoint is worth writing at this interval version. A checkpoint rewrites every
   * live file's action (20,000 files: ~1 s), so once a table holds LARGE_CHECKPOINT_ACTIONS the
   * next one waits until the actions grew by a tenth since the last (or 5 intervals passed, which
   * bounds a cold reader's JSON replay): its cost stays proportional to what was committed, not
   * to the table's size, per commit.
   */
  private async checkpointDue(snapshot: Snapshot): Promise<boolean> {
    const actions = snapshot.unorderedFiles.length + snapshot.unorderedTombstones.length + snapshot.txns.size;
    if (actions < LARGE_CHECKPOINT_ACTIONS) return true;
    const last = await readLastCheckpoint(this.store, this.path);
    if (!last || last.version >= snapshot.version) return last === undefined;
    if (snapshot.version - last.version >= MAX_CHECKPOINT_INTERVALS * this.checkpointInterval) return true;
    return actions - last.size >= last.size / 10;
  }

  private async latestVersionFrom(version: number): Promise<number> {
    let v = version;
    while (await this.store.head(commitKey(this.path, v + 1))) v++;
    return v;
  }

  private async sameDefinitionOrThrow(schema: TableSchema, partitionColumns: readonly string[]): Promise<DeltaTable> {
    const existing = await this.snapshot();
    if (sameSchema(existing.schema, schema) && existing.partitionColumns.join('\0') === partitionColumns.join('\0')) return this;
    throw new LakeloopError(
      'TABLE_EXISTS',
      `Failed to create ${this.name}: it already exists with a different schema or partitioning (version ${existing.version})`,
      { hint: 'Use the existing definition, evolve it with addColumns, or choose another name.' },
    );
  }

  private checkSpec(snapshot: Snapshot, spec: PartitionSpec): PartitionSpec {
    for (const [column, value] of Object.entries(spec)) {
      if (!snapshot.partitionColumns.includes(column)) {
        throw new LakeloopError('USAGE', `Failed to overwrite partitions of ${this.name}: ${column} is not a partition column (they are [${snapshot.partitionColumns.join(', ')}])`);
      }
      if (value !== null && typeof value !== 'string') {
        throw new LakeloopError('USAGE', `Failed to overwrite partitions of ${this.name}: partition values are strings or null, got ${JSON.stringify(value)} for ${column}`);
      }
    }
    return spec;
  }
}

/**
 * The decoded paths of the live files that could have a name written with `prefix`: those
 * whose path holds it, or holds an escape to decode (a file's decoded path equals its path
 * without one). Enough for the writer's never-reuse-a-name check, without decoding every
 * live file's path per write (a collector's bronze gains files with every batch).
 */
function livePathsWith(snapshot: Snapshot, prefix: string): Set<string> {
  const paths = new Set<string>();
  for (const file of snapshot.unorderedFiles) if (file.path.includes(prefix) || file.path.includes('%')) paths.add(decodeAddPath(file.path));
  return paths;
}

/** A table's configuration with `changes` applied: a null value removes its key. */
function mergeConfiguration(configuration: Readonly<Record<string, string>>, changes: Readonly<Record<string, string | null>> = {}): Record<string, string> {
  const merged: Record<string, string> = { ...configuration };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

function normalizePath(path: string): string {
  return path.replace(/\/+$/, '');
}

/** Actions (files, tombstones, txns) from which checkpoints follow growth rather than every interval (see `checkpointDue`). */
export const LARGE_CHECKPOINT_ACTIONS = 10_000;

/** The most intervals a large table goes without a checkpoint. */
const MAX_CHECKPOINT_INTERVALS = 5;

function alreadyApplied(snapshot: Snapshot, txn: TxnId | undefined): CommitResult | undefined {
  if (!txn) return undefined;
  const recorded = snapshot.txns.get(txn.appId);
  if (recorded === undefined || recorded < txn.version) return undefined;
  return { version: snapshot.version, skipped: true, attempts: 0, addedFiles: 0, removedFiles: 0 };
}

function distinctPartitions(partitionColumns: readonly string[], adds: readonly AddAction[]): PartitionSpec[] {
  if (partitionColumns.length === 0) return [{}];
  const seen = new Map<string, PartitionSpec>();
  for (const add of adds) seen.set(partitionKey(partitionColumns, add.partitionValues), restrict(partitionColumns, add.partitionValues));
  return [...seen.values()];
}

function restrict(partitionColumns: readonly string[], values: Readonly<Record<string, string | null>>): PartitionSpec {
  const spec: Record<string, string | null> = {};
  for (const column of partitionColumns) spec[column] = values[column] ?? null;
  return spec;
}

function stringValues(params: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

function toParsed(actions: readonly Action[]): ParsedActions {
  const parsed = emptyActions();
  for (const action of actions) {
    if ('protocol' in action) parsed.protocol = action.protocol;
    else if ('metaData' in action) parsed.metaData = action.metaData;
    else if ('commitInfo' in action) parsed.commitInfo = action.commitInfo;
    else if ('txn' in action) parsed.txns.push(action.txn);
    else if ('add' in action) {
      parsed.adds.push(action.add);
      parsed.fileActions.push({ add: action.add });
    } else {
      parsed.removes.push(action.remove);
      parsed.fileActions.push({ remove: action.remove });
    }
  }
  return parsed;
}

function schemaOf(table: string, metadata: MetaDataAction): TableSchema {
  try {
    return JSON.parse(metadata.schemaString) as TableSchema;
  } catch (error) {
    throw new LakeloopError('USAGE', `Failed to commit to ${table}: the new metaData's schemaString is not JSON`, { cause: error });
  }
}

function checkColumnName(table: string, name: string): void {
  if (name === '' || FORBIDDEN_NAME_CHARS.test(name)) {
    throw new LakeloopError('SCHEMA', `Failed to define ${table}: column name ${JSON.stringify(name)} is empty or contains one of ' ,;{}()\\n\\t='`, {
      hint: 'Rename the column in the query (Delta without column mapping forbids these characters).',
    });
  }
}

function checkNewSchema(table: string, schema: TableSchema, partitionColumns: readonly string[]): void {
  if (schema.fields.length === 0) throw new LakeloopError('SCHEMA', `Failed to create ${table}: a table needs at least one column`);
  const seen = new Set<string>();
  for (const field of schema.fields) {
    checkColumnName(table, field.name);
    if (seen.has(field.name.toLowerCase())) throw new LakeloopError('SCHEMA', `Failed to create ${table}: column ${field.name} appears twice`);
    seen.add(field.name.toLowerCase());
  }
  if (new Set(partitionColumns).size !== partitionColumns.length) {
    throw new LakeloopError('SCHEMA', `Failed to create ${table}: a partition column is listed twice`);
  }
  for (const column of partitionColumns) {
    const field = schema.fields.find((f) => f.name === column);
    if (!field) throw new LakeloopError('SCHEMA', `Failed to create ${table}: partition column ${column} is not a column of the table`);
    if (typeof field.type !== 'string' || field.type === 'binary') {
      throw new LakeloopError('SCHEMA', `Failed to create ${table}: partition column ${column} must be a primitive, non-binary type`);
    }
  }
  if (partitionColumns.length === schema.fields.length) {
    throw new LakeloopError('SCHEMA', `Failed to create ${table}: at least one column must not be a partition column`);
  }
}

let processCheckpointCache: CheckpointCache | null | undefined;

/** The environment's checkpoint cache, read once per process. */
function defaultCheckpointCache(): CheckpointCache | undefined {
  if (processCheckpointCache === undefined) processCheckpointCache = CheckpointCache.fromEnv() ?? null;
  return processCheckpointCache ?? undefined;
}
