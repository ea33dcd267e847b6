import { LakeloopError } from '../../core/index.js';
import { lakeStatus, type LakeStatus } from '../../query/index.js';
import type { CommandContext } from '../command-context.js';
import { formatBytes, formatColumns, formatCount, formatTime, plural } from '../human.js';

export interface StatusOptions {
  readonly json?: boolean;
}

/**
 * `lakeloop status`: every table's version, files, rows, bytes and last commit, grouped
 * by layer. `--json` prints `{ root, tables: [...], layers: [...] }` as the last line.
 * A local lake root that does not exist yet is an empty lake, not an error.
 */
export async function statusCommand(options: StatusOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  let status: LakeStatus;
  try {
    status = await lakeStatus((await context.session({ mustExist: true })).lake);
  } catch (error) {
    if (!(error instanceof LakeloopError && error.code === 'LAKE_NOT_FOUND')) throw error;
    context.verbose(error.message);
    const config = await context.config();
    status = { root: config.lake.root, sources: [], tables: [], layers: [] };
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(status)}\n`);
    return;
  }
  io.stdout.write(`lake ${status.root}\n`);
  if (status.tables.length === 0) {
    io.stdout.write('no tables yet\n');
    return;
  }
  if (status.sources.length > 0) {
    io.stdout.write('\nsources:\n');
    io.stdout.write(
      formatColumns(
        ['source', 'received', 'landed', 'quarantined', 'duplicates', 'batches', 'bytes in', 'last batch'],
        status.sources.map((s) => [
          s.source,
          formatCount(s.received),
          formatCount(s.landed),
          formatCount(s.quarantined),
          formatCount(s.duplicates),
          formatCount(s.batches),
          formatBytes(s.bytes),
          s.lastBatchMs === null ? '-' : formatTime(s.lastBatchMs),
        ]),
        { right: [false, true, true, true, true, true, true, false], indent: 2 },
      ),
    );
  }
  for (const layer of status.layers) {
    const tables = status.tables.filter((t) => t.layer === layer.layer);
    io.stdout.write(
      `\n${layer.layer}: ${plural(layer.tables, 'table')}, ${plural(layer.files, 'file')}, ${plural(layer.rows, 'row')}, ${formatBytes(layer.sizeBytes)}\n`,
    );
    io.stdout.write(
      formatColumns(
        ['table', 'version', 'files', 'rows', 'bytes', 'last commit'],
        tables.map((t) => [t.name, String(t.version), formatCount(t.files), formatCount(t.rows), formatBytes(t.sizeBytes), formatTime(t.lastCommitMs)]),
        { right: [false, true, true, true, true, false], indent: 2 },
      ),
    );
  }
}
