import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadContracts } from '../../src/contracts/index.js';
import { Engine } from '../../src/engine/index.js';
import { loadModels, resolveModels, type Model } from '../../src/models/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';
import { Lake } from '../../src/table/index.js';
import { PROJECT_ROOT } from './child.js';

/** The package entry a test project imports (`defineConfig`, `defineContract`, `z`), by absolute path. */
export const LAKELOOP_ENTRY = JSON.stringify(join(PROJECT_ROOT, 'src', 'index.ts'));

/**
 * Writes a lakeloop project into `dir`: a `package.json` marking it an ES module (tsx
 * then loads its TypeScript files as ESM) and the given files, paths relative to `dir`.
 * Contracts and configs import from `LAKELOOP_ENTRY`.
 */
export async function writeProject(dir: string, files: Readonly<Record<string, string>>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

/**
 * A project's local lake opened in-process, as `serve` opens it: an engine (1 thread; the
 * caller closes it), the lake, and the project's models resolved in DAG order.
 */
export async function openProjectLake(project: string, lakeRoot: string): Promise<{ engine: Engine; lake: Lake; models: readonly Model[] }> {
  const engine = await Engine.create({ threads: 1 });
  const lake = await Lake.open({ store: await LocalObjectStore.create(lakeRoot), engine });
  const contracts = await loadContracts(project);
  const { models } = await resolveModels(await loadModels(project), { engine, knownTables: [...contracts.keys()].map((s) => `bronze.${s}`) });
  return { engine, lake, models };
}

/** `contracts/events.ts`: events {id int, kind view|click, ts}, keyed by id, with the given drift and batch settings. */
export function eventsContract(options: { drift?: string; batch?: string } = {}): string {
  return [
    `import { defineContract, z } from ${LAKELOOP_ENTRY};`,
    'export default defineContract({',
    `  source: 'events', version: 1, owner: 'test', key: ['id'], eventTime: 'ts', drift: '${options.drift ?? 'strict'}',`,
    '  schema: z.object({ id: z.int(), kind: z.enum(["view", "click"]), ts: z.iso.datetime({ offset: true }) }),',
    `  batch: ${options.batch ?? '{}'},`,
    '});',
  ].join('\n');
}
