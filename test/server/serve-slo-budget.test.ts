import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../cli/cli-harness.js';
import { spawnTs, type TsChild } from '../helpers/child.js';
import { LAKELOOP_ENTRY, writeProject } from '../helpers/project.js';
import { day, SALES_PROJECT, salesOfDay, SILVER, type Sale } from '../fixtures/sales-project.js';

/**
 * `serve` end to end (issue 15): with `budgets.maxBytesScannedPerRun` in `warn` mode the
 * streaming cycles run and the breach reaches a loopback webhook as a `budget` alert; a
 * model's completeness SLO is evaluated from partition status and shown in `/status` and
 * `/metrics`; a late row deferred behind the horizon breaches it and alerts; the streaming
 * circuit runs with `budgets.circuits.streaming` (read back from DuckDB in `/status`).
 */
// exact_after is left to test/observe/slo-alerts.test.ts: serve's first cycle builds silver from an empty bronze, so every day here is provisional.
const SLO_SILVER = SILVER.replace('lateness: 2h', 'lateness: 2h\ncompleteness:\n  max_pending_late_rows: 0');

interface Hook {
  atMs: number;
  body: Record<string, unknown>;
}

let dir: string;
let remove: () => Promise<void>;
let receiver: Server;
let child: TsChild;
let url: string;
const hooks: Hook[] = [];

async function post(sales: readonly Sale[]): Promise<void> {
  const response = await fetch(`${url}/ingest/sales`, { method: 'POST', body: `${sales.map((s) => JSON.stringify(s)).join('\n')}\n` });
  expect(response.status).toBe(200);
}

async function until<T>(find: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; webhooks got: ${JSON.stringify(hooks.map((h) => [h.body['key'], h.body['status']]))}\nstderr:\n${child.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Completeness {
  model: string;
  met: boolean;
  pendingLateRows: number;
  notExact: string[];
}

async function completeness(): Promise<Completeness | undefined> {
  const status = (await (await fetch(`${url}/status`)).json()) as { completeness?: Completeness[] };
  return status.completeness?.find((c) => c.model === 'silver.sales');
}

async function metric(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name}\\{model="silver\\.sales"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

beforeAll(async () => {
  ({ dir, remove } = await tempDir('serve-slo-budget'));
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      hooks.push({ atMs: Date.now(), body: JSON.parse(body) as Record<string, unknown> });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const project = await writeProject(join(dir, 'project'), {
    ...SALES_PROJECT,
    'sql/silver/sales.sql': SLO_SILVER,
    'lakeloop.config.ts': [
      `import { defineConfig } from ${LAKELOOP_ENTRY};`,
      'export default defineConfig({',
      `  alerts: { webhooks: [{ url: '${base}/json', format: 'json' }] },`,
      "  budgets: { maxBytesScannedPerRun: '1B', mode: 'warn', circuits: { streaming: { threads: 1, memoryLimit: '500MB' }, collector: { threads: 2, memoryLimit: '300MB' } } },",
      '});',
    ].join('\n'),
  });
  child = spawnTs('bin/lakeloop.js', ['--lake', join(dir, 'lake'), 'serve', '--port', '0', '--poll-ms', '100', '--alert-interval', '1', '--log-format', 'json', '--full-every', '0'], {}, project);
  const line = await child.waitForLine(/"msg":"listening on http:\/\//, 90_000);
  url = (JSON.parse(line) as { msg: string }).msg.replace('listening on ', '').trim();
}, 120_000);

afterAll(async () => {
  if (child && child.process.exitCode === null) await child.kill();
  receiver?.close();
  await remove?.();
});

describe('serve: scan budget (warn) and the completeness SLO', () => {
  it('a streaming cycle over the budget runs, and the breach reaches the webhook once, with a budget_exceeded log line', async () => {
    for (let d = 1; d <= 3; d++) await post(salesOfDay(d, d * 1000));
    const alert = await until(() => hooks.find((h) => h.body['key'] === 'budget:streaming'), 'the budget alert');
    expect(alert.body).toMatchObject({ status: 'firing', kind: 'budget', subject: 'streaming', details: { mode: 'warn', action: 'warned', budgetBytes: 1 } });
    expect(String(alert.body['message'])).toMatch(/^The streaming cycle would scan an estimated .* over budgets\.maxBytesScannedPerRun of 1 B$/);
    await until(() => child.lines.find((l) => l.includes('"event":"budget_exceeded"')), 'the budget log line');
    // It ran: the models committed.
    await until(async () => ((await completeness())?.met === true ? true : undefined), 'silver.sales in /status');
  }, 60_000);

  it('/status and /metrics show the last budget check', async () => {
    const status = (await (await fetch(`${url}/status`)).json()) as { budgetChecks?: { subject: string; over: boolean; budgetBytes: number }[] };
    expect(status.budgetChecks).toMatchObject([{ subject: 'streaming', over: true, mode: 'warn', budgetBytes: 1 }]);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^lakeloop_scan_budget_over\{subject="streaming"\} 1$/m);
    expect(Number(/^lakeloop_scan_estimate_bytes\{subject="streaming"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(1);
  }, 30_000);

  it("the streaming circuit runs with budgets.circuits.streaming, as DuckDB reports it in /status", async () => {
    const status = (await (await fetch(`${url}/status`)).json()) as { circuits?: { streaming?: { threads: number; memoryLimit: string } } };
    expect(status.circuits?.streaming?.threads).toBe(1);
    // DuckDB renders 500MB (decimal) in binary units.
    expect(status.circuits?.streaming?.memoryLimit).toBe('476.8 MiB');
  }, 30_000);

  it('the collector lands on a circuit of its own, with budgets.circuits.collector', async () => {
    const status = (await (await fetch(`${url}/status`)).json()) as { circuits?: { collector?: { threads: number; memoryLimit: string } } };
    expect(status.circuits?.collector).toEqual({ threads: 2, memoryLimit: '286.1 MiB' });
  }, 30_000);

  it('/status and /metrics show the completeness SLO met', async () => {
    expect(await completeness()).toMatchObject({ model: 'silver.sales', met: true, pendingLateRows: 0, notExact: [] });
    expect(await metric('lakeloop_completeness_slo_met')).toBe(1);
    expect(await metric('lakeloop_completeness_pending_late_rows')).toBe(0);
  }, 30_000);

  it('a late row deferred behind the horizon breaches it: the alert, /status and /metrics say so', async () => {
    await post([{ id: 91_001, store: 'north', amount: 20, status: 'placed', ts: `${day(1)}T10:00:00Z` }]);
    const breach = await until(() => hooks.find((h) => h.body['key'] === 'completeness:model:silver.sales'), 'the completeness alert');
    expect(breach.body).toMatchObject({ status: 'firing', kind: 'completeness', subject: 'silver.sales', details: { pendingLateRows: 1, notExact: [] } });
    expect(await completeness()).toMatchObject({ met: false, pendingLateRows: 1, notExact: [] });
    expect(await metric('lakeloop_completeness_slo_met')).toBe(0);
    expect(await metric('lakeloop_completeness_pending_late_rows')).toBe(1);
    expect(await metric('lakeloop_completeness_partitions_not_exact')).toBe(0);
  }, 60_000);

  it('stops cleanly; each alert was sent once', async () => {
    child.process.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(hooks.filter((h) => h.body['key'] === 'budget:streaming' && h.body['status'] === 'firing')).toHaveLength(1);
    expect(hooks.filter((h) => h.body['key'] === 'completeness:model:silver.sales' && h.body['status'] === 'firing')).toHaveLength(1);
  }, 60_000);
});
