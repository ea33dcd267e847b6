import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { spawnTs } from '../helpers/child.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/**
 * SPEC §9 for ingestion: `lakeloop ingest` killed with SIGKILL at many different points
 * (every commit stage by failpoint, then at random moments), re-run each time with the
 * same idempotency key like a producer re-sending from its last acknowledged position:
 * bronze ends with every valid record exactly once and quarantine with every bad one.
 */
const RECORDS = 6000;
const BAD_EVERY = 97;

let dir: string;
let project: string;
let input: string;
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-ingest-crash-'));
  project = join(dir, 'project');
  await writeProject(project, { 'contracts/events.ts': eventsContract({ batch: '{ maxRecords: 400 }' }) });
  const lines = Array.from({ length: RECORDS }, (_, i) =>
    i % BAD_EVERY === 5 ? `{"id": ${i}, "kind": "view", ` : JSON.stringify({ id: i, kind: i % 2 ? 'view' : 'click', ts: `2026-05-${String(1 + (i % 28)).padStart(2, '0')}T12:00:00Z` }),
  );
  input = join(dir, 'events.ndjson');
  await writeFile(input, `${lines.join('\n')}\n`);
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const bad = Array.from({ length: RECORDS }, (_, i) => i).filter((i) => i % BAD_EVERY === 5).length;

function ingest(lake: string, env: Record<string, string> = {}) {
  return spawnTs('bin/lakeloop.js', ['--lake', lake, 'ingest', 'events', '--file', input, '--idempotency-key', 'producer-1', '--batch-bytes', '24000', '--json'], env, project);
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
  // never a duplicate, whatever point the kill hit
  expect(counts[0]?.['n']).toBe(counts[0]?.['ids']);
  if (tables.includes('quarantine.events')) {
    const quarantine = await (await lake.table('quarantine.events')).snapshot();
    const q = await engine.all(`SELECT count(*) AS n, count(DISTINCT line) AS lines FROM (${await quarantine.scanSql(lake.store)})`);
    expect(q[0]?.['n']).toBe(q[0]?.['lines']);
    if (complete) expect(Number(q[0]?.['n'])).toBe(bad);
  }
  if (complete) expect(Number(counts[0]?.['n'])).toBe(RECORDS - bad);
}

describe('lakeloop ingest under kill -9', () => {
  it('survives a kill at every commit stage and at random moments, then lands everything exactly once', async () => {
    const lakeRoot = join(dir, 'lake');
    let kills = 0;
    const points = [
      'ingest.after-quarantine',
      'table.after-data-files',
      'table.before-log-put',
      'storage.local.before-link',
      'table.after-log-put',
      'table.checkpoint.after-parquet',
    ];
    for (const point of points) {
      const child = ingest(lakeRoot, { LAKELOOP_FAILPOINTS: point });
      const exit = await child.exited;
      expect(exit, `${point}: ${child.stderr()}`).toBe('SIGKILL');
      kills += 1;
      await verify(lakeRoot, false);
    }
    // random moments: whenever a run gets to finish, verify it and start over on a fresh lake
    let root = lakeRoot;
    for (let round = 0; kills < 22 && round < 60; round++) {
      const child = ingest(root);
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(Math.random() * 1700)));
      const exit = await child.kill();
      if (exit === 'SIGKILL') kills += 1;
      await verify(root, exit === 0);
      if (exit === 0) root = join(dir, `lake-${round}`);
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    for (const resumed of new Set([lakeRoot, root])) {
      const last = ingest(resumed);
      expect(await last.exited, last.stderr()).toBe(0);
      await verify(resumed, true);
    }
  }, 240_000);
});
