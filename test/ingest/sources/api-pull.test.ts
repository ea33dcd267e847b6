import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract, type Contract } from '../../../src/contracts/index.js';
import { ManualClock } from '../../../src/core/index.js';
import { Engine } from '../../../src/engine/index.js';
import { ApiPullSource, type ApiPullSourceOptions } from '../../../src/ingest/index.js';
import { LocalObjectStore } from '../../../src/storage/index.js';
import { Lake } from '../../../src/table/index.js';

/** The API pull against a real HTTP server on loopback that pages its events by cursor. */
const schema = z.object({ id: z.string().min(1), amount: z.number().nonnegative(), ts: z.iso.datetime({ offset: true }) });
const contract = (source: string): Contract => defineContract({ source, version: 1, owner: 'test', schema, key: ['id'], eventTime: 'ts', drift: 'strict' });
const item = (id: string, amount = 1) => ({ id, amount, ts: '2026-03-01T10:00:00Z' });

/** cursor ('' = first page) → the response body. */
type Pages = Map<string, { items: unknown[]; nextCursor: string | null }>;

let engine: Engine;
let dir: string;
let server: Server;
let baseUrl: string;
let requests: { cursor: string | null; auth: string | undefined }[];
let handler: (cursor: string | null, res: ServerResponse) => void;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-pull-'));
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cursor = url.searchParams.get('cursor');
    requests.push({ cursor, auth: req.headers.authorization });
    handler(cursor, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  requests = [];
});

function serve(pages: Pages, failures: Map<string, number[]> = new Map()): void {
  handler = (cursor, res) => {
    const statuses = failures.get(cursor ?? '');
    const status = statuses?.shift();
    if (status !== undefined) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `status ${status}` }));
      return;
    }
    const page = pages.get(cursor ?? '');
    if (!page) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `unknown cursor ${cursor}` }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
  };
}

const threePages = (): Pages =>
  new Map([
    ['', { items: [item('e1'), item('e2')], nextCursor: 'c2' }],
    ['c2', { items: [item('e3'), item('e4', -5)], nextCursor: 'c3' }],
    ['c3', { items: [item('e5')], nextCursor: null }],
  ]);

describe('ApiPullSource', () => {
  let lake: Lake;
  const clock = new ManualClock(Date.parse('2026-03-02T00:00:00Z'));

  beforeAll(async () => {
    lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  });

  function pull(c: Contract, path: string, extra: Partial<ApiPullSourceOptions> = {}): ApiPullSource {
    return new ApiPullSource({ lake, contract: c, url: `${baseUrl}${path}`, cursorParam: 'cursor', intervalMs: 1_000, clock, retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 }, ...extra });
  }

  async function rows(source: string): Promise<Record<string, unknown>[]> {
    const snapshot = await (await lake.table(`bronze.${source}`)).snapshot();
    return engine.all(`SELECT id, _ingest_id, _source_offset FROM (${await snapshot.scanSql(lake.store)}) ORDER BY id`);
  }

  it('follows three pages by cursor, one bronze batch each, and keeps the cursor as the offset in the log', async () => {
    serve(threePages());
    const c = contract('pull_three');
    const source = pull(c, '/events?limit=2', { headers: { authorization: 'Bearer t0ken' } });
    const summary = await source.pollOnce();
    expect(summary.error).toBeUndefined();
    expect(summary.pages.map((p) => [p.page, p.cursor, p.next, p.landed, p.quarantined])).toEqual([
      [1, undefined, 'c2', 2, 0],
      [2, 'c2', 'c3', 1, 1],
      [3, 'c3', undefined, 1, 0],
    ]);
    expect(summary).toMatchObject({ landed: 4, quarantined: 1, caughtUp: true, retries: 0, resumedFrom: { page: 0 } });
    expect(requests).toEqual([
      { cursor: null, auth: 'Bearer t0ken' },
      { cursor: 'c2', auth: 'Bearer t0ken' },
      { cursor: 'c3', auth: 'Bearer t0ken' },
    ]);
    // each row: its page's position, and its number among the page's records
    expect((await rows(c.source)).map((r) => `${r['_source_offset']} ${r['_ingest_id']}`)).toEqual(['page=1&next=c2 1', 'page=1&next=c2 2', 'page=2&cursor=c2&next=c3 1', 'page=3&cursor=c3 1']);

    // read back from the log: txn version = last page, commitInfo.lakeloop.sourceOffset holds the cursors
    const table = await lake.table(`bronze.${c.source}`);
    expect((await table.snapshot()).txns.get(source.appId)).toBe(3);
    expect(source.appId).toBe(`pull:pull_three:${baseUrl}/events?limit=2`);
    const offsets = (await table.history())
      .filter((h) => h.txns.some((t) => t.appId === source.appId))
      .map((h) => (h.commitInfo['lakeloop'] as { sourceOffset: string }).sourceOffset);
    expect(offsets).toEqual(['page=3&cursor=c3', 'page=2&cursor=c2&next=c3', 'page=1&next=c2']);
    expect(await source.position()).toEqual({ page: 3, next: undefined });

    // the feed ended (no next cursor): a later poll requests nothing and lands nothing
    requests = [];
    expect(await pull(c, '/events?limit=2').pollOnce()).toMatchObject({ pages: [], caughtUp: true, resumedFrom: { page: 3, next: undefined } });
    expect(requests).toEqual([]);
  });

  it('a restart resumes after the last committed page and never lands a page twice', async () => {
    const pages: Pages = new Map([
      ['', { items: [item('r1')], nextCursor: 'c2' }],
      ['c2', { items: [item('r2')], nextCursor: 'c3' }],
      ['c3', { items: [item('r3')], nextCursor: 'c4' }],
      ['c4', { items: [], nextCursor: 'c4' }],
    ]);
    serve(pages);
    const c = contract('pull_restart');
    const first = await pull(c, '/feed', { maxPagesPerPoll: 2 }).pollOnce();
    expect(first).toMatchObject({ caughtUp: false, pages: [{ page: 1 }, { page: 2 }] });

    requests = [];
    const restarted = pull(c, '/feed');
    expect(await restarted.position()).toEqual({ page: 2, next: 'c3' });
    const second = await restarted.pollOnce();
    expect(second).toMatchObject({ resumedFrom: { page: 2, next: 'c3' }, caughtUp: true, pages: [{ page: 3, cursor: 'c3', next: 'c4', landed: 1 }] });
    expect(requests.map((r) => r.cursor)).toEqual(['c3', 'c4']);

    // the source grows at the cursor it handed out last: the next poll (another instance) lands only the new page
    pages.set('c4', { items: [item('r4')], nextCursor: 'c5' });
    pages.set('c5', { items: [], nextCursor: 'c5' });
    requests = [];
    const third = await pull(c, '/feed').pollOnce();
    expect(third).toMatchObject({ resumedFrom: { page: 3, next: 'c4' }, pages: [{ page: 4, cursor: 'c4', landed: 1 }], caughtUp: true });
    expect(requests.map((r) => r.cursor)).toEqual(['c4', 'c5']);
    expect((await rows(c.source)).map((r) => r['id'])).toEqual(['r1', 'r2', 'r3', 'r4']);
  });

  it('retries a 500 (and a 503) with backoff, then lands the page once', async () => {
    serve(threePages(), new Map([['c2', [500, 503]]]));
    const c = contract('pull_retry');
    const summary = await pull(c, '/retry').pollOnce();
    expect(summary).toMatchObject({ retries: 2, landed: 4, caughtUp: true, pages: [{ page: 1 }, { page: 2 }, { page: 3 }] });
    expect(summary.error).toBeUndefined();
    expect(requests.map((r) => r.cursor)).toEqual([null, 'c2', 'c2', 'c2', 'c3']);
    expect((await rows(c.source)).map((r) => r['id'])).toEqual(['e1', 'e2', 'e3', 'e5']);
  });

  it('a 4xx is reported, not retried; persistent 5xx gives up after the policy and the next poll resumes there', async () => {
    serve(threePages(), new Map([['c2', [401]]]));
    const c = contract('pull_4xx');
    const rejected = await pull(c, '/rejected').pollOnce();
    expect(rejected).toMatchObject({ pages: [{ page: 1 }], caughtUp: false, retries: 0, error: { code: 'API_REJECTED', status: 401 } });
    expect(rejected.error?.message).toMatch(/HTTP 401/);
    expect(rejected.error?.message).not.toMatch(/t0ken/);
    expect(requests.map((r) => r.cursor)).toEqual([null, 'c2']);

    serve(threePages(), new Map([['c2', [502, 502, 502]]]));
    requests = [];
    const unavailable = await pull(c, '/rejected').pollOnce();
    expect(unavailable).toMatchObject({ pages: [], retries: 2, error: { code: 'API_UNAVAILABLE', status: 502 }, resumedFrom: { page: 1, next: 'c2' } });
    requests = [];
    const recovered = await pull(c, '/rejected').pollOnce();
    expect(recovered).toMatchObject({ pages: [{ page: 2 }, { page: 3 }], caughtUp: true });
    expect(requests.map((r) => r.cursor)).toEqual(['c2', 'c3']);
  });

  it('an unreachable API is a retried network error, reported when retries run out', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const source = new ApiPullSource({ lake, contract: contract('pull_down'), url: `http://127.0.0.1:${port}/x`, cursorParam: 'cursor', intervalMs: 1_000, clock, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 } });
    expect(await source.pollOnce()).toMatchObject({ pages: [], retries: 1, error: { code: 'API_UNREACHABLE' } });
  });

  it('reads items and the cursor at configured paths', async () => {
    handler = (cursor, res) => {
      const body = cursor === null ? { data: { rows: [item('p1')] }, meta: { next: 7 } } : { data: { rows: [] }, meta: { next: null } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const c = contract('pull_paths');
    const summary = await pull(c, '/paths', { itemsPath: 'data.rows', nextCursorPath: 'meta.next' }).pollOnce();
    expect(summary).toMatchObject({ pages: [{ page: 1, next: '7', landed: 1 }], caughtUp: true });
    expect(requests.map((r) => r.cursor)).toEqual([null, '7']);
  });
});
