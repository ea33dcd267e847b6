import { randomUUID } from 'node:crypto';
import { Buffer, isUtf8 } from 'node:buffer';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { LakeloopError } from '../core/index.js';
import { quoteIdent, quoteLiteral, quotePath, type Engine } from '../engine/index.js';

/** The input formats a batch can arrive in. */
export type RecordFormat = 'ndjson' | 'json' | 'csv' | 'parquet';

/** A batch's records, loaded into a DuckDB temp table in input order. */
export interface RawRecords {
  /** The temp table holding them (drop it when done). */
  readonly table: string;
  /** A parenthesised query over it: `_line BIGINT` (1-based), `_raw VARCHAR`, `_read_error VARCHAR` (NULL unless unreadable). */
  readonly relation: string;
  /** Records in the input (non-empty lines / array elements / CSV rows / Parquet rows). */
  readonly records: number;
}

/**
 * Loads one spooled input file into a temp table of raw records with their 1-based
 * line (or element, or row) numbers, for the contract check. NDJSON stays raw text all
 * the way (DuckDB parses it; no per-record JavaScript on the fast path). CSV and Parquet
 * rows are turned into JSON objects by DuckDB, so one contract check serves all formats.
 *
 * @example
 * const raw = await loadRawRecords(engine, '/tmp/spool/batch-1.ndjson', 'ndjson', 'raw_1', spoolDir);
 * // raw.table: _line, _raw
 */
export async function loadRawRecords(
  engine: Engine,
  file: string,
  format: RecordFormat,
  table: string,
  spoolDir: string,
  /** Lines of the whole input before this batch, so numbers stay file line numbers. */
  linesBefore = 0,
  /** CSV only: the contract's column types, so text like `10` becomes a JSON number where a number is expected. */
  fieldTypes: ReadonlyMap<string, string> = new Map(),
  /** NDJSON only: lines (1-based, in this file) to quarantine unparsed, with the reason (e.g. nested too deep). */
  lineErrors: ReadonlyMap<number, string> = new Map(),
): Promise<RawRecords> {
  const target = quoteIdent(table);
  // rowid numbers a materialised table's rows in insertion order, which DuckDB keeps equal
  // to input order (preserve_insertion_order), so it is the line number at no extra cost.
  let relation = `(SELECT rowid + ${linesBefore + 1} AS _line, _raw, _read_error FROM ${target} WHERE _raw IS NOT NULL AND trim(_raw) <> '')`;
  switch (format) {
    case 'ndjson':
      await loadNdjson(engine, file, target, spoolDir, lineErrors);
      break;
    case 'json':
      await loadJsonArray(engine, file, target);
      break;
    case 'csv':
      await loadCsv(engine, file, target, fieldTypes);
      relation = `(SELECT CAST(_line AS BIGINT) AS _line, _raw, _read_error FROM ${target})`;
      break;
    case 'parquet':
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${target} AS SELECT CAST(to_json(__ll_row) AS VARCHAR) AS _raw, CAST(NULL AS VARCHAR) AS _read_error FROM read_parquet(${quotePath(file)}) AS __ll_row`);
      break;
  }
  const records = Number(await engine.scalar(`SELECT count(*) FROM ${relation}`));
  return { table, relation, records };
}

/**
 * NDJSON: DuckDB reads the lines itself (the usual case) and the table's rowid is the line
 * number. Where its line reader refuses the bytes (invalid UTF-8, a \x01 byte), or some
 * lines are refused before parsing, Node splits the lines once and hands DuckDB each one as
 * a JSON string with its read error, so no byte of a bad record is lost or misnumbered.
 */
async function loadNdjson(engine: Engine, file: string, target: string, spoolDir: string, lineErrors: ReadonlyMap<number, string>): Promise<void> {
  if (lineErrors.size === 0) {
    try {
      await engine.run(
        `CREATE OR REPLACE TEMP TABLE ${target} AS SELECT _raw, CAST(NULL AS VARCHAR) AS _read_error FROM read_csv(${quotePath(file)}, ` +
          `columns = {'_raw': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', header = false, auto_detect = false, new_line = '\\n', strict_mode = true)`,
      );
      return;
    } catch {
      // invalid UTF-8 or a \x01 byte inside a line: take the careful path below
    }
  }
  const escaped = join(spoolDir, `escaped-${randomUUID()}.ndjson`);
  try {
    await escapeLines(file, escaped, lineErrors);
    // an escaped line can be up to 6 times its bytes (\u0001): room beyond the reader's 16 MB default
    await engine.run(
      `CREATE OR REPLACE TEMP TABLE ${target} AS SELECT raw AS _raw, error AS _read_error ` +
        `FROM read_ndjson(${quotePath(escaped)}, columns = {'raw': 'VARCHAR', 'error': 'VARCHAR'}, maximum_object_size = ${ESCAPED_LINE_MAX_BYTES})`,
    );
  } finally {
    await rm(escaped, { force: true });
  }
}

/** The longest escaped line the careful path reads: 6 × a 16 MiB line, and more. */
const ESCAPED_LINE_MAX_BYTES = 128 * 1024 * 1024;

async function loadJsonArray(engine: Engine, file: string, target: string): Promise<void> {
  // The array is parsed once as a whole (it arrives as one request body or file) and each
  // element keeps its exact JSON text, so the contract check sees what the producer sent.
  const source = `(SELECT CAST(content AS JSON) AS __ll_doc FROM read_text(${quotePath(file)}))`;
  try {
    const type = await engine.scalar(`SELECT json_type(__ll_doc) FROM ${source}`);
    if (type !== 'ARRAY') throw new Error(`the document is a JSON ${String(type).toLowerCase()}`);
    await engine.run(
      `CREATE OR REPLACE TEMP TABLE ${target} AS SELECT CAST(__ll_element AS VARCHAR) AS _raw, CAST(NULL AS VARCHAR) AS _read_error ` +
        `FROM (SELECT unnest(json_extract(__ll_doc, '$[*]')) AS __ll_element FROM ${source})`,
    );
  } catch (error) {
    // Only files (ingest --format json, a json file drop) come here: the collector splits request bodies itself.
    throw new LakeloopError('BAD_INPUT', `Failed to read the file as one JSON array of records: ${await jsonArrayProblem(file, error)}`, {
      cause: error,
      hint: 'A json file holds one JSON array ([{...}, {...}]); a file of one JSON object per line is ndjson (--format ndjson, or a .ndjson name).',
    });
  }
}

/** Where and why a file is not one JSON array, in lines of the file (DuckDB says "at byte N"). */
async function jsonArrayProblem(file: string, error: unknown): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  const malformed = /Malformed JSON at byte (\d+) of input: ([^.]*)/.exec(message);
  if (malformed) {
    const text = await readFile(file).catch(() => Buffer.alloc(0));
    const byte = Math.min(Number(malformed[1]), text.length);
    let line = 1;
    for (let i = 0; i < byte; i++) if (text[i] === 10) line++;
    const firstLineIsObject = text.subarray(0, 64).toString('utf8').trimStart().startsWith('{');
    return `line ${line}: ${malformed[2]}${firstLineIsObject ? ' (it starts with an object, not [: one object per line?)' : ''}`;
  }
  return /the document is a JSON/.test(message) ? (message.split('\n')[0] ?? message).replace(/^.*?(the document is a JSON \w+).*$/, '$1') : (message.split('\n')[0] ?? message);
}

/**
 * CSV: a header row names the fields; every value arrives as text and the contract types
 * it. Rows DuckDB's reader rejects (too many or too few fields) keep their line number and
 * raw text, and carry `_read_error`, so they go to quarantine with the reason.
 */
async function loadCsv(engine: Engine, file: string, target: string, fieldTypes: ReadonlyMap<string, string>): Promise<void> {
  // helper tables named after the target, so concurrent loads in one engine never share one
  const base = target.replaceAll('"', '');
  const csv = quoteIdent(`${base}_csv`);
  const rejects = `${base}_rej`;
  const rejectScans = `${base}_rejscan`;
  await engine.run(`DROP TABLE IF EXISTS ${quoteIdent(rejects)}; DROP TABLE IF EXISTS ${quoteIdent(rejectScans)}`);
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${csv} AS SELECT * FROM read_csv(${quotePath(file)}, header = true, all_varchar = true, ` +
      `store_rejects = true, rejects_table = ${quoteLiteral(rejects)}, rejects_scan = ${quoteLiteral(rejectScans)})`,
  );
  const rejectLines = (await engine.all(`SELECT DISTINCT line FROM ${quoteIdent(rejects)} ORDER BY line`)).map((r) => Number(r['line']));
  // Good row g (0-based) sits on line g + 2 + (rejected lines before it): one CASE branch per reject.
  const branches = rejectLines
    .map((line, j) => ({ from: line - 2 - j, offset: j + 1 }))
    .reverse()
    .map((b) => `WHEN rowid >= ${b.from} THEN ${b.offset}`)
    .join(' ');
  const offset = branches ? `CASE ${branches} ELSE 0 END` : '0';
  // CSV values are text: an empty field is absent, and a field the contract types as a
  // number or boolean becomes a JSON number/boolean when it parses as one (else it stays
  // text, and the contract check reports the wrong type).
  const header = await engine.describe(`SELECT * FROM ${csv}`);
  const pairs = header.map((column) => {
    const value = `nullif(__ll_row.${quoteIdent(column.name)}, '')`;
    const declared = fieldTypes.get(column.name);
    // A DECIMAL field's text goes through DOUBLE: casting it to the DECIMAL would round away the decimals the contract check must see.
    const type = declared?.startsWith('DECIMAL(') ? 'DOUBLE' : declared;
    const typed =
      type === 'BIGINT' || type === 'DOUBLE' || type === 'BOOLEAN'
        ? `COALESCE(to_json(TRY_CAST(${value} AS ${type})), to_json(${value}))`
        : `to_json(${value})`;
    return `${quoteLiteral(column.name)}, ${typed}`;
  });
  const record = pairs.length ? `json_object(${pairs.join(', ')})` : `json_object()`;
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${target} AS SELECT * FROM (` +
      `SELECT rowid + 2 + ${offset} AS _line, CAST(${record} AS VARCHAR) AS _raw, CAST(NULL AS VARCHAR) AS _read_error FROM ${csv} AS __ll_row ` +
      `UNION ALL SELECT line AS _line, csv_line AS _raw, 'unreadable CSV row: ' || error_message AS _read_error FROM ${quoteIdent(rejects)}) ORDER BY _line`,
  );
  await engine.run(`DROP TABLE IF EXISTS ${csv}; DROP TABLE IF EXISTS ${quoteIdent(rejects)}; DROP TABLE IF EXISTS ${quoteIdent(rejectScans)}`);
}

/**
 * Rewrites every line as `{"raw": "<the line>"}` (CR dropped), adding `"error"` for a line
 * listed in `lineErrors` or whose own bytes are not valid UTF-8 (its text then holds U+FFFD
 * where they were). Validity is judged per line on the bytes, so a valid line holding a
 * literal U+FFFD is data, whatever the other lines hold.
 */
async function escapeLines(source: string, target: string, lineErrors: ReadonlyMap<number, string>): Promise<void> {
  const out = createWriteStream(target);
  let line = 0;
  const render = (bytes: Buffer): string => {
    line += 1;
    const text = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.subarray(0, bytes.length - 1) : bytes;
    const error = lineErrors.get(line) ?? (isUtf8(text) ? undefined : 'invalid UTF-8');
    return `${JSON.stringify(error === undefined ? { raw: text.toString('utf8') } : { raw: text.toString('utf8'), error })}\n`;
  };
  const flush = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  let pending = Buffer.alloc(0);
  for await (const chunk of createReadStream(source, { highWaterMark: 4 * 1024 * 1024 })) {
    const data = pending.length > 0 ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
    const parts: string[] = [];
    let start = 0;
    for (let end = data.indexOf(0x0a, start); end >= 0; end = data.indexOf(0x0a, start)) {
      parts.push(render(data.subarray(start, end)));
      start = end + 1;
    }
    pending = Buffer.from(data.subarray(start));
    await flush(parts.join(''));
  }
  if (pending.length > 0) await flush(render(pending));
  out.end();
  await once(out, 'finish');
}
