import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { startConfiguredSources } from '../../src/ingest/index.js';
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
    // a name holding a newline and an ESC: logged as one line, escaped
    await writeFile(join(root, 'drop', 'b\nevents: forged\u001b.ndjson'), '');
    const logged = /^events: file drop: ingested b\\nevents: forged\\u001b\.ndjson$/m;
    for (let i = 0; i < 100 && !logged.test(child.stderr()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(child.stderr()).toMatch(logged);
    expect(child.stderr()).not.toMatch(/^events: forged/m);
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

  it('each event is one line: control characters in file names are escaped; a changed file is reported as re-ingested', async () => {
    const folder = join(dir, 'events-drop');
    await mkdir(folder, { recursive: true });
    const lake = await Lake.open({ store: await LocalObjectStore.create(join(dir, 'events-lake')), engine });
    const contract = defineContract({ source: 'clicks', version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: 'strict', schema: z.object({ id: z.int(), ts: z.iso.datetime({ offset: true }) }) });
    const events: string[] = [];
    const waitFor = async (pattern: RegExp): Promise<void> => {
      for (let i = 0; i < 200 && !events.some((e) => pattern.test(e)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(events.some((e) => pattern.test(e)), events.join('\n')).toBe(true);
    };
    const name = 'a\nb\r\u0007\u001b[2K.ndjson';
    await writeFile(join(folder, name), '{"id":1,"ts":"2026-01-01T00:00:00Z"}\n');
    const running = await startConfiguredSources({
      lake,
      contracts: new Map([['clicks', contract]]),
      sources: { clicks: { fileDrop: { path: folder, intervalMs: 20, stablePolls: 0 } } },
      configFile: undefined,
      projectDir: dir,
      onEvent: (source, message) => events.push(`${source}: ${message}`),
    });
    try {
      const escaped = 'a\\nb\\r\\u0007\\u001b[2K.ndjson';
      await waitFor(/ingested /);
      expect(events).toEqual([`clicks: file drop: ingested ${escaped}`]);
      await writeFile(join(folder, name), '{"id":1,"ts":"2026-01-01T00:00:00Z"}\n{"id":2,"ts":"2026-01-01T00:00:00Z"}\n');
      await waitFor(/re-ingested/);
      expect(events[1]).toBe(`clicks: file drop: re-ingested ${escaped}: it changed after it was ingested; 2 record(s) landed again`);
      for (const event of events) expect(event).not.toMatch(/[\u0000-\u001f\u007f]/);
    } finally {
      await running.stop();
    }
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
