import { isAbsolute, resolve } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import type { Model } from '../models/index.js';
import {
  FileLineageSink,
  HttpLineageSink,
  lakeNamespace,
  lakeSchemaReader,
  LineageEmitter,
  secretRedactor,
  type LineageSink,
} from '../observe/index.js';
import type { Lake } from '../table/index.js';
import type { CommandContext } from './command-context.js';
import { VERSION } from './program.js';

/** The environment a verb runs with: the process's, with the test's (or caller's) `io.env` over it. */
export function commandEnv(context: CommandContext): Record<string, string | undefined> {
  return { ...process.env, ...context.io.env };
}

/** Redacts credentials of the verb's environment from text that leaves the process. */
export function commandRedactor(context: CommandContext): (text: string) => string {
  return secretRedactor(commandEnv(context));
}

/**
 * The verb's lineage emitter when lineage is configured (`lineage.file` / `lineage.url` in
 * the config, or `LAKELOOP_LINEAGE_FILE` / `LAKELOOP_LINEAGE_URL`, which win), else
 * undefined. It is closed (its events delivered or given up on) when the verb ends; a sink
 * that fails prints a warning (`onWarning`, default stderr), never an error.
 */
export function openLineage(
  context: CommandContext,
  config: ResolvedConfig,
  lake: Lake,
  models: readonly Model[] = [],
  onWarning?: (message: string) => void,
): LineageEmitter | undefined {
  const env = commandEnv(context);
  const fileSetting = env['LAKELOOP_LINEAGE_FILE'] || config.lineage.file;
  const url = env['LAKELOOP_LINEAGE_URL'] || config.lineage.url;
  if (!fileSetting && !url) return undefined;
  const redact = secretRedactor(env);
  const warn = onWarning ?? ((message: string) => context.io.stderr.write(`warning: ${redact(message)}\n`));
  const sinks: LineageSink[] = [];
  if (fileSetting) sinks.push(new FileLineageSink(isAbsolute(fileSetting) ? fileSetting : resolve(context.io.cwd, fileSetting), warn));
  if (url) sinks.push(new HttpLineageSink(url, warn));
  const emitter = new LineageEmitter(
    {
      context: { datasetNamespace: lakeNamespace(config.lake.root), jobNamespace: config.lineage.namespace ?? 'lakeloop', engineVersion: VERSION },
      sinks,
      redact,
      schemaOf: lakeSchemaReader(lake),
      ...(config.lineage.sampleIngest !== undefined ? { sampleIngest: config.lineage.sampleIngest } : {}),
    },
    models,
  );
  context.onClose(() => emitter.close());
  return emitter;
}
