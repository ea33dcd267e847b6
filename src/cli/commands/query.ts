import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../core/index.js';
import { copyQueryToParquet, describeAsOf, parseAsOf, queryToArrow, runQuery, type AsOf } from '../../query/index.js';
import type { Snapshot } from '../../table/index.js';
import type { CommandContext } from '../command-context.js';
import { formatCsv, formatJson, formatTable } from '../format-result.js';
import { Progress } from '../progress.js';

export interface QueryOptions {
  readonly format: 'table' | 'csv' | 'json' | 'parquet' | 'arrow';
  readonly asOf?: string;
  readonly output?: string;
}

/**
 * `lakeloop query "<SQL>"`: binds the lake tables the statement reads (only those) at one
 * snapshot and prints the result as an aligned table, CSV or one JSON array, writes
 * Parquet to `--output`, or an Arrow IPC stream to `--output` or standard output.
 */
export async function queryCommand(sql: string, options: QueryOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  if (sql.trim() === '') throw new UsageError('query needs a SQL statement', 'Example: lakeloop query "select count(*) from gold.daily_revenue"');
  if (options.format === 'parquet' && options.output === undefined) {
    throw new UsageError('--format parquet needs --output F', 'Example: lakeloop query "select ..." --format parquet --output result.parquet');
  }
  if (options.format === 'arrow' && options.output === undefined && io.stdout.isTTY) {
    throw new UsageError('--format arrow writes binary: give --output F, or pipe standard output to a program', 'Example: lakeloop query "select ..." --format arrow --output result.arrows');
  }
  const at: AsOf | undefined = options.asOf === undefined ? undefined : parseAsOf(options.asOf);
  const { lake } = await context.session({ mustExist: true });
  const output = options.output === undefined ? undefined : resolve(io.cwd, options.output);

  await Progress.around(io.stderr, 'querying', async () => {
    if (options.format === 'parquet' && output !== undefined) {
      const { rows, snapshots } = await copyQueryToParquet(lake, sql, output, at === undefined ? {} : { at });
      reportSnapshots(context, snapshots, at);
      io.stderr.write(`wrote ${rows} row${rows === 1 ? '' : 's'} to ${output}\n`);
      return;
    }
    if (options.format === 'arrow') {
      const { bytes, rows, snapshots } = await queryToArrow(lake, sql, at === undefined ? {} : { at });
      reportSnapshots(context, snapshots, at);
      if (output === undefined) {
        if (io.stdout.writeBytes) io.stdout.writeBytes(bytes);
        else (io.stdout as unknown as { write(chunk: Uint8Array): unknown }).write(bytes);
      } else {
        await writeFile(output, bytes);
        io.stderr.write(`wrote ${rows} row${rows === 1 ? '' : 's'} to ${output}\n`);
      }
      return;
    }
    const result = await runQuery(lake, sql, at === undefined ? {} : { at });
    reportSnapshots(context, result.snapshots, at);
    const text = options.format === 'csv' ? formatCsv(result) : options.format === 'json' ? formatJson(result) : formatTable(result);
    if (output === undefined) io.stdout.write(text);
    else {
      await writeFile(output, text);
      io.stderr.write(`wrote ${result.rows.length} row${result.rows.length === 1 ? '' : 's'} to ${output}\n`);
    }
  });
}

function reportSnapshots(context: CommandContext, snapshots: ReadonlyMap<string, Snapshot>, at: AsOf | undefined): void {
  for (const [name, snapshot] of snapshots) {
    context.verbose(`bound ${name} at version ${snapshot.version} (${snapshot.files.length} files)${at ? ` for --as-of ${describeAsOf(at)}` : ''}`);
  }
}
