import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cli/cli-harness.js';
import { spawnTs, type TsChild } from '../helpers/child.js';
import { LAKELOOP_ENTRY, writeProject } from '../helpers/project.js';
import { CONTRACT, SALES_PROJECT, salesOfDay } from '../fixtures/sales-project.js';
import { HAS_OPENLINEAGE_SPEC, openLineageAjv, openLineageProblems } from '../helpers/openlineage.js';

/**
 * `serve --alert-interval 1 --log-format json` in a child process (issue 15): a source with
 * a 3 s freshness SLO that stops receiving data raises one alert on each webhook (JSON and
 * Slack) within the evaluation interval, no duplicate while it lasts, a `resolved` when data
 * arrives again; a model that fails raises `run_failed`. Every line serve prints is JSON,
 * the model-run line has model/version/seconds, and the fake AWS credentials of its
 * environment are in no log line, alert body or lineage event.
 */
const FAKE_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const FAKE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const FRESHNESS_MS = 3_000;
const INTERVAL_MS = 1_000;

const LEAKY = `/*
kind: full
*/
SELECT CAST('${FAKE_SECRET}' AS INTEGER) AS n, amount FROM bronze.sales
`;

interface Hook {
  path: string;
  atMs: number;
  body: Record<string, unknown>;
}

let dir: string;
let remove: () => Promise<void>;
let lake: string;
let lineageFile: string;
let receiver: Server;
let child: TsChild;
let url: string;
const hooks: Hook[] = [];
let exitCode: number | string | undefined;

async function post(from: number): Promise<number> {
  const response = await fetch(`${url}/ingest/sales`, { method: 'POST', body: `${salesOfDay(1, from).slice(0, 5).map((s) => JSON.stringify(s)).join('\n')}\n` });
  expect(response.status).toBe(200);
  return Date.now();
}

async function until<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; webhooks got: ${JSON.stringify(hooks.map((h) => [h.path, h.body['status'] ?? h.body['text'], h.body['key']]))}\nstderr:\n${child.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const freshnessAlerts = (path: string, status: string): Hook[] => hooks.filter((h) => h.path === path && h.body['key'] === 'freshness:source:sales' && h.body['status'] === status);

beforeAll(async () => {
  ({ dir, remove } = await tempDir('serve-alerts'));
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      hooks.push({ path: req.url ?? '', atMs: Date.now(), body: JSON.parse(body) as Record<string, unknown> });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const project = await writeProject(join(dir, 'project'), {
    ...SALES_PROJECT,
    'contracts/sales.ts': CONTRACT.replace("drift: 'strict',", "drift: 'strict', freshness: '3s', runbook: 'https://wiki.example/runbooks/sales',"),
    'sql/silver/leaky.sql': LEAKY,
    'lakeloop.config.ts': [
      `import { defineConfig } from ${LAKELOOP_ENTRY};`,
      'export default defineConfig({',
      `  alerts: { webhooks: [{ url: '${base}/json', format: 'json', repeatMinutes: 60 }, { url: '${base}/slack', format: 'slack', repeatMinutes: 60 }] },`,
      '});',
    ].join('\n'),
  });
  lake = join(dir, 'lake');
  lineageFile = join(dir, 'lineage.ndjson');
  child = spawnTs(
    'bin/lakeloop.js',
    ['--lake', lake, 'serve', '--port', '0', '--poll-ms', '100', '--alert-interval', '1', '--log-format', 'json', '--full-every', '0'],
    { AWS_ACCESS_KEY_ID: FAKE_KEY_ID, AWS_SECRET_ACCESS_KEY: FAKE_SECRET, LAKELOOP_LINEAGE_FILE: lineageFile },
    project,
  );
  const line = await child.waitForLine(/"msg":"listening on http:\/\//, 90_000);
  url = (JSON.parse(line) as { msg: string }).msg.replace('listening on ', '').trim();
}, 120_000);

afterAll(async () => {
  if (child && child.process.exitCode === null) await child.kill();
  receiver?.close();
  await remove?.();
});

describe('serve: alerts on loopback webhooks, JSON logs, no credentials', () => {
  let landedAt = 0;

  it('a source that stops breaches its freshness SLO: one alert per webhook within the evaluation interval', async () => {
    landedAt = await post(1000);
    const firing = await until(() => freshnessAlerts('/json', 'firing').find((h) => h.atMs > landedAt), FRESHNESS_MS + 15_000, 'the freshness alert');
    expect(firing.atMs - landedAt).toBeGreaterThanOrEqual(FRESHNESS_MS);
    // Due at landedAt + SLO; seen at the next evaluation (plus a second of slack for a busy machine).
    expect(firing.atMs - landedAt).toBeLessThanOrEqual(FRESHNESS_MS + INTERVAL_MS + 1_500);
    // The person paged learns whose source it is and what to do: the contract's owner and runbook.
    expect(firing.body).toMatchObject({ status: 'firing', kind: 'freshness', subject: 'sales', owner: 'test', runbook: 'https://wiki.example/runbooks/sales' });
    const slack = await until(() => hooks.find((h) => h.path === '/slack' && h.atMs > landedAt && String(h.body['text']).includes('freshness')), 5_000, 'the Slack alert');
    expect(typeof slack.body['text']).toBe('string');
    expect(String(slack.body['text'])).toMatch(/FIRING.*freshness sales/);
    expect(String(slack.body['text'])).toContain('\nowner: test · runbook: https://wiki.example/runbooks/sales');
  }, 60_000);

  it('no duplicate within the repeat interval while it lasts', async () => {
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS + 500));
    expect(freshnessAlerts('/json', 'firing').filter((h) => h.atMs > landedAt)).toHaveLength(1);
    expect(hooks.filter((h) => h.path === '/slack' && h.atMs > landedAt && /FIRING.*freshness sales/.test(String(h.body['text'])))).toHaveLength(1);
  }, 30_000);

  it('data arriving again sends the recovery', async () => {
    const again = await post(2000);
    const resolved = await until(() => freshnessAlerts('/json', 'resolved').find((h) => h.atMs > again), 10_000, 'the recovery');
    expect(resolved.atMs - again).toBeLessThanOrEqual(INTERVAL_MS + 1_500);
    await until(() => hooks.find((h) => h.path === '/slack' && h.atMs > again && /RESOLVED/.test(String(h.body['text']))), 5_000, 'the Slack recovery');
  }, 30_000);

  it('a failing model raises run_failed once', async () => {
    const failed = await until(() => hooks.find((h) => h.path === '/json' && h.body['key'] === 'run_failed:silver.leaky'), 10_000, 'the run_failed alert');
    expect(failed.body).toMatchObject({ status: 'firing', kind: 'run_failed', subject: 'silver.leaky' });
    expect(String(failed.body['message'])).toContain('[redacted]');
  }, 30_000);

  it('every line printed is JSON, the model-run line has model/version/seconds; no credential in logs, alerts or lineage', async () => {
    child.process.kill('SIGTERM');
    exitCode = await child.exited;
    expect(exitCode).toBe(0);
    const out = child.lines.filter((l) => l.trim());
    const err = child.stderr().split('\n').filter((l) => l.trim());
    const parsed = [...out, ...err].map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not JSON: ${line}`);
      }
    });
    const run = parsed.find((l) => l['event'] === 'model_run' && l['model'] === 'gold.daily');
    expect(run).toMatchObject({ model: 'gold.daily', table: 'gold.daily' });
    expect(typeof run?.['version']).toBe('number');
    expect(typeof run?.['seconds']).toBe('number');
    expect(parsed.some((l) => l['event'] === 'batch_landed' && l['source'] === 'sales')).toBe(true);
    expect(parsed.some((l) => l['event'] === 'alert' && l['key'] === 'freshness:source:sales')).toBe(true);
    expect(parsed.some((l) => l['event'] === 'model_failed' && l['model'] === 'silver.leaky')).toBe(true);
    const lineage = await readFile(lineageFile, 'utf8');
    const events = lineage.trim().split('\n').map((l) => JSON.parse(l) as { eventType: string; job: { name: string }; outputs: { name: string; facets?: { version?: { datasetVersion: string } } }[] });
    expect(events.some((e) => e.job.name === 'gold.daily' && e.eventType === 'COMPLETE')).toBe(true);
    expect(events.some((e) => e.job.name === 'silver.leaky' && e.eventType === 'FAIL')).toBe(true);
    const landed = events.filter((e) => e.job.name === 'ingest.sales' && e.eventType === 'COMPLETE');
    expect(landed.length).toBeGreaterThanOrEqual(2);
    for (const e of landed) expect(Number(e.outputs[0]?.facets?.version?.datasetVersion)).toBeGreaterThanOrEqual(1);
    if (HAS_OPENLINEAGE_SPEC) {
      const ajv = openLineageAjv();
      for (const e of events) expect(openLineageProblems(ajv, e).problems, `${e.job.name} ${e.eventType}`).toEqual([]);
    }
    for (const text of [...out, ...err, ...hooks.map((h) => JSON.stringify(h.body)), lineage]) {
      expect(text).not.toContain(FAKE_SECRET);
      expect(text).not.toContain(FAKE_KEY_ID);
    }
  }, 60_000);
});
