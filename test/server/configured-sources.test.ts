import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { cli } from '../cli/cli-harness.js';
import { spawnTs } from '../helpers/child.js';
import { eventsContract, LAKELOOP_ENTRY, writeProject } from '../helpers/project.js';

/** `serve` starts the file drops that `sources` in lakeloop.config.ts declares. */
let dir: string;
let engine: Engine;
async function project(name: string, sources: string): Promise<string> {
  return writeProject(join(dir, name), {
    'contracts/events.ts': eventsContract({ drift: 'rescue' }),
    'lakeloop.config.ts': `import { defineConfig } from ${LAKELOOP_ENTRY};\nexport default defineConfig({ lake: { root: './lake' }, sources: ${sources} });\n`,
  });
}

beforeAll(async () => {
  engine = await Engine.create({ threads: 1 });
  dir = await mkdtemp(join(tmpdir(), 'lakeloop-sources-'));
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('configured sources in serve', () => {
  it('a file dropped into the configured folder lands in bronze once; SIGTERM stops cleanly', async () => {
    const root = await project('drop', "{ events: { fileDrop: { path: './drop', intervalMs: 150, stablePolls: 0 } } }");
    await mkdir(join(root, 'drop'), { recursive: true });
    const child = spawnTs('bin/lakeloop.js', ['serve', '--port', '0'], {}, root);
    await child.waitForLine(/^events: file drop .*drop every 150 ms$/);
    await writeFile(join(root, 'drop', 'a.ndjson'), '{"id":1,"kind":"view","ts":"2026-01-01T00:00:00Z"}\n{"id":2,"kind":"click","ts":"2026-01-02T00:00:00Z"}\n');
    let rows = 0;
    for (let i = 0; i < 100 && rows < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const lake = await Lake.open({ store: await LocalObjectStore.create(join(root, 'lake')), engine });
      if ((await lake.tables()).includes('bronze.events')) rows = (await (await lake.table('bronze.events')).snapshot()).numRecords() ?? 0;
    }
    expect(rows).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 500)); // more polls see the same file
    child.process.kill('SIGTERM');
    expect(await child.exited, child.stderr()).toBe(0);
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(root, 'lake')), engine });
    expect((await (await lake.table('bronze.events')).snapshot()).numRecords()).toBe(2);
  });

  it('a mistake in sources names the field; a source without a contract says which file to add', async () => {
    const bad = await project('bad', "{ events: { fileDrop: { path: './drop', intervalMs: -5 } } }");
    const run = await cli(['serve', '--port', '0'], bad);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/sources\.events\.fileDrop\.intervalMs: expected a positive number of milliseconds/);
    const orphan = await project('orphan', "{ clicks: { fileDrop: { path: './drop' } } }");
    const second = await cli(['serve', '--port', '0'], orphan);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/sources\.clicks: no contract for source "clicks": add contracts\/clicks\.ts/);
  });
});
