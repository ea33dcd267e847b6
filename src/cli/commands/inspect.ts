import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LakeloopError, TableNotFound, unknownNamesHint, UsageError } from '../../core/index.js';
import { Engine } from '../../engine/index.js';
import { parseAsOf, tableReport, type AsOf, type TableReport } from '../../query/index.js';
import { isS3Url, openObjectStore, type ObjectStore, type OpenS3Options } from '../../storage/index.js';
import { DeltaTable, deltaTypeText } from '../../table/index.js';
import type { CommandContext } from '../command-context.js';
import { formatBytes, formatColumns, formatCount, formatTime, plural } from '../human.js';
import { engineOptions } from '../session.js';

export interface InspectOptions {
  readonly asOf?: string;
  readonly json?: boolean;
}

/** How many live files the human output lists before `… N more`. */
export const FILES_SHOWN = 20;

/** `layer.table` in the lake, or a Delta table folder given by path (local or s3://). */
export type InspectTarget = { readonly kind: 'lake'; readonly name: string } | { readonly kind: 'path'; readonly root: string };

/**
 * Tells a table name from a path: `s3://...`, anything with a `/` (or `\`), and existing
 * folders are paths; `layer.table` is a lake table.
 */
export async function classifyTarget(target: string, cwd: string): Promise<InspectTarget> {
  if (isS3Url(target)) return { kind: 'path', root: target };
  const local = resolve(cwd, target);
  if (/[/\\]/.test(target) || target === '.' || target === '..') return { kind: 'path', root: local };
  if ((await stat(local).catch(() => undefined))?.isDirectory()) return { kind: 'path', root: local };
  if (/^[^.\s]+\.[^.\s]+$/.test(target)) return { kind: 'lake', name: target };
  throw new UsageError(
    `inspect expects layer.table or the path of a table folder, got ${JSON.stringify(target)}`,
    'Examples: lakeloop inspect gold.daily_revenue, lakeloop inspect ./lake/gold/daily_revenue',
  );
}

/**
 * `lakeloop inspect <table or path>`: a Delta table's version, schema, partitions, live
 * files, rows, bytes and history. `--json` prints the `TableReport` (plus `files` as the
 * log's paths) as one JSON object on the last line.
 */
export async function inspectCommand(target: string, options: InspectOptions, context: CommandContext): Promise<void> {
  const at: AsOf | undefined = options.asOf === undefined ? undefined : parseAsOf(options.asOf);
  const where = await classifyTarget(target, context.io.cwd);
  const historyLimit = options.json ? 100 : 10;
  let report: TableReport;
  if (where.kind === 'lake') {
    const session = await context.session({ mustExist: true });
    const table = await session.lake.table(where.name).catch(async (error: unknown) => {
      if (!(error instanceof TableNotFound)) throw error;
      throw new TableNotFound(where.name, unknownNamesHint([where.name], await session.lake.tables(), 'Tables', 'The lake has no tables yet.'));
    });
    report = await tableReport(table, { store: session.store, engine: session.engine, name: where.name, historyLimit, ...(at ? { at } : {}) });
  } else {
    const config = await context.config();
    const store = await openTableStore(where.root, context, config.lake.s3);
    const engine = await Engine.create(engineOptions(config));
    context.onClose(() => engine.close());
    const table = await DeltaTable.open(store, '', { engine, name: target });
    report = await tableReport(table, { store, engine, name: null, historyLimit, ...(at ? { at } : {}) });
  }
  if (options.json) context.io.stdout.write(`${JSON.stringify(inspectJson(report))}\n`);
  else context.io.stdout.write(renderReport(report, target));
}

/** The `--json` object: the report, with `files` as the log's paths and the details beside them. */
export function inspectJson(report: TableReport): Record<string, unknown> {
  return {
    name: report.name,
    location: report.location,
    version: report.version,
    timestampMs: report.timestampMs,
    timestamp: new Date(report.timestampMs).toISOString(),
    minReaderVersion: report.minReaderVersion,
    minWriterVersion: report.minWriterVersion,
    partitionColumns: report.partitionColumns,
    schema: report.schema,
    liveFiles: report.files.length,
    files: report.files.map((f) => f.path),
    fileDetails: report.files,
    tombstones: report.tombstones,
    rows: report.rows,
    statsRows: report.statsRows,
    absentFiles: report.absentFiles,
    bytes: report.sizeBytes,
    txns: report.txns,
    history: report.history,
  };
}

async function openTableStore(root: string, context: CommandContext, s3: OpenS3Options): Promise<ObjectStore> {
  if (!isS3Url(root)) {
    const info = await stat(root).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new LakeloopError('TABLE_NOT_FOUND', `Failed to inspect ${root}: no such directory`, {
        hint: 'Give the folder that holds the table\'s _delta_log, or a lake table as layer.table.',
      });
    }
  }
  const store = await openObjectStore(root, { s3, env: context.io.env });
  context.onClose(() => store.close());
  return store;
}

function renderReport(report: TableReport, target: string): string {
  const out: string[] = [];
  out.push(`table      ${report.name ?? target}`);
  out.push(`location   ${report.location}`);
  out.push(`version    ${report.version} (committed ${formatTime(report.timestampMs)})`);
  out.push(`protocol   reader ${report.minReaderVersion}, writer ${report.minWriterVersion}`);
  out.push(`partitions ${report.partitionColumns.length ? report.partitionColumns.join(', ') : '(none)'}`);
  out.push(`rows       ${rowsText(report)}`);
  out.push(`bytes      ${formatBytes(report.sizeBytes)} (${formatCount(report.sizeBytes)})`);
  out.push(`files      ${plural(report.files.length, 'live file')}, ${plural(report.tombstones, 'tombstone')}`);
  out.push('', 'schema');
  out.push(
    formatColumns(
      ['name', 'type', 'nullable'],
      report.schema.fields.map((f) => [f.name, deltaTypeText(f.type), f.nullable ? 'yes' : 'no']),
      { indent: 2 },
    ).trimEnd(),
  );
  out.push('', `live files (${formatCount(report.files.length)})`);
  if (report.files.length > 0) {
    const shown = report.files.slice(0, FILES_SHOWN);
    out.push(
      formatColumns(
        ['path', 'partition', 'records', 'bytes'],
        shown.map((f) => [
          decodeForDisplay(f.path),
          Object.entries(f.partitionValues)
            .map(([k, v]) => `${k}=${v ?? 'NULL'}`)
            .join(', ') || '-',
          formatCount(f.records),
          formatCount(f.sizeBytes),
        ]),
        { right: [false, false, true, true], indent: 2 },
      ).trimEnd(),
    );
    if (report.files.length > shown.length) out.push(`  … ${formatCount(report.files.length - shown.length)} more`);
  }
  out.push('', `history (latest ${report.history.length})`);
  out.push(
    formatColumns(
      ['version', 'time', 'operation', 'details'],
      report.history.map((c) => [String(c.version), formatTime(c.timestampMs), c.operation, commitDetails(c)]),
      { right: [true, false, false, false], indent: 2 },
    ).trimEnd(),
  );
  return `${out.join('\n')}\n`;
}

function rowsText(report: TableReport): string {
  if (report.rows !== null) return formatCount(report.rows);
  const stats = report.statsRows === null ? '' : `; the log's stats say ${formatCount(report.statsRows)}`;
  return `unknown: ${plural(report.absentFiles, 'data file')} absent from the store${stats}`;
}

function commitDetails(commit: TableReport['history'][number]): string {
  const m = commit.metrics;
  const parts: string[] = [];
  if (commit.numAddedFiles) parts.push(`+${plural(commit.numAddedFiles, 'file')}`);
  if (commit.numRemovedFiles) parts.push(`-${plural(commit.numRemovedFiles, 'file')}`);
  const rows = m['numOutputRows'] ?? m['numAddedRows'];
  if (rows !== undefined) parts.push(typeof rows === 'number' ? plural(rows, 'row') : `${rows} rows`);
  const mode = commit.operationParameters['mode'];
  if (typeof mode === 'string') parts.push(`mode ${mode}`);
  return parts.join(', ');
}

function decodeForDisplay(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
