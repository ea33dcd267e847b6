import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContracts, type Contract } from '../../src/contracts/index.js';
import { SAMPLE_SOURCES, SampleFeed } from '../../src/demo/index.js';
import { Engine } from '../../src/engine/index.js';
import { Collector } from '../../src/server/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { PROJECT_ROOT } from '../helpers/child.js';

/**
 * The feed loop against a real collector that pushes back (one request's bytes pending per
 * source, so concurrent requests get 429 with Retry-After): what the feed counts as sent is
 * exactly what the lake holds.
 */
let engine: Engine;
let dir: string;
let lake: Lake;
let contracts: ReadonlyMap<string, Contract>;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-sample-feed-'));
  lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'lake')), engine });
  contracts = await loadContracts(PROJECT_ROOT);
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function rowsOf(table: string): Promise<number> {
  if (!(await lake.tables()).includes(table)) return 0;
  return (await (await lake.table(table)).snapshot()).numRecords() ?? -1;
}

describe('SampleFeed', () => {
  it('honours 429 Retry-After, stops cleanly, and counts exactly what landed and was quarantined', async () => {
    const collector = await Collector.create({ lake, contracts, port: 0, maxPendingBytes: 1 });
    const errors: string[] = [];
    const feed = SampleFeed.start({ url: collector.url, eventsPerSecond: 1_500, seed: 5, maxWaitMs: 200, onError: (m) => errors.push(m) });
    // until a few requests were answered and some had to wait for their Retry-After (time varies with the machine's load)
    for (let waited = 0; waited < 60_000 && !(feed.counts().requests >= 4 && feed.counts().retries > 0); waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = feed.counts();
    await feed.stop();
    await feed.stop();
    const counts = feed.counts();
    const served = await collector.counters();
    await collector.close();

    expect(errors).toEqual([]);
    expect(before.retries).toBeGreaterThan(0);
    expect(before.requests).toBeGreaterThanOrEqual(4);
    expect(counts.sent).toBeGreaterThan(0);
    // what the collector answered for, the feed counted: nothing more, nothing less
    let landed = 0;
    let quarantined = 0;
    for (const source of SAMPLE_SOURCES) {
      landed += await rowsOf(`bronze.${source}`);
      quarantined += await rowsOf(`quarantine.${source}`);
    }
    expect(landed + quarantined).toBe(counts.sent);
    expect(landed).toBe(counts.landed);
    expect(quarantined).toBe(counts.quarantined);
    expect(quarantined).toBe(counts.malformed);
    expect(counts.sent).toBe(Object.values(served).reduce((n, c) => n + c.landed + c.quarantined, 0));
    expect(counts.late).toBeGreaterThan(0);
  });

  it('sends nothing after stop()', async () => {
    const collector = await Collector.create({ lake, contracts, port: 0 });
    const feed = SampleFeed.start({ url: collector.url, eventsPerSecond: 400, maxWaitMs: 100 });
    const requests = async (): Promise<number> => Object.values(await collector.counters()).reduce((n, c) => n + c.requests, 0);
    for (let waited = 0; waited < 30_000 && (await requests()) < 3; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    await feed.stop();
    const atStop = await requests();
    expect(atStop).toBeGreaterThan(0);
    expect(atStop).toBe(feed.counts().requests);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await requests()).toBe(atStop);
    await collector.close();
  });

  it('says what is wrong when the collector refuses its requests', async () => {
    const collector = await Collector.create({ lake, contracts: new Map(), port: 0 });
    const errors: string[] = [];
    const feed = SampleFeed.start({ url: collector.url, eventsPerSecond: 200, maxWaitMs: 50, onError: (m) => errors.push(m) });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await feed.stop();
    await collector.close();
    expect(feed.counts().sent).toBe(0);
    expect(feed.counts().unsent).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^(orders|payments|page_views): \d+ records not sent: HTTP 404: Unknown source "(orders|payments|page_views)"$/);
  });
});
