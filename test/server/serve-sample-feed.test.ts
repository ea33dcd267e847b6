import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_SOURCES } from '../../src/demo/index.js';
import { Engine } from '../../src/engine/index.js';
import type { MetricsSnapshot } from '../../src/observe/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { cli } from '../cli/cli-harness.js';
import { PROJECT_ROOT, spawnTs } from '../helpers/child.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/** `lakeloop serve --sample-feed` (what `npm start` runs) in a child process, on the default project and a temp lake. */
let dir: string;
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-serve-feed-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('serve --sample-feed', () => {
  it('lands the feed, reports it on /status and /metrics, and stops with exit 0 on SIGTERM', async () => {
    const lakeRoot = join(dir, 'lake');
    const child = spawnTs('bin/lakeloop.js', ['--lake', lakeRoot, 'serve', '--port', '0', '--sample-feed', '400'], {}, PROJECT_ROOT);
    try {
      const url = (await child.waitForLine(/^listening on http:\/\//)).replace('listening on ', '').trim();
      await child.waitForLine(/^sample feed: 400 events\/s to orders, payments, page_views \(3% duplicates, 2% late, 0\.5% malformed\)$/);
      expect(child.lines).toContain(`status:  ${url}/status`);
      expect(child.lines).toContain(`metrics: ${url}/metrics`);

      let status: MetricsSnapshot & { lake: string; sampleFeed: { sent: number } } | undefined;
      for (let i = 0; i < 100; i++) {
        status = (await (await fetch(`${url}/status`)).json()) as typeof status;
        if ((status?.sources.length ?? 0) === 3 && status?.sources.every((s) => s.landed > 0)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(status?.lake).toBe(lakeRoot);
      expect(status?.sources.map((s) => s.source)).toEqual(['orders', 'page_views', 'payments']);
      expect(status?.sampleFeed.sent).toBeGreaterThan(0);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^lakeloop_records_landed_total\{source="page_views"\} [1-9]\d*$/m);
    } finally {
      child.process.kill('SIGTERM');
    }
    expect(await child.exited, child.stderr()).toBe(0);
    expect(child.lines.at(-1)).toBe('stopped');
    const summary = child.lines.find((l) => l.startsWith('sample feed: ') && l.includes(' sent ('));
    const sent = Number(/^sample feed: ([\d,]+) sent/.exec(summary ?? '')?.[1]?.replaceAll(',', ''));
    expect(sent).toBeGreaterThan(0);

    // every record the feed was answered for is in the lake, once
    const lake = await Lake.open({ store: await LocalObjectStore.create(lakeRoot), engine });
    let rows = 0;
    for (const source of SAMPLE_SOURCES) {
      for (const layer of ['bronze', 'quarantine']) {
        if ((await lake.tables()).includes(`${layer}.${source}`)) rows += (await (await lake.table(`${layer}.${source}`)).snapshot()).numRecords() ?? 0;
      }
    }
    expect(rows).toBe(sent);
  });

  it('refuses a rate that is not a positive integer', async () => {
    const run = await cli(['--lake', join(dir, 'lake2'), 'serve', '--port', '0', '--sample-feed', 'fast'], PROJECT_ROOT);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--sample-feed expects an integer from 1 to 1000000, got "fast"/);
  });

  it("says which of the default project's sources a project lacks", async () => {
    const project = await writeProject(join(dir, 'own-project'), { 'contracts/events.ts': eventsContract() });
    const run = await cli(['--lake', join(dir, 'lake3'), 'serve', '--port', '0', '--sample-feed'], project);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--sample-feed sends the default project's orders, payments, page_views, but ${project} has no contract for orders, payments, page_views`);
    expect(run.stdout).not.toContain('listening');
  });
});
