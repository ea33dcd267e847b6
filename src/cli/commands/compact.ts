import { LakeloopError, UsageError } from '../../core/index.js';
import { compactTables, DEFAULT_COMPACT_MIN_FILES, type CompactionResult, type TableFailure } from '../../table/index.js';
import { refreshCatalog } from '../catalog-refresh.js';
import type { CommandContext } from '../command-context.js';
import { formatBytes, plural } from '../human.js';
import { Progress } from '../progress.js';

export interface CompactOptions {
  readonly minFiles?: string;
  readonly json?: boolean;
}

/**
 * `lakeloop compact [tables...] [--min-files N] [--json]`: merges the small files of the
 * named tables (default: every table) in one `OPTIMIZE` commit per table, one line per
 * table; `--json` prints `{ tables: [...], failures: [...] }` as the last line. A table
 * that fails (e.g. a concurrent writer won) does not stop the others; the verb then exits 1.
 */
export async function compactCommand(tables: readonly string[], options: CompactOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const minFiles = parseMinFiles(options.minFiles);
  const session = await context.session({ mustExist: true });
  const outcome = await Progress.around(io.stderr, 'compacting', (progress) =>
    compactTables(session.lake, tables, { minFiles, onTable: (name, i, n) => progress.update(`${name} (${i + 1}/${n})`) }),
  );
  if (outcome.results.some((r) => r.committed)) await refreshCatalog(context, session);
  if (options.json) io.stdout.write(`${JSON.stringify({ tables: outcome.results, failures: failuresJson(outcome.failures) })}\n`);
  else {
    if (outcome.results.length + outcome.failures.length === 0) io.stdout.write('no tables yet\n');
    const width = Math.max(0, ...outcome.results.map((r) => r.table.length), ...outcome.failures.map((f) => f.table.length));
    for (const result of outcome.results) io.stdout.write(`${result.table.padEnd(width)}  ${describe(result, minFiles)}\n`);
    for (const failure of outcome.failures) io.stdout.write(`${failure.table.padEnd(width)}  failed: ${failure.error.message}\n`);
  }
  throwIfFailed('compact', outcome.failures);
}

function describe(result: CompactionResult, minFiles: number): string {
  if (!result.committed) return `nothing to compact (${plural(result.filesBefore, 'file')}; no partition has ${minFiles} small files)`;
  return (
    `${plural(result.filesRewritten, 'small file')} → ${result.filesWritten} in ${plural(result.partitions, 'partition')}; ` +
    `table ${plural(result.filesBefore, 'file')} → ${result.filesAfter}, ${formatBytes(result.bytesBefore)} → ${formatBytes(result.bytesAfter)}, ` +
    `${result.seconds.toFixed(2)} s (version ${result.version})`
  );
}

function parseMinFiles(text: string | undefined): number {
  if (text === undefined) return DEFAULT_COMPACT_MIN_FILES;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 2) throw new UsageError(`--min-files expects a whole number ≥ 2, got ${JSON.stringify(text)}`, 'Example: lakeloop compact --min-files 10');
  return n;
}

/** The failures as JSON: table, code, message, hint. */
export function failuresJson(failures: readonly TableFailure[]): Record<string, unknown>[] {
  return failures.map((f) => ({ table: f.table, code: f.error.code, message: f.error.message, ...(f.error.hint ? { hint: f.error.hint } : {}) }));
}

/** Exit 1 after the report when a table failed; the first failure's hint says what to do. */
export function throwIfFailed(verb: string, failures: readonly TableFailure[]): void {
  if (failures.length === 0) return;
  const first = failures[0] as TableFailure;
  throw new LakeloopError(failures.length === 1 ? first.error.code : 'MAINTENANCE', `Failed to ${verb} ${plural(failures.length, 'table')}: ${failures.map((f) => f.table).join(', ')}`, {
    cause: first.error,
    retryable: failures.every((f) => f.error.retryable),
    ...(first.error.hint ? { hint: first.error.hint } : {}),
  });
}
