import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { AlertManager, JsonEventLog, ServeObserver } from '../../src/observe/index.js';

/**
 * Every alert about a source or a model carries its owner and runbook (issue 15: the person
 * paged knows whose it is and what to do), in the JSON body and in the Slack text, delivered
 * to a real webhook receiver on loopback; an alert about a job (no owner) carries neither.
 */
let receiver: Server;
let base: string;
const bodies: { path: string; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(() => {
  receiver?.close();
});

describe('owner and runbook in alerts', () => {
  it('a source freshness breach, a failing model and a failing job: the first two name owner and runbook, the job neither', async () => {
    const clock = new ManualClock(1_000_000);
    const alerts = new AlertManager({ webhooks: [{ url: `${base}/json`, format: 'json' }, { url: `${base}/slack`, format: 'slack' }], nowMs: () => clock.nowMs() });
    const observer = new ServeObserver({
      log: new JsonEventLog({ write: () => undefined }),
      alerts,
      sources: [{ name: 'orders', freshnessMs: 60_000, owner: 'checkout-team', runbook: 'https://wiki.example/runbooks/orders' }],
      models: [{ name: 'silver.orders', owner: 'analytics', runbook: 'rerun with lakeloop run silver.orders, then page analytics-oncall' }, { name: 'gold.revenue' }],
      jobs: ['nightly'],
      nowMs: () => clock.nowMs(),
    });
    clock.advance(120_000);
    observer.modelFailed(Object.assign(new Error('Binder Error: column "amout" not found'), { model: 'silver.orders' }));
    observer.modelFailed(Object.assign(new Error('division by zero'), { model: 'gold.revenue' }));
    observer.job({ level: 'error', message: 'nightly failed: disk full', job: 'nightly' });
    observer.evaluate();
    await alerts.close();

    const json = (key: string): Record<string, unknown> | undefined => bodies.find((b) => b.path === '/json' && b.body['key'] === key)?.body;
    expect(json('freshness:source:orders')).toMatchObject({ status: 'firing', subject: 'orders', owner: 'checkout-team', runbook: 'https://wiki.example/runbooks/orders' });
    expect(json('run_failed:silver.orders')).toMatchObject({ status: 'firing', owner: 'analytics', runbook: 'rerun with lakeloop run silver.orders, then page analytics-oncall' });
    expect(json('run_failed:gold.revenue')).toBeDefined();
    expect(json('run_failed:gold.revenue')).not.toHaveProperty('owner');
    expect(json('run_failed:gold.revenue')).not.toHaveProperty('runbook');
    expect(json('job_failed:nightly')).toBeDefined();
    expect(json('job_failed:nightly')).not.toHaveProperty('owner');

    const slack = bodies.filter((b) => b.path === '/slack').map((b) => String(b.body['text']));
    expect(slack.find((t) => t.includes('freshness orders'))).toMatch(/^:rotating_light: FIRING lakeloop freshness orders: no batch landed .*\nowner: checkout-team · runbook: https:\/\/wiki\.example\/runbooks\/orders$/);
    expect(slack.find((t) => t.includes('run_failed silver.orders'))).toMatch(/\nowner: analytics · runbook: rerun with lakeloop run silver\.orders, then page analytics-oncall$/);
    expect(slack.find((t) => t.includes('job_failed nightly'))).not.toContain('owner:');

    // Recovery carries them too: the resolved message reaches the same people.
    bodies.length = 0;
    observer.modelRuns([], 0);
    observer.landing({ source: 'orders', received: 5, landed: 5, quarantined: 0, duplicates: 0, files: 1, addedColumns: [] });
    observer.evaluate();
    await alerts.close();
    expect(json('freshness:source:orders')).toMatchObject({ status: 'resolved', owner: 'checkout-team', runbook: 'https://wiki.example/runbooks/orders' });
    await observer.stop();
  });
});
