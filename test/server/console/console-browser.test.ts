import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../../cli/cli-harness.js';
import { PROJECT_ROOT, spawnTs, type TsChild } from '../../helpers/child.js';
import { LAKELOOP_ENTRY, writeProject } from '../../helpers/project.js';
import { CONTRACT, SALES_PROJECT, salesOfDay, type Sale } from '../../fixtures/sales-project.js';

/**
 * The console in a real headless Chromium against `serve` in a child process: the
 * counters move as events are posted; pause holds the model runs while landing goes on;
 * step runs exactly one cycle and the page shows its decision; resume (here by the CLI
 * verb) lets the runs follow again. Screenshots go to test-artifacts/console/.
 */
const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) console.warn(`console browser test skipped: no Chromium at ${CHROMIUM} (Debian: apt-get install chromium)`);
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'console');

let dir: string;
let project: string;
let remove: () => Promise<void>;
let child: TsChild;
let url: string;
let browser: Browser;
let page: Page;

interface TableRow { name: string; version: number }
async function versions(): Promise<{ bronze: number; silver: number; gold: number; runs: number }> {
  const data = (await (await fetch(`${url}/api/console`)).json()) as { lake: { tables: TableRow[] }; status: { streaming: { runs: number } } };
  const v = (name: string): number => data.lake.tables.find((t) => t.name === name)?.version ?? -1;
  return { bronze: v('bronze.sales'), silver: v('silver.sales'), gold: v('gold.daily'), runs: data.status.streaming.runs };
}

async function post(sales: readonly Sale[]): Promise<void> {
  const response = await fetch(`${url}/ingest/sales`, { method: 'POST', body: `${sales.map((s) => JSON.stringify(s)).join('\n')}\n` });
  expect(response.status).toBe(200);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const text = (selector: string): Promise<string> => page.locator(selector).innerText();
const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });

describe.skipIf(!available)('the console in a browser: live counters, pause, step, resume', () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    ({ dir, remove } = await tempDir('console-browser'));
    // A scan budget far above what the runs read, so each streaming cycle is checked (and within it).
    project = await writeProject(join(dir, 'project'), {
      ...SALES_PROJECT,
      'contracts/sales.ts': CONTRACT.replace("drift: 'strict',", "drift: 'strict', completeness: { minLandedRatio: 0.99 },"),
      'lakeloop.config.ts': `import { defineConfig } from ${LAKELOOP_ENTRY};\nexport default defineConfig({ budgets: { maxBytesScannedPerRun: '10GB', mode: 'warn' } });\n`,
    });
    child = spawnTs('bin/lakeloop.js', ['--lake', join(dir, 'lake'), 'serve', '--port', '0', '--poll-ms', '100', '--control-token', 'T', '--no-jobs'], {}, project);
    const [line] = await Promise.all([
      child.waitForLine(/^listening on http:\/\//, 60_000),
      chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }).then((b) => {
        browser = b;
      }),
    ]);
    url = line.replace('listening on ', '').trim();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (child && child.process.exitCode === null) await child.kill();
    await remove?.();
  });

  it('loads / and its counters move while events are posted', async () => {
    await page.goto(`${url}/`);
    await page.waitForFunction(() => document.getElementById('connection')?.textContent?.startsWith('live'));
    // 'live' is said when the stream opens; the first snapshot may come a moment later
    await page.waitForFunction(() => document.getElementById('mode')?.textContent !== '–');
    expect(await text('#mode')).toBe('AUTO');
    await post(salesOfDay(1, 1000));
    await page.waitForFunction(() => document.getElementById('stat-landed')?.textContent === '40');
    await page.waitForFunction(() => document.getElementById('stat-transformed-gold')?.textContent !== '0');
    await post(salesOfDay(2, 2000));
    await page.waitForFunction(() => document.getElementById('stat-landed')?.textContent === '80');
    await page.waitForFunction(() => /gold\.daily rewrote/.test(document.getElementById('last-decision')?.textContent ?? ''));
    expect(await text('#stat-received')).toBe('80');
    // the lineage links each table to its row in the tables section
    expect(await page.locator('#lineage a[href="#table-gold.daily"]').count()).toBe(1);
    await page.waitForSelector('tr[id="table-gold.daily"]');
    // each table's SLOs now: the source's completeness objective is met (nothing quarantined); gold declares none
    const slo = (table: string) => page.locator(`tr[data-table="${table}"] td[data-col="slo"]`);
    await page.waitForFunction(() => document.querySelector('tr[data-table="bronze.sales"] td[data-col="slo"]')?.getAttribute('data-slo') === 'met');
    expect(await slo('bronze.sales').innerText()).toBe('met: completeness');
    expect(await slo('gold.daily').getAttribute('data-slo')).toBe('none');
    // the last run's data tests, per model: silver's unique test passed
    const tests = page.locator('#runs-table tr:has(a[href="#table-silver.sales"]) td[data-col="tests"]');
    await tests.waitFor();
    expect(await tests.getAttribute('data-tests')).toBe('pass');
    expect(await tests.innerText()).toMatch(/^\d+ passed$/);
    await shot('01-live.png');
  }, 30_000);

  it('pause: batches keep landing in bronze, no model commits', async () => {
    await page.fill('#token', 'T');
    await page.click('#btn-pause');
    await page.waitForFunction(() => document.getElementById('mode')?.textContent === 'PAUSED');
    const before = await versions();
    await post(salesOfDay(3, 3000));
    await page.waitForFunction(() => document.getElementById('stat-landed')?.textContent === '120');
    await until(async () => (await versions()).bronze > before.bronze, 'bronze to grow');
    await new Promise((r) => setTimeout(r, 1_000)); // ten polls of the loop
    const after = await versions();
    expect(after.bronze).toBeGreaterThan(before.bronze);
    expect({ silver: after.silver, gold: after.gold, runs: after.runs }).toEqual({ silver: before.silver, gold: before.gold, runs: before.runs });
    await page.waitForFunction(() => /landed, not yet run: sales batch/.test(document.getElementById('waiting')?.textContent ?? ''));
    await shot('02-paused.png');
  }, 30_000);

  it('step runs exactly one cycle and the page shows its decision', async () => {
    const before = await versions();
    await page.click('#btn-step');
    await page.waitForFunction(() => /step/.test(document.getElementById('last-decision')?.textContent ?? '') && /gold\.daily rewrote/.test(document.getElementById('last-decision')?.textContent ?? ''));
    const decision = await text('#last-decision');
    expect(decision).toMatch(/sales batch v\d+: 40 landed, 0 quarantined → silver\.sales rewrote partition 2026-03-03 \(40 rows\) → gold\.daily rewrote partition 2026-03-03/);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await versions()).toEqual({ bronze: before.bronze, silver: before.silver + 1, gold: before.gold + 1, runs: before.runs + 1 });
    expect(await text('#mode')).toBe('PAUSED');
    expect(await text('#decisions li:first-child')).toContain('step');
    await shot('03-step.png');
  }, 30_000);

  it('the control verb needs the token, and resume lets the runs follow bronze again', async () => {
    const refused = await cli(['control', 'resume', '--url', url], project, {});
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/401/);
    const before = await versions();
    await post(salesOfDay(4, 4000));
    const resumed = await cli(['control', 'resume', '--url', url, '--token', 'T'], project, {});
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^mode: auto/);
    await until(async () => (await versions()).gold > before.gold, 'gold to follow after resume');
    await page.waitForFunction(() => document.getElementById('mode')?.textContent === 'AUTO');
    await page.waitForFunction(() => /2026-03-04/.test(document.getElementById('last-decision')?.textContent ?? ''));
    await shot('04-resumed.png');
  }, 30_000);

  it('the runs table shows what each model run read, wrote and spent; the budgets table the last check of the streaming circuit', async () => {
    await page.locator('#runs-section').scrollIntoViewIfNeeded();
    await page.waitForSelector('#budgets-table tr[data-subject="streaming"]');
    const budget = page.locator('#budgets-table tr[data-subject="streaming"]');
    expect(await budget.getAttribute('data-over')).toBe('false');
    expect(await budget.innerText()).toMatch(/^streaming\s+WITHIN\s+[\d.]+ (B|KiB|MiB)\s+9\.3 GiB\s+warn/);
    const cost = page.locator('#runs-table tbody tr', { hasText: 'gold.daily' }).locator('td[data-cost]');
    expect(await cost.getAttribute('data-cost')).toBe('yes');
    expect(await cost.innerText()).toMatch(/^[\d.]+ (B|KiB|MiB) \(\d+ files\) \/ [\d.]+ (B|KiB|MiB) \/ [\d.]+ s$/);
    await shot('09-runs-and-budgets.png');
    // The contracts checklist: the source's completeness objective, with its state in serve's window now.
    const completeness = await text('.contract[data-source="sales"] li[data-item="completeness"]');
    expect(completeness).toMatch(/^\[OK\] completeness SLO: at least 99% of the records received in 15m land — now met: 100\.0% of the records received in the last 15m landed \(\d+ of \d+; 0 quarantined\)/);
  }, 30_000);
});
