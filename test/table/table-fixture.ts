import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Engine } from '../../src/engine/index.js';
import { LocalObjectStore } from '../../src/storage/index.js';

/** A real temp lake directory, a LocalObjectStore on it and a 2-thread DuckDB engine. */
export interface TableFixture {
  readonly dir: string;
  readonly store: LocalObjectStore;
  readonly engine: Engine;
  close(): Promise<void>;
}

export async function tableFixture(): Promise<TableFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'lakeloop-table-test-'));
  const store = await LocalObjectStore.create(dir);
  const engine = await Engine.create({ threads: 2 });
  return {
    dir,
    store,
    engine,
    async close() {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir` (relative, `/`-separated), sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

/**
 * A real store that counts reads by key (a plain wrapper, not a mock): tests use it to
 * show which log files a reader fetched.
 */
export function countingStore(inner: LocalObjectStore): { store: LocalObjectStore; gets: string[] } {
  const gets: string[] = [];
  const store = Object.create(inner) as LocalObjectStore;
  store.get = async (key) => {
    gets.push(key);
    return inner.get(key);
  };
  store.getIfExists = async (key) => {
    gets.push(key);
    return inner.getIfExists(key);
  };
  store.localPath = async (key) => {
    gets.push(key);
    return inner.localPath(key);
  };
  return { store, gets };
}
