import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { Contract } from '../../contracts/index.js';
import { ConfigError, escapeControl } from '../../core/index.js';
import { openObjectStore, type ObjectStore, type OpenStoreOptions } from '../../storage/index.js';
import type { Lake } from '../../table/index.js';
import { ApiPullSource } from './api-pull-source.js';
import { FileDropSource } from './file-drop-source.js';

const fileDropSchema = z.strictObject({
  /** A local folder (relative to the config file) or `s3://bucket/prefix`. */
  path: z.string({ error: 'expected a folder or s3://bucket/prefix' }).min(1),
  intervalMs: z.int().positive({ error: 'expected a positive number of milliseconds' }).default(2_000),
  stablePolls: z.int().nonnegative({ error: 'expected 0 or more polls' }).optional(),
  /** How long a file must have gone unwritten before it is read; default two intervals (see `FileDropSourceOptions.quietMs`). */
  quietMs: z.int().nonnegative({ error: 'expected 0 or more milliseconds' }).optional(),
});

const apiPullSchema = z.strictObject({
  url: z.url({ error: 'expected an http(s) URL' }),
  cursorParam: z.string().min(1),
  itemsPath: z.string().optional(),
  nextCursorPath: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  intervalMs: z.int().positive({ error: 'expected a positive number of milliseconds' }).default(10_000),
});

const sourceSchema = z.strictObject({ fileDrop: fileDropSchema.optional(), apiPull: apiPullSchema.optional() });

/** The `sources` section of `lakeloop.config.ts`, per source: where its records come from besides the collector. */
export type SourceSettings = z.output<typeof sourceSchema>;

/** What `startConfiguredSources` started; `stop()` ends every poll loop (after a poll in progress). */
export interface RunningSources {
  readonly descriptions: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts the file drops and API pulls that `sources` in the config declares, e.g.
 * `sources: { orders: { fileDrop: { path: './drop/orders', intervalMs: 2000 } } }`. Each
 * source must have a contract; a mistake is a `ConfigError` naming `sources.<name>.<field>`.
 * `onEvent` gets one line per event, control characters in names and reasons escaped
 * (`escapeControl`); a refused file name is reported once, a re-ingested file says so.
 */
export async function startConfiguredSources(options: {
  readonly lake: Lake;
  readonly contracts: ReadonlyMap<string, Contract>;
  readonly sources: Readonly<Record<string, unknown>>;
  readonly configFile: string | undefined;
  readonly projectDir: string;
  readonly storeOptions?: OpenStoreOptions;
  readonly onEvent?: (source: string, message: string) => void;
}): Promise<RunningSources> {
  const file = options.configFile ?? 'lakeloop.config.ts';
  const started: { stop(): Promise<void> }[] = [];
  const descriptions: string[] = [];
  // File keys, reasons and error messages come from producers: one event is one line, whatever they hold.
  const say = (source: string, message: string): void => options.onEvent?.(escapeControl(source), escapeControl(message));
  for (const [name, raw] of Object.entries(options.sources)) {
    const parsed = sourceSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError(
        file,
        parsed.error.issues.map((issue) => ({ path: ['sources', name, ...issue.path.map(String)].join('.'), message: issue.message })),
      );
    }
    const contract = options.contracts.get(name);
    if (!contract) {
      throw new ConfigError(file, [{ path: `sources.${name}`, message: `no contract for source "${name}": add contracts/${name}.ts` }]);
    }
    const { fileDrop, apiPull } = parsed.data;
    if (fileDrop) {
      const where = /^s3:\/\//i.test(fileDrop.path) || isAbsolute(fileDrop.path) ? fileDrop.path : resolve(options.projectDir, fileDrop.path);
      const store: ObjectStore = await openObjectStore(where, options.storeOptions);
      const drop = new FileDropSource({
        lake: options.lake,
        contract,
        store,
        ...(fileDrop.stablePolls !== undefined ? { stablePolls: fileDrop.stablePolls } : {}),
        ...(fileDrop.quietMs !== undefined ? { quietMs: fileDrop.quietMs } : {}),
        onPoll: (summary) => {
          for (const f of summary.ingested) {
            if (f.reingested) say(name, `file drop: re-ingested ${f.key}: it changed after it was ingested; ${f.landed} record(s) landed again`);
            else say(name, `file drop: ingested ${f.key}`);
          }
          for (const f of summary.failed) say(name, `file drop: ${f.key} failed: ${f.reason}`);
          for (const f of summary.refused) say(name, `file drop: refused ${JSON.stringify(f.key)}: ${f.reason}`);
        },
        onError: (error) => say(name, `file drop: ${error instanceof Error ? error.message : String(error)}`),
      });
      drop.start(fileDrop.intervalMs);
      started.push({ stop: async () => drop.stop().then(() => store.close()) });
      descriptions.push(`${name}: file drop ${where} every ${fileDrop.intervalMs} ms`);
    }
    if (apiPull) {
      const pull = new ApiPullSource({
        lake: options.lake,
        contract,
        url: apiPull.url,
        cursorParam: apiPull.cursorParam,
        intervalMs: apiPull.intervalMs,
        ...(apiPull.itemsPath !== undefined ? { itemsPath: apiPull.itemsPath } : {}),
        ...(apiPull.nextCursorPath !== undefined ? { nextCursorPath: apiPull.nextCursorPath } : {}),
        ...(apiPull.headers !== undefined ? { headers: apiPull.headers } : {}),
        onPoll: (summary) => {
          if (summary.pages.length) say(name, `api pull: ${summary.pages.length} page(s), ${summary.landed} landed`);
          if (summary.error) say(name, `api pull: ${summary.error.message}`);
        },
        onError: (error) => say(name, `api pull: ${error instanceof Error ? error.message : String(error)}`),
      });
      pull.start();
      started.push({ stop: () => pull.stop() });
      descriptions.push(`${name}: api pull ${new URL(apiPull.url).origin} every ${apiPull.intervalMs} ms`);
    }
  }
  return {
    descriptions,
    async stop() {
      await Promise.all(started.map((s) => s.stop()));
    },
  };
}
