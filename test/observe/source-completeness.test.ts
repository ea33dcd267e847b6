import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineContract, type Contract, type ContractDefinition } from '../../src/contracts/index.js';
import { ConfigError, ManualClock } from '../../src/core/index.js';
import { Engine } from '../../src/engine/index.js';
import { AlertManager, JsonEventLog, ObservedMetrics, ServeObserver, type AlertMessage } from '../../src/observe/index.js';
import { Collector, observeRoutes } from '../../src/server/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';
import { CONTRACT, SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';

/**
 * A source's completeness SLO (issue 15: landed vs received): records posted to a real
 * collector over a temp lake, a strict contract quarantining the bad ones, serve's observer
 * fed by the collector's metrics as in `serve`; breach and recovery reach a real webhook
 * receiver on loopback, and `/status` and `/metrics` show the ratio. Time is a `ManualClock`.
 */
const schema = z.object({ id: z.int(), ts: z.iso.datetime({ offset: true }) });
const base = { source: 'events', version: 1, owner: 'ingest-team', runbook: 'https://wiki.example/runbooks/events', key: ['id'], eventTime: 'ts', drift: 'strict', schema, batch: { maxMs: 10 } } as const;

let engine: Engine;
let dir: string;
let lake: Lake;
let receiver: Server;
let hook: string;
const received: AlertMessage[] = [];

beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-source-completeness-'));
  lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push(JSON.parse(body) as AlertMessage);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/json`;
});

afterAll(async () => {
  receiver?.close();
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('source completeness SLO: the contract', () => {
  it('takes minLandedRatio and a window (default 15m), and says what is wrong with a bad one', () => {
    expect(defineContract({ ...base, completeness: { minLandedRatio: 0.99 } }).completeness).toEqual({ minLandedRatio: 0.99, window: '15m', windowMs: 900_000 });
    expect(defineContract({ ...base, completeness: { minLandedRatio: 1, window: '1h' } }).completeness).toEqual({ minLandedRatio: 1, window: '1h', windowMs: 3_600_000 });
    expect(defineContract(base).completeness).toBeUndefined();
    const issues = (completeness: unknown): string[] => {
      try {
        defineContract({ ...base, completeness } as unknown as ContractDefinition);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      }
      throw new Error('expected defineContract to throw');
    };
    expect(issues({ minLandedRatio: 99 })).toEqual(['completeness.minLandedRatio: expected the share of received records that must land, such as 0.99 (above 0, at most 1)']);
    expect(issues({ minLandedRatio: 0.9, window: 'soon' })).toEqual(['completeness.window: expected a duration such as 5m, 15m, 1h']);
    expect(issues({ min_landed_ratio: 0.99 })).toEqual([
      'completeness.minLandedRatio: expected the share of received records that must land, such as 0.99',
      'completeness: unknown field "min_landed_ratio"',
    ]);
    expect(issues(0.99)).toEqual(['completeness: expected { minLandedRatio: 0.99, window?: "15m" }']);
  });
});

describe('source completeness SLO in serve', () => {
  it('too many quarantined in the window breaches (one alert, with owner and runbook), shown in /status and /metrics; once they age out, it recovers', async () => {
    const contract: Contract = defineContract({ ...base, completeness: { minLandedRatio: 0.9, window: '5m' } });
    const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
    const alerts = new AlertManager({ webhooks: [{ url: hook, format: 'json' }], nowMs: () => clock.nowMs() });
    let observer: ServeObserver | undefined;
    const metrics = new ObservedMetrics({ processMetrics: false }, (counts) => observer?.landing(counts));
    observer = new ServeObserver({
      log: new JsonEventLog({ write: () => undefined }),
      alerts,
      sources: [{ name: 'events', owner: contract.owner, runbook: contract.runbook, completeness: contract.completeness }],
      models: [],
      jobs: [],
      nowMs: () => clock.nowMs(),
    });
    const watch = observer;
    metrics.watchSlos(() => ({ held: [], completeness: [], sources: watch.sourceCompleteness() }));
    const collector = await Collector.create({
      lake,
      contracts: new Map([['events', contract]]),
      port: 0,
      metrics,
      routes: observeRoutes({ metrics, lakeRoot: dir, extra: () => ({ sourceCompleteness: watch.sourceCompleteness() }) }),
    });
    try {
      const post = async (lines: readonly unknown[]): Promise<void> => {
        const response = await fetch(`${collector.url}/ingest/events`, { method: 'POST', body: `${lines.map((l) => JSON.stringify(l)).join('\n')}\n` });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      };
      const good = (from: number, n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ id: from + i, ts: '2026-12-07T11:00:00Z' }));
      const evaluate = async (): Promise<AlertMessage[]> => {
        const before = received.length;
        watch.evaluate();
        await alerts.close();
        return received.slice(before);
      };

      // 20 received, all landed: met, nothing sent.
      await post(good(1, 20));
      expect(watch.sourceCompleteness()).toMatchObject([{ source: 'events', met: true, received: 20, landed: 20, quarantined: 0, landedRatio: 1 }]);
      expect(await evaluate()).toEqual([]);

      // 5 more, 4 of them refused by the strict contract (a string id, unknown fields): 21 of 25 = 84% < 90%.
      clock.advance(60_000);
      await post([{ id: 'x1', ts: '2026-12-07T11:00:00Z' }, { id: 30, ts: '2026-12-07T11:00:00Z', extra: 1 }, { id: 31, ts: 'yesterday' }, { ts: '2026-12-07T11:00:00Z' }, ...good(40, 1)]);
      const [breach] = watch.sourceCompleteness();
      expect(breach).toMatchObject({ met: false, received: 25, landed: 21, quarantined: 4, landedRatio: 0.84, minLandedRatio: 0.9, window: '5m' });
      const firing = await evaluate();
      expect(firing).toHaveLength(1);
      expect(firing[0]).toMatchObject({
        status: 'firing',
        key: 'completeness:source:events',
        kind: 'completeness',
        subject: 'events',
        owner: 'ingest-team',
        runbook: 'https://wiki.example/runbooks/events',
        details: { received: 25, landed: 21, quarantined: 4, landedRatio: 0.84, minLandedRatio: 0.9, window: '5m' },
      });
      expect(firing[0]?.message).toBe('84.0% of the records received in the last 5m landed (21 of 25; 4 quarantined); SLO at least 90.0%: see quarantine.events for the reasons');
      // De-duplicated while it lasts.
      expect(await evaluate()).toEqual([]);

      const status = (await (await fetch(`${collector.url}/status`)).json()) as { sourceCompleteness: unknown[] };
      expect(status.sourceCompleteness).toMatchObject([{ source: 'events', met: false, landedRatio: 0.84 }]);
      const text = await (await fetch(`${collector.url}/metrics`)).text();
      expect(text).toContain('lakeloop_source_completeness_slo_met{source="events"} 0');
      expect(text).toContain('lakeloop_source_landed_ratio{source="events"} 0.84');

      // Five minutes on, the bad batch is out of the window; 10 clean records: met again, a resolved.
      clock.advance(5 * 60_000);
      await post(good(100, 10));
      expect(watch.sourceCompleteness()).toMatchObject([{ met: true, received: 10, landed: 10, landedRatio: 1 }]);
      expect(await evaluate()).toMatchObject([{ status: 'resolved', key: 'completeness:source:events', owner: 'ingest-team' }]);
      expect(await (await fetch(`${collector.url}/metrics`)).text()).toContain('lakeloop_source_completeness_slo_met{source="events"} 1');
    } finally {
      await collector.close();
      await watch.stop();
    }
  }, 60_000);
});

describe('source completeness SLO in lakeloop status', () => {
  it("computes landed vs received over the window from the bronze commits' counters: met, then breached by a batch mostly quarantined", async () => {
    const { dir: root, remove } = await tempDir('status-source-completeness');
    try {
      const project = await writeProject(join(root, 'project'), { ...SALES_PROJECT, 'contracts/sales.ts': CONTRACT.replace("drift: 'strict',", "drift: 'strict', completeness: { minLandedRatio: 0.95, window: '1h' },") });
      const lakeRoot = join(root, 'lake');
      const ingest = async (lines: readonly unknown[], n: number): Promise<void> => {
        const file = join(root, `batch-${n}.ndjson`);
        await writeFile(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
        expect((await cli(['--lake', lakeRoot, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
      };
      const status = async (): Promise<{ json: { sourceCompleteness?: unknown[] }; text: string }> => {
        const json = await cli(['--lake', lakeRoot, 'status', '--json'], project);
        expect(json.code, json.stderr).toBe(0);
        const text = await cli(['--lake', lakeRoot, 'status'], project);
        return { json: JSON.parse(json.stdout.trim().split('\n').at(-1) ?? '{}') as { sourceCompleteness?: unknown[] }, text: text.stdout };
      };
      const sales = salesOfDay(1, 1000);
      await ingest(sales, 1);
      const met = await status();
      expect(met.json.sourceCompleteness).toMatchObject([{ source: 'sales', met: true, received: sales.length, landed: sales.length, quarantined: 0, landedRatio: 1, window: '1h' }]);
      expect(met.text).toMatch(/source completeness SLOs \(landed vs received\):\n {2}sales: met — 100\.0% of the records received in the last 1h landed/);
      // Ten sales with a store that is not a string: quarantined by the strict contract.
      await ingest(salesOfDay(1, 5000).slice(0, 10).map((s) => ({ ...s, store: 7 })), 2);
      const breached = await status();
      expect(breached.json.sourceCompleteness).toMatchObject([{ source: 'sales', met: false, received: sales.length + 10, landed: sales.length, quarantined: 10 }]);
      expect(breached.text).toMatch(/ {2}sales: BREACHED — .* landed \(\d+ of \d+; 10 quarantined\); SLO at least 95\.0%: see quarantine\.sales for the reasons/);
    } finally {
      await remove();
    }
  }, 120_000);
});
