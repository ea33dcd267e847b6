import type { Contract } from '../contracts/index.js';

/**
 * Records nested deeper than this many levels of objects and arrays (the record's own
 * object is level 1) go to quarantine unparsed: recursive JSON code (V8's
 * `JSON.stringify`, DuckDB's JSON functions) runs out of stack a few thousand levels
 * down, and no real record comes near it.
 */
export const MAX_RECORD_DEPTH = 1_000;

/** A request body cut into spool lines, one record each, with the records refused before parsing. */
export interface RequestLines {
  /** The spool bytes: each record on its own line, each line ending with `\n`. */
  readonly chunks: readonly Buffer[];
  readonly records: number;
  readonly bytes: number;
  /** Records to quarantine unparsed, by their 1-based number in the request, with the reason. */
  readonly errors: ReadonlyMap<number, string>;
  /** Records shorter than `minRecordBytes` (which then cannot be valid). */
  readonly short: number;
  /** Every record starts with `{` (what `landCleanNdjson` takes; others need the full check). */
  readonly objectLines: boolean;
}

const NEWLINE = Buffer.from('\n');
const DEPTH_REASON = `nested deeper than ${MAX_RECORD_DEPTH} levels`;

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

/**
 * The fewest bytes a valid record of a contract takes: `{}` plus, for each required field,
 * its quoted name, a colon and a one-byte value, with commas between (0 for CDC envelopes,
 * whose fields sit inside `after`).
 */
export function minRecordBytes(contract: Contract): number {
  if (contract.cdc) return 0;
  const required = contract.columns.filter((c) => c.required);
  if (required.length === 0) return 2;
  return 2 + required.reduce((n, c) => n + Buffer.byteLength(JSON.stringify(c.name)) + 2, 0) + required.length - 1;
}

/**
 * A request body as spool lines. NDJSON bytes pass through as they are (blank lines
 * dropped, a final newline added), so line N of the request is record N. A JSON array
 * (first non-space byte `[`) is cut at its top-level commas without being parsed, so each
 * element keeps its exact bytes and is judged on its own (line breaks between tokens become
 * spaces); a body that starts with `[` but is not a well-formed array is taken as NDJSON, so
 * each of its lines reaches quarantine with its reason. Records nested deeper than
 * `MAX_RECORD_DEPTH` are listed in `errors`; records shorter than `minRecordBytes` are counted.
 *
 * @example
 * splitRequestBody(Buffer.from('[{"id":1}, {"id":2}]')).records; // 2
 */
export function splitRequestBody(body: Buffer, minRecordBytes = 0): RequestLines {
  let first = 0;
  while (first < body.length && isSpace(body[first])) first++;
  if (body[first] === 0x5b) {
    const array = splitArray(body, first, minRecordBytes);
    if (array) return array;
  }
  return splitNdjson(body, minRecordBytes);
}

function splitNdjson(body: Buffer, minRecordBytes: number): RequestLines {
  const errors = new Map<number, string>();
  let records = 0;
  let short = 0;
  let blank = false;
  let objectLines = true;
  // one pass that allocates nothing per line: a body without blank lines is spooled as it is
  for (let start = 0; start < body.length; ) {
    const end = body.indexOf(0x0a, start);
    const stop = end < 0 ? body.length : end;
    if (isBlank(body, start, stop)) blank = true;
    else {
      records += 1;
      if (body[start] !== 0x7b) objectLines = false;
      if (stop - start < minRecordBytes) short += 1;
      // a line shorter than the limit cannot nest deeper than it: the usual record is never scanned
      if (stop - start > MAX_RECORD_DEPTH && tooDeep(body, start, stop)) errors.set(records, DEPTH_REASON);
    }
    start = stop + 1;
  }
  if (body.length === 0) return { chunks: [], records, bytes: 0, errors, short, objectLines: false };
  if (!blank) {
    const whole = body[body.length - 1] === 0x0a ? [body] : [body, NEWLINE];
    return { chunks: whole, records, bytes: body.length + (whole.length - 1), errors, short, objectLines };
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for (let start = 0; start < body.length; ) {
    const end = body.indexOf(0x0a, start);
    const stop = end < 0 ? body.length : end;
    if (!isBlank(body, start, stop)) {
      chunks.push(body.subarray(start, stop), NEWLINE);
      bytes += stop - start + 1;
    }
    start = stop + 1;
  }
  return { chunks, records, bytes, errors, short, objectLines };
}

function isBlank(body: Buffer, start: number, stop: number): boolean {
  for (let i = start; i < stop; i++) if (!isSpace(body[i])) return false;
  return true;
}

/** Whether the bytes [start, stop) open more than `MAX_RECORD_DEPTH` levels of brackets outside strings. */
function tooDeep(body: Buffer, start: number, stop: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = start; i < stop; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > MAX_RECORD_DEPTH) return true;
    } else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return false;
}

/**
 * The elements of the top-level array opening at `open`, or undefined when the body is not a
 * well-formed array at the top level (unterminated, an empty element, text after the closing
 * bracket, a raw line break inside a string). Elements are not validated here: an invalid
 * one reaches quarantine with DuckDB's reason.
 */
function splitArray(body: Buffer, open: number, minRecordBytes: number): RequestLines | undefined {
  const chunks: Buffer[] = [];
  const errors = new Map<number, string>();
  let bytes = 0;
  let short = 0;
  let depth = 0;
  let maxDepth = 0;
  let inString = false;
  let elementStart = -1;
  let elementEnd = -1;
  let lineBreak = false;
  let closed = -1;
  let objectLines = true;
  const finish = (): boolean => {
    if (elementStart < 0) return false;
    let element = body.subarray(elementStart, elementEnd);
    if (lineBreak) {
      element = Buffer.from(element);
      for (let j = 0; j < element.length; j++) if (element[j] === 0x0a || element[j] === 0x0d) element[j] = 0x20;
    }
    chunks.push(element, NEWLINE);
    bytes += element.length + 1;
    if (element[0] !== 0x7b) objectLines = false;
    if (element.length < minRecordBytes) short += 1;
    if (maxDepth > MAX_RECORD_DEPTH) errors.set(chunks.length / 2, DEPTH_REASON);
    elementStart = -1;
    maxDepth = 0;
    lineBreak = false;
    return true;
  };
  for (let i = open + 1; i < body.length; i++) {
    const byte = body[i] as number;
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
      else if (byte === 0x0a || byte === 0x0d) return undefined;
      elementEnd = i + 1;
      continue;
    }
    if (depth === 0) {
      if (isSpace(byte)) {
        if (elementStart >= 0 && (byte === 0x0a || byte === 0x0d)) lineBreak = true;
        continue;
      }
      if (byte === 0x2c) {
        if (!finish()) return undefined;
        continue;
      }
      if (byte === 0x5d) {
        if (!finish() && chunks.length > 0) return undefined;
        closed = i;
        break;
      }
      if (byte === 0x7d) return undefined;
      if (elementStart < 0) elementStart = i;
    }
    if (byte === 0x0a || byte === 0x0d) lineBreak = true;
    else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) maxDepth = Math.max(maxDepth, ++depth);
    else if (byte === 0x7d || byte === 0x5d) depth--;
    if (!isSpace(byte)) elementEnd = i + 1;
  }
  if (closed < 0 || inString) return undefined;
  for (let i = closed + 1; i < body.length; i++) if (!isSpace(body[i])) return undefined;
  return { chunks, records: chunks.length / 2, bytes, errors, short, objectLines: objectLines && chunks.length > 0 };
}
