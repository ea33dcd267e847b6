import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { spawnTs, type TsChild } from '../helpers/child.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/**
 * SPEC §9 for the collector: `lakeloop serve` killed with SIGKILL at commit stages (by
 * failpoint) and at random moments while a producer sends keyed requests; the producer
 * re-sends every request not answered 200/400, with the same Idempotency-Key, to the
 * restarted server. Bronze ends with every valid record exactly once, quarantine with
 * every bad one (at least once: see the collector's README notes).
 */
const REQUESTS = 240;
const PER_REQUEST = 25;
const isBad = (id: number): boolean => id % 37 === 5;
const ids = Array.from({ length: REQUESTS * PER_REQUEST }, (_, i) => i);
const good = ids.filter((id) => !isBad(id)).length;
const bad = ids.length - good;

let dir: string;
let project: string;
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-collector-crash-'));
  project = join(dir, 'project');
  await writeProject(project, { 'contracts/events.ts': eventsContract({ batch: '{ maxRecords: 400, maxMs: 80 }' }) });
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

function body(request: number): string {
  let text = '';
  for (let j = 0; j < PER_REQUEST; j++) {
    const id = request * PER_REQUEST + j;
    text += `${JSON.stringify({ id, kind: isBad(id) ? 'nope' : 'view', ts: `2026-05-0${1 + (id % 2)}T12:00:00Z` })}\n`;
  }
  return text;
}

async function serve(lakeRoot: string, env: Record<string, string> = {}): Promise<{ child: TsChild; url: string }> {
  const child = spawnTs('bin/lakeloop.js', ['--lake', lakeRoot, 'serve', '--port', '0', '--instance-id', 'crash'], env, project);
  const line = await child.waitForLine(/^listening on http:\/\//);
  return { child, url: line.replace('listening on ', '').trim() };
}

/** Sends every unacknowledged request (8 at a time) until all are acknowledged or the server is gone. */
async function produce(url: string, acked: Set<number>): Promise<void> {
  const queue = Array.from({ length: REQUESTS }, (_, i) => i).filter((i) => !acked.has(i));
  let dead = false;
  const worker = async (): Promise<void> => {
    for (let i = queue.shift(); i !== undefined && !dead; i = queue.shift()) {
      try {
        const response = await fetch(`${url}/ingest/events`, {
          method: 'POST',
          body: body(i),
          headers: { 'idempotency-key': `req-${i}` },
          signal: AbortSignal.timeout(20_000),
        });
        await response.arrayBuffer();
        if (response.status === 200 || response.status === 400) acked.add(i);
        else if (response.status !== 429 && response.status !== 503) throw new Error(`unexpected status ${response.status}`);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('unexpected')) throw error;
        dead = true; // connection refused or reset: the server was killed
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function verify(lakeRoot: string, complete: boolean): Promise<void> {
  const lake = await Lake.open({ store: await LocalObjectStore.create(lakeRoot), engine });
  const tables = await lake.tables();
  if (!tables.includes('bronze.events')) {
    expect(complete).toBe(false);
    return;
  }
  const bronze = await (await lake.table('bronze.events')).snapshot();
  const counts = await engine.all(`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM (${await bronze.scanSql(lake.store)})`);
  expect(Number(counts[0]?.['n'])).toBe(Number(counts[0]?.['ids']));
  if (!complete) return;
  expect(Number(counts[0]?.['n'])).toBe(good);
  const quarantine = await (await lake.table('quarantine.events')).snapshot();
  const q = await engine.all(`SELECT count(DISTINCT CAST(json_extract(payload, '$.id') AS BIGINT)) AS ids FROM (${await quarantine.scanSql(lake.store)})`);
  expect(Number(q[0]?.['ids'])).toBe(bad);
}

describe('lakeloop serve under kill -9', () => {
  it('loses no acknowledged record and duplicates none across ≥ 20 kills', async () => {
    const lakeRoot = join(dir, 'lake');
    const acked = new Set<number>();
    let kills = 0;
    for (const point of ['table.before-log-put', 'ingest.after-quarantine', 'table.after-log-put']) {
      for (let round = 0; round < 2; round++) {
        const { child, url } = await serve(lakeRoot, { LAKELOOP_FAILPOINTS: point });
        await produce(url, acked);
        const exit = await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 5_000, 'alive'))]);
        expect(exit, `${point}: ${child.stderr()}`).toBe('SIGKILL');
        kills += 1;
        await verify(lakeRoot, false);
      }
    }
    for (let round = 0; kills < 22 && round < 40; round++) {
      const { child, url } = await serve(lakeRoot);
      const producing = produce(url, acked);
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.floor(Math.random() * 1000)));
      const exit = await child.kill();
      await producing;
      if (exit === 'SIGKILL') kills += 1;
      await verify(lakeRoot, false);
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    const { child, url } = await serve(lakeRoot);
    await produce(url, acked);
    expect(acked.size).toBe(REQUESTS);
    child.process.kill('SIGTERM');
    expect(await child.exited, child.stderr()).toBe(0);
    await verify(lakeRoot, true);
  }, 180_000);
});
