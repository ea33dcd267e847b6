import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LakeloopError, systemClock, type Clock } from '../core/index.js';
import type { Contract } from '../contracts/index.js';
import { quoteIdent } from '../engine/index.js';
import { IDEMPOTENCY_KEY_PREFIX, type Lake, type Snapshot, type SnapshotTxns, type TxnId } from '../table/index.js';
import { landBatch, landCleanNdjson, type LandResult, type PinnedFields } from './bronze-writer.js';
import { recordDuplicates } from './duplicate-counter.js';
import { recordIdempotencyWindow } from './idempotency-window.js';
import { LandedKeys } from './landed-keys.js';
import { loadRawRecords } from './raw-records.js';
import { minRecordBytes, splitRequestBody } from './request-body.js';

/** Defaults when a contract sets no batch limits: small enough for sub-second acks, large enough for few files. */
export const DEFAULT_COLLECTOR_BATCH = Object.freeze({ maxRecords: 5_000, maxBytes: 8 * 1024 * 1024, maxMs: 1_000 });

/**
 * Rejected records of one request stored in quarantine with their payload; the rest of its
 * rejects are counted in one summary row (SPEC §5: never silently dropped), so a body of
 * millions of bad lines (`{}` × 5 M) costs one row and bounded memory, not millions of rows.
 */
export const QUARANTINED_ROWS_PER_REQUEST = 10_000;

/** Rejects a request's outcome lists (with line, reason and field); `quarantined` counts them all. */
export const LISTED_REJECTS_PER_REQUEST = 1_000;

/** One record of a request that went to quarantine, numbered within the request (1-based line or array element). */
export interface RecordReject {
  readonly line: number;
  readonly reason: string;
  readonly field: string | null;
}

/** What happened to one request's records, known only once the batch holding them is committed. */
export interface RequestOutcome {
  readonly source: string;
  /** Records in the request (non-blank lines, or array elements). */
  readonly records: number;
  /** This request's records committed to bronze. */
  readonly landed: number;
  /** This request's records committed to quarantine (the first `LISTED_REJECTS_PER_REQUEST` listed in `rejects`). */
  readonly quarantined: number;
  /** Of those, the ones past `QUARANTINED_ROWS_PER_REQUEST`: counted in one summary row of quarantine, without their payloads. */
  readonly summarised: number;
  /** true when the request's idempotency key had landed before: nothing was written for it. */
  readonly duplicate: boolean;
  /** The batch holding the records (null for a duplicate known only from the table's txns). */
  readonly batchId: string | null;
  /** The bronze version that committed the batch (null when unknown, see `batchId`). */
  readonly bronzeVersion: number | null;
  readonly rejects: readonly RecordReject[];
}

/** Counters of one source's batcher since it started. */
export interface BatcherStats {
  readonly requests: number;
  readonly records: number;
  readonly landed: number;
  readonly quarantined: number;
  readonly duplicates: number;
  readonly batches: number;
  readonly failedBatches: number;
  /** Bytes accepted but not yet committed. */
  readonly pendingBytes: number;
  /** Records of requests refused whole (`RequestRefused`): not stored, counted here. */
  readonly refusedRecords: number;
  /** Milliseconds spent landing batches (spool, check, write, commit), summed: the lander's busy time. */
  readonly landingMs: number;
  /** Idempotency keys remembered as landed: those of the contract's `idempotencyWindow`, not every key ever sent. */
  readonly idempotencyKeys: number;
}

/** The source has more uncommitted bytes than it accepts: the caller should retry after `retryAfterSeconds`. */
export class Backpressure extends LakeloopError {
  constructor(
    readonly source: string,
    readonly retryAfterSeconds: number,
  ) {
    super('BACKPRESSURE', `Source ${source} is busy: too many records are waiting to be committed`, {
      retryable: true,
      hint: `Retry after ${retryAfterSeconds} s with the same Idempotency-Key.`,
    });
  }
}

/**
 * A request refused whole before anything of it was stored: more of its records than
 * `QUARANTINED_ROWS_PER_REQUEST` are too short to hold the contract's required fields (a body
 * of `{}` lines), so quarantining them one by one would cost more than they could ever say.
 */
export class RequestRefused extends LakeloopError {
  constructor(
    readonly source: string,
    readonly records: number,
    readonly short: number,
    minBytes: number,
  ) {
    super('REQUEST_REFUSED', `Failed to accept the request to ${source}: ${short} of its ${records} records are shorter than the ${minBytes} bytes a record with the required fields takes`, {
      hint: `Nothing of the request was stored. Fix the producer and re-send; up to ${QUARANTINED_ROWS_PER_REQUEST} such records per request are quarantined with their reasons instead.`,
    });
  }
}

/** A batch could not be committed; none of its requests were acknowledged. */
export class BatchFailed extends LakeloopError {
  constructor(source: string, cause: unknown) {
    super('BATCH_FAILED', `Failed to land a batch of ${source}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      retryable: true,
      hint: 'Nothing of the request was acknowledged; re-send it with the same Idempotency-Key.',
    });
  }
}

export interface MicroBatcherOptions {
  readonly lake: Lake;
  readonly contract: Contract;
  /** Names this process's stream of batches: txn appId `collector:<source>:<instanceId>`. */
  readonly instanceId: string;
  /** A folder for the batches' spool files (each removed once landed). */
  readonly spoolDir: string;
  readonly clock?: Clock;
  /** Uncommitted bytes above which `submit` throws `Backpressure`; default 4 × maxBytes. */
  readonly maxPendingBytes?: number;
  /** Called after every batch commit (for counters). */
  readonly onBatch?: (result: LandResult) => void;
}

interface PendingRequest {
  readonly key: string | undefined;
  readonly records: number;
  /** Its lines in the batch's spool file: (firstLine, firstLine + records]. */
  firstLine: number;
  readonly chunks: readonly Buffer[];
  readonly bytes: number;
  /** Its records refused before parsing (too deep), by their number in the request. */
  readonly errors: ReadonlyMap<number, string>;
  /** Every record starts with `{` (see `RequestLines.objectLines`). */
  readonly objectLines: boolean;
  readonly resolve: (outcome: RequestOutcome) => void;
  readonly reject: (error: unknown) => void;
}

interface OpenBatch {
  readonly requests: PendingRequest[];
  records: number;
  bytes: number;
  timer: NodeJS.Timeout | undefined;
  /** Its maxMs passed while another batch was landing: it closes as soon as the lander is free. */
  due: boolean;
}

/**
 * One source's collector micro-batcher: request bodies accumulate in an open batch that
 * closes at the contract's `batch.maxRecords`, `maxBytes` or `maxMs` (whichever first), except
 * that a batch whose `maxMs` passes while another lands keeps growing until the lander is free;
 * closed batches land one at a time (`landCleanNdjson` when every record is an object line,
 * else, or when it gives up, `landBatch`) under the txn
 * (`collector:<source>:<instanceId>`, next sequence number), with each keyed request's
 * `key:<source>:<K>` as an extra txn of the same commits; keys are remembered for the
 * contract's `idempotencyWindow` (here and in bronze, whose txns expire after it), so a retry
 * within it is a duplicate and one after it lands again. A request's promise settles only
 * after the commit that holds it, with its own counts. The sequence continues from the
 * highest version bronze or quarantine recorded for the appId, so a restart (or a kill
 * between the quarantine and bronze commits) never reuses a number.
 *
 * @example
 * const batcher = await MicroBatcher.create({ lake, contract, instanceId: 'host-8080', spoolDir });
 * const outcome = await batcher.submit(Buffer.from('{"id":1}\n'), 'req-1');
 * await batcher.close();
 */
export class MicroBatcher {
  readonly source: string;
  readonly appId: string;
  private readonly limits: { maxRecords: number; maxBytes: number; maxMs: number };
  private readonly maxPendingBytes: number;
  private readonly clock: Clock;
  private open: OpenBatch | undefined;
  private readonly closed: OpenBatch[] = [];
  private landing: Promise<void> | undefined;
  private nextVersion: number;
  private pendingBytes = 0;
  /** Keys whose request is accepted but not yet committed: a repeat waits for the same outcome. */
  private readonly pendingKeys = new Map<string, Promise<RequestOutcome>>();
  /** Keys known to be in bronze and inside the window (its txns at start, plus this process's commits). */
  private readonly landedKeys: LandedKeys;
  private closing = false;
  /** Re-delivered records not yet added to the lake's duplicate counter. */
  private duplicateRecords = 0;
  private stats = { requests: 0, records: 0, landed: 0, quarantined: 0, duplicates: 0, batches: 0, failedBatches: 0, refusedRecords: 0, landingMs: 0 };
  private readonly minRecordBytes: number;
  private batchCounter = 0;
  /** The fast path's reader schema files, reused by every batch with the same fields (they live in the spool folder). */
  private readonly pinnedFields: PinnedFields = new Map();

  private constructor(
    private readonly options: MicroBatcherOptions,
    startVersion: number,
  ) {
    const batch = options.contract.batch;
    this.source = options.contract.source;
    this.appId = `collector:${this.source}:${options.instanceId}`;
    this.limits = {
      maxRecords: batch.maxRecords ?? DEFAULT_COLLECTOR_BATCH.maxRecords,
      maxBytes: batch.maxBytes ?? DEFAULT_COLLECTOR_BATCH.maxBytes,
      maxMs: batch.maxMs ?? DEFAULT_COLLECTOR_BATCH.maxMs,
    };
    this.maxPendingBytes = options.maxPendingBytes ?? 4 * this.limits.maxBytes;
    this.clock = options.clock ?? systemClock;
    this.nextVersion = startVersion;
    this.minRecordBytes = minRecordBytes(options.contract);
    this.landedKeys = new LandedKeys(options.contract.idempotencyWindowMs);
  }

  /** Reads bronze's (and quarantine's) txns to resume the batch sequence and know the landed keys. */
  static async create(options: MicroBatcherOptions): Promise<MicroBatcher> {
    const batcher = new MicroBatcher(options, 1);
    // Quarantine's commits record the keys too. New tables get the window when they are created.
    for (const name of [`bronze.${batcher.source}`, `quarantine.${batcher.source}`]) {
      const table = await options.lake.tableIfExists(name);
      if (table) await recordIdempotencyWindow(table, options.contract);
    }
    await batcher.recover();
    return batcher;
  }

  /**
   * Accepts one request body (NDJSON, or a JSON array when its first non-space byte is `[`)
   * and resolves once its records are committed. Throws `Backpressure` when too much is
   * waiting, `RequestRefused` when the body is mostly too-short records, `BatchFailed` when
   * the batch could not be committed.
   */
  submit(body: Buffer, idempotencyKey?: string): Promise<RequestOutcome> {
    if (this.closing) return Promise.reject(new LakeloopError('CLOSING', `The collector of ${this.source} is shutting down`, { retryable: true, hint: 'Retry shortly.' }));
    const appKey = idempotencyKey === undefined ? undefined : `${IDEMPOTENCY_KEY_PREFIX}${this.source}:${idempotencyKey}`;
    if (appKey !== undefined) {
      const waiting = this.pendingKeys.get(appKey);
      if (waiting) {
        this.stats.duplicates += 1;
        this.duplicateRecords += splitRequestBody(body).records;
        return waiting.then((outcome) => ({ ...outcome, duplicate: true }));
      }
      const landed = this.landedKeys.get(appKey, this.clock.nowMs());
      if (landed) {
        this.stats.duplicates += 1;
        this.duplicateRecords += splitRequestBody(body).records;
        return Promise.resolve({ source: this.source, records: 0, landed: 0, quarantined: 0, summarised: 0, duplicate: true, ...landed, rejects: [] });
      }
    }
    const { chunks, records, bytes, errors, short, objectLines } = splitRequestBody(body, this.minRecordBytes);
    if (short > QUARANTINED_ROWS_PER_REQUEST) {
      this.stats.refusedRecords += records;
      return Promise.reject(new RequestRefused(this.source, records, short, this.minRecordBytes));
    }
    if (records === 0) return Promise.resolve({ source: this.source, records: 0, landed: 0, quarantined: 0, summarised: 0, duplicate: false, batchId: null, bronzeVersion: null, rejects: [] });
    if (!this.admits(bytes)) return Promise.reject(new Backpressure(this.source, this.retryAfterSeconds));
    this.stats.requests += 1;
    this.stats.records += records;
    const promise = new Promise<RequestOutcome>((resolve, reject) => {
      const batch = (this.open ??= this.newBatch());
      batch.requests.push({ key: appKey, records, firstLine: batch.records, chunks, bytes, errors, objectLines, resolve, reject });
      batch.records += records;
      batch.bytes += bytes;
      this.pendingBytes += bytes;
      if (batch.records >= this.limits.maxRecords || batch.bytes >= this.limits.maxBytes) this.closeOpen();
    });
    if (appKey !== undefined) {
      this.pendingKeys.set(appKey, promise);
      const forget = (): void => {
        if (this.pendingKeys.get(appKey) === promise) this.pendingKeys.delete(appKey);
      };
      promise.then(forget, forget);
    }
    return promise;
  }

  /** Whether a request of `bytes` would be accepted now (false: `submit` would throw `Backpressure`). */
  admits(bytes: number): boolean {
    return this.pendingBytes === 0 || this.pendingBytes + bytes <= this.maxPendingBytes;
  }

  /** The `Retry-After` of a `Backpressure`: about one batch's time. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.limits.maxMs / 1000));
  }

  /** Closes the open batch and waits until every accepted request is committed (or failed). */
  async flush(): Promise<void> {
    this.closeOpen();
    while (this.landing) await this.landing;
  }

  /** Stops accepting, then commits what was accepted. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    await this.saveDuplicates();
    await Promise.all([...this.pinnedFields.values()].map((file) => rm(file, { force: true })));
    this.pinnedFields.clear();
  }

  /** Adds the re-delivered records counted since the last save to the lake's counter (for `status`). */
  private async saveDuplicates(): Promise<void> {
    const records = this.duplicateRecords;
    this.duplicateRecords = 0;
    await recordDuplicates(this.options.lake.store, this.source, records).catch(() => {
      this.duplicateRecords += records;
    });
  }

  /** Counters since start. */
  counters(): BatcherStats {
    return { ...this.stats, pendingBytes: this.pendingBytes, idempotencyKeys: this.landedKeys.size };
  }

  private newBatch(): OpenBatch {
    const batch: OpenBatch = { requests: [], records: 0, bytes: 0, timer: undefined, due: false };
    batch.timer = setTimeout(() => {
      if (this.open !== batch) return;
      // While a batch lands, this one keeps growing (up to maxRecords / maxBytes) and lands
      // next: one commit per landing instead of a queue of small ones, so under load batches
      // grow with the arrival rate and the per-batch cost is shared by more records.
      if (this.landing) batch.due = true;
      else this.closeOpen();
    }, this.limits.maxMs);
    return batch;
  }

  private closeOpen(): void {
    const batch = this.open;
    if (!batch) return;
    this.open = undefined;
    clearTimeout(batch.timer);
    this.closed.push(batch);
    this.landing ??= this.landAll().finally(() => {
      this.landing = undefined;
    });
  }

  /** The next closed batch, else the open one when its maxMs passed while the lander was busy. */
  private nextToLand(): OpenBatch | undefined {
    const closed = this.closed.shift();
    if (closed || !this.open?.due) return closed;
    const batch = this.open;
    this.open = undefined;
    return batch;
  }

  private async landAll(): Promise<void> {
    for (let batch = this.nextToLand(); batch; batch = this.nextToLand()) {
      const started = performance.now();
      try {
        await this.landOne(batch);
      } catch (error) {
        this.stats.failedBatches += 1;
        const failed = error instanceof LakeloopError && error.code === 'BATCH_FAILED' ? error : new BatchFailed(this.source, error);
        for (const request of batch.requests) request.reject(failed);
        // partial commits (quarantine without bronze) may have used the number: re-read it
        await this.recover().catch(() => undefined);
      } finally {
        this.pendingBytes -= batch.bytes;
        this.stats.landingMs += performance.now() - started;
      }
    }
  }

  private async landOne(batch: OpenBatch): Promise<void> {
    const { lake, contract } = this.options;
    // Earlier than the commit's own time: this process forgets a key no later than bronze does.
    const startedMs = this.clock.nowMs();
    // A key landed meanwhile (by another instance) is a duplicate, not re-landed. This is the
    // batch's one read of bronze's log: the batch is planned on the same snapshot.
    const bronze = await this.bronzeSnapshot();
    const bronzeTxns = bronze?.txns;
    const planOn = bronze ? { planOn: bronze } : {};
    const requests: PendingRequest[] = [];
    for (const request of batch.requests) {
      const landedAtMs = request.key === undefined || bronzeTxns === undefined ? undefined : landedAt(bronzeTxns, request.key, startedMs);
      if (request.key !== undefined && landedAtMs !== undefined) {
        this.landedKeys.set(request.key, { batchId: null, bronzeVersion: null }, landedAtMs);
        this.stats.duplicates += 1;
        request.resolve({ source: this.source, records: request.records, landed: 0, quarantined: 0, summarised: 0, duplicate: true, batchId: null, bronzeVersion: null, rejects: [] });
      } else requests.push(request);
    }
    if (requests.length === 0) return;
    let line = 0;
    const lineErrors = new Map<number, string>();
    for (const request of requests) {
      request.firstLine = line;
      for (const [n, reason] of request.errors) lineErrors.set(line + n, reason);
      line += request.records;
    }
    this.batchCounter += 1;
    const spoolFile = join(this.options.spoolDir, `${this.source}-${process.pid}-${this.batchCounter}.ndjson`);
    await writeFile(spoolFile, requests.flatMap((r) => r.chunks));
    const table = `__ll_collect_${this.source}_${process.pid}_${this.batchCounter}`;
    const version = this.nextVersion;
    const keys = [...new Set(requests.flatMap((r) => (r.key === undefined ? [] : [r.key])))];
    const extraTxns: TxnId[] = keys.map((appId) => ({ appId, version: 1 }));
    const identity = { appId: this.appId, version, sourceOffset: `${this.options.instanceId}#${version}` };
    let result: LandResult | undefined;
    let rawLoaded = false;
    try {
      // The usual batch (every record an object line, none refused before parsing) first takes
      // the optimistic path: DuckDB reads the spool file straight into typed rows; at the first
      // record that needs the full check it gives up, having committed nothing.
      if (lineErrors.size === 0 && requests.every((r) => r.objectLines)) {
        result = await landCleanNdjson({ lake, contract, file: spoolFile, records: line, linesBefore: 0, batch: identity, clock: this.clock, spoolDir: this.options.spoolDir, bytes: batch.bytes, extraTxns, pinFields: true, pinnedFields: this.pinnedFields, ...planOn });
      }
      if (result === undefined) {
        rawLoaded = true;
        const raw = await loadRawRecords(lake.engine, spoolFile, 'ndjson', table, this.options.spoolDir, 0, new Map(), lineErrors);
        result = await landBatch({
          lake,
          contract,
          raw,
          batch: identity,
          clock: this.clock,
          bytes: batch.bytes,
          extraTxns,
          rejectGroups: { firstLines: requests.map((r) => r.firstLine + 1), maxStored: QUARANTINED_ROWS_PER_REQUEST, maxListed: LISTED_REJECTS_PER_REQUEST },
          ...planOn,
        });
      }
    } finally {
      if (rawLoaded) await lake.engine.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`).catch(() => undefined);
      await rm(spoolFile, { force: true });
    }
    // A skipped batch means another process committed this number for our appId (two
    // collectors with one instance id): nothing of ours landed, so fail it rather than ack.
    if (result.duplicates > 0) throw new BatchFailed(this.source, new Error(`batch ${this.appId}#${version} was already committed by another process (is the instance id shared?)`));
    this.nextVersion = version + 1;
    this.stats.batches += 1;
    await this.saveDuplicates();
    this.stats.landed += result.landed;
    this.stats.quarantined += result.quarantined;
    this.options.onBatch?.(result);
    requests.forEach((request, i) => {
      const group = result.groupRejects?.[i];
      if (request.key !== undefined) this.landedKeys.set(request.key, { batchId: result.batchId, bronzeVersion: result.bronzeVersion }, startedMs);
      const quarantined = group?.quarantined ?? 0;
      request.resolve({
        source: this.source,
        records: request.records,
        landed: request.records - quarantined,
        quarantined,
        summarised: group?.summarised ?? 0,
        duplicate: false,
        batchId: result.batchId,
        bronzeVersion: result.bronzeVersion,
        rejects: (group?.rejects ?? []).map((r) => ({ ...r, line: r.line - request.firstLine })),
      });
    });
  }

  /** Bronze's latest snapshot; undefined before its first batch created it. */
  private async bronzeSnapshot(): Promise<Snapshot | undefined> {
    const table = await this.options.lake.tableIfExists(`bronze.${this.source}`);
    return table?.snapshot();
  }

  /** The table's txns, undefined when it does not exist yet. */
  private async txnsOf(name: string): Promise<SnapshotTxns | undefined> {
    const { lake } = this.options;
    const table = await lake.tableIfExists(name);
    return table ? (await table.snapshot()).txns : undefined;
  }

  private async recover(): Promise<void> {
    const bronze = await this.txnsOf(`bronze.${this.source}`);
    const quarantine = await this.txnsOf(`quarantine.${this.source}`);
    this.nextVersion = Math.max(bronze?.get(this.appId) ?? 0, quarantine?.get(this.appId) ?? 0, this.nextVersion - 1) + 1;
    const prefix = `${IDEMPOTENCY_KEY_PREFIX}${this.source}:`;
    for (const key of bronze?.keyTxns() ?? []) {
      if (key.appId.startsWith(prefix) && !this.landedKeys.has(key.appId)) this.landedKeys.set(key.appId, { batchId: null, bronzeVersion: null }, key.lastUpdated);
    }
  }
}

/**
 * When bronze recorded `appKey`: its txn's time, or `otherwise` for a key another writer
 * recorded without one (it never expires in bronze); undefined when bronze does not hold it
 * (never landed, or expired).
 */
function landedAt(txns: SnapshotTxns, appKey: string, otherwise: number): number | undefined {
  return txns.keyLastUpdated(appKey) ?? ((txns.get(appKey) ?? 0) >= 1 ? otherwise : undefined);
}
