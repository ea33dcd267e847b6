import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineContract, type Contract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { Metrics, type MetricsSnapshot } from '../../src/observe/index.js';
import { Collector, observeRoutes } from '../../src/server/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';

/** `/metrics` and `/status` mounted on a real collector, fed by real requests landing in a temp lake. */
const schema = z.object({ id: z.int(), kind: z.enum(['view', 'click']), ts: z.iso.datetime({ offset: true }) });
const contract = (source: string): Contract =>
  defineContract({ source, version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: 'strict', schema, batch: { maxMs: 30 } });
const contracts = new Map<string, Contract>([contract('events'), contract('clicks')].map((c) => [c.source, c]));

let engine: Engine;
let dir: string;
let lake: Lake;
let metrics: Metrics;
let collector: Collector;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-observe-routes-'));
  lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  metrics = new Metrics();
  collector = await Collector.create({
    lake,
    contracts,
    port: 0,
    metrics,
    routes: observeRoutes({ metrics, lakeRoot: join(dir, 'lake'), extra: () => ({ note: 'extra field' }) }),
  });
});

afterAll(async () => {
  await collector.close();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const line = (id: number, kind = 'view'): string => `${JSON.stringify({ id, kind, ts: '2026-05-01T12:00:00Z' })}\n`;

async function post(source: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${collector.url}/ingest/${source}`, { method: 'POST', body, headers });
  await response.arrayBuffer();
  return response.status;
}

function sample(text: string, series: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${series} `));
  return found === undefined ? undefined : Number(found.slice(series.length + 1));
}

describe('GET /metrics and /status', () => {
  it('count what the collector landed, quarantined and skipped', async () => {
    // 5 good + 2 bad (wrong enum, not JSON), then the same request again under a key twice
    const first = `${line(1)}${line(2)}${line(3, 'nope')}${line(4)}{"id": 5,\n${line(6)}${line(7)}`;
    expect(await post('events', first)).toBe(200);
    const keyed = `${line(10)}${line(11)}${line(12)}`;
    expect(await post('events', keyed, { 'idempotency-key': 'k-1' })).toBe(200);
    expect(await post('events', keyed, { 'idempotency-key': 'k-1' })).toBe(200);
    // all rejected: 400, still counted
    expect(await post('clicks', line(1, 'bad'))).toBe(400);

    const response = await fetch(`${collector.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    const bodyBytes = Buffer.byteLength(first) + Buffer.byteLength(keyed);
    expect(sample(text, 'lakeloop_records_received_total{source="events"}')).toBe(13);
    expect(sample(text, 'lakeloop_records_landed_total{source="events"}')).toBe(8);
    expect(sample(text, 'lakeloop_records_quarantined_total{source="events"}')).toBe(2);
    expect(sample(text, 'lakeloop_duplicates_skipped_total{source="events"}')).toBe(3);
    expect(sample(text, 'lakeloop_batches_total{source="events"}')).toBe(2);
    expect(sample(text, 'lakeloop_bytes_landed_total{source="events"}')).toBe(bodyBytes);
    expect(sample(text, 'lakeloop_records_quarantined_total{source="clicks"}')).toBe(1);
    expect(sample(text, 'lakeloop_records_landed_total{source="clicks"}')).toBe(0);
    expect(text).toContain('process_resident_memory_bytes');

    // the counters agree with the lake
    const bronze = await (await lake.table('bronze.events')).snapshot();
    expect(bronze.numRecords()).toBe(8);
    const quarantine = await (await lake.table('quarantine.events')).snapshot();
    expect(quarantine.numRecords()).toBe(2);

    const status = await fetch(`${collector.url}/status`);
    expect(status.headers.get('content-type')).toMatch(/^application\/json/);
    const json = (await status.json()) as MetricsSnapshot & { lake: string; note: string };
    expect(json.lake).toBe(join(dir, 'lake'));
    expect(json.note).toBe('extra field');
    expect(json.uptimeSeconds).toBeGreaterThan(0);
    expect(json.windowSeconds).toBe(60);
    expect(json.sources.map((s) => s.source)).toEqual(['clicks', 'events']);
    expect(json.sources[1]).toMatchObject({ received: 13, landed: 8, quarantined: 2, duplicates: 3, failed: 0, pending: 0, batches: 2, bytes: bodyBytes });
    expect(json.sources[1]?.perSecond.landed).toBeGreaterThan(0);
    expect(Date.parse(json.sources[1]?.lastLandingAt ?? '')).toBeGreaterThan(Date.parse(json.startedAt));
    expect(json.models).toEqual([]);
    expect(json.backlog).toEqual({ active: false, reasons: [] });
  });

  it('answers HEAD, refuses other methods, and lists the routes in a 404', async () => {
    const head = await fetch(`${collector.url}/status`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(10);
    const post = await fetch(`${collector.url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    await post.arrayBuffer();
    const missing = await fetch(`${collector.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { hint: string }).hint).toBe('POST records to /ingest/<source>; GET /healthz, /metrics, /status.');
  });
});
