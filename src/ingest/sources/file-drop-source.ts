import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { LakeloopError, systemClock, type Clock } from '../../core/index.js';
import type { Contract } from '../../contracts/index.js';
import { quoteIdent } from '../../engine/index.js';
import { checkKey, type ObjectInfo, type ObjectStore } from '../../storage/index.js';
import type { Lake } from '../../table/index.js';
import { landBatch } from '../bronze-writer.js';
import { ingestFile } from '../file-ingest.js';
import type { RecordFormat } from '../raw-records.js';
import { PollLoop, type PollHandlers, type PollingSource } from './poll-loop.js';

export interface FileDropSourceOptions extends PollHandlers<FileDropPollSummary> {
  readonly lake: Lake;
  readonly contract: Contract;
  /** Where files are dropped: a `LocalObjectStore` rooted at the drop folder, or an S3 store. */
  readonly store: ObjectStore;
  /** The key prefix watched (`''` = the whole store, `incoming/orders/`). */
  readonly prefix?: string;
  /**
   * Polls a file must have been seen unchanged (same size and etag/mtime) before it is
   * ingested, so a file still being written is not read half-way. Default 1: a file is
   * ingested on the poll after the one that first saw it. 0 (with `quietMs: 0`) = at first
   * sight, for producers that rename into place.
   */
  readonly stablePolls?: number;
  /**
   * How long a file must have gone unwritten before it is ingested: its modification time
   * (S3: LastModified) is at least this old, or this process has seen it unchanged for this
   * long. Default: two poll intervals (4 s at the default 2 s). A writer that pauses longer
   * than this still gets a part of its file read — then the whole file again, reported as
   * re-ingested — so producers that write slowly should write `.name.tmp` (hidden names are
   * ignored) and rename it to `name` when done.
   */
  readonly quietMs?: number;
  readonly clock?: Clock;
}

/** One file landed by a poll. */
export interface IngestedDropFile {
  readonly key: string;
  /** `<key>:<size>:<etag>`: the file's identity, the idempotency key it was ingested under. */
  readonly identity: string;
  readonly received: number;
  readonly landed: number;
  readonly quarantined: number;
  readonly batches: number;
  /**
   * true when an earlier identity of the same key had been ingested: the file changed after
   * it was ingested and its records (old ones included) landed again.
   */
  readonly reingested: boolean;
}

/** A file a poll could not ingest. */
export interface FailedDropFile {
  readonly key: string;
  readonly identity: string;
  readonly code: string;
  readonly reason: string;
  /** true for a transient failure (storage, network): the next poll tries again. false: recorded in the failure ledger, not retried. */
  readonly willRetry: boolean;
}

/** A listed name that was not read. */
export interface RefusedDropFile {
  readonly key: string;
  readonly reason: string;
}

/** What one `pollOnce()` did. */
export interface FileDropPollSummary {
  readonly source: string;
  /** Objects the listing returned. */
  readonly listed: number;
  readonly ingested: readonly IngestedDropFile[];
  /** Files whose identity bronze already records (ingested by this or an earlier process). */
  readonly alreadyIngested: number;
  /** Files new or changed since the previous poll, or written less than `quietMs` ago: left for a later poll. */
  readonly deferred: readonly string[];
  readonly failed: readonly FailedDropFile[];
  /** Files whose identity is in the failure ledger: skipped. */
  readonly previouslyFailed: number;
  /** Hostile names (`..`, absolute, NUL, outside the prefix): never read. Each is reported by the first poll that lists it. */
  readonly refused: readonly RefusedDropFile[];
  /** Refused names an earlier poll of this process reported already (and that stayed listed since): not reported again. */
  readonly refusedBefore: number;
  /** Files of `ingested` that had been ingested before under another size or etag (`reingested: true`). */
  readonly reingested: number;
  /** Hidden (`.x`, `_x`) files and extensions that are no record format. */
  readonly ignored: readonly string[];
  readonly landed: number;
  readonly quarantined: number;
}

/** One entry of the failure ledger (`_lakeloop/sources/<source>/failed.json` in the lake). */
export interface DropFailure {
  readonly key: string;
  readonly identity: string;
  readonly code: string;
  readonly reason: string;
  readonly failedAtMs: number;
}

/** The poll interval of `start()` without one. */
const DEFAULT_INTERVAL_MS = 2_000;

const FORMATS: Readonly<Record<string, RecordFormat | 'json?'>> = {
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.json': 'json?',
  '.csv': 'csv',
  '.parquet': 'parquet',
};

/** Serialises ingestion per lake: `ingestFile` names its DuckDB temp tables per process, not per call. */
const ingestQueues = new WeakMap<Lake, Promise<unknown>>();

/**
 * Watches a drop folder (local or an S3 prefix) and lands every NDJSON, JSON, CSV or
 * Parquet file in bronze exactly once. A file's identity is `key + size + etag` (local:
 * size + mtime); it is the idempotency key of `ingestFile` (txn appId
 * `ingest:<source>:<identity>`, one version per batch), and once every batch has landed a
 * second, empty commit records `filedrop:<source>:<identity>` — so "already ingested" is
 * read from bronze's txns before anything is downloaded, survives restarts, and a crash
 * in the middle of a file is finished by the next poll without duplicates. A changed file
 * (new size or mtime/etag) is a new file: once quiet it is ingested again, whole, and
 * reported as re-ingested.
 *
 * A file is read once it is stable and quiet: seen unchanged by `stablePolls` polls and
 * unwritten for `quietMs`. File names are names, never patterns: `h[12].ndjson` is read
 * as that one file.
 *
 * @example
 * const source = new FileDropSource({ lake, contract, store: await LocalObjectStore.create('./drop/orders') });
 * const summary = await source.pollOnce(); // { ingested: [...], deferred: [...], failed: [...] }
 */
export class FileDropSource implements PollingSource<FileDropPollSummary> {
  readonly source: string;
  private readonly prefix: string;
  private readonly stablePolls: number;
  private readonly clock: Clock;
  private readonly loop: PollLoop<FileDropPollSummary>;
  private intervalMs = DEFAULT_INTERVAL_MS;
  /** key → its identity, the consecutive polls it has been seen unchanged and since when (this process only). */
  private seen = new Map<string, { identity: string; polls: number; sinceMs: number }>();
  /** Refused keys already reported (those the latest listing still returned). */
  private refusalsReported = new Set<string>();

  constructor(private readonly options: FileDropSourceOptions) {
    this.source = options.contract.source;
    this.prefix = options.prefix ?? '';
    this.stablePolls = options.stablePolls ?? 1;
    this.clock = options.clock ?? systemClock;
    if (this.prefix !== '') checkKey(this.prefix.endsWith('/') ? `${this.prefix}x` : this.prefix);
    this.loop = new PollLoop(() => this.poll(), options);
  }

  /** The failure ledger's key in the lake. */
  get ledgerKey(): string {
    return `_lakeloop/sources/${this.source}/failed.json`;
  }

  pollOnce(): Promise<FileDropPollSummary> {
    return this.loop.run();
  }

  start(intervalMs = DEFAULT_INTERVAL_MS): void {
    this.intervalMs = intervalMs;
    this.loop.start(intervalMs);
  }

  /** The quiet period in force: `quietMs`, else two poll intervals. */
  get quietMs(): number {
    return this.options.quietMs ?? 2 * this.intervalMs;
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** The failure ledger: files not retried until they change (delete an entry to retry it). */
  async failures(): Promise<DropFailure[]> {
    const body = await this.options.lake.store.getIfExists(this.ledgerKey);
    if (body === undefined) return [];
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return Array.isArray(parsed) ? (parsed as DropFailure[]) : [];
  }

  private async poll(): Promise<FileDropPollSummary> {
    const { store, lake } = this.options;
    const listing = await store.listAll(this.prefix);
    const txns = await this.bronzeTxns();
    const ingestedKeys = doneKeys(this.source, txns);
    const ledger = await this.failures();
    const failedIdentities = new Set(ledger.map((f) => f.identity));
    const summary = {
      ingested: [] as IngestedDropFile[],
      deferred: [] as string[],
      failed: [] as FailedDropFile[],
      refused: [] as RefusedDropFile[],
      ignored: [] as string[],
      alreadyIngested: 0,
      previouslyFailed: 0,
      refusedBefore: 0,
    };
    const seen = new Map<string, { identity: string; polls: number; sinceMs: number }>();
    const refusals = new Set<string>();
    const newFailures: DropFailure[] = [];
    const quietMs = this.quietMs;

    for (const info of listing) {
      const refusal = refusalOf(info.key, this.prefix);
      if (refusal !== undefined) {
        // Reported once: a name that stays in the folder would otherwise be logged on every poll.
        refusals.add(info.key);
        if (this.refusalsReported.has(info.key)) summary.refusedBefore += 1;
        else summary.refused.push({ key: info.key, reason: refusal });
        continue;
      }
      const name = info.key.slice(info.key.lastIndexOf('/') + 1);
      const format = FORMATS[extensionOf(name)];
      // Like Spark and Hive: names (or folders) starting with '.' or '_' are in-progress or marker files.
      const hidden = info.key.slice(this.prefix.length).split('/').some((part) => part.startsWith('.') || part.startsWith('_'));
      if (hidden || format === undefined) {
        summary.ignored.push(info.key);
        continue;
      }
      const identity = identityOf(info);
      if (txns.has(doneAppId(this.source, identity))) {
        summary.alreadyIngested += 1;
        continue;
      }
      if (failedIdentities.has(identity)) {
        summary.previouslyFailed += 1;
        continue;
      }
      const nowMs = this.clock.nowMs();
      const before = this.seen.get(info.key);
      const unchanged = before?.identity === identity;
      const polls = unchanged ? before.polls + 1 : 0;
      const sinceMs = unchanged ? before.sinceMs : nowMs;
      seen.set(info.key, { identity, polls, sinceMs });
      // Quiet: unwritten for quietMs by its mtime, or (a clock behind the store's, a future mtime) by what this process saw.
      const quietForMs = Math.max(nowMs - info.lastModifiedMs, nowMs - sinceMs);
      if (polls < this.stablePolls || quietForMs < quietMs) {
        summary.deferred.push(info.key);
        continue;
      }
      try {
        const result = await serialise(lake, () => this.ingest(info, identity, format, ingestedKeys.has(info.key)));
        summary.ingested.push(result);
        ingestedKeys.add(info.key);
        seen.delete(info.key);
      } catch (error) {
        const code = error instanceof LakeloopError ? error.code : 'INTERNAL';
        const reason = error instanceof Error ? error.message : String(error);
        // A transient failure (network, S3 throttling) is retried by the next poll; anything
        // else would fail the same way again, so it is recorded once and not retried.
        const willRetry = error instanceof LakeloopError && error.retryable;
        summary.failed.push({ key: info.key, identity, code, reason, willRetry });
        if (!willRetry) newFailures.push({ key: info.key, identity, code, reason, failedAtMs: this.clock.nowMs() });
      }
    }
    this.seen = seen;
    this.refusalsReported = refusals;
    if (newFailures.length > 0) await lake.store.put(this.ledgerKey, `${JSON.stringify([...ledger, ...newFailures], null, 2)}\n`);
    return {
      source: this.source,
      listed: listing.length,
      ...summary,
      reingested: summary.ingested.filter((f) => f.reingested).length,
      landed: summary.ingested.reduce((sum, f) => sum + f.landed, 0),
      quarantined: summary.ingested.reduce((sum, f) => sum + f.quarantined, 0),
    };
  }

  private async ingest(info: ObjectInfo, identity: string, format: RecordFormat | 'json?', reingested: boolean): Promise<IngestedDropFile> {
    const { lake, contract, store } = this.options;
    const clock = this.clock;
    let totals = { received: 0, landed: 0, quarantined: 0, batches: 0 };
    // An empty file has no records to read (DuckDB refuses an empty CSV); it is recorded as ingested all the same.
    if (info.sizeBytes > 0) {
      const path = await store.localPath(info.key);
      const result = await ingestFile({ lake, contract, input: path, format: format === 'json?' ? await jsonFormatOf(path) : format, idempotencyKey: identity, clock });
      totals = { received: result.received, landed: result.landed, quarantined: result.quarantined, batches: result.batches };
    }
    await markDone(lake, contract, identity, clock);
    return { key: info.key, identity, ...totals, reingested };
  }

  private async bronzeTxns(): Promise<ReadonlyMap<string, number>> {
    const name = `bronze.${this.source}`;
    const table = await this.options.lake.tableIfExists(name);
    return table ? (await table.snapshot()).txns : new Map();
  }
}

function doneAppId(source: string, identity: string): string {
  return `filedrop:${source}:${identity}`;
}

function identityOf(info: ObjectInfo): string {
  return `${info.key}:${info.sizeBytes}:${info.etag}`;
}

/** The keys bronze's done marks name: files ingested under some identity (size and etag hold no ':'). */
function doneKeys(source: string, txns: ReadonlyMap<string, number>): Set<string> {
  const prefix = doneAppId(source, '');
  const keys = new Set<string>();
  for (const appId of txns.keys()) {
    if (!appId.startsWith(prefix)) continue;
    const identity = appId.slice(prefix.length);
    const sizeAt = identity.lastIndexOf(':', identity.lastIndexOf(':') - 1);
    if (sizeAt > 0) keys.add(identity.slice(0, sizeAt));
  }
  return keys;
}

/** Why a listed key must not be read, or undefined when it is a plain file under the prefix. */
function refusalOf(key: string, prefix: string): string | undefined {
  try {
    checkKey(key);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (!key.startsWith(prefix)) return `outside the watched prefix ${JSON.stringify(prefix)}`;
  return undefined;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot).toLowerCase();
}

/** `.json` holds a JSON array or NDJSON: the first non-blank byte tells. */
async function jsonFormatOf(path: string): Promise<RecordFormat> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8').trimStart().startsWith('[') ? 'json' : 'ndjson';
  } finally {
    await handle.close();
  }
}

/** Records "every batch of this file has landed" as an empty bronze commit carrying the file's done txn. */
async function markDone(lake: Lake, contract: Contract, identity: string, clock: Clock): Promise<void> {
  const table = `__ll_drop_done_${randomBytes(6).toString('hex')}`;
  await lake.engine.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(table)} (_raw VARCHAR, _read_error VARCHAR)`);
  try {
    const relation = `(SELECT CAST(rowid + 1 AS BIGINT) AS _line, _raw, _read_error FROM ${quoteIdent(table)})`;
    await landBatch({ lake, contract, raw: { table, relation, records: 0 }, batch: { appId: doneAppId(contract.source, identity), version: 1, sourceOffset: identity }, clock });
  } finally {
    await lake.engine.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  }
}

async function serialise<T>(lake: Lake, task: () => Promise<T>): Promise<T> {
  const previous = ingestQueues.get(lake) ?? Promise.resolve();
  const next = previous.then(task);
  ingestQueues.set(lake, next.catch(() => undefined));
  return next;
}
