import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineContract, type Contract } from '../../../src/contracts/index.js';
import { Engine } from '../../../src/engine/index.js';
import { Metrics } from '../../../src/observe/index.js';
import { lakeStatus } from '../../../src/query/index.js';
import { Collector, DecisionLog, lineageGraph, StreamingLoop, WebConsole } from '../../../src/server/index.js';
import { LocalObjectStore } from '../../../src/storage/index.js';
import { Lake } from '../../../src/table/index.js';

/** The console's API on a real collector over a temp lake: static files, JSON, SSE, and the controls' token. */
const schema = z.object({ id: z.int(), ts: z.iso.datetime({ offset: true }) });
const contract: Contract = defineContract({ source: 'events', version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: 'strict', schema, batch: { maxMs: 20 } });

let engine: Engine;
let dir: string;
let lake: Lake;
const servers: { collector: Collector; web: WebConsole }[] = [];

async function start(controlToken: string | undefined): Promise<string> {
  const metrics = new Metrics({ processMetrics: false });
  const decisions = new DecisionLog({ foldLandings: true });
  const loop = new StreamingLoop({ lake, models: [], eventTimeColumns: {}, compaction: false });
  const web = await WebConsole.create({
    status: () => ({ lake: dir, ...metrics.snapshot() }),
    tables: () => lakeStatus(lake),
    jobs: async () => [],
    lineage: lineageGraph(['events'], []),
    decisions,
    control: loop,
    controlToken,
  });
  const collector = await Collector.create({ lake, contracts: new Map([['events', contract]]), port: 0, metrics, endpoints: web.endpoints(), onLanding: (o) => decisions.recordLanding(o) });
  servers.push({ collector, web });
  return collector.url;
}

beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-console-api-'));
  lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
});

afterAll(async () => {
  for (const { collector, web } of servers) {
    await web.close();
    await collector.close();
  }
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the console API', () => {
  it('serves the page, its CSS and module as they are, and the console JSON', async () => {
    const url = await start('T');
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/console.js"></script>');
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN: works offline
    expect((await fetch(`${url}/console.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${url}/console.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    await fetch(`${url}/ingest/events`, { method: 'POST', body: '{"id":1,"ts":"2026-03-01T00:00:00Z"}\n' });
    const data = (await (await fetch(`${url}/api/console`)).json()) as Record<string, any>;
    expect(data['status'].sources[0]).toMatchObject({ source: 'events', landed: 1 });
    expect(data['lake'].tables.map((t: { name: string }) => t.name)).toContain('bronze.events');
    expect(data['control']).toMatchObject({ mode: 'auto', tokenConfigured: true, waiting: ['events batch v1: 1 landed, 0 quarantined'] });
    expect(data['lineage'].edges).toEqual([{ from: 'source:events', to: 'bronze.events' }]);
  });

  it('streams the snapshot and each new decision as server-sent events', async () => {
    const url = await start('T');
    const controller = new AbortController();
    const response = await fetch(`${url}/api/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const decoder = new TextDecoder();
    const until = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(text)) text += decoder.decode((await reader.read()).value);
    };
    await until(/event: console\n/);
    await fetch(`${url}/api/control/pause`, { method: 'POST', headers: { authorization: 'Bearer T' } });
    await until(/event: decision\ndata: .*paused by the operator/);
    await until(/event: snapshot\ndata: .*"mode":"paused"/);
    controller.abort();
  });

  it('refuses control requests without the right token (401), and answers with it', async () => {
    const url = await start('T');
    const post = (action: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${url}/api/control/${action}`, { method: 'POST', headers });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'T' }] as Record<string, string>[]) {
      const refused = await post('pause', headers);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await fetch(`${url}/api/control/pause`)).status).toBe(405);
    const ok = { authorization: 'Bearer T' };
    expect(await (await post('pause', ok)).json()).toMatchObject({ mode: 'paused', decision: { kind: 'control' } });
    const step = (await (await post('step', ok)).json()) as { mode: string; ran: boolean; decision: { text: string; trigger: string } };
    expect(step).toMatchObject({ mode: 'paused', ran: false, decision: { trigger: 'step' } });
    expect(step.decision.text).toBe('no model ran: no new bronze commit since the last run');
    expect(await (await post('resume', ok)).json()).toMatchObject({ mode: 'auto' });
  });

  it('disables the controls when no token is configured (403 with a hint)', async () => {
    const url = await start(undefined);
    const response = await fetch(`${url}/api/control/step`, { method: 'POST', headers: { authorization: 'Bearer anything' } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { hint: string }).hint).toMatch(/--control-token/);
  });
});
