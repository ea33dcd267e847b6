import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineContract, type Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { readDuplicates } from '../../src/ingest/index.js';
import { Collector, type CollectorOptions } from '../../src/server/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/** The HTTP collector in-process on 127.0.0.1: real sockets, real DuckDB, a real lake in a temp dir. */
const schema = z.object({ id: z.int(), kind: z.enum(['view', 'click']), ts: z.iso.datetime({ offset: true }) });
const noteSchema = schema.extend({ note: z.string().optional() });
const contract = (source: string, batch: Contract['batch']): Contract =>
  defineContract({ source, version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: 'strict', schema, batch });

const contracts = new Map<string, Contract>(
  [
    contract('events', { maxMs: 30 }),
    contract('by_records', { maxRecords: 3, maxMs: 60_000 }),
    contract('by_time', { maxRecords: 10_000, maxMs: 300 }),
    contract('slow', { maxMs: 60_000 }),
    defineContract({ source: 'notes', version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: 'strict', schema: noteSchema, batch: { maxMs: 30 } }),
    defineContract({ source: 'note_pairs', version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: 'strict', schema: noteSchema, batch: { maxRecords: 3, maxMs: 60_000 } }),
  ].map((c) => [c.source, c]),
);

let engine: Engine;
let dir: string;
let lake: Lake;
let collector: Collector;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-'));
  lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  collector = await Collector.create({ lake, contracts, port: 0, maxBodyBytes: 64 * 1024 });
});

afterAll(async () => {
  await collector.close();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const record = (id: number, kind = 'view'): string => JSON.stringify({ id, kind, ts: '2026-05-01T12:00:00Z' });
const ndjson = (ids: readonly number[]): string => ids.map((id) => `${record(id)}\n`).join('');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

async function post(server: Collector, path: string, body: string, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> {
  const response = await fetch(`${server.url}${path}`, { method, body: method === 'GET' ? undefined : body, headers });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: (await response.json()) as Record<string, unknown> };
}

async function rows(table: string, where = 'true'): Promise<Record<string, unknown>[]> {
  if (!(await lake.tables()).includes(table)) return [];
  const snapshot = await (await lake.table(table)).snapshot();
  return engine.all(`SELECT * FROM (${await snapshot.scanSql(lake.store)}) WHERE ${where}`);
}

describe('POST /ingest/<source>', () => {
  it('answers 200 only after the commit, with the rows in bronze', async () => {
    const reply = await post(collector, '/ingest/events', ndjson([1, 2, 3]));
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ source: 'events', records: 3, landed: 3, quarantined: 0, duplicate: false });
    expect(typeof reply.body['batchId']).toBe('string');
    const landed = await rows('bronze.events', 'id IN (1, 2, 3)');
    expect(landed.map((r) => Number(r['id'])).sort()).toEqual([1, 2, 3]);
    expect(landed.every((r) => r['_batch_id'] === reply.body['batchId'])).toBe(true);
  });

  it('accepts a JSON array body', async () => {
    const body = JSON.stringify([JSON.parse(record(10)), JSON.parse(record(11, 'click'))]);
    const reply = await post(collector, '/ingest/events', `  ${body}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ records: 2, landed: 2, quarantined: 0 });
    expect((await rows('bronze.events', 'id IN (10, 11)')).length).toBe(2);
  });

  it('lands the good lines and quarantines the bad ones with their line numbers', async () => {
    const body = `${record(20)}\n{"id": 21, "kind": "nope", "ts": "2026-05-01T12:00:00Z"}\n\n${record(22)}\n{"id": 23,\n`;
    const reply = await post(collector, '/ingest/events', body);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ records: 4, landed: 2, quarantined: 2 });
    const rejects = reply.body['rejects'] as { line: number; reason: string; field: string | null }[];
    expect(rejects.map((r) => r.line)).toEqual([2, 4]);
    expect(rejects[0]?.field).toBe('kind');
    expect((await rows('bronze.events', 'id BETWEEN 20 AND 23')).map((r) => Number(r['id'])).sort()).toEqual([20, 22]);
    const quarantined = await rows('quarantine.events', `batch_id = '${String(reply.body['batchId'])}'`);
    expect(quarantined.length).toBe(2);
  });

  it('answers 400 with every reason when nothing is valid, and still quarantines them', async () => {
    const reply = await post(collector, '/ingest/events', '{"id": "x", "kind": "view", "ts": "2026-05-01T12:00:00Z"}\nnot json\n');
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ records: 2, landed: 0, quarantined: 2 });
    expect(reply.body['error']).toMatch(/No valid record/);
    const rejects = reply.body['rejects'] as { line: number; reason: string }[];
    expect(rejects.map((r) => r.line)).toEqual([1, 2]);
    expect(rejects.every((r) => r.reason.length > 0)).toBe(true);
    expect((await rows('quarantine.events', `batch_id = '${String(reply.body['batchId'])}'`)).length).toBe(2);
  });

  it('answers 400 to an empty body', async () => {
    const reply = await post(collector, '/ingest/events', '\n  \n');
    expect(reply.status).toBe(400);
    expect(reply.body['error']).toMatch(/no records/);
  });

  it('answers 404 to an unknown source, listing the known ones', async () => {
    const reply = await post(collector, '/ingest/nope', ndjson([1]));
    expect(reply.status).toBe(404);
    expect(reply.body['error']).toMatch(/Unknown source "nope"/);
    expect(reply.body['hint']).toMatch(/events/);
  });

  it('answers 405 to a wrong method', async () => {
    const reply = await post(collector, '/ingest/events', '', {}, 'GET');
    expect(reply.status).toBe(405);
    expect(reply.headers['allow']).toBe('POST');
  });

  it('answers 413 over the body limit, declared or streamed', async () => {
    const big = ndjson(Array.from({ length: 2000 }, (_, i) => 100_000 + i));
    expect(big.length).toBeGreaterThan(64 * 1024);
    const declared = await post(collector, '/ingest/events', big);
    expect(declared.status).toBe(413);
    // chunked, no Content-Length: reading stops at the limit
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request(`${collector.url}/ingest/events`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(big.slice(i * 10_000, (i + 1) * 10_000));
      req.end();
    });
    expect(streamed).toBe(413);
    expect((await rows('bronze.events', 'id >= 100000')).length).toBe(0);
  });

  it('GET /healthz answers ok', async () => {
    const reply = await post(collector, '/healthz', '', {}, 'GET');
    expect(reply).toMatchObject({ status: 200, body: { ok: true } });
  });
});

describe('idempotency keys', () => {
  it('lands a key once when it is sent twice in a row', async () => {
    const first = await post(collector, '/ingest/events', ndjson([30, 31]), { 'idempotency-key': 'seq-1' });
    const second = await post(collector, '/ingest/events', ndjson([30, 31]), { 'idempotency-key': 'seq-1' });
    expect(first.status).toBe(200);
    expect(first.body['duplicate']).toBe(false);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ duplicate: true });
    expect((await rows('bronze.events', 'id IN (30, 31)')).length).toBe(2);
    // the re-delivered records are counted for `lakeloop status` once the next batch lands
    const before = await readDuplicates(lake.store, 'events');
    await post(collector, '/ingest/events', ndjson([32]));
    expect(await readDuplicates(lake.store, 'events')).toBeGreaterThanOrEqual(before + 2);
  });

  it('lands a key once when it is sent twice at the same time', async () => {
    const [a, b] = await Promise.all([
      post(collector, '/ingest/events', ndjson([40, 41]), { 'idempotency-key': 'conc-1' }),
      post(collector, '/ingest/events', ndjson([40, 41]), { 'idempotency-key': 'conc-1' }),
    ]);
    expect([a?.status, b?.status]).toEqual([200, 200]);
    expect([a?.body['duplicate'], b?.body['duplicate']].sort()).toEqual([false, true]);
    expect((await rows('bronze.events', 'id IN (40, 41)')).length).toBe(2);
  });

  it('knows the keys of an earlier process from the table (a new collector on the same lake)', async () => {
    const other = await Collector.create({ lake, contracts, port: 0, instanceId: 'other' });
    try {
      const reply = await post(other, '/ingest/events', ndjson([30, 31]), { 'idempotency-key': 'seq-1' });
      expect(reply.body).toMatchObject({ duplicate: true });
    } finally {
      await other.close();
    }
    expect((await rows('bronze.events', 'id IN (30, 31)')).length).toBe(2);
  });

  it('refuses a malformed key', async () => {
    const reply = await post(collector, '/ingest/events', ndjson([50]), { 'idempotency-key': 'has space' });
    expect(reply.status).toBe(400);
  });
});

describe('micro-batching', () => {
  it('closes a batch at maxRecords without waiting for maxMs', async () => {
    const started = Date.now();
    const replies = await Promise.all([60, 61, 62].map((id) => post(collector, '/ingest/by_records', ndjson([id]))));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(new Set(replies.map((r) => r.body['batchId'])).size).toBe(1);
    expect((await rows('bronze.by_records')).length).toBe(3);
  });

  it('closes a batch at maxMs', async () => {
    const started = Date.now();
    const reply = await post(collector, '/ingest/by_time', ndjson([70]));
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect((await rows('bronze.by_time')).length).toBe(1);
  });

  it('continues the batch sequence of its instance after a restart', async () => {
    const first = await Collector.create({ lake, contracts, port: 0, instanceId: 'restart' });
    await post(first, '/ingest/events', ndjson([80]));
    await first.close();
    const second = await Collector.create({ lake, contracts, port: 0, instanceId: 'restart' });
    const reply = await post(second, '/ingest/events', ndjson([81]));
    await second.close();
    expect(reply.status).toBe(200);
    const snapshot = await (await lake.table('bronze.events')).snapshot();
    expect(snapshot.txns.get('collector:events:restart')).toBe(2);
    expect((await rows('bronze.events', 'id IN (80, 81)')).length).toBe(2);
  });

  it('answers 429 with Retry-After under backpressure, and commits what it accepted', async () => {
    const options: CollectorOptions = { lake, contracts, port: 0, maxPendingBytes: 10, instanceId: 'busy' };
    const busy = await Collector.create(options);
    const accepted = post(busy, '/ingest/slow', ndjson([90]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await post(busy, '/ingest/slow', ndjson([91]));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await busy.close(); // flushes the open batch (maxMs is a minute)
    expect((await accepted).status).toBe(200);
    expect((await rows('bronze.slow', 'id IN (90, 91)')).map((r) => Number(r['id']))).toEqual([90]);
  });

  it('a graceful close commits the open batch and answers its requests', async () => {
    const closing = await Collector.create({ lake, contracts, port: 0, instanceId: 'closing' });
    const pending = post(closing, '/ingest/slow', ndjson([95, 96]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await closing.close();
    expect(Date.now() - started).toBeLessThan(20_000);
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ landed: 2 });
    expect((await rows('bronze.slow', 'id IN (95, 96)')).length).toBe(2);
  });
});

/** A record whose `note` holds arrays nested `depth` levels deep. */
const deep = (id: number, depth: number): string => `{"id":${id},"kind":"view","ts":"2026-05-01T12:00:00Z","note":${'['.repeat(depth)}${']'.repeat(depth)}}`;

/** Sends raw bytes as one HTTP request and returns the status line's code and the JSON body. */
function rawRequest(server: Collector, head: string, body: Buffer = Buffer.alloc(0)): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, server.host);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const json = text.slice(text.indexOf('\r\n\r\n') + 4);
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(json) as Record<string, unknown>;
      } catch {
        // Node's own 400 for a request it cannot parse has no body
      }
      resolve({ status, body: parsed });
    });
    socket.write(Buffer.concat([Buffer.from(`${head}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`, 'latin1'), body]));
  });
}

describe('malformed requests get a 4xx, never a 5xx', () => {
  it('quarantines an NDJSON record nested deeper than 1,000 levels and lands the rest', async () => {
    const reply = await post(collector, '/ingest/notes', `${record(300)}\n${deep(301, 6_000)}\n${record(302)}\n`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ records: 3, landed: 2, quarantined: 1 });
    const rejects = reply.body['rejects'] as { line: number; reason: string }[];
    expect(rejects.map((r) => r.line)).toEqual([2]);
    expect(rejects[0]?.reason).toMatch(/nested deeper than 1000 levels/);
    expect((await rows('bronze.notes', 'id BETWEEN 300 AND 302')).map((r) => Number(r['id'])).sort()).toEqual([300, 302]);
  });

  it('judges each element of a JSON array on its own: [valid, deep] lands the valid one', async () => {
    const reply = await post(collector, '/ingest/notes', `[${record(310)}, ${deep(311, 6_000)}]`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ records: 2, landed: 1, quarantined: 1 });
    const rejects = reply.body['rejects'] as { line: number; reason: string }[];
    expect(rejects.map((r) => r.line)).toEqual([2]);
    expect(rejects[0]?.reason).toMatch(/nested deeper than 1000 levels/);
    expect((await rows('bronze.notes', 'id IN (310, 311)')).map((r) => Number(r['id']))).toEqual([310]);
  });

  it('answers 400 (not 500) to a body that is one deeply nested array, and keeps a record at 1,000 levels', async () => {
    const array = await post(collector, '/ingest/notes', `${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    expect(array.status).toBe(400);
    expect(array.body['hint']).toEqual(expect.any(String));
    expect((array.body['rejects'] as { reason: string }[])[0]?.reason).toMatch(/nested deeper than 1000 levels/);
    // 1,000 levels in all (the record's object is the first): judged by the contract, not refused unseen
    const limit = await post(collector, '/ingest/notes', `${deep(320, 999)}\n${record(321)}\n`);
    expect(limit.status).toBe(200);
    const rejects = limit.body['rejects'] as { reason: string }[];
    expect(rejects.every((r) => !/nested deeper/.test(r.reason))).toBe(true);
  });

  it('answers 400 with a reason to bad percent-encoding in the path', async () => {
    const reply = await post(collector, '/ingest/%E0%A4%A', ndjson([330]));
    expect(reply.status).toBe(400);
    expect(reply.body['error']).toMatch(/percent-encoding/);
    expect(reply.body['hint']).toEqual(expect.any(String));
  });

  it('answers 4xx to a request target that is not a URL', async () => {
    const reply = await rawRequest(collector, 'POST http://[::1/ingest/events HTTP/1.1\r\nhost: x', Buffer.from(ndjson([331])));
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
  });

  it('lands a valid record holding U+FFFD while another request of its batch has invalid UTF-8', async () => {
    const text = JSON.stringify({ id: 340, kind: 'view', ts: '2026-05-01T12:00:00Z', note: 'a\uFFFDb' });
    const bad = Buffer.concat([Buffer.from(`${record(341)}\n{"id":342,"kind":"view","ts":"2026-05-01T12:00:00Z","note":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]);
    // 1 + 2 records: the batch closes at maxRecords 3 with both requests in it
    const [clean, dirty] = await Promise.all([post(collector, '/ingest/note_pairs', `${text}\n`), rawRequest(collector, 'POST /ingest/note_pairs HTTP/1.1\r\nhost: x', bad)]);
    expect(clean.status).toBe(200);
    expect(clean.body).toMatchObject({ records: 1, landed: 1, quarantined: 0 });
    expect(dirty.status).toBe(200);
    expect(dirty.body).toMatchObject({ records: 2, landed: 1, quarantined: 1, batchId: clean.body['batchId'] });
    expect((dirty.body['rejects'] as { line: number; reason: string }[]).map((r) => [r.line, r.reason])).toEqual([[2, 'invalid UTF-8']]);
    const landed = await rows('bronze.note_pairs', 'id BETWEEN 340 AND 342');
    expect(landed.map((r) => [Number(r['id']), r['note'] ?? null]).sort()).toEqual([
      [340, 'a\uFFFDb'],
      [341, null],
    ]);
  });

  it('lands a line holding U+FFFD next to a line of invalid UTF-8 in the same body', async () => {
    const body = Buffer.concat([
      Buffer.from(`${JSON.stringify({ id: 350, kind: 'view', ts: '2026-05-01T12:00:00Z', note: '\uFFFD' })}\n{"id":351,"note":"`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(`"}\n${record(352)}\n`),
    ]);
    const reply = await rawRequest(collector, 'POST /ingest/notes HTTP/1.1\r\nhost: x', body);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ records: 3, landed: 2, quarantined: 1 });
    expect((reply.body['rejects'] as { line: number; reason: string }[]).map((r) => [r.line, r.reason])).toEqual([[2, 'invalid UTF-8']]);
  });
});

/** Sends a request's head (and `body`, possibly less than it declares) and resolves with the first response's status, headers and whether the server then closed the connection. */
function partialRequest(server: Collector, head: string, body = ''): Promise<{ status: number; retryAfter: string | undefined; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, server.host);
    let text = '';
    let answered: { status: number; retryAfter: string | undefined } | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n\r\n');
      if (answered || end < 0) return;
      answered = { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), retryAfter: /\r\nretry-after: (\S+)/i.exec(text.slice(0, end))?.[1] };
      // a kept-alive connection stays open: give it a moment to show which it is
      setTimeout(() => {
        socket.destroy();
        resolve({ ...answered!, closed: false });
      }, 300);
    });
    socket.on('close', () => {
      if (answered) resolve({ ...answered, closed: true });
    });
    socket.on('error', reject);
    socket.write(`${head}\r\n\r\n${body}`);
  });
}

describe('bounded memory', () => {
  it('stores at most 10,000 rejects of a request and counts the rest in one summary row', async () => {
    const roomy = await Collector.create({ lake, contracts, port: 0, maxBodyBytes: 1024 * 1024, instanceId: 'roomy' });
    try {
      const body = '{"id":1,"kind":"x","ts":"y"}\n'.repeat(20_000);
      const reply = await post(roomy, '/ingest/events', body);
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({ records: 20_000, landed: 0, quarantined: 20_000, summarised: 10_000 });
      expect((reply.body['rejects'] as unknown[]).length).toBe(1_000);
      const stored = await rows('quarantine.events', `batch_id = '${String(reply.body['batchId'])}'`);
      expect(stored.length).toBe(10_001);
      const summary = stored.filter((r) => r['payload'] === null);
      expect(summary.length).toBe(1);
      expect(String(summary[0]?.['reason'])).toMatch(/^10000 more rejected records of this request \(lines 10001 to 20000 of the batch\) are not stored one by one/);
      expect((await roomy.counters())['events']?.quarantined).toBe(20_000);
    } finally {
      await roomy.close();
    }
  });

  it('refuses whole, with 400 and nothing stored, a body of more than 10,000 records too short to be valid ({} lines)', async () => {
    const before = (await rows('quarantine.events')).length;
    const reply = await post(collector, '/ingest/events', '{}\n'.repeat(20_000));
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ records: 20_000, landed: 0, quarantined: 0, refused: 20_000 });
    expect(reply.body['error']).toMatch(/^Failed to accept the request to events: 20000 of its 20000 records are shorter than the 24 bytes/);
    expect(reply.body['hint']).toMatch(/Nothing of the request was stored/);
    expect((await rows('quarantine.events')).length).toBe(before);
    expect((await collector.counters())['events']?.refusedRecords).toBe(20_000);
    // up to 10,000 of them in a request are quarantined one by one, with the contract's reasons
    const few = await post(collector, '/ingest/events', `${'{}\n'.repeat(3)}${record(420)}\n`);
    expect(few.status).toBe(200);
    expect(few.body).toMatchObject({ records: 4, landed: 1, quarantined: 3 });
  });

  it('refuses a request over the in-flight budget with 429 before reading its body, and takes it once room is back', async () => {
    const options: CollectorOptions = { lake, contracts, port: 0, maxBodyBytes: 64 * 1024, maxInFlightBytes: 100 * 1024, instanceId: 'budget' };
    const budget = await Collector.create(options);
    try {
      const big = ndjson(Array.from({ length: 1_100 }, (_, i) => 400_000 + i));
      expect(big.length).toBeGreaterThan(50 * 1024);
      const held = post(budget, '/ingest/slow', big); // waits for its batch (maxMs is a minute): its bytes stay in flight
      await expect.poll(() => budget.inFlight).toBe(big.length);
      // declared length, body never sent: the 429 comes anyway, so nothing of it was awaited
      const declared = await partialRequest(budget, `POST /ingest/events HTTP/1.1\r\nhost: x\r\ncontent-length: ${big.length}`);
      expect(declared).toMatchObject({ status: 429, retryAfter: '1' });
      // chunked: refused once it reads past the budget, and its connection closed
      const chunk = big.slice(0, 60 * 1024);
      const chunked = await partialRequest(budget, 'POST /ingest/events HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked', `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      expect(chunked).toMatchObject({ status: 429, retryAfter: '1', closed: true });
      const small = await post(budget, '/ingest/events', ndjson([402_000]));
      expect(small.status).toBe(200); // small enough to fit beside the held one
      await budget.close(); // commits the held request's batch
      expect((await held).status).toBe(200);
      expect(budget.inFlight).toBe(0);
    } finally {
      await budget.close();
    }
    expect((await rows('bronze.slow', 'id BETWEEN 400000 AND 401099')).length).toBe(1_100);
  });

  it('answers 429 for per-source backpressure before reading the body', async () => {
    const busy = await Collector.create({ lake, contracts, port: 0, maxPendingBytes: 10, instanceId: 'busy-early' });
    try {
      const accepted = post(busy, '/ingest/slow', ndjson([410]));
      await expect.poll(async () => (await busy.counters())['slow']?.pendingBytes ?? 0).toBeGreaterThan(0);
      const refused = await partialRequest(busy, 'POST /ingest/slow HTTP/1.1\r\nhost: x\r\ncontent-length: 1000');
      expect(refused).toMatchObject({ status: 429 });
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      await busy.close();
      expect((await accepted).status).toBe(200);
    } finally {
      await busy.close();
    }
  });

  it('refuses to start with an in-flight budget below the body limit', async () => {
    await expect(Collector.create({ lake, contracts, port: 0, maxBodyBytes: 1024, maxInFlightBytes: 512 })).rejects.toThrow(/Failed to start the collector: maxInFlightBytes \(512\) is below maxBodyBytes \(1024\)/);
  });
});
