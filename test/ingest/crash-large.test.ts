import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { spawnTs } from '../helpers/child.js';
import { eventsContract, writeProject } from '../helpers/project.js';

/**
 * SPEC §9 for a large file cut into several large batches: a ~50 MiB NDJSON file ingested
 * with `--batch-bytes 6MiB` (9 batches, each touching all 30 event dates, two with a bad
 * line that sends them down the exact path), killed with SIGKILL at failpoints and at random
 * moments, re-run each time with the same key but a different `--batch-bytes`. The first run's
 * cut holds for every re-run, so bronze ends with every record exactly once, and with one
 * file per event date per batch.
 */
const DAYS = 30;
const TARGET_BYTES = 50 * 1024 * 1024;
const BAD_LINES = new Set([123_457, 654_321]);

let dir: string;
let project: string;
let input: string;
let engine: Engine;
let records = 0;

beforeAll(async () => {
  engine = await Engine.create({ threads: 2 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-ingest-crash-large-'));
  project = join(dir, 'project');
  // the collector's limits must not cut the file: 500 records would make ~1,800 batches
  await writeProject(project, { 'contracts/events.ts': eventsContract({ batch: '{ maxRecords: 500, maxMs: 100 }' }) });
  input = join(dir, 'events.ndjson');
  const out = createWriteStream(input);
  let bytes = 0;
  let chunk = '';
  for (let i = 0; bytes + chunk.length < TARGET_BYTES; i++) {
    chunk += BAD_LINES.has(i) ? `{"id": ${i}, "kind": "view"\n` : `{"id":${i},"kind":"${i % 3 ? 'view' : 'click'}","ts":"2026-06-${String(1 + (i % DAYS)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00Z"}\n`;
    records += 1;
    if (chunk.length > 1 << 20) {
      bytes += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

function ingest(lake: string, batchBytes: string, env: Record<string, string> = {}) {
  return spawnTs('bin/lakeloop.js', ['--lake', lake, 'ingest', 'events', '--file', input, '--idempotency-key', 'bulk-1', '--batch-bytes', batchBytes, '--json'], env, project);
}

async function verify(lakeRoot: string, complete: boolean): Promise<void> {
  const lake = await Lake.open({ store: await LocalObjectStore.create(lakeRoot), engine });
  const tables = await lake.tables();
  if (!tables.includes('bronze.events')) {
    expect(complete).toBe(false);
    return;
  }
  const bronze = await (await lake.table('bronze.events')).snapshot();
  const [counts] = await engine.all(`SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT _batch_id) AS batches FROM (${await bronze.scanSql(lake.store)})`);
  // never a duplicate, whatever point the kill hit
  expect(counts?.['n']).toBe(counts?.['ids']);
  // at most one file per event date per batch
  expect(bronze.files.length).toBeLessThanOrEqual(Number(counts?.['batches']) * DAYS);
  if (tables.includes('quarantine.events')) {
    const quarantine = await (await lake.table('quarantine.events')).snapshot();
    const [q] = await engine.all(`SELECT count(*) AS n, count(DISTINCT line) AS lines FROM (${await quarantine.scanSql(lake.store)})`);
    expect(q?.['n']).toBe(q?.['lines']);
    if (complete) expect(Number(q?.['n'])).toBe(BAD_LINES.size);
  }
  if (complete) {
    expect(Number(counts?.['n'])).toBe(records - BAD_LINES.size);
    expect(Number(counts?.['batches'])).toBe(9);
    expect(bronze.files.length).toBe(9 * DAYS);
  }
}

describe('lakeloop ingest of a large file under kill -9', () => {
  it('lands every record of a 50 MiB, 9-batch file exactly once across kills and re-runs with other batch sizes', async () => {
    const lakeRoot = join(dir, 'lake');
    let kills = 0;
    // the first run that commits anything fixes the cut: 6 MiB; later runs ask for other
    // sizes and die at the Nth commit stage, so kills land in the middle of the file
    const points = [
      ['6MiB', 'table.after-data-files'],
      ['6MiB', 'table.before-log-put'],
      ['6MiB', 'table.after-log-put'],
      ['6MiB', 'ingest.after-quarantine'],
      ['8MiB', 'table.after-log-put@2'],
      ['20MiB', 'table.before-log-put@2'],
      ['1MiB', 'table.after-data-files@2'],
    ] as const;
    for (const [size, point] of points) {
      const child = ingest(lakeRoot, size, { LAKELOOP_FAILPOINTS: point });
      const exit = await child.exited;
      expect(exit, `${point}: ${child.stderr()}`).toBe('SIGKILL');
      kills += 1;
      await verify(lakeRoot, false);
    }
    // then at random moments until a run finishes (how many depends on the machine's speed)
    const sizes = ['6MiB', '8MiB', '20MiB', '1MiB'];
    for (let round = 0; round < 6; round++) {
      const child = ingest(lakeRoot, sizes[round % sizes.length] ?? '6MiB');
      await new Promise((resolve) => setTimeout(resolve, 800 + Math.floor(Math.random() * 2500)));
      const exit = await child.kill();
      if (exit === 'SIGKILL') kills += 1;
      else expect(exit, child.stderr()).toBe(0);
      await verify(lakeRoot, exit === 0);
      if (exit === 0) break;
    }
    expect(kills).toBeGreaterThanOrEqual(points.length);
    const last = ingest(lakeRoot, '32MiB');
    expect(await last.exited, last.stderr()).toBe(0);
    const summary = JSON.parse(last.lines.at(-1) ?? '{}') as { batches?: number; cut?: { maxBytes: number } };
    expect(summary).toMatchObject({ batches: 9, cut: { maxBytes: 6 * 1024 * 1024 } });
    await verify(lakeRoot, true);
  }, 180_000);
});
