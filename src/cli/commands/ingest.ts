import { Readable } from 'node:stream';
import { loadContracts } from '../../contracts/index.js';
import { LakeloopError, unknownNamesHint, UsageError } from '../../core/index.js';
import { bytesOf, Engine } from '../../engine/index.js';
import { ingestFile, type IngestSummary, type RecordFormat } from '../../ingest/index.js';
import { refuseOverQuota, warnOverQuota } from '../cost-checks.js';
import type { CommandContext } from '../command-context.js';
import { formatBytes, formatCount, plural } from '../human.js';
import { openCatalogEarly, refreshCatalog } from '../catalog-refresh.js';
import { Progress } from '../progress.js';
import { openLineage } from '../observe-setup.js';
import { projectModels } from './project-models.js';

export interface IngestOptions {
  readonly file?: string;
  readonly format?: RecordFormat;
  readonly idempotencyKey?: string;
  /** `--batch-bytes`: a size such as `64MiB` or a number of bytes. */
  readonly batchBytes?: string;
  readonly json?: boolean;
}

/**
 * `lakeloop ingest <source> [--file F | -]`: lands a file or stdin in `bronze.<source>`
 * (rejects in `quarantine.<source>`), batch by batch, exactly once per idempotency key.
 * Prints a summary (or, with `--json`, one JSON object as the last line). Exit 0 even when
 * records were quarantined — they are accounted for — and 1 when nothing could be read.
 */
export async function ingestCommand(source: string, input: string | undefined, options: IngestOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  if (input !== undefined && input !== '-') throw new UsageError(`Unexpected argument ${JSON.stringify(input)}`, "Use --file F for a file, or '-' for standard input.");
  if (input === '-' && options.file !== undefined) throw new UsageError("Give either --file F or '-', not both");
  if (input === undefined && options.file === undefined) throw new UsageError('Nothing to ingest', "Use --file F, or '-' to read standard input.");
  const batchBytes = options.batchBytes === undefined ? undefined : bytesOf(options.batchBytes);
  if (batchBytes !== undefined && !(Number.isInteger(batchBytes) && batchBytes >= 1)) {
    throw new UsageError(`--batch-bytes: expected a size such as 64MiB or 100000000, got ${JSON.stringify(options.batchBytes)}`);
  }
  const config = await context.config();
  const contracts = await loadContracts(config.projectDir);
  const contract = contracts.get(source);
  if (!contract) {
    const known = [...contracts.keys()];
    throw new LakeloopError('UNKNOWN_SOURCE', `Unknown source ${JSON.stringify(source)}`, {
      hint: unknownNamesHint([source], known, 'Known sources (contracts/*.ts)', 'Add contracts/<source>.ts with `export default defineContract({ ... })`.'),
    });
  }
  const session = await context.session();
  // Over bronze's storage quota in refuse mode: nothing is read, the file stays where it is.
  await refuseOverQuota(session.lake, config.budgets, ['bronze', 'quarantine'], `ingesting ${source}`);
  // The catalog's copy is made and opened, and the models its partition status compares with
  // are loaded, while the file lands (JavaScript and a second DuckDB instance, idle otherwise):
  // only rebinding is left after (~0.15 s of a 1M-event ingest's ~2 s, measured).
  // The models are parsed by a one-thread engine of their own: the session's runs the ingest.
  const catalog = openCatalogEarly(session);
  const models = Engine.create({ threads: 1 }).then(
    (parser) =>
      projectModels(context, session, parser).then(
        (p) => p.dag.models,
        () => undefined,
      ).finally(() => parser.close()),
    () => undefined,
  );
  const lineage = openLineage(context, config, session.lake);
  const run = lineage?.sampleIngest() ? lineage.start(`ingest.${source}`, 'INGEST') : undefined;
  const progress = Progress.start(io.stderr, `ingesting ${source}`);
  let summary: IngestSummary;
  try {
    summary = await ingestFile({
      lake: session.lake,
      contract,
      input: options.file ?? Readable.from(io.stdin ?? process.stdin),
      ...(options.format ? { format: options.format } : {}),
      ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      ...(batchBytes !== undefined ? { batch: { maxBytes: batchBytes } } : {}),
      onBatch: (_result, done) => {
        const percent = done.totalBytes > 0 ? Math.floor((100 * done.bytes) / done.totalBytes) : 100;
        progress.update(`${percent}% of ${formatBytes(done.totalBytes)}`);
      },
    });
  } catch (error) {
    run?.fail(error instanceof Error ? error.message : String(error), { outputs: [{ name: `bronze.${source}` }] });
    // Batches committed before the failure are in the catalog too (and the early copy is used up).
    await refreshCatalog(context, session, catalog, await models);
    throw error;
  } finally {
    progress.stop();
  }
  if (run) {
    const outputs = [];
    for (const [name, rows] of [[`bronze.${source}`, summary.landed], [`quarantine.${source}`, summary.quarantined]] as const) {
      const table = await session.lake.tableIfExists(name);
      if (table && (rows > 0 || name.startsWith('bronze.'))) outputs.push({ name, version: (await table.snapshot()).version, statistics: { rowCount: rows } });
    }
    run.complete({ outputs });
  }
  await refreshCatalog(context, session, catalog, await models);
  const warnings = await warnOverQuota(session.lake, config.budgets, io.stderr);
  if (options.json) {
    io.stdout.write(`${JSON.stringify(warnings.length ? { ...summary, warnings } : summary)}\n`);
    return;
  }
  io.stdout.write(
    `${source}: ${formatCount(summary.landed)} landed, ${formatCount(summary.quarantined)} quarantined, ` +
      `${formatCount(summary.duplicates)} duplicates skipped, ${plural(summary.files, 'file')}, ` +
      `${plural(summary.batches, 'batch', 'batches')}, ${summary.seconds.toFixed(2)} s\n`,
  );
  if (summary.cutFromEarlierRun) {
    io.stdout.write(`batches cut at ${formatBytes(summary.cut.maxBytes)} / ${formatCount(summary.cut.maxRecords)} records, as the earlier run of this key was (so each batch number keeps its records)\n`);
  }
  if (summary.addedColumns.length) io.stdout.write(`schema evolved: added ${summary.addedColumns.join(', ')} to bronze.${source}\n`);
  if (summary.quarantined > 0) {
    io.stdout.write(`see the rejects: lakeloop query "select line, reason, field, payload from quarantine.${source} order by quarantined_at desc limit 20"\n`);
  }
}
