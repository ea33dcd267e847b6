import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { loadRawRecords } from '../../src/ingest/index.js';

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-raw-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('raw records from NDJSON', () => {
  it('numbers lines exactly, skipping blank ones, on the fast path', async () => {
    const path = join(dir, 'plain.ndjson');
    await writeFile(path, '{"a":1}\n\n{"a":2}\r\n{bad\n');
    const raw = await loadRawRecords(engine, path, 'ndjson', 'r1', dir);
    expect(raw.records).toBe(3);
    expect(await engine.all(`SELECT _line, trim(_raw) AS raw, _read_error FROM ${raw.relation} ORDER BY _line`)).toEqual([
      { _line: '1', raw: '{"a":1}', _read_error: null },
      { _line: '3', raw: '{"a":2}', _read_error: null },
      { _line: '4', raw: '{bad', _read_error: null },
    ]);
  });

  it('keeps every byte of lines the fast reader refuses (invalid UTF-8, \\x01) with their line numbers', async () => {
    const path = join(dir, 'weird.ndjson');
    await writeFile(path, Buffer.concat([Buffer.from('{"a":1}\n{"a":"\x01"}\n{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n{"a":4}\n')]));
    const raw = await loadRawRecords(engine, path, 'ndjson', 'r2', dir);
    const rows = await engine.all(`SELECT _line, _raw, _read_error FROM ${raw.relation} ORDER BY _line`);
    expect(rows.map((r) => [r['_line'], r['_read_error']])).toEqual([
      ['1', null],
      ['2', null],
      ['3', 'invalid UTF-8'],
      ['4', null],
    ]);
    expect(rows[1]?.['_raw']).toBe('{"a":"\x01"}');
  });
});

describe('raw records from a JSON array', () => {
  it('keeps each element as its exact JSON text, numbered from 1; a non-array is a clear error', async () => {
    const path = join(dir, 'array.json');
    await writeFile(path, '[{"id":"d1","x":1},\n {"id":"d2","n":null}, 5]');
    const raw = await loadRawRecords(engine, path, 'json', 'r3', dir);
    expect(await engine.all(`SELECT _line, _raw FROM ${raw.relation} ORDER BY _line`)).toEqual([
      { _line: '1', _raw: '{"id":"d1","x":1}' },
      { _line: '2', _raw: '{"id":"d2","n":null}' },
      { _line: '3', _raw: '5' },
    ]);
    const object = join(dir, 'object.json');
    await writeFile(object, '{"id":"d1"}');
    await expect(loadRawRecords(engine, object, 'json', 'r4', dir)).rejects.toThrow(/one JSON array of records: the document is a JSON object/);
  });
});
