import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/core/index.js';
import { AlertManager, evaluateAlerts, HttpLineageSink, secretRedactor, type AlertCondition } from '../../src/observe/index.js';
import { cli, tempDir } from '../cli/cli-harness.js';
import { writeProject } from '../helpers/project.js';
import { SALES_PROJECT } from '../fixtures/sales-project.js';

/**
 * The sinks' failure behaviour and the alert state machine (issue 15): an unreachable
 * lineage endpoint is a warning that costs the run no waiting; alerts repeat only after
 * their interval, recover once, are retried on a 5xx, carry no credential; the config
 * keys are validated.
 */
let receiver: Server;
let base: string;
const bodies: { path: string; body: string }[] = [];
let failNext = 0;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (failNext > 0) {
        failNext -= 1;
        res.writeHead(500).end();
        return;
      }
      bodies.push({ path: req.url ?? '', body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(() => {
  receiver?.close();
});

describe('HttpLineageSink', () => {
  it('an unreachable endpoint becomes warnings, and closing does not wait on it', async () => {
    const warnings: string[] = [];
    const sink = new HttpLineageSink(`http://127.0.0.1:${await closedPort()}/api/v1/lineage`, (m) => warnings.push(m));
    const started = Date.now();
    for (let i = 0; i < 5; i++) sink.write(`{"n":${i}}`);
    await sink.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toMatch(/^Failed to deliver a lineage event to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/lineage: /);
  });

  it('lakeloop run with an unreachable LAKELOOP_LINEAGE_URL succeeds and warns', async () => {
    const { dir, remove } = await tempDir('lineage-down');
    try {
      const project = await writeProject(join(dir, 'project'), SALES_PROJECT);
      const file = join(dir, 'sales.ndjson');
      await writeFile(file, `${JSON.stringify({ id: 1, store: 'north', amount: 10, status: 'placed', ts: '2026-03-01T10:00:00Z' })}\n`);
      const lake = join(dir, 'lake');
      expect((await cli(['--lake', lake, 'ingest', 'sales', '--file', file], project)).code).toBe(0);
      const run = await cli(['--lake', lake, 'run'], project, { LAKELOOP_LINEAGE_URL: `http://127.0.0.1:${await closedPort()}/api/v1/lineage` });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/warning: Failed to deliver a lineage event/);
    } finally {
      await remove();
    }
  });
});

describe('AlertManager', () => {
  const condition = (firing: boolean, message = 'no batch landed for 6 s'): AlertCondition => ({ key: 'freshness:source:sales', kind: 'freshness', subject: 'sales', firing, message });

  it('sends a firing alert once per repeat interval, a recovery once, and fires again at once after recovering', async () => {
    let now = 1_000_000;
    const path = '/dedup';
    const alerts = new AlertManager({ webhooks: [{ url: `${base}${path}`, format: 'json', repeatMinutes: 10 }], nowMs: () => now });
    const sent = (): string[] => bodies.filter((b) => b.path === path).map((b) => (JSON.parse(b.body) as { status: string }).status);
    alerts.update([condition(true)]);
    now += 60_000;
    alerts.update([condition(true)]);
    now += 8 * 60_000;
    alerts.update([condition(true)]);
    await alerts.close();
    expect(sent()).toEqual(['firing']);
    now += 2 * 60_000;
    alerts.update([condition(true)]);
    alerts.update([condition(false)]);
    alerts.update([condition(false)]);
    await alerts.close();
    expect(sent()).toEqual(['firing', 'firing', 'resolved']);
    alerts.update([condition(true)]);
    await alerts.close();
    expect(sent()).toEqual(['firing', 'firing', 'resolved', 'firing']);
  });

  it('retries a webhook that answers 500, and redacts credentials from the body (Slack: text)', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const path = '/retry';
    failNext = 2;
    const alerts = new AlertManager({
      webhooks: [{ url: `${base}${path}`, format: 'slack' }],
      redact: secretRedactor({ AWS_SECRET_ACCESS_KEY: secret }),
      policy: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
    });
    alerts.update([{ key: 'run_failed:silver.x', kind: 'run_failed', subject: 'silver.x', firing: true, message: `model run failed: could not read '${secret}' (AKIAIOSFODNN7EXAMPLE)` }]);
    await alerts.close();
    const got = bodies.filter((b) => b.path === path);
    expect(got).toHaveLength(1);
    const text = (JSON.parse(got[0]?.body ?? '{}') as { text: string }).text;
    expect(text).toMatch(/FIRING lakeloop run_failed silver\.x: model run failed: could not read '\[redacted\]' \(\[redacted\]\)/);
  });

  it('evaluates freshness from when serve started, failed runs until they succeed, and quarantine spikes', () => {
    const conditions = evaluateAlerts(
      {
        nowMs: 10_000,
        sinceMs: 0,
        freshness: [
          { kind: 'source', name: 'sales', maxAgeMs: 5_000, lastMs: undefined },
          { kind: 'model', name: 'gold.daily', maxAgeMs: 5_000, lastMs: 8_000 },
        ],
        failedModels: new Map([['silver.bad', 'boom']]),
        failedJobs: new Map(),
        quarantine: [
          { source: 'sales', quarantined: 30, landed: 10 },
          { source: 'orders', quarantined: 3, landed: 0 },
        ],
      },
      { models: ['silver.bad', 'gold.daily'], jobs: ['nightly'] },
    );
    const firing = Object.fromEntries(conditions.map((c) => [c.key, c.firing]));
    expect(firing).toEqual({
      'freshness:source:sales': true,
      'freshness:model:gold.daily': false,
      'run_failed:silver.bad': true,
      'run_failed:gold.daily': false,
      'job_failed:nightly': false,
      'quarantine_rate:sales': true,
      'quarantine_rate:orders': false,
    });
  });
});

describe('config: lineage and alerts', () => {
  it('accepts the keys, resolves the lineage file against the project, and names a mistyped key', () => {
    const config = validateConfig(
      { lineage: { file: 'out/lineage.ndjson', url: 'http://127.0.0.1:5000/api/v1/lineage', sampleIngest: 0.1 }, alerts: { webhooks: [{ url: 'https://hooks.example/x', format: 'slack', repeatMinutes: 30 }] } },
      '/p/lakeloop.config.ts',
      '/p',
    );
    expect(config.lineage).toEqual({ file: '/p/out/lineage.ndjson', url: 'http://127.0.0.1:5000/api/v1/lineage', sampleIngest: 0.1 });
    expect(config.alerts.webhooks).toEqual([{ url: 'https://hooks.example/x', format: 'slack', repeatMinutes: 30 }]);
    expect(validateConfig({}, undefined, '/p').alerts.webhooks).toEqual([]);
    expect(() => validateConfig({ lineage: { fil: 'x' } }, '/p/lakeloop.config.ts', '/p')).toThrow(ConfigError);
    expect(() => validateConfig({ lineage: { fil: 'x' } }, '/p/lakeloop.config.ts', '/p')).toThrow(/did you mean 'file'/);
    expect(() => validateConfig({ alerts: { webhooks: [{ url: 'ftp://x' }] } }, '/p/lakeloop.config.ts', '/p')).toThrow(/http\(s\) URL/);
  });
});
