import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, realpath, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { extname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LakeloopError, systemClock, type Clock } from '../core/index.js';
import type { Contract } from '../contracts/index.js';
import { quoteIdent, quoteLiteral, quotePath, readablePath, type Engine } from '../engine/index.js';
import { processTempDir } from '../storage/index.js';
import type { Lake } from '../table/index.js';
import { landBatch, landCleanNdjson, type BatchIdentity, type LandingCounts, type LandResult } from './bronze-writer.js';
import { recordDuplicates } from './duplicate-counter.js';
import { loadRawRecords, type RecordFormat } from './raw-records.js';

/** Defaults when a contract sets no batch limits: big batches make few, large files. */
export const DEFAULT_FILE_BATCH = Object.freeze({ maxRecords: 1_000_000, maxBytes: 256 * 1024 * 1024 });

/** The totals of one `ingest` run. */
export interface IngestSummary extends LandingCounts {
  readonly batches: number;
  readonly bytes: number;
  readonly seconds: number;
  /** The `txn` appId the batches were committed under (derived from the idempotency key). */
  readonly appId: string;
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
  readonly clock?: Clock;
  readonly onBatch?: (result: LandResult, done: { bytes: number; totalBytes: number }) => void;
}

/**
 * `lakeloop ingest`: lands a file (or stdin) in bronze as micro-batches on the same path
 * as the collector. NDJSON is cut at record boundaries into batches of the contract's
 * `batch.maxRecords` / `batch.maxBytes`; each batch is one bronze commit whose `txn` is
 * (the idempotency key, the batch's number), so an interrupted ingest re-run with the same
 * key lands only the batches that had not landed.
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
    const limits = {
      maxRecords: options.contract.batch.maxRecords ?? DEFAULT_FILE_BATCH.maxRecords,
      maxBytes: options.contract.batch.maxBytes ?? DEFAULT_FILE_BATCH.maxBytes,
    };
    const batchOf = (index: number): BatchIdentity => ({ appId, version: index + 1, sourceOffset: `${key}#${index + 1}` });
    // Fast path: a batch of object lines parsed once by DuckDB straight into bronze; it gives
    // up (nothing committed) at the first record that needs the full check. A file that may be
    // one batch starts on it at once: DuckDB readies its reader while Node counts the lines.
    const counting = format === 'ndjson' ? batchRanges(file, limits) : Promise.resolve([{ start: 0, end: totalBytes, linesBefore: 0, lines: 0, objectLines: false }]);
    const early =
      format === 'ndjson' && totalBytes <= limits.maxBytes
        ? landCleanNdjson({
            lake: options.lake,
            contract: options.contract,
            file,
            records: counting.then((r) => (r.length === 1 && r[0]?.objectLines ? r[0].lines : undefined)),
            linesBefore: 0,
            batch: batchOf(0),
            clock,
            spoolDir,
            bytes: totalBytes,
          })
        : undefined;
    const [counted, first] = await Promise.allSettled([counting, early]);
    if (counted.status === 'rejected') throw counted.reason;
    if (first.status === 'rejected') throw first.reason;
    const ranges: readonly BatchRange[] = counted.value;
    if (format === 'parquet') await checkParquetColumns(options.lake.engine, file, options.contract);
    const totals = { received: 0, landed: 0, quarantined: 0, duplicates: 0, files: 0 };
    const addedColumns: string[] = [];
    for (const [index, range] of ranges.entries()) {
      const batchFile = ranges.length === 1 ? file : await copyRange(file, range, join(spoolDir, `batch-${index + 1}.ndjson`));
      const batch = batchOf(index);
      const bytes = range.end - range.start;
      try {
        // The early try covered batch 1 when the file is one batch of object lines (landed, or refused).
        const triedEarly = early !== undefined && ranges.length === 1 && range.objectLines;
        const fast = triedEarly
          ? first.value
          : range.objectLines
            ? await landCleanNdjson({ lake: options.lake, contract: options.contract, file: batchFile, records: range.lines, linesBefore: range.linesBefore, batch, clock, spoolDir, bytes })
            : undefined;
        const result = fast ?? (await landRaw(options, batchFile, format, `__ll_raw_${randomUUID().slice(0, 8)}_${index + 1}`, spoolDir, range.linesBefore, batch, clock, bytes));
        totals.received += result.received;
        totals.landed += result.landed;
        totals.quarantined += result.quarantined;
        totals.duplicates += result.duplicates;
        await recordDuplicates(options.lake.store, options.contract.source, result.duplicates);
        totals.files += result.files;
        addedColumns.push(...result.addedColumns);
        options.onBatch?.(result, { bytes: range.end, totalBytes });
      } finally {
        if (batchFile !== file) await rm(batchFile, { force: true });
      }
    }
    return {
      source: options.contract.source,
      ...totals,
      batches: ranges.length,
      bytes: totalBytes,
      seconds: (clock.nowMs() - started) / 1000,
      appId,
      addedColumns,
    };
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
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
): Promise<LandResult> {
  const fieldTypes = new Map(options.contract.columns.map((c) => [c.name, c.duckdbType]));
  const raw = await loadRawRecords(options.lake.engine, batchFile, format, table, spoolDir, linesBefore, fieldTypes);
  try {
    return await landBatch({ lake: options.lake, contract: options.contract, raw, batch, clock, bytes });
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

/** Byte ranges of a file cut at line ends, each with at most maxRecords lines and about maxBytes bytes. */
async function batchRanges(file: string, limits: { maxRecords: number; maxBytes: number }): Promise<BatchRange[]> {
  const ranges: BatchRange[] = [];
  let start = 0;
  let position = 0;
  let lines = 0;
  let linesBefore = 0;
  let objectLines = true;
  // Whether the next byte read starts a line (the file's first byte, or the one after a newline at a chunk's end).
  let atLineStart = true;
  // Reused buffers and plain reads: this loop runs once per ingest, mostly before the JIT has
  // optimised it, where a stream's chunks and async iteration cost more (230 MB: ~0.15 s against ~0.4 s).
  // Two of them: the next chunk is read (on libuv's pool) while this one is scanned.
  const handle = await open(file, 'r');
  const buffers = [Buffer.allocUnsafe(SCAN_CHUNK_BYTES), Buffer.allocUnsafe(SCAN_CHUNK_BYTES)] as const;
  const readInto = (buffer: Buffer, at: number): Promise<number> => handle.read(buffer, 0, buffer.length, at).then((r) => r.bytesRead);
  let pending: Promise<number> | undefined;
  try {
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
      for (let at = bytes.indexOf(10, from); at >= 0; at = bytes.indexOf(10, from)) {
        lines += 1;
        from = at + 1;
        const end = position + from;
        if (lines >= limits.maxRecords || end - start >= limits.maxBytes) {
          ranges.push({ start, end, linesBefore, lines, objectLines });
          start = end;
          linesBefore += lines;
          lines = 0;
          objectLines = true;
        }
        if (from < bytes.length) {
          if (bytes[from] !== 0x7b) objectLines = false;
        } else atLineStart = true;
      }
      position += bytesRead;
    }
  } finally {
    await pending?.catch(() => undefined);
    await handle.close();
  }
  // A last line without a newline is a line too (at its start, objectLines was checked already).
  if (position > start) ranges.push({ start, end: position, linesBefore, lines: atLineStart ? lines : lines + 1, objectLines });
  else if (ranges.length === 0) ranges.push({ start, end: position, linesBefore, lines: 0, objectLines: false });
  return ranges;
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
