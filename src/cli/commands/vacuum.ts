import { isDuration, parseDuration, UsageError } from '../../core/index.js';
import { DEFAULT_RETENTION_HOURS, vacuumTables, type VacuumResult } from '../../table/index.js';
import type { CommandContext } from '../command-context.js';
import { formatBytes, formatTime, plural } from '../human.js';
import { Progress } from '../progress.js';
import { failuresJson, throwIfFailed } from './compact.js';

export interface VacuumOptions {
  readonly retention?: string;
  readonly dryRun?: boolean;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** How many paths a dry run lists per table before `… N more`. */
const PATHS_SHOWN = 20;

/**
 * `lakeloop vacuum [tables...] [--retention 168h] [--dry-run] [--force] [--json]`: deletes the
 * files of the named tables (default: every table) that no live snapshot references and
 * that left the table (or, never committed, were written) longer than the retention ago;
 * one line per table, a dry run lists the paths. `--json` prints
 * `{ tables: [...], failures: [...] }` as the last line.
 */
export async function vacuumCommand(tables: readonly string[], options: VacuumOptions, context: CommandContext): Promise<void> {
  const { io } = context;
  const retentionHours = parseRetention(options.retention);
  const session = await context.session({ mustExist: true });
  const outcome = await Progress.around(io.stderr, options.dryRun ? 'vacuum (dry run)' : 'vacuuming', (progress) =>
    vacuumTables(session.lake, tables, {
      retentionHours,
      dryRun: options.dryRun ?? false,
      force: options.force ?? false,
      onTable: (name, i, n) => progress.update(`${name} (${i + 1}/${n})`),
    }),
  );
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ tables: outcome.results, failures: failuresJson(outcome.failures) })}\n`);
  } else {
    if (outcome.results.length + outcome.failures.length === 0) io.stdout.write('no tables yet\n');
    else {
      const cutoff = formatTime(session.lake.nowMs() - retentionHours * 3_600_000);
      io.stdout.write(`${options.dryRun ? 'dry run: nothing deleted; ' : ''}retention ${retentionHours} h (files that left before ${cutoff})\n`);
    }
    const width = Math.max(0, ...outcome.results.map((r) => r.table.length), ...outcome.failures.map((f) => f.table.length));
    for (const result of outcome.results) {
      io.stdout.write(`${result.table.padEnd(width)}  ${describe(result)}\n`);
      if (result.dryRun) {
        for (const file of result.files.slice(0, PATHS_SHOWN)) io.stdout.write(`${' '.repeat(width)}    ${file.path} (${file.reason}, ${formatBytes(file.sizeBytes)})\n`);
        if (result.files.length > PATHS_SHOWN) io.stdout.write(`${' '.repeat(width)}    … ${result.files.length - PATHS_SHOWN} more\n`);
      }
    }
    for (const failure of outcome.failures) io.stdout.write(`${failure.table.padEnd(width)}  failed: ${failure.error.message}\n`);
  }
  throwIfFailed('vacuum', outcome.failures);
}

function describe(result: VacuumResult): string {
  const removed = result.files.filter((f) => f.reason === 'removed').length;
  const orphans = result.files.length - removed;
  const verb = result.dryRun ? 'would delete' : 'deleted';
  const what =
    result.deletedFiles === 0
      ? 'nothing to delete'
      : `${verb} ${plural(result.deletedFiles, 'file')}, ${formatBytes(result.deletedBytes)} (${plural(removed, 'removed file')}, ${plural(orphans, 'orphan')})`;
  const kept = result.keptFiles > 0 ? `; kept ${plural(result.keptFiles, 'newer unreferenced file')}, ${formatBytes(result.keptBytes)}` : '';
  return `${what}${kept}`;
}

/** `168h`, `7d`, `90m` or a bare number of hours. */
function parseRetention(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RETENTION_HOURS;
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (!isDuration(trimmed)) throw new UsageError(`--retention expects a duration, got ${JSON.stringify(text)}`, 'Examples: --retention 168h, --retention 30d, --retention 12 (hours).');
  return parseDuration(trimmed, '--retention') / 3_600_000;
}
