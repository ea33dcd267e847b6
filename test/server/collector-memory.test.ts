import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { spawnTs, type TsChild } from '../helpers/child.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/**
 * The collector's memory is bounded server-wide, not per request: `lakeloop serve` in a
 * child process (so its RSS can be read from /proc) takes 40 concurrent bodies just under
 * the body limit with an in-flight budget of 4 bodies. The overflow is refused with 429 and
 * `Retry-After` before it is read, nothing gets a 5xx, every acknowledged record is in bronze
 * exactly once, and the peak RSS grows by less than a bound derived from the budget.
 */
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
const CLIENTS = 40;
/**
 * Peak RSS growth allowed: the budget held as bodies and as their batch in DuckDB (raw text
 * and checked rows, ~3 × the bytes), plus a fixed 64 MiB (DuckDB's buffers, V8 garbage not yet
 * collected). Measured: 48 MiB with the budget; 198 MiB without it (every body read whole at
 * once, 24 of them refused by per-source backpressure only after that).
 */
const RSS_GROWTH_BOUND = 4 * MAX_IN_FLIGHT_BYTES + 64 * 1024 * 1024;

let dir: string;
let project: string;
let engine: Engine;
let child: TsChild | undefined;

beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-memory-'));
  project = join(dir, 'project');
  await writeProject(project, { 'contracts/events.ts': eventsContract({ batch: '{ maxRecords: 1000000, maxMs: 100 }' }) });
});

afterAll(async () => {
  await child?.kill();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

/** One request's body: NDJSON events with ids from `first`, just under `MAX_BODY_BYTES`. */
function body(first: number): { text: string; ids: number[] } {
  const lines: string[] = [];
  const ids: number[] = [];
  let size = 0;
  for (let id = first; ; id++) {
    const line = `${JSON.stringify({ id, kind: id % 2 ? 'view' : 'click', ts: '2026-05-01T12:00:00Z' })}\n`;
    if (size + line.length > MAX_BODY_BYTES - 64) break;
    lines.push(line);
    ids.push(id);
    size += line.length;
  }
  return { text: lines.join(''), ids };
}

async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

describe('lakeloop serve under 40 concurrent bodies at the size limit', () => {
  it('keeps its peak RSS within the in-flight budget plus a fixed overhead, refusing the overflow with 429', async () => {
    const lakeRoot = join(dir, 'lake');
    child = spawnTs(
      'bin/lakeloop.js',
      ['--lake', lakeRoot, 'serve', '--port', '0', '--instance-id', 'memory', '--no-models', '--no-jobs', '--max-body-bytes', String(MAX_BODY_BYTES), '--max-in-flight-bytes', String(MAX_IN_FLIGHT_BYTES)],
      {},
      project,
    );
    const url = (await child.waitForLine(/^listening on http:\/\//)).replace('listening on ', '').trim();
    const pid = child.process.pid ?? 0;
    const post = async (text: string, key: string): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> => {
      const response = await fetch(`${url}/ingest/events`, { method: 'POST', body: text, headers: { 'idempotency-key': key } });
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Record<string, unknown> };
    };
    // warm-up, one body at a time: the tables exist, DuckDB and V8 have served full-size batches
    const bodies = Array.from({ length: CLIENTS + 3 }, (_, i) => body(i * 1_000_000));
    for (let i = CLIENTS; i < CLIENTS + 3; i++) expect((await post(bodies[i]!.text, `warm-${i}`)).status).toBe(200);
    const before = await memory(pid);

    const replies = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => post(bodies[i]!.text, `load-${i}`)));
    const after = await memory(pid);
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.every((s) => s === 200 || s === 429), statuses.join(',')).toBe(true);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => Number(r.retryAfter) >= 1 && typeof r.body['error'] === 'string' && typeof r.body['hint'] === 'string')).toBe(true);
    const growth = after.hwm - before.hwm;
    expect(growth, `peak RSS ${Math.round(before.hwm / 2 ** 20)} → ${Math.round(after.hwm / 2 ** 20)} MiB`).toBeLessThan(RSS_GROWTH_BOUND);

    child.process.kill('SIGTERM');
    expect(await child.exited, child.stderr()).toBe(0);
    child = undefined;
    const lake = await Lake.open({ store: await LocalObjectStore.create(lakeRoot), engine });
    const bronze = await (await lake.table('bronze.events')).snapshot();
    const acked = replies.flatMap((r, i) => (r.status === 200 ? [i] : []));
    const expected = acked.reduce((n, i) => n + bodies[i]!.ids.length, 0) + [CLIENTS, CLIENTS + 1, CLIENTS + 2].reduce((n, i) => n + bodies[i]!.ids.length, 0);
    const counts = await engine.all(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM (${await bronze.scanSql(lake.store)})`);
    expect(Number(counts[0]?.['n'])).toBe(expected);
    expect(Number(counts[0]?.['ids'])).toBe(expected);
    for (const i of acked) expect(replies[i]?.body['landed']).toBe(bodies[i]!.ids.length);
  }, 120_000);
});
