import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, realpath, rm, stat, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { extname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LakeloopError, systemClock, type Clock } from '../core/index.js';
import type { Contract, FileBatchSettings } from '../contracts/index.js';
import { quoteIdent, quoteLiteral, quotePath, readablePath, type Engine } from '../engine/index.js';
import { processTempDir } from '../storage/index.js';
import type { Lake, TxnId } from '../table/index.js';
import { landBatch, landCleanNdjson, type BatchIdentity, type LandingCounts, type LandResult } from './bronze-writer.js';
import { recordDuplicates } from './duplicate-counter.js';
import { loadRawRecords, type RecordFormat } from './raw-records.js';

/**
 * How a file is cut into batches unless the contract's `fileBatch` or `--batch-bytes` says
 * otherwise: 256 MiB of input (about 1.3M orders of ~200 B) or 4M records, whichever first.
 * Large batches make few, large files and spread each batch's fixed cost (snapshot, field
 * detection, commit, checkpoint) over many records; the bound keeps a batch's typed rows
 * (DuckDB's temp table, ~1 GB at 256 MiB of orders) within a 2 GB engine.
 */
export const DEFAULT_FILE_BATCH: Readonly<Required<FileBatchSettings>> = Object.freeze({ maxRecords: 4_000_000, maxBytes: 256 * 1024 * 1024 });

/**
 * The limits files were cut with before files had their own (`fileBatch`): the contract's
 * collector limits, else these. A file partly landed then is finished with that cut.
 */
const LEGACY_FILE_BATCH: Readonly<Required<FileBatchSettings>> = Object.freeze({ maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 });

/** The totals of one `ingest` run. */
export interface IngestSummary extends LandingCounts {
  readonly batches: number;
  readonly bytes: number;
  readonly seconds: number;
  /** The `txn` appId the batches were committed under (derived from the idempotency key). */
  readonly appId: string;
  /** The limits the file was cut with (see `ingestFile`). */
  readonly cut: Readonly<Required<FileBatchSettings>>;
  /** The cut is an earlier run's of the same key (which recorded it), not the one asked for. */
  readonly cutFromEarlierRun: boolean;
}

export interface IngestFileOptions {
  readonly lake: Lake;
  readonly contract: Contract;
  /** A local file path, or a readable stream (stdin). */
  readonly input: string | Readable;
  /** Default: from the file extension (.csv, .parquet, .json → array or NDJSON by its first byte, else NDJSON). */
  readonly format?: RecordFormat;
  /**
   * Re-sending with the same key adds nothing. Default: a file's identity (real path,
   * size, modification time); for a stream, the SHA-256 of its bytes.
   */
  readonly idempotencyKey?: string;
  /** How to cut the file into batches (`--batch-bytes`); each limit defaults to the contract's `fileBatch`, then `DEFAULT_FILE_BATCH`. */
  readonly batch?: FileBatchSettings;
  readonly clock?: Clock;
  readonly onBatch?: (result: LandResult, done: { bytes: number; totalBytes: number }) => void;
}

/**
 * `lakeloop ingest`: lands a file (or stdin) in bronze as batches on the same path as the
 * collector. NDJSON is cut at record boundaries into batches of `fileBatch` limits (large:
 * see `DEFAULT_FILE_BATCH`; the contract's `batch` limits are the collector's); each batch is
 * one bronze commit whose `txn` is (the idempotency key, the batch's number), so an
 * interrupted ingest re-run with the same key lands only the batches that had not landed.
 *
 * Batch n must cover the same records in every run of a key: the cut is a pure function of
 * the file's bytes and the limits, and every commit records the limits in a second txn
 * (`ingest-cut:<source>:<key>:<maxBytes>/<maxRecords>`). A run of a key that already has
 * commits cuts with the recorded limits whatever it was asked (`cutFromEarlierRun`).
 *
 * @example
 * const summary = await ingestFile({ lake, contract, input: 'orders.ndjson', batch: { maxBytes: 64 * 1024 * 1024 } });
 * summary.batches; // 4 for a 200 MB file
 */
export async function ingestFile(options: IngestFileOptions): Promise<IngestSummary> {
  const clock = options.clock ?? systemClock;
  const started = clock.nowMs();
  const spoolDir = await processTempDir('ingest');
  try {
    const { file, key } = await resolveInput(options, spoolDir);
    const totalBytes = (await stat(file)).size;
    const format = options.format ?? (await formatOf(file));
    const appId = `ingest:${options.contract.source}:${key}`;
    const requested = {
      maxRecords: options.batch?.maxRecords ?? options.contract.fileBatch.maxRecords ?? DEFAULT_FILE_BATCH.maxRecords,
      maxBytes: options.batch?.maxBytes ?? options.contract.fileBatch.maxBytes ?? DEFAULT_FILE_BATCH.maxBytes,
    };
    const earlier = await earlierRun(options.lake, options.contract, key, appId);
    const limits = earlier?.cut ?? requested;
    const cutTxn = (version: number): TxnId => ({ appId: cutAppId(options.contract.source, key, limits), version });
    const batchOf = (index: number): BatchIdentity => ({ appId, version: index + 1, sourceOffset: `${key}#${index + 1}` });
    const landedBefore = earlier?.version ?? 0;
    // Fast path: a batch of object lines parsed once by DuckDB straight into bronze; it gives
    // up (nothing committed) at the first record that needs the full check. A file that may be
    // one batch starts on it at once: DuckDB readies its reader while Node counts the lines.
    const oneBatch = format === 'ndjson' && totalBytes <= limits.maxBytes && landedBefore === 0;
    const counting = oneBatch ? collect(cutBatches(file, limits)) : undefined;
    const early = oneBatch
      ? landCleanNdjson({
          lake: options.lake,
          contract: options.contract,
          file,
          records: counting!.then((r) => (r.length === 1 && r[0]?.objectLines ? r[0].lines : undefined)),
          linesBefore: 0,
          batch: batchOf(0),
          clock,
          spoolDir,
          bytes: totalBytes,
          extraTxns: [cutTxn(1)],
        })
      : undefined;
    const [counted, first] = await Promise.allSettled([counting, early]);
    if (counted.status === 'rejected') throw counted.reason;
    if (first.status === 'rejected') throw first.reason;
    // Every batch range, each with a spool file of its bytes when the input is several batches.
    const batches: AsyncIterable<CutBatch> =
      counted.value !== undefined
        ? fromArray(counted.value.map((range) => ({ range, file: counted.value!.length === 1 ? file : undefined })))
        : format === 'ndjson'
          ? cutBatches(file, limits, (index) => (index + 1 > landedBefore ? join(spoolDir, `batch-${index + 1}.ndjson`) : undefined))
          : fromArray([{ range: { start: 0, end: totalBytes, linesBefore: 0, lines: 0, objectLines: false }, file }]);
    if (format === 'parquet') await checkParquetColumns(options.lake.engine, file, options.contract);
    const totals = { received: 0, landed: 0, quarantined: 0, duplicates: 0, files: 0 };
    const addedColumns: string[] = [];
    let index = 0;
    for await (const cut of prefetched(batches)) {
      const { range } = cut;
      const batch = batchOf(index);
      const bytes = range.end - range.start;
      // Landed by an earlier run (its txn says so) and every line a record: only counted, never read again.
      const landed = index + 1 <= landedBefore && range.objectLines;
      const batchFile = landed ? undefined : (cut.file ?? (await copyRange(file, range, join(spoolDir, `batch-${index + 1}.ndjson`))));
      try {
        let result: LandResult;
        if (batchFile === undefined) {
          result = { source: options.contract.source, received: range.lines, landed: 0, quarantined: 0, duplicates: range.lines, files: 0, batchId: '', addedColumns: [], bronzeVersion: earlier?.bronzeVersion ?? 0 };
        } else {
          // The early try covered batch 1 when the file is one batch of object lines (landed, or refused).
          const triedEarly = early !== undefined && index === 0 && counted.value?.length === 1 && range.objectLines;
          const fast = triedEarly
            ? first.value
            : range.objectLines
              ? await landCleanNdjson({ lake: options.lake, contract: options.contract, file: batchFile, records: range.lines, linesBefore: range.linesBefore, batch, clock, spoolDir, bytes, extraTxns: [cutTxn(index + 1)] })
              : undefined;
          result = fast ?? (await landRaw(options, batchFile, format, `__ll_raw_${randomUUID().slice(0, 8)}_${index + 1}`, spoolDir, range.linesBefore, batch, clock, bytes, [cutTxn(index + 1)]));
        }
        totals.received += result.received;
        totals.landed += result.landed;
        totals.quarantined += result.quarantined;
        totals.duplicates += result.duplicates;
        await recordDuplicates(options.lake.store, options.contract.source, result.duplicates);
        totals.files += result.files;
        addedColumns.push(...result.addedColumns);
        options.onBatch?.(result, { bytes: range.end, totalBytes });
      } finally {
        if (batchFile !== undefined && batchFile !== file) await rm(batchFile, { force: true });
      }
      index += 1;
    }
    return {
      source: options.contract.source,
      ...totals,
      batches: index,
      bytes: totalBytes,
      seconds: (clock.nowMs() - started) / 1000,
      appId,
      cut: limits,
      cutFromEarlierRun: earlier !== undefined && (limits.maxBytes !== requested.maxBytes || limits.maxRecords !== requested.maxRecords),
      addedColumns,
    };
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}

/** The txn appId that records the limits a key's file was cut with (version: the batch's number, as the batch's own txn). */
function cutAppId(source: string, key: string, limits: Required<FileBatchSettings>): string {
  return `${cutAppIdPrefix(source, key)}${limits.maxBytes}/${limits.maxRecords}`;
}

function cutAppIdPrefix(source: string, key: string): string {
  return `ingest-cut:${source}:${key}:`;
}

/**
 * What earlier runs of this key committed (bronze, or quarantine, which a batch commits
 * first): the last batch number and the cut they used — the recorded one, else (runs from
 * before the cut was recorded) the contract's collector limits they were cut with.
 * Undefined when no batch of the key has landed.
 */
async function earlierRun(lake: Lake, contract: Contract, key: string, appId: string): Promise<{ cut: Required<FileBatchSettings>; version: number; bronzeVersion: number } | undefined> {
  const prefix = cutAppIdPrefix(contract.source, key);
  let version = 0;
  let bronzeVersion = 0;
  let cut: Required<FileBatchSettings> | undefined;
  for (const name of [`bronze.${contract.source}`, `quarantine.${contract.source}`]) {
    const table = await lake.tableIfExists(name);
    if (!table) continue;
    const snapshot = await table.snapshot();
    if (name.startsWith('bronze.')) bronzeVersion = snapshot.version;
    version = Math.max(version, name.startsWith('bronze.') ? (snapshot.txns.get(appId) ?? 0) : 0);
    if (!snapshot.txns.has(appId)) continue;
    for (const id of snapshot.txns.keys()) {
      const match = id.startsWith(prefix) ? /^(\d+)\/(\d+)$/.exec(id.slice(prefix.length)) : null;
      if (match) cut ??= { maxBytes: Number(match[1]), maxRecords: Number(match[2]) };
    }
    cut ??= { maxRecords: contract.batch.maxRecords ?? LEGACY_FILE_BATCH.maxRecords, maxBytes: contract.batch.maxBytes ?? LEGACY_FILE_BATCH.maxBytes };
  }
  return cut === undefined ? undefined : { cut, version, bronzeVersion };
}

/** The full path: the batch's raw records in a temp table, checked and landed by `landBatch`. */
async function landRaw(
  options: IngestFileOptions,
  batchFile: string,
  format: RecordFormat,
  table: string,
  spoolDir: string,
  linesBefore: number,
  batch: BatchIdentity,
  clock: Clock,
  bytes: number,
  extraTxns: readonly TxnId[],
): Promise<LandResult> {
  const fieldTypes = new Map(options.contract.columns.map((c) => [c.name, c.duckdbType]));
  const raw = await loadRawRecords(options.lake.engine, batchFile, format, table, spoolDir, linesBefore, fieldTypes);
  try {
    return await landBatch({ lake: options.lake, contract: options.contract, raw, batch, clock, bytes, extraTxns });
  } finally {
    await options.lake.engine.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  }
}

async function resolveInput(options: IngestFileOptions, spoolDir: string): Promise<{ file: string; key: string }> {
  if (typeof options.input === 'string') {
    const info = await stat(options.input).catch(() => undefined);
    if (!info?.isFile()) {
      throw new LakeloopError('INPUT_NOT_FOUND', `Failed to ingest ${options.input}: no such file`, { hint: 'Check the path given to --file.' });
    }
    const path = await realpath(options.input);
    // The key names the file as given; DuckDB reads it under a name it cannot take for a glob.
    return { file: await readablePath(path, spoolDir), key: options.idempotencyKey ?? `${path}:${info.size}:${Math.floor(info.mtimeMs)}` };
  }
  const file = join(spoolDir, 'stdin');
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  await pipeline(options.input, async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      hash.update(chunk);
      yield chunk;
    }
  }, out);
  return { file, key: options.idempotencyKey ?? `sha256:${hash.digest('hex')}` };
}

async function formatOf(file: string): Promise<RecordFormat> {
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.parquet') return 'parquet';
  if (extension === '.json') {
    for await (const chunk of createReadStream(file, { start: 0, end: 4095 })) {
      const first = (chunk as Buffer).toString('utf8').trimStart()[0];
      return first === '[' ? 'json' : 'ndjson';
    }
  }
  return 'ndjson';
}

/** A batch's byte range, the lines before it, and (NDJSON) its line count and whether every line starts with `{`. */
interface BatchRange {
  readonly start: number;
  readonly end: number;
  readonly linesBefore: number;
  /** Lines in the range, counting a last one without a newline. */
  readonly lines: number;
  /** Every line is non-empty and starts with `{`: no blank line shifts the record numbers. */
  readonly objectLines: boolean;
}

/** Bytes read at a time while cutting a file into batches. */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

/** One batch of a cut file: its range and, when asked for, a spool file holding just its bytes. */
interface CutBatch {
  readonly range: BatchRange;
  readonly file: string | undefined;
}

/**
 * Cuts a file at line ends into batches of at most maxRecords lines and about maxBytes bytes
 * (a batch ends at the first line end at or past maxBytes), yielding each as soon as it is
 * read. A pure function of the bytes and the limits, so every run cuts the same batches.
 * `spoolFor(index)` names a file to copy batch `index` into as it is read (undefined: none),
 * so a file of several batches is read once.
 */
async function* cutBatches(file: string, limits: Required<FileBatchSettings>, spoolFor?: (index: number) => string | undefined): AsyncGenerator<CutBatch> {
  let start = 0;
  let position = 0;
  let lines = 0;
  let linesBefore = 0;
  let objectLines = true;
  let count = 0;
  // Whether the next byte read starts a line (the file's first byte, or the one after a newline at a chunk's end).
  let atLineStart = true;
  // Reused buffers and plain reads: this loop runs once per ingest, mostly before the JIT has
  // optimised it, where a stream's chunks and async iteration cost more (230 MB: ~0.15 s against ~0.4 s).
  // Two of them: the next chunk is read (on libuv's pool) while this one is scanned.
  const handle = await open(file, 'r');
  const buffers = [Buffer.allocUnsafe(SCAN_CHUNK_BYTES), Buffer.allocUnsafe(SCAN_CHUNK_BYTES)] as const;
  const readInto = (buffer: Buffer, at: number): Promise<number> => handle.read(buffer, 0, buffer.length, at).then((r) => r.bytesRead);
  let pending: Promise<number> | undefined;
  let spool: { path: string; handle: FileHandle } | undefined;
  const openSpool = async (): Promise<void> => {
    const path = spoolFor?.(count);
    spool = path === undefined ? undefined : { path, handle: await open(path, 'w') };
  };
  const closeSpool = async (): Promise<string | undefined> => {
    const done = spool;
    spool = undefined;
    await done?.handle.close();
    return done?.path;
  };
  try {
    await openSpool();
    pending = readInto(buffers[0], 0);
    for (let chunk = 0; ; chunk += 1) {
      const bytesRead = await pending;
      pending = undefined;
      if (bytesRead === 0) break;
      const bytes = buffers[chunk % 2]!.subarray(0, bytesRead);
      pending = readInto(buffers[(chunk + 1) % 2]!, position + bytesRead);
      if (atLineStart && bytes[0] !== 0x7b) objectLines = false;
      atLineStart = false;
      let from = 0;
      let copied = 0;
      for (let at = bytes.indexOf(10, from); at >= 0; at = bytes.indexOf(10, from)) {
        lines += 1;
        from = at + 1;
        const end = position + from;
        if (lines >= limits.maxRecords || end - start >= limits.maxBytes) {
          if (spool) await spool.handle.write(bytes, copied, from - copied);
          copied = from;
          const range = { start, end, linesBefore, lines, objectLines };
          yield { range, file: await closeSpool() };
          count += 1;
          start = end;
          linesBefore += lines;
          lines = 0;
          objectLines = true;
          await openSpool();
        }
        if (from < bytes.length) {
          if (bytes[from] !== 0x7b) objectLines = false;
        } else atLineStart = true;
      }
      if (spool && copied < bytes.length) await spool.handle.write(bytes, copied, bytes.length - copied);
      position += bytesRead;
    }
    // A last line without a newline is a line too (at its start, objectLines was checked already).
    if (position > start) yield { range: { start, end: position, linesBefore, lines: atLineStart ? lines : lines + 1, objectLines }, file: await closeSpool() };
    else if (count === 0) yield { range: { start, end: position, linesBefore, lines: 0, objectLines: false }, file: await closeSpool() };
  } finally {
    await closeSpool().catch(() => undefined);
    await pending?.catch(() => undefined);
    await handle.close();
  }
}

/** The ranges of every batch, without spool files (a file that may be one batch). */
async function collect(batches: AsyncIterable<CutBatch>): Promise<BatchRange[]> {
  const ranges: BatchRange[] = [];
  for await (const batch of batches) ranges.push(batch.range);
  return ranges;
}

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

/** The items of `items`, the next one read while the caller works on the current one (the next batch is cut while this one lands). */
async function* prefetched<T>(items: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = items[Symbol.asyncIterator]();
  let next = iterator.next();
  // Handled here: a failure surfaces when the caller gets to that item, never as an unhandled rejection meanwhile.
  next.catch(() => undefined);
  try {
    for (;;) {
      const item = await next;
      if (item.done) return;
      next = iterator.next();
      next.catch(() => undefined);
      yield item.value;
    }
  } finally {
    await next.catch(() => undefined);
    await iterator.return?.(undefined);
  }
}

async function copyRange(file: string, range: { start: number; end: number }, target: string): Promise<string> {
  const out = createWriteStream(target);
  if (range.end > range.start) await pipeline(createReadStream(file, { start: range.start, end: range.end - 1 }), out);
  else {
    out.end();
    await once(out, 'finish');
  }
  return target;
}

/**
 * A Parquet file is typed already: one that lacks a required field of the contract is
 * refused whole, with the missing columns named, rather than quarantined row by row.
 */
async function checkParquetColumns(engine: Engine, file: string, contract: Contract): Promise<void> {
  let columns: { name: string; type: string }[];
  try {
    columns = await engine.describe(`SELECT * FROM read_parquet(${quotePath(file)})`);
  } catch (error) {
    throw new LakeloopError('BAD_INPUT', `Failed to ingest ${file}: not a readable Parquet file`, { cause: error });
  }
  const present = new Set(columns.map((c) => c.name));
  const missing = contract.columns.filter((c) => c.required && !present.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    throw new LakeloopError(
      'INCOMPATIBLE_SCHEMA',
      `Failed to ingest ${file}: its Parquet schema is incompatible with contract ${contract.source}: missing required column(s) ${missing.join(', ')}`,
      { hint: `The file has ${columns.map((c) => `${c.name} ${c.type}`).join(', ')}. Fix the producer or the contract; nothing was landed.` },
    );
  }
}
