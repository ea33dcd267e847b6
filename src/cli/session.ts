import { stat } from 'node:fs/promises';
import { loadConfig, withLakeRoot, type ResolvedConfig } from '../config/index.js';
import { LakeloopError } from '../core/index.js';
import { Engine } from '../engine/index.js';
import { openObjectStore, sweepDeadProcessTemp, type ObjectStore } from '../storage/index.js';
import { CheckpointCache, Lake } from '../table/index.js';
import type { GlobalOptions } from './command-context.js';
import type { CliIo } from './io.js';

/** An opened project: its config, the lake's store, a DuckDB engine and the lake. */
export interface Session {
  readonly config: ResolvedConfig;
  readonly store: ObjectStore;
  readonly engine: Engine;
  readonly lake: Lake;
  close(): Promise<void>;
}

/** Loads the config named by the global options (or the default), applying `--lake`. */
export async function resolveConfig(io: CliIo, globals: GlobalOptions, verbose: (m: string) => void): Promise<ResolvedConfig> {
  let config = await loadConfig(io.cwd, globals.config);
  if (config.file === undefined) verbose(`no lakeloop.config.ts in ${io.cwd}: using the defaults (lake ./lake)`);
  else verbose(`config: ${config.file}`);
  if (globals.lake !== undefined) config = withLakeRoot(config, globals.lake, io.cwd);
  verbose(`lake: ${config.lake.root}`);
  return config;
}

/** Opens the store for a config's lake root; a missing local root is an error when `mustExist`. */
export async function openStore(config: ResolvedConfig, io: CliIo, mustExist: boolean): Promise<ObjectStore> {
  const location = config.lake.location;
  if (location.kind === 'local' && mustExist) {
    const info = await stat(location.path).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new LakeloopError('LAKE_NOT_FOUND', `No lake at ${location.path}`, {
        hint: `Run \`lakeloop ingest\` (or \`serve\`, \`run\`) to create it, or check --lake (and lake.root in ${config.file ?? 'lakeloop.config.ts'}).`,
      });
    }
  }
  return openObjectStore(config.lake.root, { s3: config.lake.s3, env: io.env });
}

/** Opens the whole session; everything opened so far is closed again if a later step fails. */
export async function openSession(config: ResolvedConfig, io: CliIo, options: { mustExist?: boolean } = {}): Promise<Session> {
  // What a killed lakeloop left in the temp folder (spool and write dirs) goes while the store opens.
  const [store] = await Promise.all([openStore(config, io, options.mustExist ?? false), sweepDeadProcessTemp()]);
  let engine: Engine | undefined;
  try {
    engine = await Engine.create(engineOptions(config));
    const lake = await Lake.open({
      store,
      engine,
      onNotice: (message) => io.stderr.write(`notice: ${message}\n`),
      // LAKELOOP_CHECKPOINT_CACHE_DIR of the CLI's environment.
      checkpointCache: CheckpointCache.fromEnv({ ...process.env, ...io.env }) ?? null,
    });
    const opened = engine;
    return {
      config,
      store,
      engine: opened,
      lake,
      close: async () => {
        await opened.close();
        await store.close();
      },
    };
  } catch (error) {
    await engine?.close();
    await store.close();
    throw error;
  }
}

/** The engine settings of a config. */
export function engineOptions(config: ResolvedConfig): { threads?: number; memoryLimit?: string } {
  const options: { threads?: number; memoryLimit?: string } = {};
  if (config.engine.threads !== undefined) options.threads = config.engine.threads;
  if (config.engine.memoryLimit !== undefined) options.memoryLimit = config.engine.memoryLimit;
  return options;
}
